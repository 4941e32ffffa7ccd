"""Row 12: Luigi ``complete()`` over 1,000 finished tasks, FSMirrorTask vs plain ``luigi.LocalTarget``.

Luigi asks every task in a build whether it is complete before running
anything, so this is the fixed cost fsmirror adds to every Luigi build. Both
sides get the same 1,000 tasks (one int parameter), already finished on the
same local disk; each round clears Luigi's instance cache and makes fresh task
objects outside the timer, then times ``complete()`` on all of them. The
fsmirror side checks for the committed manifest (the commit marker), the
baseline for the plain output file. The fsmirror row also records both sides
alternated round by round in CPU time (``cpu_ratio_interleaved``), which a
busy machine disturbs far less than the two separate wall-time series.

Run: ``tox --workdir /tmp/tox-luigi -e bench-luigi`` (writes benchmarks/results-luigi.json).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

luigi = pytest.importorskip("luigi")

from luigi.task_register import Register  # noqa: E402

import fsmirror_luigi  # noqa: E402
from fsmirror_luigi import FSMirrorTask  # noqa: E402

SMOKE = os.environ.get("FSMIRROR_BENCH_SMOKE", "") not in ("", "0", "false", "no")
TASKS = 20 if SMOKE else 1_000
ROUNDS = 2 if SMOKE else 30
ROW = 12
CASE = "complete-1000-done"
_ROOT: dict[str, Path] = {}


class MirroredDoneTask(FSMirrorTask, luigi.Task):
    """Output at ``<store>/orchestrators/bench_luigi/<task_id>/MirroredDoneTask/out.json``."""

    fsmirror_format = "json"
    n = luigi.IntParameter()


class LocalDoneTask(luigi.Task):
    """Luigi's own way: a LocalTarget at a path made from the task id."""

    n = luigi.IntParameter()

    def output(self) -> Any:
        return luigi.LocalTarget(os.path.join(_ROOT["local"], "bench_luigi", self.task_id, "out.json"))


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """1,000 finished tasks of each kind, written the way each side writes them."""
    base = tmp_path_factory.mktemp("bench-luigi")
    _ROOT["local"] = base / "local"
    cfg = base / "fsmirror.yml"
    cfg.write_text(  # JSON is YAML
        json.dumps(
            {
                "storage": {"provider": "local", "tenant": str(base / "store")},
                "mirrors": {"bench": {"root": "benchmarks", "output_format": "json"}},
            }
        )
    )
    old = os.environ.get("FSMIRROR_CONFIG_PATH")
    os.environ["FSMIRROR_CONFIG_PATH"] = str(cfg)
    fsmirror_luigi.clear_cache()
    Register.clear_instance_cache()
    for i in range(TASKS):
        MirroredDoneTask(n=i).output().write({"n": i})
        with LocalDoneTask(n=i).output().open("w") as f:
            f.write(json.dumps({"n": i}))
    yield
    Register.clear_instance_cache()
    fsmirror_luigi.clear_cache()
    if old is None:
        os.environ.pop("FSMIRROR_CONFIG_PATH", None)
    else:
        os.environ["FSMIRROR_CONFIG_PATH"] = old


def _fresh(cls: type) -> tuple[tuple[list[Any]], dict[str, Any]]:
    """New task objects, as a new Luigi build makes them (outside the timer)."""
    Register.clear_instance_cache()
    return ([cls(n=i) for i in range(TASKS)],), {}


def _all_complete(tasks: list[Any]) -> int:
    done = sum(1 for t in tasks if t.complete())
    assert done == TASKS  # every task really is finished: nothing short-circuits
    return done


def _run(benchmark: Any, cls: type, role: str, baseline: str) -> None:
    benchmark.group = f"row{ROW}-{CASE}"
    benchmark.extra_info.update(
        {
            "row": ROW,
            "role": role,
            "case": CASE,
            "measurement": f"Task.complete() over {TASKS} finished tasks (fresh task objects per round)",
            "baseline": baseline,
            "target": "<= 1.5x",
            "tasks": TASKS,
        }
    )
    result = benchmark.pedantic(_all_complete, setup=lambda: _fresh(cls), rounds=ROUNDS, iterations=1)
    assert result in (None, TASKS)


def _cpu_ratio(rounds: int) -> dict[str, float]:
    """Both sides alternated round by round, in CPU time: a busy shared machine preempts wall time."""
    best = {MirroredDoneTask: float("inf"), LocalDoneTask: float("inf")}
    for _ in range(rounds):
        for cls in best:
            (tasks,), _ = _fresh(cls)
            t0 = time.process_time()
            _all_complete(tasks)
            best[cls] = min(best[cls], time.process_time() - t0)
    m, b = best[MirroredDoneTask], best[LocalDoneTask]
    return {
        "cpu_us_per_task_fsmirror": m / TASKS * 1e6,
        "cpu_us_per_task_baseline": b / TASKS * 1e6,
        "cpu_ratio_interleaved": m / b if b else float("nan"),
    }


def test_complete_fsmirror(benchmark: Any, done: None) -> None:
    _run(benchmark, MirroredDoneTask, "fsmirror", "luigi.LocalTarget")
    if not benchmark.disabled:
        benchmark.extra_info.update(_cpu_ratio(ROUNDS))


def test_complete_localtarget(benchmark: Any, done: None) -> None:
    _run(benchmark, LocalDoneTask, "baseline", "luigi.LocalTarget")
