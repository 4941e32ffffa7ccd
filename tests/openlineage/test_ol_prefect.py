"""OpenLineage from real Prefect flows (one temporary Prefect server): a run per task run, the flow run
as parent; a retried task run keeps its OpenLineage run id."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("prefect")

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="fsmirror-ol-prefect-home-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_TO_API_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
sys.path.insert(0, str(Path(__file__).parent))

from etl import ol_flow
from ol_support import Capture, validate, write_config
from prefect.testing.utilities import prefect_test_harness

from fsmirror_prefect import FSMirrorStorage, mirrored_task
from prefect import flow

EXTRACT, DOUBLE, FLAKY = (f"etl/ol_flow.py::{n}" for n in ("extract", "double", "flaky"))


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=180):
        yield


def test_task_runs_under_their_flow_run_and_a_retry_is_the_same_run(
    capture: Capture, prefect_api: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    cfg = write_config(tmp_path / "f.yml", provider="local", tenant=str(tmp_path / "store"))
    raw = yaml.safe_load(cfg.read_text())
    raw["mirrors"] = {"etl": {"root": "etl", "output_name": "out", "output_format": "json"}}
    cfg.write_text(yaml.safe_dump(raw))
    block = FSMirrorStorage(mirror="etl", config_path=str(cfg))
    block.save(f"ol-{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv(ol_flow.FLAG, str(tmp_path / "flag"))
    ol_flow.TASKS["extract"] = mirrored_task(storage=block)(ol_flow.extract)
    ol_flow.TASKS["double"] = mirrored_task(storage=block)(ol_flow.double)
    ol_flow.TASKS["flaky"] = mirrored_task(storage=block, retries=1)(ol_flow.flaky)
    state = flow(ol_flow.pipeline)(3, return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == 6
    fr = str(state.state_details.flow_run_id)
    for e in capture.events:
        validate(e)
    runs = capture.runs()
    by_job = {j: capture.of_job(j) for j in (EXTRACT, DOUBLE, FLAKY)}
    assert [e["eventType"] for e in by_job[EXTRACT]] == ["START", "COMPLETE"]
    assert [e["eventType"] for e in by_job[DOUBLE]] == ["START", "COMPLETE"]
    assert [e["eventType"] for e in by_job[FLAKY]] == ["START", "FAIL", "START", "COMPLETE"]
    assert len({e["run"]["runId"] for e in by_job[FLAKY]}) == 1  # prefect:<flow run>:<task run>, both tries
    assert len({e["run"]["runId"] for e in runs}) == 3
    for e in runs:
        parent = e["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == fr  # the flow run's id, as Prefect has it
        assert parent["job"]["name"] == "pipeline"
    store = tmp_path / "store"
    done = by_job[DOUBLE][1]
    assert [(i["namespace"], i["name"]) for i in done["inputs"]] == [
        ("file", f"{store}/etl/ol_flow/extract/out.json")
    ]
    assert [(o["namespace"], o["name"]) for o in done["outputs"]] == [("file", f"{store}/etl/ol_flow/double/out.json")]
    assert done["outputs"][0]["facets"]["version"]["datasetVersion"] == fr
    assert os.path.exists(done["outputs"][0]["facets"]["fsmirror"]["uri"])
