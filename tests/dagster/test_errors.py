"""Bad input fails the Dagster step with a message that says what and where; nothing is half-written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster_sample.project.etl import assets as A

from conftest import stored_files
from dagster import DagsterInstance, asset, materialize
from fsmirror_dagster import FSMirrorIOManager


@asset
def outside_root() -> int:  # this file is not under any directory named "project"
    return 1


def _failure(result: Any) -> str:
    """The step failure's text as Dagster recorded it in the event log."""
    events = result.get_step_failure_events()
    assert len(events) == 1
    data = events[0].step_failure_data
    desc = data.user_failure_data.description if data.user_failure_data else ""
    return f"{desc}\n{data.error.to_string() if data.error else ''}"


def _io(config: Path) -> dict[str, Any]:
    return {"io_manager": FSMirrorIOManager(mirror="project", config_path=str(config))}


def test_asset_outside_the_mirror_root(local_config: Any, instance: DagsterInstance, tmp_path: Path) -> None:
    config = local_config()
    result = materialize([outside_root], instance=instance, resources=_io(config), raise_on_error=False)
    assert not result.success
    msg = _failure(result)
    assert "fsmirror could not store output 'result' of step 'outside_root' (asset 'outside_root')" in msg
    assert str(Path(__file__)) in msg and "'project'" in msg
    assert not (tmp_path / "store").exists() or stored_files(tmp_path / "store") == set()


def test_missing_upstream(local_config: Any, instance: DagsterInstance, tmp_path: Path) -> None:
    config = local_config()
    result = materialize(
        [A.raw_data, A.lift_data],
        selection=[A.lift_data],
        instance=instance,
        resources=_io(config),
        raise_on_error=False,
    )
    assert not result.success
    msg = _failure(result)
    assert "asset 'raw_data'" in msg and "has no materialization" in msg
    assert not (tmp_path / "store").exists() or stored_files(tmp_path / "store") == set()


def test_strict_format_refuses_a_value_and_writes_nothing(
    local_config: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    config = local_config(
        mirrors={
            "project": {
                "root": "project",
                "output_name": "out",
                "output_format": "parquet",
                "strict_format": True,
            }
        }
    )
    result = materialize(
        [A.part_raw], partition_key="a", instance=instance, resources=_io(config), raise_on_error=False
    )
    assert not result.success
    msg = _failure(result)
    assert "step 'part_raw' (asset 'part_raw')" in msg and "strict_format" in msg and "dict" in msg
    assert not (tmp_path / "store").exists() or stored_files(tmp_path / "store") == set()


def test_unknown_mirror_names_the_config(local_config: Any, instance: DagsterInstance) -> None:
    config = local_config()
    io = {"io_manager": FSMirrorIOManager(mirror="nope", config_path=str(config))}
    result = materialize([A.raw_data], instance=instance, resources=io, raise_on_error=False)
    assert not result.success
    msg = _failure(result)
    assert "'nope'" in msg and str(config) in msg


def test_partition_range_in_one_run_is_refused(
    local_config: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    config = local_config(
        mirrors={"project": {"root": "project", "output_name": "out", "output_format": "pkl"}}
    )
    tags = {"dagster/asset_partition_range_start": "a", "dagster/asset_partition_range_end": "b"}
    result = materialize(
        [A.part_const], tags=tags, instance=instance, resources=_io(config), raise_on_error=False
    )
    assert not result.success
    msg = _failure(result)
    assert "one artifact per partition" in msg and "step 'part_const'" in msg
    assert not (tmp_path / "store").exists() or stored_files(tmp_path / "store") == set()
