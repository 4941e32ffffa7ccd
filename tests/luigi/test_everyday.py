"""What Luigi users do every day works as it does with ``LocalTarget`` (issue #21).

Real ``luigi.build`` runs (local scheduler) on a local directory and on moto's
S3 server; each test asserts on what landed in storage and on which tasks ran.
"""

from __future__ import annotations

import calendar
import datetime as dt
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from luigi.execution_summary import LuigiStatusCode
from luigi.tools.range import RangeDaily

from conftest import Build, Store
from fsmirror import FSMirror, ResolveError

MODULE = Path(__file__).parent / "project" / "etl" / "everyday_tasks.py"
MODULE_DIR = "project/etl/everyday_tasks"


@pytest.fixture(scope="module")
def tasks() -> ModuleType:
    """The everyday pipeline, imported from its file once (Luigi registers task families globally)."""
    name = "everyday_tasks"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, MODULE)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _store(provider: str, path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(path))
    return Store(provider, path, FSMirror(config=str(path)))


@pytest.fixture
def local(local_config: Any, monkeypatch: pytest.MonkeyPatch) -> Store:
    return _store("local", local_config(), monkeypatch)


@pytest.fixture
def s3_store(s3_config: Any, monkeypatch: pytest.MonkeyPatch) -> Store:
    return _store("s3", s3_config(), monkeypatch)


def artifacts(store: Store) -> set[str]:
    """Data files and manifests (the latest pointers are bookkeeping, checked elsewhere)."""
    return {f for f in store.files() if "/_latest." not in f}


def day(n: int) -> dt.date:
    return dt.date(2026, 11, n)


# -- RangeDaily: bulk_complete ---------------------------------------------------------------------


def test_range_daily_builds_exactly_the_missing_days_beyond_task_limit(
    store: Store, tasks: ModuleType, build: Build, run_log: Callable[[], list[str]]
) -> None:
    """More days done than ``task_limit``, two missing (one a gap, one the newest): both get built.

    Without ``bulk_complete`` Luigi infers a glob from one day's path (which holds that day's
    instance), finds every day missing and schedules the oldest ``task_limit``, all done already.
    """
    done = [1, 2, 3, 4, 5, 7]
    assert build([tasks.DailyEvents(day=day(n)) for n in done]).status == LuigiStatusCode.SUCCESS
    built_before = run_log()

    now = calendar.timegm(dt.datetime(2026, 11, 10).timetuple())  # the range is in the past whatever today is
    rng = RangeDaily(of=tasks.DailyEvents, start=day(1), stop=day(9), task_limit=3, now=now)
    result = build([rng])

    assert result.status == LuigiStatusCode.SUCCESS, result.summary_text
    assert sorted(run_log()[len(built_before) :]) == [tasks.DailyEvents(day=day(n)).task_id for n in (6, 8)]
    assert artifacts(store) == {
        f"{MODULE_DIR}/luigi/DailyEvents/2026-11-0{n}/{f}"
        for n in range(1, 9)
        for f in ("out.json", "_out.manifest.json")
    }
    assert store.fm.read(f"{MODULE_DIR}.py::DailyEvents", run_id="luigi", partition="2026-11-08") == {
        "day": "2026-11-08",
        "events": 8,
    }
    # the range is complete now: a second build runs nothing
    assert build(
        [RangeDaily(of=tasks.DailyEvents, start=day(1), stop=day(9), task_limit=3, now=now)]
    ).status == (LuigiStatusCode.SUCCESS)
    assert len(run_log()) == len(built_before) + 2


def test_bulk_complete_answers_from_the_committed_instances(
    store: Store, tasks: ModuleType, build: Build
) -> None:
    assert build([tasks.DailyEvents(day=day(n)) for n in (2, 4)]).status == LuigiStatusCode.SUCCESS
    asked = [day(n) for n in range(1, 6)]
    assert tasks.DailyEvents.bulk_complete(asked) == [day(2), day(4)]
    assert tasks.DailyEvents.bulk_complete([{"day": day(4)}, {"day": day(5)}]) == [{"day": day(4)}]
    tasks.DailyEvents(day=day(4)).output().remove()
    assert tasks.DailyEvents.bulk_complete(asked) == [day(2)]


def test_bulk_complete_counts_days_fsmirror_2_0_built(local: Store, tasks: ModuleType, build: Build) -> None:
    """2.0 put a task at run slot ``task_id`` with no instance; those days stay complete (one more listing)."""
    for n in (1, 2):  # written through the core where 2.0's target wrote them
        old = tasks.DailyEvents(day=day(n))
        local.fm.write(tasks.DailyEvents, {"by": "2.0"}, run_id=old.task_id, format="json")
    assert build([tasks.DailyEvents(day=day(3))]).status == LuigiStatusCode.SUCCESS
    assert tasks.DailyEvents.bulk_complete([day(n) for n in range(1, 5)]) == [day(1), day(2), day(3)]


# -- a file written at self.output().path ----------------------------------------------------------


def test_plain_open_at_output_path_is_committed_when_the_task_succeeds(
    local: Store, tasks: ModuleType, build: Build, run_log: Callable[[], list[str]]
) -> None:
    up, down = tasks.PlainOpenWrite(rows=4), tasks.SumSquares(rows=4)
    result = build([down])

    assert result.status == LuigiStatusCode.SUCCESS, result.summary_text
    assert run_log() == [up.task_id, down.task_id]
    body = b"i,square\n0,0\n1,1\n2,4\n3,9\n"
    man = up.output().manifest()
    assert man["uri"] == up.output().path == f"{local.fm.base}/{MODULE_DIR}/luigi/PlainOpenWrite/4/out.csv"
    assert (man["size"], man["format"], man["attempt"]) == (len(body), "csv", 0)
    assert man["orchestrator"]["task_id"] == up.task_id
    assert local.fm.filesystem.cat_file(man["uri"]) == body
    assert down.output().read() == {"total": 14}
    assert [i["uri"] for i in down.output().manifest()["inputs"]] == [man["uri"]]
    assert artifacts(local) == {
        f"{MODULE_DIR}/luigi/{name}/{f}"
        for name, ext in (("PlainOpenWrite/4", "csv"), ("SumSquares/4@False", "json"))
        for f in (f"out.{ext}", "_out.manifest.json")
    }

    assert build([down]).status == LuigiStatusCode.SUCCESS
    assert run_log() == [up.task_id, down.task_id]  # the second build runs nothing

    # a file written at the path outside the task's run is no output: only a commit makes one
    other = tasks.PlainOpenWrite(rows=2).output()
    other.makedirs()
    with open(other.path, "w") as f:
        f.write("i,square\n0,0\n")
    assert not other.exists() and not tasks.PlainOpenWrite(rows=2).complete()


def test_pandas_writing_to_the_output_url_on_s3_is_committed(
    s3_store: Store,
    s3_server: Any,
    tasks: ModuleType,
    build: Build,
    run_log: Callable[[], list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(tasks.S3_OPTIONS_ENV, json.dumps(s3_server.storage_options()))
    up, down = tasks.PandasWrite(rows=3), tasks.SumSquares(rows=3, pandas=True)
    result = build([down])

    assert result.status == LuigiStatusCode.SUCCESS, result.summary_text
    assert run_log() == [up.task_id, down.task_id]
    path = f"{s3_store.fm.base}/{MODULE_DIR}/luigi/PandasWrite/3/out.csv"
    man = up.output().manifest()
    assert man["uri"] == up.output().path == path
    assert s3_store.fm.filesystem.cat_file(path) == b"i,square\n0,0\n1,1\n2,4\n"
    assert man["size"] == len(b"i,square\n0,0\n1,1\n2,4\n")
    assert down.output().read() == {"total": 5}
    assert artifacts(s3_store) == {
        f"{MODULE_DIR}/luigi/{name}/{f}"
        for name, ext in (("PandasWrite/3", "csv"), ("SumSquares/3@True", "json"))
        for f in (f"out.{ext}", "_out.manifest.json")
    }
    assert build([down]).status == LuigiStatusCode.SUCCESS
    assert run_log() == [up.task_id, down.task_id]


# -- a task class made by a factory ----------------------------------------------------------------


def test_factory_made_task_is_filed_under_its_fsmirror_address(
    local: Store, tasks: ModuleType, build: Build, run_log: Callable[[], list[str]]
) -> None:
    Export = tasks.make_export("RegionExport", "project/etl/exports_factory.py::RegionExport")
    task = Export(region="eu")
    assert build([task]).status == LuigiStatusCode.SUCCESS
    assert run_log() == [task.task_id]
    assert artifacts(local) == {
        f"project/etl/exports_factory/luigi/RegionExport/eu/{f}" for f in ("out.json", "_out.manifest.json")
    }
    man = local.fm.manifest("project/etl/exports_factory.py::RegionExport", run_id="luigi", partition="eu")
    assert man["code"]["address"] == "project/etl/exports_factory.py::RegionExport"
    assert local.fm.read("project/etl/exports_factory.py::RegionExport", run_id="luigi", partition="eu") == {
        "region": "eu",
        "export": "RegionExport",
    }


def test_factory_made_task_without_an_address_names_the_class_attribute(
    local: Store, tasks: ModuleType
) -> None:
    Export = tasks.make_export("NamelessExport", None)
    with pytest.raises(
        ResolveError, match=r"set the class attribute fsmirror_address = 'path/module.py::NamelessExport'"
    ):
        Export(region="eu").output()
