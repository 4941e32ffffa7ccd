"""OpenLineage from real Dagster ``materialize`` runs: one run per step, the Dagster run as parent."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ol_support import Capture, validate, write_config

dagster = pytest.importorskip("dagster")

from dagster import DagsterInstance, materialize  # noqa: E402
from fsmirror_dagster import FSMirrorIOManager  # noqa: E402

ASSETS = Path(__file__).parent / "project" / "etl" / "ol_assets.py"
NUMBERS = "project/etl/ol_assets.py::numbers"
DOUBLED = "project/etl/ol_assets.py::doubled"
FLAKY = "project/etl/ol_assets.py::flaky"


@pytest.fixture(scope="module")
def assets() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ol_assets", ASSETS)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["ol_assets"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as inst:
        yield inst


def io(tmp_path: Path) -> dict[str, Any]:
    cfg = write_config(tmp_path / "f.yml", provider="local", tenant=str(tmp_path / "store"))
    return {"io_manager": FSMirrorIOManager(mirror="project", config_path=str(cfg))}


def test_each_step_is_a_run_whose_parent_is_the_dagster_run(
    capture: Capture, assets: ModuleType, instance: DagsterInstance, tmp_path: Path
) -> None:
    result = materialize([assets.numbers, assets.doubled], instance=instance, resources=io(tmp_path))
    assert result.success
    runs = capture.runs()
    assert [(e["eventType"], e["job"]["name"]) for e in runs] == [
        ("START", NUMBERS), ("COMPLETE", NUMBERS), ("START", DOUBLED), ("COMPLETE", DOUBLED),
    ]  # fmt: skip
    for e in capture.events:
        validate(e)
    store = tmp_path / "store"
    numbers_ds = ("file", f"{store}/project/etl/ol_assets/numbers/out.json")
    done = runs[3]
    assert [(i["namespace"], i["name"]) for i in done["inputs"]] == [numbers_ds]
    assert [(o["namespace"], o["name"]) for o in done["outputs"]] == [
        ("file", f"{store}/project/etl/ol_assets/doubled/out.json")
    ]
    assert done["outputs"][0]["facets"]["version"]["datasetVersion"] == result.run_id
    assert done["outputs"][0]["facets"]["fsmirror"]["uri"] == (
        f"{store}/project/etl/ol_assets/{result.run_id}/doubled/out.json"
    )
    for e in runs:
        parent = e["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == result.run_id  # Dagster's run id is a UUID: used as is
        assert parent["job"]["name"] == "__ephemeral_asset_job__"
    assert len({e["run"]["runId"] for e in runs}) == 2


def test_a_retried_step_is_the_same_openlineage_run(
    capture: Capture, assets: ModuleType, instance: DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    monkeypatch.setenv(assets.FLAG, str(tmp_path / "flag"))
    result = materialize([assets.numbers, assets.flaky], instance=instance, resources=io(tmp_path))
    assert result.success
    flaky = capture.of_job(FLAKY)
    assert [e["eventType"] for e in flaky] == ["START", "FAIL", "START", "COMPLETE"]
    assert len({e["run"]["runId"] for e in flaky}) == 1  # dagster:<run id>:flaky, both tries
    # the up-for-retry try ends as FAIL; the adapter reports Dagster's retry request as the error
    assert "Dagster step 'flaky'" in flaky[1]["run"]["facets"]["errorMessage"]["message"]
    assert flaky[3]["outputs"][0]["facets"]["version"]["datasetVersion"] == result.run_id
    for e in capture.events:
        validate(e)
