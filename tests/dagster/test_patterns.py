"""The patterns Dagster users write every day (issue #13): nodes, partitioned ops, factories, unit tests, logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster_sample.project.etl import factory as F
from dagster_sample.project.etl import nodes as N

from conftest import read_manifest, stored_files
from dagster import (
    AssetKey,
    DagsterInstance,
    Failure,
    build_input_context,
    build_output_context,
    materialize,
)
from fsmirror import FSMirror
from fsmirror.paths.runid import encode_run_id
from fsmirror_dagster import FSMirrorIOManager

NODES = "project/etl/nodes"
FACTORY = "project/etl/factory"


def _io(config: Path) -> dict[str, Any]:
    return {"io_manager": FSMirrorIOManager(mirror="project", config_path=str(config))}


def _artifacts(store: Path) -> set[str]:
    return {f for f in stored_files(store) if not f.rsplit("/", 1)[-1].startswith("_")}


@pytest.fixture
def pkl_config(local_config: Any) -> Path:
    return Path(
        local_config(mirrors={"project": {"root": "project", "output_name": "out", "output_format": "pkl"}})
    )


def _messages(instance: DagsterInstance, run_id: str) -> list[str]:
    return [e.user_message for e in instance.all_logs(run_id) if e.user_message.startswith("fsmirror: ")]


# -- every node of a job gets its own artifact --------------------------------------------------


def test_an_op_reused_aliased_and_inside_a_graph_gets_one_artifact_per_node(
    pkl_config: Path, instance: DagsterInstance, tmp_path: Path
) -> None:
    result = N.reuse_job.execute_in_process(instance=instance, resources=_io(pkl_config))
    assert result.success
    assert result.output_for_node("add_3") == 7
    rid = result.run_id
    seg = encode_run_id(rid)
    # the function's own node is add_1's plain artifact; every other node is an instance of add_1 in
    # the same run (one path segment after the name), never a run of its own
    assert _artifacts(tmp_path / "store") == {
        f"{NODES}/{seg}/one/out.pkl",
        f"{NODES}/{seg}/add_1/out.pkl",
        f"{NODES}/{seg}/add_1/add_1_2/out.pkl",
        f"{NODES}/{seg}/add_1/plus/out.pkl",
        f"{NODES}/{seg}/add_1/add_3.add_1/out.pkl",
        f"{NODES}/{seg}/add_1/add_3.add_1_2/out.pkl",
        f"{NODES}/{seg}/add_1/add_3.add_1_3/out.pkl",
    }
    fm = FSMirror(pkl_config, mirror="project")
    fn = N.add_1.compute_fn.decorated_fn
    # each node's value is its own, read back through the core by (run id, instance)
    assert fm.read(fn, run_id=rid) == 2
    assert [
        fm.read(fn, run_id=rid, partition=n) for n in ("add_1_2", "plus", "add_3.add_1", "add_3.add_1_3")
    ] == [3, 4, 5, 7]
    man = fm.manifest(fn, run_id=rid, partition="plus")
    assert man["code"]["address"] == "project/etl/nodes.py::add_1"
    assert man["orchestrator"]["step_key"] == "plus" and man["orchestrator"]["node"] == "plus"
    assert man["run"]["id"] == rid and man["partition"] == "plus"
    # one run in every node's series
    assert fm.runs(fn) == [rid]
    for n in ("add_1_2", "plus", "add_3.add_1", "add_3.add_1_2", "add_3.add_1_3"):
        assert fm.runs(fn, partition=n) == [rid]


def test_graphs_inside_graphs_get_the_full_node_path(
    pkl_config: Path, instance: DagsterInstance, tmp_path: Path
) -> None:
    result = N.nested_job.execute_in_process(instance=instance, resources=_io(pkl_config))
    assert result.success and result.output_for_node("add_6") == 7
    seg = encode_run_id(result.run_id)
    nodes = {f.split("/")[5] for f in _artifacts(tmp_path / "store") if f"{seg}/add_1/" in f}
    assert nodes == {f"add_6.{g}.{a}" for g in ("add_3", "add_3_2") for a in ("add_1", "add_1_2", "add_1_3")}


def test_a_key_prefixed_asset_and_an_op_with_an_explicit_address(
    pkl_config: Path, instance: DagsterInstance, tmp_path: Path
) -> None:
    assets = materialize([N.orders], instance=instance, resources=_io(pkl_config))
    ops = N.pinned_job.execute_in_process(instance=instance, resources=_io(pkl_config))
    assert assets.success and ops.success
    assert _artifacts(tmp_path / "store") == {
        f"{NODES}/{encode_run_id(assets.run_id)}/orders/sales__orders/out.pkl",
        f"project/etl/pinned/{encode_run_id(ops.run_id)}/pinned_total/out.pkl",
    }
    fm = FSMirror(pkl_config, mirror="project")
    # the node sales__orders is the instance: its newest run
    assert fm.read(N.orders.op.compute_fn.decorated_fn, partition="sales__orders") == 5
    assert fm.read("project/etl/pinned.py::pinned_total") == 3


# -- partitions -----------------------------------------------------------------------------


def test_op_outputs_of_a_partitioned_run_are_stored_and_loaded_under_its_partition(
    pkl_config: Path, instance: DagsterInstance, tmp_path: Path
) -> None:
    result = N.partitioned_ops_job.execute_in_process(
        instance=instance, resources=_io(pkl_config), partition_key="b"
    )
    assert result.success
    assert result.output_for_node("total") == {"partition": "b", "total": 6}
    seg = encode_run_id(result.run_id)
    assert _artifacts(tmp_path / "store") == {
        f"{NODES}/{seg}/extract/b/out.pkl",
        f"{NODES}/{seg}/total/b/out.pkl",
    }
    man = read_manifest(tmp_path / "store" / NODES / seg / "total/b/_out.manifest.json")
    assert man["partition"] == "b" and man["orchestrator"]["partition"] == "b"


def test_partitioned_graph_backed_asset_loads_within_the_run_and_across_runs(
    pkl_config: Path, instance: DagsterInstance, tmp_path: Path
) -> None:
    first = materialize(
        [N.seed, N.seed_plus_3], partition_key="a", instance=instance, resources=_io(pkl_config)
    )
    assert first.success
    seg = encode_run_id(first.run_id)
    assert {f for f in _artifacts(tmp_path / "store") if "/add_1/" in f} == {
        f"{NODES}/{seg}/add_1/add_3.{a}@a/out.pkl" for a in ("add_1", "add_1_2", "add_1_3")
    }
    # a later run reads the graph-backed asset (its last node's artifact) through the event log
    later = materialize(
        [N.seed, N.seed_plus_3, N.after_graph],
        selection=[N.after_graph],
        partition_key="a",
        instance=instance,
        resources=_io(pkl_config),
    )
    assert later.success and later.output_for_node("after_graph") == 26
    assert any(
        m.endswith(f"{NODES}/{seg}/add_1/add_3.add_1_3@a/out.pkl") for m in _messages(instance, later.run_id)
    )


def test_every_partition_is_read_from_the_run_that_made_it(
    pkl_config: Path, instance: DagsterInstance
) -> None:
    made_a = materialize([N.made_in], partition_key="a", instance=instance, resources=_io(pkl_config))
    # partition b and the all-partitions downstream in one run: a must still come from made_a
    both = materialize(
        [N.made_in, N.runs_of_each], partition_key="b", instance=instance, resources=_io(pkl_config)
    )
    assert both.success
    assert both.output_for_node("runs_of_each") == {"a": made_a.run_id, "b": both.run_id}


# -- build_output_context / build_input_context ------------------------------------------------


def test_build_output_and_input_context_drive_the_io_manager(pkl_config: Path, tmp_path: Path) -> None:
    io = FSMirrorIOManager(mirror="project", config_path=str(pkl_config))
    out = build_output_context(op_def=N.add_1, step_key="add_1", run_id="unit-1")
    io.handle_output(out, {"v": 1})
    assert out.get_logged_metadata()["uri"].path == str(tmp_path / "store" / NODES / "unit-1/add_1/out.pkl")
    assert io.load_input(build_input_context(upstream_output=out)) == {"v": 1}

    # a partitioned asset, with Dagster's placeholder run id (no run_id= given)
    out = build_output_context(
        op_def=N.made_in.op,
        step_key="made_in",
        asset_key=AssetKey("made_in"),
        partition_key="a",
        asset_partitions_def=N.letters,
    )
    io.handle_output(out, "A")
    inp = build_input_context(
        upstream_output=out, asset_key=AssetKey("made_in"), partition_key="a", asset_partitions_def=N.letters
    )
    assert io.load_input(inp) == "A"
    assert f"{NODES}/~5F_EPHEMERAL_RUN_ID/made_in/a/out.pkl" in _artifacts(tmp_path / "store")


def test_a_context_naming_no_code_says_what_to_pass(pkl_config: Path) -> None:
    io = FSMirrorIOManager(mirror="project", config_path=str(pkl_config))
    with pytest.raises(Failure, match=r"names no code\. Pass op_def= .*'fsmirror/address'"):
        io.handle_output(build_output_context(name="result", step_key="x"), 1)
    # or an explicit code address, as definition metadata
    out = build_output_context(
        step_key="x", run_id="unit-2", definition_metadata={"fsmirror/address": "project/etl/units.py::x"}
    )
    io.handle_output(out, 1)
    assert out.get_logged_metadata()["uri"].path.endswith("project/etl/units/unit-2/x/out.pkl")
    assert io.load_input(build_input_context(upstream_output=out)) == 1


# -- factories ------------------------------------------------------------------------------


def test_factory_made_assets_get_a_stable_address(
    pkl_config: Path, instance: DagsterInstance, tmp_path: Path
) -> None:
    first = materialize(
        [F.eu_sales, F.us_sales, F.apac_sales, F.world_sales], instance=instance, resources=_io(pkl_config)
    )
    assert first.success and first.output_for_node("world_sales") == 300.0
    seg = encode_run_id(first.run_id)
    assert _artifacts(tmp_path / "store") == {
        f"{FACTORY}/{seg}/make_sales.eu_sales/out.pkl",  # <enclosing function>.<asset name>
        f"{FACTORY}/{seg}/make_sales.us_sales/out.pkl",
        f"{FACTORY}/{seg}/apac_sales/out.pkl",  # the address its metadata names
        f"{FACTORY}/{seg}/world_sales/out.pkl",
    }
    fm = FSMirror(pkl_config, mirror="project")
    assert fm.read("project/etl/factory.py::make_sales.eu_sales") == {"region": "eu", "total": 100.0}
    assert fm.manifest("project/etl/factory.py::apac_sales")["orchestrator"]["asset_key"] == "apac_sales"
    # the same address next run: a downstream-only run finds the factory assets' artifacts
    again = materialize(
        [F.eu_sales, F.us_sales, F.world_sales],
        selection=[F.world_sales],
        instance=instance,
        resources=_io(pkl_config),
    )
    assert again.success and again.output_for_node("world_sales") == 300.0


# -- the run log ----------------------------------------------------------------------------


def test_handle_output_and_load_input_log_the_uri(
    local_config: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    from dagster_sample.project.etl import assets as A

    config = local_config()
    result = materialize([A.raw_data, A.lift_data], instance=instance, resources=_io(config))
    assert result.success
    base = tmp_path / "store" / "project/etl/assets" / encode_run_id(result.run_id)
    assert _messages(instance, result.run_id) == [
        f"fsmirror: wrote output 'result' to {base}/raw_data/out.parquet",
        f"fsmirror: loading input 'raw_data' from {base}/raw_data/out.parquet",
        f"fsmirror: wrote output 'result' to {base}/lift_data/out.parquet",
    ]
