"""Eight real processes write to moto's S3 server at the same instant.

Distinct runs must all land byte-identical; racers on one run with
``overwrite=False`` must leave exactly one winner and the others an
``ArtifactExistsError``. The heavier versions (local too, more rounds, gc beside
writers) are in ``tests/reliability/test_races.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from fsmirror import FSMirror
from reliability.workers import ADDR, expected, forkserver, run_racers, verify_latest, verify_slot

PROCS, N, SIZE = 8, 16, 64 * 1024  # 1 MiB each


@pytest.fixture
def s3_cfg(s3_server: Any) -> dict[str, Any]:
    storage = {
        "provider": "s3",
        "tenant": s3_server.new_bucket(),
        "storage_options": s3_server.storage_options(),
    }
    return {"storage": storage, "mirrors": {"project": {"root": "project", "output_format": "bytes"}}}


def test_eight_processes_write_distinct_runs_and_every_artifact_reads_back_byte_identical(
    s3_cfg: dict[str, Any],
) -> None:
    run_ids = [f"run-{i}" for i in range(PROCS)]
    results = run_racers(forkserver(), s3_cfg, run_ids, n=N, size=SIZE)
    assert [r[1] for r in results] == ["won"] * PROCS, results
    fm = FSMirror(s3_cfg)
    wholes = {rid: {v: expected(rid, v, N, SIZE)} for v, rid in enumerate(run_ids)}
    for v, rid in enumerate(run_ids):
        assert verify_slot(fm, rid, wholes[rid]) == v
    assert sorted(fm.runs(ADDR)) == run_ids
    assert verify_latest(fm, wholes) in run_ids


def test_eight_processes_on_one_run_exactly_one_wins(s3_cfg: dict[str, Any]) -> None:
    results = run_racers(forkserver(), s3_cfg, ["same"] * PROCS, n=N, size=SIZE)
    outcomes = [r[1] for r in results]
    assert outcomes.count("won") == 1 and outcomes.count("exists") == PROCS - 1, results
    winner = next(v for v, outcome, _ in results if outcome == "won")
    fm = FSMirror(s3_cfg)
    assert verify_slot(fm, "same", {v: expected("same", v, N, SIZE) for v in range(PROCS)}) == winner
    assert fm.latest(ADDR) == "same"
