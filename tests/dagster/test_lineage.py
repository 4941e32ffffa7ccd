"""Lineage in Dagster: a step's scope spans its ``load_input`` and ``handle_output`` calls.

What each step loaded lands in the manifests of what it wrote (URI, run segment, content hash),
on local disk and moto S3; a failing step's scope ends with its exception; the scope of a step is
the same record listeners hear start and end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster_sample.project.etl import lineage_assets as L

from dagster import DagsterInstance, materialize
from fsmirror import FSMirror, lineage
from fsmirror.model.record import Input, Manifest
from fsmirror_dagster import FSMirrorIOManager
from lineage_ear import Ear

NUMBERS = "project/etl/lineage_assets.py::numbers"
DOUBLED = "project/etl/lineage_assets.py::doubled"
TOTAL = "project/etl/lineage_assets.py::total"


@pytest.fixture(params=["local", "s3"])
def config(request: pytest.FixtureRequest) -> Path:
    make = request.getfixturevalue("local_config" if request.param == "local" else "s3_config")
    return Path(make(mirrors={"project": {"root": "project", "output_name": "out", "output_format": "json"}}))


def _io(config: Path) -> dict[str, Any]:
    return {"io_manager": FSMirrorIOManager(mirror="project", config_path=str(config))}


def _manifest(fm: FSMirror, address: str, run_id: str) -> Manifest:
    return Manifest.from_json(fm.manifest(address, run_id=run_id))


def test_what_a_step_loaded_is_recorded_in_what_it_wrote(
    config: Path, instance: DagsterInstance, ear: Ear
) -> None:
    first = materialize([L.numbers], instance=instance, resources=_io(config))
    second = materialize([L.numbers, L.doubled, L.total], instance=instance, resources=_io(config))
    assert first.success and second.success
    fm = FSMirror(config, mirror="project")
    numbers = _manifest(fm, NUMBERS, second.run_id)
    doubled = _manifest(fm, DOUBLED, second.run_id)
    total = _manifest(fm, TOTAL, second.run_id)
    assert numbers.inputs == ()
    assert doubled.inputs == (Input.of(numbers),)  # this run's numbers, not the first run's
    (i,) = doubled.inputs
    assert (i.uri, i.address, i.run, i.hash) == (numbers.uri, NUMBERS, second.run_id, numbers.hash)
    assert total.inputs == (Input.of(doubled), Input.of(numbers))  # in the order Dagster loads them
    # one scope per step, keyed by run and step, ended on the step's success
    keys = [s.key for s in ear.ended if s.key and second.run_id in s.key]
    assert keys == [f"dagster:{second.run_id}:{n}" for n in ("numbers", "doubled", "total")]
    by_key = {s.key: s for s in ear.ended}
    step = by_key[f"dagster:{second.run_id}:doubled"]
    assert step.job == DOUBLED and step.error is None and step.run_id == second.run_id
    assert step.orchestrator == {
        "name": "dagster", "run_id": second.run_id, "job_name": "__ephemeral_asset_job__", "step_key": "doubled",
    }  # fmt: skip
    assert step.inputs == (Input.of(numbers),) and [m.uri for m in step.outputs] == [doubled.uri]
    assert lineage.open_steps() == ()


def test_a_later_run_records_the_earlier_run_it_loaded(config: Path, instance: DagsterInstance) -> None:
    first = materialize([L.numbers], instance=instance, resources=_io(config))
    later = materialize(
        [L.numbers, L.doubled], selection=[L.doubled], instance=instance, resources=_io(config)
    )
    fm = FSMirror(config, mirror="project")
    numbers = _manifest(fm, NUMBERS, first.run_id)
    (i,) = _manifest(fm, DOUBLED, later.run_id).inputs
    assert (i.uri, i.run, i.hash, i.created_at) == (
        numbers.uri,
        first.run_id,
        numbers.hash,
        numbers.created_at,
    )


def test_a_failing_step_ends_its_scope_with_the_error(
    config: Path, instance: DagsterInstance, ear: Ear
) -> None:
    result = materialize(
        [L.numbers, L.broken], instance=instance, resources=_io(config), raise_on_error=False
    )
    assert not result.success
    fm = FSMirror(config, mirror="project")
    numbers = _manifest(fm, NUMBERS, result.run_id)
    (step,) = [s for s in ear.ended if s.key == f"dagster:{result.run_id}:broken"]
    assert isinstance(step.error, ValueError)
    assert str(step.error) == "broken on purpose after reading 3 numbers"
    assert step.inputs == (Input.of(numbers),) and step.outputs == ()
    assert step.ended_at is not None and lineage.open_steps() == ()


def test_ops_record_their_inputs_and_reading_results_afterwards_opens_no_scope(
    local_config: Any, home_instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job of ops (``execute_job``); ``output_for_node`` afterwards loads a step's own output with
    that step's context, which must not open (and leave open) a scope."""
    from dagster_sample.project.etl import jobs as J

    from dagster import execute_job, reconstructable

    config = local_config(
        mirrors={"project": {"root": "project", "output_name": "out", "output_format": "pkl"}}
    )
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(config))
    monkeypatch.setenv("FSMIRROR_DAGSTER_MIRROR", "project")
    monkeypatch.chdir(Path(__file__).parent)
    with execute_job(reconstructable(J.inproc_job), instance=home_instance) as result:
        assert result.success
        assert result.output_for_node("report")["total"] == 6
        run = result.run_id
    fm = FSMirror(config, mirror="project")
    extract = _manifest(fm, "project/etl/jobs.py::extract", run)
    fan_out = [Manifest.from_json(fm.manifest("project/etl/jobs.py::fan_out", run_id=run, output_name=o))
               for o in ("evens", "odds")]  # fmt: skip
    transform = _manifest(fm, "project/etl/jobs.py::transform", run)
    report = _manifest(fm, "project/etl/jobs.py::report", run)
    assert transform.inputs == (Input.of(extract),)
    assert [m.inputs for m in fan_out] == [(Input.of(extract),)] * 2  # both outputs of one step
    assert report.inputs == (Input.of(transform), Input.of(fan_out[0]), Input.of(fan_out[1]))
    assert lineage.open_steps() == ()
