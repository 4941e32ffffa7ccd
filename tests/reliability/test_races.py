"""Races between real processes: concurrent writers, racers on one run, ``gc`` beside writers.

Writers are released at one instant (a shared start time) so they really
overlap; every outcome is checked on storage: distinct runs all land
byte-identical, one run has exactly one winner whose bytes are whole and unmixed,
and ``gc`` never removes a run being written nor the latest.
"""

from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Any

import pytest

from fsmirror import FSMirror
from reliability.workers import (
    ADDR,
    chunk,
    expected,
    forkserver,
    run_racers,
    slow_writer,
    verify_latest,
    verify_slot,
)

pytestmark = pytest.mark.reliability

PROCS, N, SIZE, ROUNDS = 8, 16, 64 * 1024, 3


def _mirrors() -> dict[str, Any]:
    return {"project": {"root": "project", "output_format": "bytes"}}


@pytest.fixture(params=["local", "s3"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "local":
        storage: dict[str, Any] = {"provider": "local", "tenant": str(tmp_path / "store")}
    else:
        server = request.getfixturevalue("s3_server")
        storage = {
            "provider": "s3",
            "tenant": server.new_bucket(),
            "storage_options": {
                **server.storage_options(),
                "config_kwargs": {"read_timeout": 20, "retries": {"max_attempts": 3}},
            },
        }
    return {"storage": storage, "mirrors": _mirrors()}


def test_eight_writers_of_distinct_runs_all_land_whole(config: dict[str, Any]) -> None:
    ctx, fm = forkserver(), FSMirror(config)
    wholes: dict[str, dict[int, bytes]] = {}
    for r in range(ROUNDS):
        run_ids = [f"r{r}-w{i}" for i in range(PROCS)]
        results = run_racers(ctx, config, run_ids, n=N, size=SIZE)
        assert [o for _, o, _ in results] == ["won"] * PROCS, results
        for v, rid in enumerate(run_ids):
            wholes[rid] = {v: expected(rid, v, N, SIZE)}
            assert verify_slot(fm, rid, wholes[rid]) == v
        assert verify_latest(fm, wholes) in run_ids
    assert sorted(fm.runs(ADDR)) == sorted(wholes)
    print(
        f"\n{config['storage']['provider']}: tried {ROUNDS} rounds of {PROCS} concurrent writers of distinct runs: all whole"
    )


def test_eight_writers_of_one_run_exactly_one_wins(config: dict[str, Any]) -> None:
    ctx, fm = forkserver(), FSMirror(config)
    for r in range(ROUNDS):
        rid = f"same-{r}"
        results = run_racers(ctx, config, [rid] * PROCS, n=N, size=SIZE)
        outcomes = [o for _, o, _ in results]
        assert outcomes.count("won") == 1 and outcomes.count("exists") == PROCS - 1, results
        winner = next(v for v, o, _ in results if o == "won")
        assert verify_slot(fm, rid, {v: expected(rid, v, N, SIZE) for v in range(PROCS)}) == winner
        assert fm.latest(ADDR) == rid
    print(
        f"\n{config['storage']['provider']}: tried {ROUNDS} rounds of {PROCS} racers on one run: one winner each, bytes whole"
    )


@pytest.mark.parametrize("keep", [0, 1])
def test_gc_beside_writers_never_removes_a_run_in_flight_or_the_latest(
    config: dict[str, Any], keep: int
) -> None:
    ctx, fm = forkserver(), FSMirror(config)
    writers, count, n = 2, 6, 24
    results = ctx.Queue()
    procs = [
        ctx.Process(target=slow_writer, args=(config, f"w{i}", count, n, SIZE, results))
        for i in range(writers)
    ]
    for p in procs:
        p.start()
    committed: list[str] = []
    done, sweeps, deleted, heard = 0, 0, 0, time.monotonic()
    while done < writers:
        try:
            rid, outcome, err = results.get(timeout=0.01)
            heard = time.monotonic()
        except queue.Empty:
            rid, outcome, err = "", "", ""
            if time.monotonic() - heard > 180:  # a hang guard, not a timing assertion
                pytest.fail(f"the writers said nothing for 180 s beside gc (committed so far: {committed})")
        assert outcome != "error", f"writer of {rid} failed beside gc: {err}"
        if outcome == "done":
            done += 1
        elif outcome == "committed":
            committed.append(rid)
        latest_before = fm.latest(ADDR)
        deleted += len(fm.gc(ADDR, keep=keep))
        sweeps += 1
        latest = fm.latest(ADDR)
        if latest_before is not None:
            assert latest is not None, "gc removed the latest run"
        if latest is not None:
            whole = {0: b"".join(chunk(str(latest), 0, i, SIZE) for i in range(n))}
            assert verify_slot(fm, str(latest), whole) == 0, f"latest {latest!r} is not whole after gc"
    for p in procs:
        p.join(60)
    assert len(committed) == writers * count
    survivors = fm.runs(ADDR)
    for rid in survivors:
        assert verify_slot(fm, rid, {0: b"".join(chunk(rid, 0, i, SIZE) for i in range(n))}) == 0
    assert fm.latest(ADDR) in survivors
    print(
        f"\n{config['storage']['provider']}: tried {sweeps} gc(keep={keep}) sweeps beside {writers} writers "
        f"of {writers * count} runs: {deleted} deleted, every write committed, latest always whole"
    )
