"""A Luigi parameter set is an instance, not a run; a rerun of an incomplete task is a new attempt.

Real ``luigi.build`` runs (local scheduler) on a local directory and on moto's S3
server; ``fsmirror stale`` and ``fsmirror gc`` run through click's CliRunner,
and every assertion is on what landed in the store.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner, Result
from luigi.execution_summary import LuigiStatusCode
from luigi.task import task_id_str

from conftest import Build, Store
from fsmirror import ArtifactExistsError, ResolveError
from fsmirror.cli import cli

TASKS = Path(__file__).parent / "project" / "etl" / "identity_tasks.py"
MODULE_DIR = "project/etl/identity_tasks"
ADDR = "project/etl/identity_tasks.py"
DAY = dt.date(2026, 11, 5)


@pytest.fixture(scope="session")
def tasks(pipeline: ModuleType) -> ModuleType:
    name = "identity_tasks"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TASKS)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def fsmirror(store: Store, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(store.config), *args], catch_exceptions=False)


def artifacts(store: Store, part: str) -> set[str]:
    """Data files and manifests of one task class (latest pointers are bookkeeping)."""
    return {f for f in store.files() if f"/{part}/" in f and "/_latest." not in f}


def test_parameter_sets_are_instances_so_one_build_is_not_stale(
    store: Store, tasks: ModuleType, build: Build, run_log: Callable[[], list[str]]
) -> None:
    combine = tasks.Combine()
    assert build([combine]).status == LuigiStatusCode.SUCCESS
    parts = [tasks.Part(n=i) for i in range(3)]
    assert sorted(run_log()) == sorted([p.task_id for p in parts] + [combine.task_id])

    assert combine.output().read() == {"total": 10 + 20 + 30}
    assert artifacts(store, "Part") == {
        f"{MODULE_DIR}/luigi/Part/{n}/{f}" for n in range(3) for f in ("out.json", "_out.manifest.json")
    }
    assert artifacts(store, "Combine") == {
        f"{MODULE_DIR}/luigi/Combine/out.json",  # no parameters: no instance segment
        f"{MODULE_DIR}/luigi/Combine/_out.manifest.json",
    }
    for n in range(3):  # each parameter set is its own series, with one run
        assert store.fm.runs(f"{ADDR}::Part", partition=str(n)) == ["luigi"]
    assert store.fm.runs(f"{ADDR}::Part") == []
    inputs = combine.output().manifest()["inputs"]
    assert [(i["run"], i["partition"]) for i in inputs] == [("luigi", "0"), ("luigi", "1"), ("luigi", "2")]

    stale = fsmirror(store, "stale")
    assert stale.exit_code == 0, stale.output
    assert stale.output.strip() == (
        "nothing stale: 4 latest artifact(s) made by today's code from their inputs' latest runs"
    )
    listed = json.loads(fsmirror(store, "stale", "--json").output)
    assert sorted((s["address"], s["partition"], s["stale"]) for s in listed) == [
        (f"{ADDR}::Combine", None, False),
        (f"{ADDR}::Part", "0", False),
        (f"{ADDR}::Part", "1", False),
        (f"{ADDR}::Part", "2", False),
    ]


def test_each_day_is_its_own_series_for_gc_and_stale(
    store: Store, tasks: ModuleType, build: Build, run_log: Callable[[], list[str]]
) -> None:
    days = [DAY + dt.timedelta(days=i) for i in range(8)]
    assert build([tasks.Summary(day=days[0])]).status == LuigiStatusCode.SUCCESS
    assert build([tasks.Extract(day=d) for d in days[1:]]).status == LuigiStatusCode.SUCCESS
    assert len(run_log()) == 9  # 8 extracts, 1 summary

    # one day's extract is readable at its own instance
    extract = tasks.Extract(day=DAY)
    assert extract.output().path == f"{store.fm.base}/{MODULE_DIR}/luigi/Extract/2026-11-05/out.csv"
    assert store.fm.filesystem.cat_file(extract.output().path) == b"day,events\n2026-11-05,15\n"
    assert tasks.Summary(day=DAY).output().read() == {"day": "2026-11-05", "events": 15}
    # any reader names it by address and instance; there is no instance-less series
    assert store.fm.read(f"{ADDR}::Summary", partition="2026-11-05") == {"day": "2026-11-05", "events": 15}
    assert store.fm.latest(f"{ADDR}::Extract") is None

    # Extract(day + 1) ran after Summary(day): a different series, so Summary(day) is not stale
    stale = fsmirror(store, "stale")
    assert stale.exit_code == 0, stale.output
    assert stale.output.strip() == (
        "nothing stale: 9 latest artifact(s) made by today's code from their inputs' latest runs"
    )

    gc = fsmirror(store, "gc", f"{ADDR}::Extract", "--keep", "2")
    assert gc.exit_code == 0, gc.output
    assert gc.output.strip() == "deleted 0 run(s) of 8 series"
    assert all(tasks.Extract(day=d).complete() for d in days)
    assert len(artifacts(store, "Extract")) == 16  # 8 days x (data, manifest)
    assert {d.isoformat(): store.fm.runs(f"{ADDR}::Extract", partition=d.isoformat()) for d in days} == {
        d.isoformat(): ["luigi"] for d in days
    }


@pytest.mark.parametrize("cls", ["TwoOutputs", "HandTwoOutputs"])
def test_a_rerun_after_a_crash_replaces_the_partial_outputs_as_a_new_attempt(
    cls: str,
    store: Store,
    tasks: ModuleType,
    build: Build,
    run_log: Callable[[], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    flag = tmp_path / "second-build"
    monkeypatch.setenv("FSMIRROR_LUIGI_TEST_FLAG", str(flag))
    task = getattr(tasks, cls)()

    assert build([task]).status == LuigiStatusCode.FAILED
    a, b = task.output()["a"], task.output()["b"]
    assert a.exists() and not b.exists() and not task.complete()
    assert a.read() == {"out": "a", "build": 1} and a.manifest()["attempt"] == 0

    flag.touch()
    result = build([task])

    assert result.status == LuigiStatusCode.SUCCESS, result.summary_text
    assert run_log() == [task.task_id, task.task_id]
    assert task.complete()
    assert a.read() == {"out": "a", "build": 2}
    assert b.read() == {"out": "b", "build": 2}
    assert (a.manifest()["attempt"], b.manifest()["attempt"]) == (1, 0)
    run, name = ("luigi", "TwoOutputs") if cls == "TwoOutputs" else ("hand", "hand_made")
    assert (a.manifest()["run"]["id"], a.manifest()["partition"]) == (run, "k")
    assert artifacts(store, name) == {
        f"{MODULE_DIR}/{run}/{name}/k/{f}"
        for f in ("a.json", "_a.manifest.json", "b.json", "_b.manifest.json")
    }

    # complete: Luigi runs nothing, and nothing replaces it from outside a run of the task: not a
    # script, not another task's run()
    assert build([task]).status == LuigiStatusCode.SUCCESS
    assert len(run_log()) == 2
    with pytest.raises(ArtifactExistsError):
        getattr(tasks, cls)().output()["a"].write({"out": "a", "build": 3})
    assert a.read() == {"out": "a", "build": 2} and a.manifest()["attempt"] == 1
    if cls == "HandTwoOutputs":
        return
    thief = tasks.Thief()
    caplog.clear()
    assert build([thief]).status == LuigiStatusCode.FAILED
    assert run_log()[2:] == [thief.task_id]
    assert "ArtifactExistsError" in caplog.text and not thief.complete()
    assert a.read() == {"out": "a", "build": 2} and a.manifest()["attempt"] == 1

    # one output written twice in one run: the same attempt, refused as before
    twice = tasks.WritesTwice()
    caplog.clear()
    assert build([twice]).status == LuigiStatusCode.FAILED
    assert "ArtifactExistsError" in caplog.text
    assert twice.output().read() == {"write": 1} and twice.output().manifest()["attempt"] == 0


def test_an_empty_parameter_value_is_a_documented_token(
    store: Store, tasks: ModuleType, build: Build
) -> None:
    unset, tilde, named = tasks.Tagged(), tasks.Tagged(tag="~"), tasks.Tagged(tag="~", name="y")
    assert unset.fsmirror_partition() == ("~", "x")  # Luigi serializes None as ""
    assert tilde.fsmirror_partition() == ("~~", "x")  # a leading '~' doubles: never the empty token
    assert build([unset, tilde, named]).status == LuigiStatusCode.SUCCESS

    assert artifacts(store, "Tagged") == {
        f"{MODULE_DIR}/luigi/Tagged/{seg}/{f}"
        for seg in ("~7E@x", "~7E~7E@x", "~7E~7E@y")  # the core escapes '~' on disk
        for f in ("out.json", "_out.manifest.json")
    }
    assert unset.output().read() == {"tag": None, "name": "x"}
    assert tilde.output().read() == {"tag": "~", "name": "x"}
    assert named.output().manifest()["partition"] == ["~~", "y"]


def test_a_parameter_too_long_for_a_path_segment_is_refused_by_name(store: Store, tasks: ModuleType) -> None:
    with pytest.raises(ResolveError, match=r"luigi task Part_.*parameter 'n' of Part .*at most 255"):
        tasks.Part(n=10**300).output()


def test_a_store_built_by_fsmirror_2_0_is_still_complete_and_readable(
    store: Store, tasks: ModuleType, pipeline: ModuleType, build: Build, run_log: Callable[[], list[str]]
) -> None:
    """fsmirror 2.0 put a task at run slot ``task_id`` with no instance (run-id tasks: run = the parameter,
    partition = Luigi's id of the others); written here through the core as 2.0's target wrote it."""
    fm = store.fm
    extract = tasks.Extract(day=DAY)
    with fm.open_write(tasks.Extract, run_id=extract.task_id, format="csv", run_source="luigi") as w:
        w.write(b"day,events\n2026-11-05,99\n")
    regional = pipeline.RegionalTask(run_id="r1", region="eu")
    v2_part = task_id_str("RegionalTask", {"region": "eu"})
    fm.write(
        pipeline.RegionalTask, {"run": "r1", "region": "eu", "by": "2.0"}, run_id="r1", partition=v2_part
    )
    v2_extract = f"{MODULE_DIR}/{extract.task_id}/Extract/out.csv"
    assert artifacts(store, "Extract") == {
        v2_extract,
        f"{MODULE_DIR}/{extract.task_id}/Extract/_out.manifest.json",
    }

    assert extract.complete() and regional.complete()
    assert regional.output().read() == {"run": "r1", "region": "eu", "by": "2.0"}
    assert extract.output().uri == f"{fm.base}/{v2_extract}"

    summary = tasks.Summary(day=DAY)
    assert build([summary, regional]).status == LuigiStatusCode.SUCCESS
    assert run_log() == [summary.task_id]  # the 2.0 extract and regional task count as done
    assert summary.output().read() == {"day": "2026-11-05", "events": 99}
    (i,) = summary.output().manifest()["inputs"]
    assert (i["uri"], i["run"], i["partition"]) == (f"{fm.base}/{v2_extract}", extract.task_id, None)
    assert not fm.exists(tasks.Extract, run_id="luigi", partition="2026-11-05")  # nothing rewritten
    with extract.output().open("r") as f:
        assert f.read() == "day,events\n2026-11-05,99\n"
    assert fm.runs(tasks.Extract) == [extract.task_id]  # listed as 2.0 did: a run of the instance-less series

    # remove() takes the 2.0 artifact too, so Luigi sees the task as not done, and the rerun
    # writes at the new slot
    extract.output().remove()
    assert not extract.complete()
    assert build([extract]).status == LuigiStatusCode.SUCCESS
    assert extract.output().uri == f"{fm.base}/{MODULE_DIR}/luigi/Extract/2026-11-05/out.csv"
    assert extract.output().manifest()["attempt"] == 0

    # 2.0 artifacts are runs of the instance-less series, as 2.0 listed them: gc --keep 1 keeps the
    # newest 2.0 parameter set only, and never touches an instance
    later = [tasks.Extract(day=DAY + dt.timedelta(days=i)) for i in (1, 2)]
    for t in later:
        with fm.open_write(tasks.Extract, run_id=t.task_id, format="csv", run_source="luigi") as w:
            w.write(b"day,events\n")
    assert fm.runs(tasks.Extract) == [t.task_id for t in later]
    gc = fsmirror(store, "gc", f"{ADDR}::Extract", "--keep", "1")
    assert gc.output.strip().splitlines()[-1] == "deleted 1 run(s) of 2 series"
    assert [t.complete() for t in later] == [False, True]
    assert extract.complete() and fm.runs(tasks.Extract, partition="2026-11-05") == ["luigi"]


def test_complete_of_a_built_task_is_one_request(
    store: Store, tasks: ModuleType, build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Benchmark row 12's condition: the 2.0 fallback is asked only when the new slot has nothing."""
    part = tasks.Part(n=1)
    assert build([part]).status == LuigiStatusCode.SUCCESS
    fm = part.fsmirror()
    asked: list[Any] = []
    real = fm.exists

    def counting(*args: Any, **kw: Any) -> bool:
        asked.append(kw)
        return bool(real(*args, **kw))

    monkeypatch.setattr(fm, "exists", counting)
    assert part.complete()
    assert [(k["run_id"], k["partition"]) for k in asked] == [("luigi", "1")]
    asked.clear()
    assert not tasks.Part(n=2).complete()
    assert [(k["run_id"], k["partition"]) for k in asked] == [("luigi", "2"), (tasks.Part(n=2).task_id, None)]
