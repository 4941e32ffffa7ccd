"""Lineage in Luigi: one scope per task run, its ``input()`` targets in the manifests of its outputs.

Real ``luigi.build`` runs on local disk and moto S3; asserted field by field on what landed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from luigi.execution_summary import LuigiStatusCode

from fsmirror import lineage
from fsmirror.model.record import Input, Manifest
from lineage_ear import Ear

TASKS = Path(__file__).parent / "project" / "etl" / "lineage_tasks.py"


@pytest.fixture(scope="session")
def tasks(pipeline: ModuleType) -> ModuleType:
    name = "lineage_tasks"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TASKS)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _manifest(target: Any) -> Manifest:
    return Manifest.from_json(target.manifest())


def test_a_task_records_its_input_in_its_output(
    store: Any, build: Any, pipeline: ModuleType, ear: Ear
) -> None:
    summary = pipeline.SummarizeTask(rows=3)
    assert build([summary]).status == LuigiStatusCode.SUCCESS
    lift = _manifest(summary.input())
    out = _manifest(summary.output())
    assert lift.inputs == ()
    (i,) = out.inputs
    assert i == Input.of(lift)
    assert (i.uri, i.address, i.run, i.partition, i.hash) == (
        summary.input().uri, "project/etl/my_etl_task.py::LiftDataTask", "luigi", "3", lift.hash,
    )  # fmt: skip
    by_key = {s.key: s for s in ear.ended}
    step = by_key[f"luigi:{summary.task_id}"]
    assert step.job == "project/etl/my_etl_task.py::SummarizeTask" and step.error is None
    assert step.run_id == "luigi" and step.orchestrator == summary.fsmirror_orchestrator()
    assert [m.uri for m in step.outputs] == [out.uri]
    assert by_key[f"luigi:{summary.requires().task_id}"].inputs == ()
    assert lineage.open_steps() == () and lineage.current() is None


def test_a_failing_task_ends_its_scope_with_the_error(
    store: Any, build: Any, tasks: ModuleType, ear: Ear
) -> None:
    broken = tasks.BrokenTask()
    assert build([broken]).status == LuigiStatusCode.FAILED
    lift = _manifest(broken.input())
    (step,) = [s for s in ear.ended if s.key == f"luigi:{broken.task_id}"]
    assert isinstance(step.error, ValueError) and str(step.error) == "broken on purpose after reading 3 rows"
    assert step.inputs == (Input.of(lift),) and step.outputs == ()
    assert not broken.output().exists()
    assert lineage.open_steps() == () and lineage.current() is None


def test_a_dynamic_dependency_resumes_the_same_scope(
    store: Any, build: Any, tasks: ModuleType, pipeline: ModuleType, ear: Ear
) -> None:
    task = tasks.DynamicTask()
    assert build([task]).status == LuigiStatusCode.SUCCESS
    first = _manifest(pipeline.LiftDataTask(rows=2).output())
    second = _manifest(pipeline.LiftDataTask(rows=4).output())
    assert _manifest(task.output()).inputs == (Input.of(first), Input.of(second))
    assert [s.key for s in ear.ended].count(f"luigi:{task.task_id}") == 1
    assert lineage.open_steps() == () and lineage.current() is None
