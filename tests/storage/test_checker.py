"""The checker, proven both ways on ``reference_store``.

A store that keeps G1-G5 by construction passes every exploration of every pair (so what
the explorations report against fsmirror is not the checker crying wolf), and each bug
planted in it is caught and named (so a pass means something).
"""

from __future__ import annotations

import pytest

from explore import SCENARIOS, Budget, Explorer
from reference_store import BUGS, RefMirror
from store_model import Tenants


@pytest.mark.parametrize("pair", list(SCENARIOS))
def test_a_store_that_keeps_the_guarantees_passes_every_exploration(pair: str) -> None:
    tenants = Tenants("memory")
    for scenario in SCENARIOS[pair]:
        tally, line = Explorer(tenants, scenario, Budget(40, 80, 40, 4, 2), make=RefMirror).explore()
        print("\nreference", line)
        assert not tally.harness, tally.harness
        assert not tally.examples, "\n".join(v.render() for v in tally.examples.values())


@pytest.mark.parametrize("bug", list(BUGS))
def test_each_planted_bug_is_caught_and_named(bug: str) -> None:
    what, guarantees, pair = BUGS[bug]
    tenants = Tenants("memory")
    broken: dict[str, int] = {}
    for scenario in SCENARIOS[pair]:
        tally, _ = Explorer(
            tenants, scenario, Budget(60, 400, 400, 4, 0), make=lambda cfg: RefMirror(cfg, {bug})
        ).explore()
        for g, n in tally.broken.items():
            broken[g] = broken.get(g, 0) + n
    print(f"\nplanted bug {bug!r} ({what}): {broken}")
    assert set(guarantees.split("/")) & set(broken), f"{bug} ({what}) not caught as {guarantees}: {broken}"
