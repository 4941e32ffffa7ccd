"""Lineage in Airflow: one scope per task instance; XCom pulls and files read at an upstream's macro
path land in the manifests of what the task wrote. Real ``dag.test()`` runs, local disk and moto S3."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import DAG_MIRRORS
from fsmirror import FSMirror, lineage
from fsmirror.model.record import Input, Manifest
from fsmirror.paths.address import CodeAddress
from lineage_ear import Ear

DAG_FILE = Path(__file__).parent / "dags" / "lineage_dag.py"
EXTRACT = "dags/lineage_dag.py::extract"
TRANSFORM = "dags/lineage_dag.py::transform"


@pytest.fixture(params=["local", "s3"])
def fm(request: pytest.FixtureRequest, fsmirror_config: Any) -> FSMirror:
    cfg = fsmirror_config(request.getfixturevalue(f"{request.param}_config")(mirrors=DAG_MIRRORS))
    return FSMirror(cfg, mirror="dags")


def _manifest(fm: FSMirror, obj: Any, dag_id: str, run_id: str, **kw: Any) -> Manifest:
    return Manifest.from_json(fm.manifest(obj, run_id=(dag_id, run_id), partition=dag_id, **kw))


def test_pulls_and_macro_paths_read_are_inputs(fm: FSMirror, run_dag: Callable[..., Any], ear: Ear) -> None:
    dr = run_dag("lineage_dag", "lineage_dag")
    assert dr.state == "success"
    extract = _manifest(fm, EXTRACT, "lineage_dag", dr.run_id)
    transform = _manifest(fm, TRANSFORM, "lineage_dag", dr.run_id)
    report_task = CodeAddress(tuple(p for p in str(DAG_FILE).split("/") if p), "report")
    report = _manifest(fm, report_task, "lineage_dag", dr.run_id)
    assert extract.inputs == ()
    (i,) = transform.inputs  # the TaskFlow argument, pulled through the XCom backend
    assert i == Input.of(extract)
    assert (i.uri, i.address, i.run, i.hash) == (extract.uri, EXTRACT, extract.segment, extract.hash)
    assert extract.segment == fm.run_segment(("lineage_dag", dr.run_id))
    assert report.inputs == (Input.of(transform),)  # read at the macro path, recorded with its file
    assert report.orchestrator["written_by"] == "task"
    direct = _manifest(fm, "dags/lineage_dag.py::direct_read", "lineage_dag", dr.run_id)
    assert direct.inputs == (Input.of(extract),)  # read through FSMirror inside the task
    keys = {s.key: s for s in ear.ended}
    step = keys[f"airflow:lineage_dag:{dr.run_id}:transform:-1"]
    assert step.job == TRANSFORM and step.error is None and step.run_id == ("lineage_dag", dr.run_id)
    assert step.orchestrator == {
        "dag_id": "lineage_dag", "task_id": "transform", "run_id": dr.run_id, "map_index": -1, "try_number": 1,
    }  # fmt: skip
    # a dict-returning @task pushes each key too (multiple_outputs): every push records the pull
    total = _manifest(fm, TRANSFORM, "lineage_dag", dr.run_id, output_name="total")
    assert total.inputs == (Input.of(extract),)
    assert [m.uri for m in step.outputs] == [total.uri, transform.uri]
    assert [m.uri for m in keys[f"airflow:lineage_dag:{dr.run_id}:report:-1"].outputs] == [report.uri]
    assert lineage.open_steps() == () and lineage.current() is None


def test_a_failing_task_ends_its_scope_with_the_error(
    fm: FSMirror, run_dag: Callable[..., Any], ear: Ear
) -> None:
    dr = run_dag("lineage_dag", "lineage_broken")
    assert dr.state == "failed"
    extract = _manifest(fm, EXTRACT, "lineage_broken", dr.run_id)
    (step,) = [s for s in ear.ended if s.key == f"airflow:lineage_broken:{dr.run_id}:fail_after_pull:-1"]
    assert isinstance(step.error, ValueError) and str(step.error) == "broken on purpose after pulling 3 rows"
    assert step.inputs == (Input.of(extract),) and step.outputs == ()
    assert lineage.open_steps() == () and lineage.current() is None
