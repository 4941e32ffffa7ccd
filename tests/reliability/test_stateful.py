"""The stateful test of the store at reliability size: two to three times the CI steps per provider.

Same machine as ``tests/storage/test_stateful_store.py`` (``tests/store_machine.py``): writes,
overwrites, deletes, gc, reads, killed and failing writes, a writer stalled past claim_ttl and
tampering, checked against a model after every step. ``FSMIRROR_STATEFUL_STEPS`` overrides the
step count; the steps run are printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store_machine import run_machine
from store_model import Tenants

pytestmark = pytest.mark.reliability

STEPS = {"local": 6_000, "memory": 10_000, "s3": 1_200}


@pytest.fixture(params=list(STEPS))
def tenants(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tenants]:
    provider = str(request.param)
    server = request.getfixturevalue("s3_server") if provider == "s3" else None
    t = Tenants(provider, server, root=str(tmp_path / "tenants"))
    yield t
    t.close()


def test_store_matches_the_model_after_every_step(tenants: Tenants) -> None:
    run_machine(tenants, default_steps=STEPS[tenants.provider])
