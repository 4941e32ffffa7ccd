"""Port of Dagster's ``python_modules/dagster/dagster_tests/storage_tests/test_upath_io_manager.py``.

Source: dagster-io/dagster master, the revision written with ``import dagster as dg``
(no ``build_assets_job``), which matches Dagster 1.13. One test per upstream test,
same name (and parameters), the maintainers' assertions on values kept.
Upstream subclasses ``UPathIOManager`` (``DummyIOManager`` returns the path it
would read, ``PickleIOManager``, ``JSONIOManager``, an async JSON one);
``FSMirrorIOManager`` stands in for each. What changes, and why:

- **real artifacts**: ``DummyIOManager`` "outputs the object path without loading or
  writing anything", so upstream's downstream assets read partitions nobody
  materialized. ``FSMirrorIOManager`` reads what is stored, so those partitions
  are materialized first, each in its own run; where upstream asserts on the path
  the dummy returned, the port asserts on the URI fsmirror read (from the run log:
  ``load_input`` logs it).
- **paths**: fsmirror's layout is ``<module>/<run id>/<function>/[<partition>/]out.<format>``
  (docs/dagster.md): the partition is a directory, the file name is ``out`` plus the
  format, never ``<partition><extension>``.
- **earlier runs**: as in ``test_upstream_fs_io_manager.py``, ``materialize()`` calls that
  read an earlier run's output share one Dagster instance: fsmirror's paths carry the
  run id, so the earlier run is found in the instance's event log.
- **contexts without code**: ``build_output_context()`` names no op; fsmirror's path is
  the code's, so the port passes ``op_def=`` (docs/dagster.md, "Unit tests").
- no ``from __future__ import annotations``, as upstream: Dagster reads the ``context``
  parameter's annotation when the asset is defined.
- **async**: ``load_from_path`` is UPathIOManager's hook; FSMirrorIOManager reads through
  the core. The async tests' assertions (values, a missing partition fails,
  ``allow_missing_partitions`` skips it) hold all the same.
"""

import json
import pickle
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster._core.definitions.partitions.definition import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
)
from dagster._core.events import HandledOutputData
from dagster_upstream_case import fsmirror_io_manager, upstream_config

import dagster as dg
from dagster import AssetExecutionContext, MetadataValue, OpExecutionContext, OutputContext
from fsmirror_dagster import FSMirrorIOManager


@pytest.fixture
def config(local_config: Any) -> Path:
    return upstream_config(local_config)


@pytest.fixture
def dummy_io_manager(config: Path) -> FSMirrorIOManager:
    return fsmirror_io_manager(config)


@pytest.fixture
def start() -> datetime:
    return datetime(2022, 1, 1)


@pytest.fixture
def hourly(start: datetime) -> HourlyPartitionsDefinition:
    return dg.HourlyPartitionsDefinition(start_date=f"{start:%Y-%m-%d-%H:%M}")


@pytest.fixture
def daily(start: datetime) -> DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=f"{start:%Y-%m-%d}")


def materialize_partitions(assets: Any, keys: Any, io: Any, instance: dg.DagsterInstance) -> None:
    """The upstream partitions a downstream reads, each materialized in its own run (see the module doc)."""
    for key in keys:
        assert dg.materialize(
            assets, partition_key=key, resources={"io_manager": io}, instance=instance
        ).success


def loaded_uris(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The URIs ``load_input`` logged reading, in order."""
    messages = [e.user_message for e in instance.all_logs(run_id)]
    return [m.rsplit(" from ", 1)[1] for m in messages if m.startswith("fsmirror: loading input")]


def logged_output_uri(context: OutputContext) -> str:
    """The URI ``handle_output`` recorded (upstream: ``manager._get_path(context)``)."""
    return str(context.get_logged_metadata()["uri"].path)


@pytest.mark.parametrize("json_data", [0, 0.0, [0, 1, 2], {"a": 0}, [{"a": 0}, {"b": 1}, {"c": 2}]])
def test_upath_io_manager_with_json(local_config: Any, json_data: Any) -> None:
    @dg.op(name="abc")
    def abc() -> Any: ...

    manager = fsmirror_io_manager(upstream_config(local_config, output_format="json"))
    context = dg.build_output_context(
        name="abc",
        step_key="123",
        dagster_type=dg.DagsterType(type_check_fn=lambda _, value: True, name="any", typing_type=Any),
        op_def=abc,  # fsmirror: the code the path mirrors (module docstring)
    )
    manager.handle_output(context, json_data)

    with open(logged_output_uri(context)) as file:
        assert json.load(file) == json_data

    context = dg.build_input_context(
        name="abc",
        upstream_output=context,
        dagster_type=dg.DagsterType(type_check_fn=lambda _, value: True, name="any", typing_type=Any),
    )
    assert manager.load_input(context) == json_data


def test_upath_io_manager_with_non_any_type_annotation(config: Path) -> None:
    @dg.op(name="abc")
    def abc() -> list[Any]: ...

    manager = fsmirror_io_manager(config)

    data = [0, 1, "a", "b"]

    context = dg.build_output_context(
        name="abc",
        step_key="123",
        dagster_type=dg.DagsterType(
            type_check_fn=lambda _, value: isinstance(value, list),
            name="List",
            typing_type=list,
        ),
        op_def=abc,  # fsmirror: the code the path mirrors (module docstring)
    )
    manager.handle_output(context, data)

    with open(logged_output_uri(context), "rb") as file:
        assert data == pickle.load(file)

    context = dg.build_input_context(
        name="abc",
        upstream_output=context,
        dagster_type=dg.DagsterType(
            type_check_fn=lambda _, value: isinstance(value, list),
            name="List",
            typing_type=list,
        ),
    )
    assert manager.load_input(context) == data


def test_upath_io_manager_multiple_time_partitions(
    daily: DailyPartitionsDefinition,
    hourly: HourlyPartitionsDefinition,
    start: datetime,
    dummy_io_manager: FSMirrorIOManager,
    instance: dg.DagsterInstance,
) -> None:
    @dg.asset(partitions_def=hourly)
    def upstream_asset(context: AssetExecutionContext) -> str:
        return context.partition_key

    @dg.asset(
        partitions_def=daily,
    )
    def downstream_asset(upstream_asset: dict[str, str]) -> dict[str, str]:
        return upstream_asset

    hours = [(start + timedelta(hours=h)).strftime(hourly.fmt) for h in range(24)]
    materialize_partitions([upstream_asset], hours, dummy_io_manager, instance)
    result = dg.materialize(
        [*upstream_asset.to_source_assets(), downstream_asset],
        partition_key=start.strftime(daily.fmt),
        resources={"io_manager": dummy_io_manager},
        instance=instance,
    )
    downstream_asset_data = result.output_for_node("downstream_asset", "result")
    assert len(downstream_asset_data) == 24, "downstream day should map to upstream 24 hours"


def test_upath_io_manager_multiple_static_partitions(
    dummy_io_manager: FSMirrorIOManager, instance: dg.DagsterInstance
) -> None:
    upstream_partitions_def = dg.StaticPartitionsDefinition(["A", "B"])

    @dg.asset(partitions_def=upstream_partitions_def)
    def upstream_asset(context: AssetExecutionContext) -> str:
        return context.partition_key

    @dg.asset(ins={"upstream_asset": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
    def downstream_asset(upstream_asset: dict[str, str]) -> dict[str, str]:
        return upstream_asset

    materialize_partitions([upstream_asset], ["B"], dummy_io_manager, instance)  # A comes from the run below
    result = dg.materialize(
        assets=[upstream_asset, downstream_asset],
        resources={"io_manager": dummy_io_manager},
        partition_key="A",
        instance=instance,
    )
    downstream_asset_data = result.output_for_node("downstream_asset", "result")
    assert set(downstream_asset_data.keys()) == {"A", "B"}


def test_upath_io_manager_load_multiple_inputs(
    dummy_io_manager: FSMirrorIOManager, instance: dg.DagsterInstance
) -> None:
    upstream_partitions_def = dg.MultiPartitionsDefinition(
        {
            "a": dg.StaticPartitionsDefinition(["a", "b"]),
            "1": dg.StaticPartitionsDefinition(["1"]),
        }
    )

    @dg.asset(partitions_def=upstream_partitions_def)
    def upstream_asset(context: AssetExecutionContext) -> str:
        return context.partition_key

    @dg.asset
    def downstream_asset(upstream_asset):  # type: ignore[no-untyped-def]
        return upstream_asset

    materialize_partitions(
        [upstream_asset], [dg.MultiPartitionKey({"a": "b", "1": "1"})], dummy_io_manager, instance
    )
    result = dg.materialize(
        assets=[upstream_asset, downstream_asset],
        resources={"io_manager": dummy_io_manager},
        partition_key=dg.MultiPartitionKey({"a": "a", "1": "1"}),
        instance=instance,
    )
    downstream_asset_data = result.output_for_node("downstream_asset", "result")
    assert set(downstream_asset_data.keys()) == {"1|a", "1|b"}


def test_upath_io_manager_multiple_partitions_from_non_partitioned_run(
    config: Path, instance: dg.DagsterInstance
) -> None:
    my_io_manager = fsmirror_io_manager(config)  # upstream: PickleIOManager(UPath(tmp_path))

    upstream_partitions_def = dg.StaticPartitionsDefinition(["A", "B"])

    @dg.asset(partitions_def=upstream_partitions_def, io_manager_def=my_io_manager)
    def upstream_asset(context: AssetExecutionContext) -> str:
        return context.partition_key

    @dg.asset(
        ins={"upstream_asset": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
        io_manager_def=my_io_manager,
    )
    def downstream_asset(upstream_asset: dict[str, str]) -> dict[str, str]:
        return upstream_asset

    for partition_key in ["A", "B"]:
        dg.materialize(
            [upstream_asset],
            partition_key=partition_key,
            instance=instance,
        )

    result = dg.materialize([upstream_asset.to_source_asset(), downstream_asset], instance=instance)

    downstream_asset_data = result.output_for_node("downstream_asset", "result")
    assert set(downstream_asset_data.keys()) == {"A", "B"}


def test_upath_io_manager_static_partitions_with_dot(config: Path) -> None:
    partitions_def = dg.StaticPartitionsDefinition(["0.0-to-1.0", "1.0-to-2.0"])

    @dg.asset(partitions_def=partitions_def)
    def my_asset(context: AssetExecutionContext) -> str:
        return context.partition_key

    result = dg.materialize(
        assets=[my_asset],
        resources={"io_manager": fsmirror_io_manager(config)},  # upstream: a TrackingIOManager
        partition_key="0.0-to-1.0",
    )

    (mat,) = result.asset_materializations_for_node("my_asset")
    dumped_path = Path(str(mat.metadata["uri"].value))
    assert dumped_path is not None
    # upstream: dumped_path.name == "0.0-to-1.0"; fsmirror: the partition is the directory
    assert dumped_path.parent.name == "0.0-to-1.0"


def test_upath_io_manager_with_extension_static_partitions_with_dot(config: Path) -> None:
    partitions_def = dg.StaticPartitionsDefinition(["0.0-to-1.0", "1.0-to-2.0"])

    @dg.asset(partitions_def=partitions_def)
    def my_asset(context: AssetExecutionContext) -> str:
        return context.partition_key

    result = dg.materialize(
        assets=[my_asset],
        resources={"io_manager": fsmirror_io_manager(config)},  # upstream: extension = ".ext"
        partition_key="0.0-to-1.0",
    )

    (mat,) = result.asset_materializations_for_node("my_asset")
    dumped_path = Path(str(mat.metadata["uri"].value))
    assert dumped_path is not None
    # upstream: name "0.0-to-1.0.ext", suffix ".ext"; fsmirror: <partition>/out.<format>, and the
    # extension is the format (this mirror's: pkl)
    assert dumped_path.parent.name == "0.0-to-1.0"
    assert dumped_path.name == "out.pkl"
    assert dumped_path.suffix == ".pkl"


def test_partitioned_io_manager_preserves_single_partition_dependency(
    daily: DailyPartitionsDefinition, dummy_io_manager: FSMirrorIOManager, instance: dg.DagsterInstance
) -> None:
    @dg.asset(partitions_def=daily)
    def upstream_asset():  # type: ignore[no-untyped-def]
        return 42

    @dg.asset(partitions_def=daily)
    def daily_asset(upstream_asset: int):  # type: ignore[no-untyped-def]  # upstream: str, the dummy's path
        return upstream_asset

    result = dg.materialize(
        [upstream_asset, daily_asset],
        partition_key="2022-01-01",
        resources={"io_manager": dummy_io_manager},
        instance=instance,
    )
    # upstream: the dummy's value, the path it read, ends with 2022-01-01; here the path read
    # (logged by load_input) and the real value
    (uri,) = loaded_uris(instance, result.run_id)
    assert uri.endswith("2022-01-01/out.pkl")
    assert result.output_for_node("daily_asset") == 42


def test_skip_type_check_for_multiple_partitions_with_no_type_annotation(
    start: datetime,
    daily: DailyPartitionsDefinition,
    hourly: HourlyPartitionsDefinition,
    dummy_io_manager: FSMirrorIOManager,
    instance: dg.DagsterInstance,
) -> None:
    @dg.asset(partitions_def=hourly)
    def upstream_asset(context: AssetExecutionContext) -> str:
        return context.partition_key

    @dg.asset(
        partitions_def=daily,
    )
    def downstream_asset(upstream_asset):  # type: ignore[no-untyped-def]
        return upstream_asset

    hours = [(start + timedelta(hours=h)).strftime(hourly.fmt) for h in range(24)]
    materialize_partitions([upstream_asset], hours, dummy_io_manager, instance)
    result = dg.materialize(
        [*upstream_asset.to_source_assets(), downstream_asset],
        partition_key=start.strftime(daily.fmt),
        resources={"io_manager": dummy_io_manager},
        instance=instance,
    )
    assert isinstance(result.output_for_node("downstream_asset"), dict)


def test_skip_type_check_for_multiple_partitions_with_any_type(
    start: datetime,
    daily: DailyPartitionsDefinition,
    hourly: HourlyPartitionsDefinition,
    dummy_io_manager: FSMirrorIOManager,
    instance: dg.DagsterInstance,
) -> None:
    @dg.asset(partitions_def=hourly)
    def upstream_asset(context: AssetExecutionContext) -> str:
        return context.partition_key

    @dg.asset(
        partitions_def=daily,
    )
    def downstream_asset(upstream_asset: Any):  # type: ignore[no-untyped-def]
        return upstream_asset

    hours = [(start + timedelta(hours=h)).strftime(hourly.fmt) for h in range(24)]
    materialize_partitions([upstream_asset], hours, dummy_io_manager, instance)
    result = dg.materialize(
        [*upstream_asset.to_source_assets(), downstream_asset],
        partition_key=start.strftime(daily.fmt),
        resources={"io_manager": dummy_io_manager},
        instance=instance,
    )
    assert isinstance(result.output_for_node("downstream_asset"), dict)


@pytest.mark.parametrize("json_data", [0, 0.0, [0, 1, 2], {"a": 0}, [{"a": 0}, {"b": 1}, {"c": 2}]])
def test_upath_io_manager_custom_metadata(config: Path, json_data: Any) -> None:
    def get_length(obj: Any) -> int:
        try:
            return len(obj)
        except TypeError:
            return 0

    class MetadataIOManager(FSMirrorIOManager):
        def get_metadata(self, context: OutputContext, obj: Any) -> dict[str, Any]:
            return {"length": MetadataValue.int(get_length(obj))}

    manager = MetadataIOManager(mirror="upstream", config_path=str(config))

    @dg.asset
    def my_asset() -> Any:
        return json_data

    result = dg.materialize(
        [my_asset],
        resources={"io_manager": manager},
    )
    handled_output_data = next(
        iter(filter(lambda evt: evt.is_handled_output, result.all_node_events))
    ).event_specific_data
    assert isinstance(handled_output_data, HandledOutputData)
    assert handled_output_data.metadata["length"] == MetadataValue.int(get_length(json_data))


@pytest.mark.parametrize("json_data", [0, 0.0, [0, 1, 2], {"a": 0}, [{"a": 0}, {"b": 1}, {"c": 2}]])
def test_upath_io_manager_async_load_from_path(local_config: Any, json_data: Any) -> None:
    # upstream: AsyncJSONIOManager(base_dir=str(tmp_path))
    manager = fsmirror_io_manager(upstream_config(local_config, output_format="json"))

    @dg.asset(io_manager_def=manager)
    def non_partitioned_asset():  # type: ignore[no-untyped-def]
        return json_data

    result = dg.materialize([non_partitioned_asset])

    assert result.output_for_node("non_partitioned_asset") == json_data

    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["a", "b"]), io_manager_def=manager)
    def partitioned_asset(context: OpExecutionContext):  # type: ignore[no-untyped-def]
        return context.partition_key

    result = dg.materialize([partitioned_asset], partition_key="a")

    assert result.output_for_node("partitioned_asset") == "a"


def test_upath_io_manager_async_multiple_time_partitions(
    local_config: Any,
    daily: DailyPartitionsDefinition,
    start: datetime,
    instance: dg.DagsterInstance,
) -> None:
    manager = fsmirror_io_manager(upstream_config(local_config, output_format="json"))

    @dg.asset(partitions_def=daily, io_manager_def=manager)
    def upstream_asset(context: AssetExecutionContext) -> str:
        return context.partition_key

    @dg.asset(
        partitions_def=daily,
        io_manager_def=manager,
        ins={"upstream_asset": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1))},
    )
    def downstream_asset(upstream_asset: dict[str, str]):  # type: ignore[no-untyped-def]
        return upstream_asset

    for days in range(2):
        dg.materialize(
            [upstream_asset],
            partition_key=(start + timedelta(days=days)).strftime(daily.fmt),
            instance=instance,
        )

    result = dg.materialize(
        [upstream_asset.to_source_asset(), downstream_asset],
        partition_key=(start + timedelta(days=1)).strftime(daily.fmt),
        instance=instance,
    )
    downstream_asset_data = result.output_for_node("downstream_asset", "result")
    assert len(downstream_asset_data) == 2, "downstream day should map to 2 upstream days"


def test_upath_io_manager_async_fail_on_missing_partitions(
    local_config: Any,
    daily: DailyPartitionsDefinition,
    start: datetime,
    instance: dg.DagsterInstance,
) -> None:
    manager = fsmirror_io_manager(upstream_config(local_config, output_format="json"))

    @dg.asset(partitions_def=daily, io_manager_def=manager)
    def upstream_asset(context: AssetExecutionContext) -> str:
        return context.partition_key

    @dg.asset(
        partitions_def=daily,
        io_manager_def=manager,
        ins={"upstream_asset": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1))},
    )
    def downstream_asset(upstream_asset: dict[str, str]):  # type: ignore[no-untyped-def]
        return upstream_asset

    dg.materialize(
        [upstream_asset],
        partition_key=start.strftime(daily.fmt),
        instance=instance,
    )

    # upstream: RuntimeError ("N partitions could not be loaded", UPathIOManager's async path);
    # fsmirror fails the step with a Failure naming the first missing partition
    with pytest.raises(dg.Failure, match=r"partition '2022-01-04'.*no materialization"):
        dg.materialize(
            [upstream_asset.to_source_asset(), downstream_asset],
            partition_key=(start + timedelta(days=4)).strftime(daily.fmt),
            instance=instance,
        )


def test_upath_io_manager_async_allow_missing_partitions(
    local_config: Any,
    daily: DailyPartitionsDefinition,
    start: datetime,
    instance: dg.DagsterInstance,
) -> None:
    manager = fsmirror_io_manager(upstream_config(local_config, output_format="json"))

    @dg.asset(partitions_def=daily, io_manager_def=manager)
    def upstream_asset(context: AssetExecutionContext) -> str:
        return context.partition_key

    @dg.asset(
        partitions_def=daily,
        io_manager_def=manager,
        ins={
            "upstream_asset": dg.AssetIn(
                partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1),
                metadata={"allow_missing_partitions": True},
            )
        },
    )
    def downstream_asset(upstream_asset: dict[str, str]):  # type: ignore[no-untyped-def]
        return upstream_asset

    dg.materialize(
        [upstream_asset],
        partition_key=start.strftime(daily.fmt),
        instance=instance,
    )

    result = dg.materialize(
        [upstream_asset.to_source_asset(), downstream_asset],
        partition_key=(start + timedelta(days=1)).strftime(daily.fmt),
        instance=instance,
    )
    downstream_asset_data = result.output_for_node("downstream_asset", "result")
    assert len(downstream_asset_data) == 1, "1 partition should be missing"


def test_upath_can_transition_from_non_partitioned_to_partitioned(
    config: Path, daily: DailyPartitionsDefinition, start: datetime
) -> None:
    my_io_manager = fsmirror_io_manager(config)  # upstream: PickleIOManager(UPath(tmp_path))

    @dg.asset
    def my_asset():  # type: ignore[no-untyped-def]
        return 1

    assert dg.materialize([my_asset], resources={"io_manager": my_io_manager}).success

    @dg.asset(partitions_def=daily)
    def my_asset():  # type: ignore[no-untyped-def]
        return 1

    assert dg.materialize(
        [my_asset], resources={"io_manager": my_io_manager}, partition_key=start.strftime(daily.fmt)
    ).success
