"""Row 20: what OpenLineage emission adds to a small local write (issue #16: at most 5%).

Each round is a batch of steps, each ``with fm.run(...)`` around one ``write`` of a small dict
as JSON to local disk (the manifest commit and its fsyncs included), then ``flush()`` of every
event, so the sender thread's work is inside the timer. The fsmirror side has the emitter
installed and sending through the ``openlineage-python`` client's own file transport (one JSON
line per event appended to a file: no server, no network); the baseline is the same batch with
OpenLineage off. Both sides alternate round by round in one process (``ratio_interleaved``), which
a busy shared machine disturbs far less than two separate series.

Run: ``tox -e bench-openlineage`` (writes benchmarks/results-openlineage.json), then
``python -m benchmarks --merge-only``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openlineage.client")

from fsmirror import FSMirror
from fsmirror import openlineage as fol

SMOKE = os.environ.get("FSMIRROR_BENCH_SMOKE", "") not in ("", "0", "false", "no")
STEPS = 5 if SMOKE else 20
ROUNDS = 3 if SMOKE else 30
ROW = 20
CASE = "small-local-write"
JOB = "benchmarks/bench_openlineage.py::step"


class Bench:
    def __init__(self, base: Path) -> None:
        self.fm = FSMirror(
            {
                "storage": {"provider": "local", "tenant": str(base / "store")},
                "mirrors": {"bench": {"root": "benchmarks", "output_format": "json"}},
            }
        )
        from openlineage.client import OpenLineageClient

        self.events = base / "events.jsonl"
        self.client = OpenLineageClient(
            config={"transport": {"type": "file", "log_file_path": str(self.events), "append": True}}
        )
        self.n = 0
        self.on_batches = 0

    def batch(self, on: bool) -> float:
        if on:
            self.on_batches += 1
            fol.install(client=self.client)
        else:
            fol.uninstall()
        t0 = time.perf_counter()
        for _ in range(STEPS):
            self.n += 1
            with self.fm.run(f"r{self.n}", key=f"bench:{self.n}", job=JOB):
                self.fm.write(step, {"n": self.n, "payload": "x" * 64})
        assert fol.flush(timeout=60)
        took = time.perf_counter() - t0
        fol.uninstall()
        return took


def step() -> None:
    """The code address the benchmark writes under."""


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    fol.uninstall()
    b = Bench(tmp_path_factory.mktemp("bench-openlineage"))
    for on in (True, False, True, False):  # warm: imports, client config, caches
        b.batch(on)
    yield b
    fol.uninstall()


def _info(role: str) -> dict[str, Any]:
    return {
        "row": ROW,
        "role": role,
        "case": CASE,
        "measurement": f"{STEPS} steps, each fm.run() around one write of a small dict as json (local), "
        "events flushed",
        "baseline": "the same steps with OpenLineage off",
        "target": "<= 1.05x",
        "steps": STEPS,
    }


def _interleaved(b: Bench, rounds: int) -> dict[str, float]:
    on, off = [], []
    for _ in range(rounds):
        on.append(b.batch(True))
        off.append(b.batch(False))
    m, o = statistics.median(on), statistics.median(off)
    return {"ms_per_step_on": m / STEPS * 1e3, "ms_per_step_off": o / STEPS * 1e3, "ratio_interleaved": m / o}


def test_write_with_openlineage(benchmark: Any, bench: Bench) -> None:
    benchmark.group = f"row{ROW}-{CASE}"
    benchmark.extra_info.update(_info("fsmirror"))
    before = len(bench.events.read_text().splitlines()) if bench.events.exists() else 0
    batches = bench.on_batches
    benchmark.pedantic(bench.batch, args=(True,), rounds=ROUNDS, iterations=1)
    sent = len(bench.events.read_text().splitlines()) - before
    assert sent == 2 * STEPS * (bench.on_batches - batches) > 0  # START and COMPLETE of every step landed
    if not benchmark.disabled:
        benchmark.extra_info.update(_interleaved(bench, ROUNDS))


def test_write_without_openlineage(benchmark: Any, bench: Bench) -> None:
    benchmark.group = f"row{ROW}-{CASE}"
    benchmark.extra_info.update(_info("baseline"))
    benchmark.pedantic(bench.batch, args=(False,), rounds=ROUNDS, iterations=1)
