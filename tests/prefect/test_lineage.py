"""Lineage in Prefect: one scope per ``mirrored_task`` attempt; the results a task received land in
the manifest of the result it stored. Real flows on the session's Prefect server, local disk and moto S3."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from etl import pipeline as p
from prefect_support import MIRRORS, task_runs

from fsmirror import lineage
from fsmirror.model.record import Input, Manifest
from fsmirror_prefect import FSMirrorStorage, mirrored_task
from lineage_ear import Ear
from prefect import flow

LIFT = "etl/pipeline.py::lift_data"


@pytest.fixture(params=["local", "s3"])
def block(request: pytest.FixtureRequest, save_block: Callable[..., FSMirrorStorage]) -> FSMirrorStorage:
    factory = request.getfixturevalue("local_config" if request.param == "local" else "s3_config")
    return save_block(Path(factory(mirrors=MIRRORS["parquet"])))


def _manifest(block: FSMirrorStorage, tr: Any) -> Manifest:
    return Manifest.from_json(block.manifest_for(tr.state.data.storage_key))


def test_results_a_task_received_are_its_inputs(block: FSMirrorStorage, ear: Ear) -> None:
    p.TASKS["lift"] = mirrored_task(storage=block, partition="{parameters[n]}")(p.lift_data)
    p.TASKS["summarize"] = mirrored_task(storage=block)(p.summarize)
    p.TASKS["count"] = mirrored_task(storage=block)(p.count_rows)
    state = flow(p.lineage_pipeline)(3, return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == {"rows": 3, "counted": 4}
    fr = str(state.state_details.flow_run_id)
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fr])))
    by_name = {r.name: r for r in runs}
    lifts = sorted((r for r in runs if r.name.startswith("lift_data")), key=lambda r: r.expected_start_time)
    (summarize,) = [r for n, r in by_name.items() if n.startswith("summarize")]
    (count,) = [r for n, r in by_name.items() if n.startswith("count_rows")]
    lift3, lift4 = (_manifest(block, r) for r in lifts)
    assert (lift3.partition, lift4.partition) == ("3", "4")
    assert lift3.inputs == () and lift4.inputs == ()
    (i,) = _manifest(block, summarize).inputs  # a value returned by a task call
    assert i == Input.of(lift3)
    assert (i.uri, i.address, i.run, i.hash) == (lift3.uri, LIFT, fr, lift3.hash)
    assert _manifest(block, count).inputs == (Input.of(lift4),)  # a future
    scopes = {s.key: s for s in ear.ended}
    step = scopes[f"prefect:{fr}:{summarize.id}"]
    assert step.job == "etl/pipeline.py::summarize" and step.error is None and step.run_id == fr
    assert {k: step.orchestrator[k] for k in ("flow_run_id", "task_run_id", "task_name")} == {
        "flow_run_id": fr, "task_run_id": str(summarize.id), "task_name": "summarize",
    }  # fmt: skip
    assert [m.uri for m in step.outputs] == [_manifest(block, summarize).uri]
    assert lineage.current() is None


def test_a_failing_task_ends_its_scope_with_the_error(block: FSMirrorStorage, ear: Ear) -> None:
    p.TASKS["lift"] = mirrored_task(storage=block)(p.lift_data)
    p.TASKS["broken"] = mirrored_task(storage=block)(p.broken_summarize)
    state = flow(p.broken_pipeline)(3, return_state=True)
    assert state.is_failed()
    fr = str(state.state_details.flow_run_id)
    lift = _manifest(block, task_runs(state.state_details.flow_run_id)["lift_data"])
    (step,) = [s for s in ear.ended if s.job == "etl/pipeline.py::broken_summarize"]
    assert step.key is not None and step.key.startswith(f"prefect:{fr}:")
    assert (
        isinstance(step.error, ValueError) and str(step.error) == "broken on purpose after receiving 3 rows"
    )
    assert step.inputs == (Input.of(lift),) and step.outputs == ()
    assert lineage.current() is None


def test_an_upstream_that_ran_elsewhere_is_found_through_the_prefect_api(block: FSMirrorStorage) -> None:
    """This process forgets what it stored (as a worker that did not run the upstream): the API says."""
    from fsmirror_prefect import _lineage

    lift_task = mirrored_task(storage=block)(p.lift_data)
    summarize_task = mirrored_task(storage=block)(p.summarize)

    @flow
    def forgetful(n: int) -> int:
        future = lift_task.submit(n)
        future.wait()
        _lineage._results.clear()
        return summarize_task(future).rows  # type: ignore[no-any-return]

    state = forgetful(3, return_state=True)
    assert state.is_completed(), state.message
    runs = task_runs(state.state_details.flow_run_id)
    assert _manifest(block, runs["summarize"]).inputs == (Input.of(_manifest(block, runs["lift_data"])),)
