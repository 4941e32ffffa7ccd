"""Every interleaving, deeper: the explorations of ``tests/storage/test_interleavings.py`` with
twice the schedule budget on local, memory and S3 (``FSMIRROR_SCHEDULE_SCALE`` overrides).

The schedules the storage env's run already tries (the same seed at scale 1) are skipped, so this run
adds the second half instead of repeating the first: a pair whose every schedule fits the CI budget
has nothing left to try here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from explore import BUDGETS, PAIRS, SCENARIOS, Explorer, budget_for
from store_model import Tenants

pytestmark = pytest.mark.reliability

SCALE = float(os.environ.get("FSMIRROR_SCHEDULE_SCALE") or 2)


@pytest.fixture(params=["local", "memory", "s3"])
def tenants(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tenants]:
    provider = str(request.param)
    server = request.getfixturevalue("s3_server") if provider == "s3" else None
    t = Tenants(provider, server, root=str(tmp_path / "tenants"))
    yield t
    t.close()


# Attempts replace through the overwrite path, which overwrite/overwrite explores deeply here; the
# attempt pairs run once over local, memory and S3 in tests/storage (CI time).
DEEP = [p for p in PAIRS if not p.startswith("attempt/")]


@pytest.mark.parametrize("pair", DEEP)
def test_every_interleaving_keeps_the_guarantees_deeply(tenants: Tenants, pair: str) -> None:
    lines, problems = [], []
    for scenario in SCENARIOS[pair]:
        tally, line = Explorer(
            tenants, scenario, budget_for(tenants.provider, SCALE), beyond=BUDGETS[tenants.provider]
        ).explore()
        print("\n" + line)
        lines.append(line)
        problems += [f"harness: {h}" for h in tally.harness]
        problems += [
            f"{scenario.name}: {g} broken in {tally.broken.get(g, 0)} of {tally.schedules}; first:\n  {v.render()}"
            for g, v in sorted(tally.examples.items())
        ]
    assert not problems, "\n".join(lines) + "\n\n" + "\n\n".join(problems)
