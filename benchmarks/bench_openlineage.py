"""Row 20: what OpenLineage emission adds to a small local write (issue #16: at most 5%).

Each round is a batch of steps, each ``with fm.run(...)`` around one ``write`` of a small dict
as JSON to local disk (the manifest commit and its fsyncs included), then ``flush()`` of every
event, so the sender's work is inside the timer. The fsmirror side has an emitter on, sending
through the ``openlineage-python`` client's own file transport (one JSON line per event
appended to a file: no server, no network), in two cases: inline (the default: built and sent
in the step's thread) and ``sender: process`` (a sender process, started once, builds and
sends them); the baseline is the same batch with OpenLineage off. Both sides alternate round by round in one process (``ratio_interleaved``), which
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

from fsmirror import FSMirror, lineage
from fsmirror import openlineage as fol

SMOKE = os.environ.get("FSMIRROR_BENCH_SMOKE", "") not in ("", "0", "false", "no")
STEPS = 5 if SMOKE else 20
ROUNDS = 3 if SMOKE else 30
ROW = 20
JOB = "benchmarks/bench_openlineage.py::step"
CASES = {"inline": "small-local-write", "process": "small-local-write-process"}
SENDERS = {
    "inline": "built and sent in the step's thread (the default)",
    "process": "built and sent by a sender process (sender: process)",
}


class Bench:
    """One store, and one emitter per sender kept for the whole module: a sender process is
    started once per process, as in a long-lived worker, and each batch turns its emitter on."""

    def __init__(self, base: Path) -> None:
        self.fm = FSMirror(
            {
                "storage": {"provider": "local", "tenant": str(base / "store")},
                "mirrors": {"bench": {"root": "benchmarks", "output_format": "json"}},
            }
        )
        from openlineage.client import OpenLineageClient

        self.events = {"inline": base / "events-inline.jsonl", "process": base / "events-process.jsonl"}
        conf = base / "openlineage.yml"  # the sender process's client reads the client's own config
        conf.write_text(
            f"transport:\n  type: file\n  log_file_path: {self.events['process']}\n  append: true\n"
        )
        os.environ["OPENLINEAGE_CONFIG"] = str(conf)
        inline = OpenLineageClient(
            config={
                "transport": {"type": "file", "log_file_path": str(self.events["inline"]), "append": True}
            }
        )
        self.emitters = {"inline": fol.Emitter(client=inline), "process": fol.Emitter(sender="process")}
        self.n = 0
        self.on_batches = dict.fromkeys(self.emitters, 0)

    def batch(self, mode: str | None) -> float:
        """One batch of steps with ``mode``'s emitter on (None: OpenLineage off), events flushed."""
        emitter = None if mode is None else self.emitters[mode]
        if emitter is not None:
            self.on_batches[str(mode)] += 1
            lineage.add_listener(emitter)
        t0 = time.perf_counter()
        for _ in range(STEPS):
            self.n += 1
            with self.fm.run(f"r{self.n}", key=f"bench:{self.n}", job=JOB):
                self.fm.write(step, {"n": self.n, "payload": "x" * 64})
        if emitter is not None:
            assert emitter.flush(timeout=60)
        took = time.perf_counter() - t0
        if emitter is not None:
            lineage.remove_listener(emitter)
        return took

    def sent(self, mode: str) -> int:
        f = self.events[mode]
        return len(f.read_text().splitlines()) if f.exists() else 0


def step() -> None:
    """The code address the benchmark writes under."""


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    fol.uninstall()
    before = os.environ.get("OPENLINEAGE_CONFIG")
    b = Bench(tmp_path_factory.mktemp("bench-openlineage"))
    for mode in ("inline", None, "process", None):  # warm: imports, client config, the sender process
        b.batch(mode)
    yield b
    for e in b.emitters.values():
        e.close()
    if before is None:
        os.environ.pop("OPENLINEAGE_CONFIG", None)
    else:
        os.environ["OPENLINEAGE_CONFIG"] = before


def _info(role: str, mode: str) -> dict[str, Any]:
    return {
        "row": ROW,
        "role": role,
        "case": CASES[mode],
        "measurement": f"{STEPS} steps, each fm.run() around one write of a small dict as json (local), "
        f"events {SENDERS[mode]} and flushed",
        "baseline": "the same steps with OpenLineage off",
        "target": "<= 1.05x",
        "steps": STEPS,
        "sender": mode,
    }


def _interleaved(b: Bench, mode: str, rounds: int) -> dict[str, float]:
    on, off = [], []
    for _ in range(rounds):
        on.append(b.batch(mode))
        off.append(b.batch(None))
    m, o = statistics.median(on), statistics.median(off)
    return {"ms_per_step_on": m / STEPS * 1e3, "ms_per_step_off": o / STEPS * 1e3, "ratio_interleaved": m / o}


@pytest.mark.parametrize("mode", list(CASES))
def test_write_with_openlineage(benchmark: Any, bench: Bench, mode: str) -> None:
    benchmark.group = f"row{ROW}-{CASES[mode]}"
    benchmark.extra_info.update(_info("fsmirror", mode))
    before, batches = bench.sent(mode), bench.on_batches[mode]
    benchmark.pedantic(bench.batch, args=(mode,), rounds=ROUNDS, iterations=1)
    sent = bench.sent(mode) - before
    # START and COMPLETE of every step landed
    assert sent == 2 * STEPS * (bench.on_batches[mode] - batches) > 0
    if not benchmark.disabled:
        benchmark.extra_info.update(_interleaved(bench, mode, ROUNDS))


@pytest.mark.parametrize("mode", list(CASES))
def test_write_without_openlineage(benchmark: Any, bench: Bench, mode: str) -> None:
    benchmark.group = f"row{ROW}-{CASES[mode]}"
    benchmark.extra_info.update(_info("baseline", mode))
    benchmark.pedantic(bench.batch, args=(None,), rounds=ROUNDS, iterations=1)
