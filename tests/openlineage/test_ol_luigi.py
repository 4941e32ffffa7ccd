"""OpenLineage from real ``luigi.build`` runs: one run per task, its input, its Luigi parent."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ol_support import Capture, validate

luigi = pytest.importorskip("luigi")

from ol_support import write_config  # noqa: E402

PIPELINE = Path(__file__).parents[1] / "luigi" / "project" / "etl" / "my_etl_task.py"


@pytest.fixture(scope="module")
def pipeline() -> ModuleType:
    name = "my_etl_task"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PIPELINE)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def build(tasks: list[Any]) -> None:
    from luigi.execution_summary import LuigiStatusCode
    from luigi.task_register import Register

    import fsmirror_luigi

    Register.clear_instance_cache()
    fsmirror_luigi.clear_cache()
    result = luigi.build(tasks, local_scheduler=True, detailed_summary=True)
    assert result.status == LuigiStatusCode.SUCCESS, result.summary_text


@pytest.mark.parametrize("provider", ["local", "s3"])
def test_each_task_is_a_run_with_its_input_and_its_luigi_parent(
    capture: Capture, pipeline: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    if provider == "s3":
        s3 = request.getfixturevalue("s3_server")
        bucket = s3.new_bucket()
        cfg = write_config(tmp_path / "f.yml", provider="s3", tenant=bucket, storage_options=s3.storage_options())
        namespace, base = f"s3://{bucket}", ""
    else:
        cfg = write_config(tmp_path / "f.yml", provider="local", tenant=str(tmp_path / "store"))
        namespace, base = "file", f"{tmp_path}/store/"
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(cfg))
    summary = pipeline.SummarizeTask(rows=3)
    lift = summary.requires()
    build([summary])
    runs = capture.runs()
    assert [(e["eventType"], e["job"]["name"]) for e in runs] == [
        ("START", "project/etl/my_etl_task.py::LiftDataTask"),
        ("COMPLETE", "project/etl/my_etl_task.py::LiftDataTask"),
        ("START", "project/etl/my_etl_task.py::SummarizeTask"),
        ("COMPLETE", "project/etl/my_etl_task.py::SummarizeTask"),
    ]
    for e in capture.events:
        validate(e)
    lift_done, sum_start, sum_done = runs[1], runs[2], runs[3]
    # the dataset is the series: code x instance (the parameter set, rows=3) x output; no run slot
    lift_ds = (namespace, f"{base}project/etl/my_etl_task/LiftDataTask/3/out.csv")
    assert [(o["namespace"], o["name"]) for o in lift_done["outputs"]] == [lift_ds]
    assert [(i["namespace"], i["name"]) for i in sum_done["inputs"]] == [lift_ds]
    assert [(i["namespace"], i["name"]) for i in sum_start["inputs"]] == [lift_ds]  # input(): known at START
    assert [(o["namespace"], o["name"]) for o in sum_done["outputs"]] == [
        (namespace, f"{base}project/etl/my_etl_task/SummarizeTask/3/out.json")
    ]
    # the version is the run slot: Luigi has no run, so it is the fixed word (docs/luigi.md)
    assert sum_done["inputs"][0]["facets"]["version"]["datasetVersion"] == "luigi"
    assert sum_done["inputs"][0]["facets"]["fsmirror"]["uri"] == lift.output().uri
    assert sum_done["outputs"][0]["facets"]["fsmirror"]["uri"] == summary.output().uri
    parent = sum_done["run"]["facets"]["parent"]
    assert (parent["job"]["namespace"], parent["job"]["name"]) == ("fsmirror", "SummarizeTask")
    assert parent["root"]["run"] == parent["run"]
    assert sum_start["run"]["runId"] == sum_done["run"]["runId"] != lift_done["run"]["runId"]


def test_a_rerun_of_the_same_task_is_the_same_openlineage_run(
    capture: Capture, pipeline: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Luigi's task id is the step: built again (into a fresh store, so it runs), the run id holds."""
    ids = []
    for n in (1, 2):
        cfg = write_config(tmp_path / f"f{n}.yml", provider="local", tenant=str(tmp_path / f"store{n}"))
        monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(cfg))
        capture.events.clear()
        build([pipeline.SummarizeTask(rows=4)])
        ids.append([(e["job"]["name"], e["run"]["runId"]) for e in capture.runs()])
    assert len(ids[0]) == 4 and ids[0] == ids[1]
