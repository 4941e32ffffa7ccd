"""Core v3 identity for Dagster: a node is an instance of its function (not a run), a retry is an attempt.

Real jobs on a real instance, asserting what landed in storage and what ``fsmirror stale`` /
``fsmirror gc`` make of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dagster_sample.project.etl import identity_ops as X

from conftest import stored_files
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    MetadataValue,
    ReexecutionOptions,
    execute_job,
    materialize,
    reconstructable,
)
from fsmirror import FSMirror
from fsmirror.cli import cli
from fsmirror.paths.runid import encode_run_id
from fsmirror_dagster import FSMirrorIOManager

MOD = "project/etl/identity_ops"
ADDR = f"{MOD}.py"
HERE = Path(__file__).parent
MIRROR = {"project": {"root": "project", "output_name": "out", "output_format": "pkl"}}

ADD_1 = X.add_1.compute_fn.decorated_fn
START = X.start.compute_fn.decorated_fn
TOTAL = X.total.compute_fn.decorated_fn
FLAKY = X.flaky_pair.compute_fn.decorated_fn
SHARDS = X.flaky_shards.compute_fn.decorated_fn
DOUBLE = X.double.compute_fn.decorated_fn


@pytest.fixture(params=["local", "s3"])
def config(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fsmirror config the jobs' EnvVar fields read (local disk, or a moto S3 bucket)."""
    make = request.getfixturevalue("local_config" if request.param == "local" else "s3_config")
    path = Path(make(mirrors=MIRROR))
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(path))
    monkeypatch.setenv("FSMIRROR_DAGSTER_MIRROR", "project")
    monkeypatch.chdir(HERE)  # reconstructable() records the cwd; step processes import dagster_sample from it
    return path


@pytest.fixture
def local(local_config: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = Path(local_config(mirrors=MIRROR))
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(path))
    monkeypatch.setenv("FSMIRROR_DAGSTER_MIRROR", "project")
    monkeypatch.chdir(HERE)
    return path


def _cli(config: Path, *args: str) -> tuple[int, str]:
    got = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return got.exit_code, got.output


def _artifacts(store: Path) -> set[str]:
    return {f for f in stored_files(store) if f.startswith(f"{MOD}/") and "/_" not in f}


# -- an op used twice: two instances of one function, one run --------------------------------


def test_a_reused_op_is_two_instances_of_one_run_not_two_runs(
    config: Path, instance: DagsterInstance
) -> None:
    result = X.reuse_job.execute_in_process(instance=instance)
    assert result.success and result.output_for_node("total") == 3
    rid = result.run_id
    fm = FSMirror(config, mirror="project")

    # the node add_1_2 is an instance of add_1 in run rid: one path segment after the name
    assert fm.read(START, run_id=rid) == 1
    assert fm.read(ADD_1, run_id=rid) == 2
    assert fm.read(ADD_1, run_id=rid, partition="add_1_2") == 3
    assert fm.read(TOTAL, run_id=rid) == 3
    assert fm.runs(ADD_1) == [rid]
    assert fm.runs(ADD_1, partition="add_1_2") == [rid]
    assert fm.artifact_uri(ADD_1, run_id=rid, partition="add_1_2").endswith(
        f"{MOD}/{encode_run_id(rid)}/add_1/add_1_2/out.pkl"
    )
    man = fm.manifest(ADD_1, partition="add_1_2")
    assert man["run"]["id"] == rid and man["partition"] == "add_1_2" and man["attempt"] == 0
    assert man["orchestrator"]["node"] == "add_1_2" and man["orchestrator"]["step_key"] == "add_1_2"
    # lineage links each node to the instance it read
    assert [(i["address"], i["partition"]) for i in fm.manifest(TOTAL)["inputs"]] == [
        (f"{ADDR}::add_1", "add_1_2")
    ]
    assert [(i["address"], i["partition"]) for i in man["inputs"]] == [(f"{ADDR}::add_1", None)]

    # nothing is stale right after the run, and gc --keep 1 keeps every node's only run
    code, out = _cli(config, "stale", "--json")
    assert code == 0, out
    assert sorted((s["address"], s["partition"] or "", s["run"], s["stale"]) for s in json.loads(out)) == [
        (f"{ADDR}::add_1", "", encode_run_id(rid), False),
        (f"{ADDR}::add_1", "add_1_2", encode_run_id(rid), False),
        (f"{ADDR}::start", "", encode_run_id(rid), False),
        (f"{ADDR}::total", "", encode_run_id(rid), False),
    ]
    code, out = _cli(config, "gc", f"{ADDR}::add_1", "--keep", "1", "--json")
    assert code == 0, out
    assert (json.loads(out)["dry_run"], json.loads(out)["deleted"]) == (False, [])
    assert fm.read(ADD_1, run_id=rid) == 2 and fm.read(ADD_1, run_id=rid, partition="add_1_2") == 3

    # a second run: each node's series has two runs, and gc --keep 1 drops the first of each
    again = X.reuse_job.execute_in_process(instance=instance)
    assert again.success
    assert fm.runs(ADD_1, partition="add_1_2") == [rid, again.run_id]
    # the first run's total read both add_1 nodes of its run: by default gc keeps a kept run's inputs
    code, out = _cli(config, "gc", f"{ADDR}::add_1", "--keep", "1", "--json")
    assert code == 0, out
    assert json.loads(out)["deleted"] == []
    assert sorted((k["partition"] or "", k["run_id"]) for k in json.loads(out)["kept"]) == sorted(
        [("", rid), ("add_1_2", rid), ("", again.run_id), ("add_1_2", again.run_id)]
    )
    code, out = _cli(config, "gc", f"{ADDR}::add_1", "--keep", "1", "--no-keep-inputs", "--json")
    assert code == 0, out
    assert sorted((d["partition"] or "", d["run_id"]) for d in json.loads(out)["deleted"]) == [
        ("", rid),
        ("add_1_2", rid),
    ]
    assert fm.runs(ADD_1) == [again.run_id] and fm.runs(ADD_1, partition="add_1_2") == [again.run_id]
    code, out = _cli(config, "stale")
    assert code == 0, out


def test_a_partitioned_run_makes_the_node_and_the_partition_key_the_instance(
    local: Path, instance: DagsterInstance, tmp_path: Path
) -> None:
    result = X.partitioned_reuse_job.execute_in_process(instance=instance, partition_key="d2")
    assert result.success and result.output_for_node("total") == 3
    seg = encode_run_id(result.run_id)
    assert _artifacts(tmp_path / "store") == {
        f"{MOD}/{seg}/start/d2/out.pkl",
        f"{MOD}/{seg}/add_1/d2/out.pkl",
        f"{MOD}/{seg}/add_1/add_1_2@d2/out.pkl",
        f"{MOD}/{seg}/total/d2/out.pkl",
    }
    fm = FSMirror(local, mirror="project")
    assert fm.read(ADD_1, partition="d2") == 2
    assert fm.read(ADD_1, partition=("add_1_2", "d2")) == 3
    assert fm.runs(ADD_1, partition=("add_1_2", "d2")) == [result.run_id]
    assert fm.manifest(ADD_1, partition=("add_1_2", "d2"))["partition"] == ["add_1_2", "d2"]
    code, out = _cli(local, "ls", f"{ADDR}::add_1")
    assert code == 0 and "add_1 partition add_1_2@d2  1 run(s)" in out, out
    code, out = _cli(local, "stale")
    assert code == 0, out


def test_a_layout_grouping_runs_under_each_function_puts_the_node_after_the_run(
    local_config: Any, monkeypatch: pytest.MonkeyPatch, instance: DagsterInstance, tmp_path: Path
) -> None:
    config = local_config(mirrors={"project": {**MIRROR["project"], "layout": "{module}/{name}/{run_id}"}})
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(config))
    monkeypatch.setenv("FSMIRROR_DAGSTER_MIRROR", "project")
    result = X.reuse_job.execute_in_process(instance=instance)
    assert result.success
    seg = encode_run_id(result.run_id)
    assert {f for f in _artifacts(tmp_path / "store") if "/add_1/" in f} == {
        f"{MOD}/add_1/{seg}/out.pkl",
        f"{MOD}/add_1/{seg}/add_1_2/out.pkl",
    }
    fm = FSMirror(config, mirror="project")
    assert fm.runs(ADD_1, partition="add_1_2") == [result.run_id]


def test_reexecution_reads_a_parent_run_that_fsmirror_2_wrote_with_a_scoped_run_id(
    local: Path, home_instance: DagsterInstance, tmp_path: Path
) -> None:
    """fsmirror 2.0 stored node add_1_2 of run R at ``R@add_1_2/add_1/``: a child run still finds it."""
    with execute_job(reconstructable(X.reuse_job), instance=home_instance) as parent:
        assert parent.success
        rid = parent.run_id
    fm = FSMirror(local, mirror="project")
    # make the parent run's add_1_2 exactly what 2.0 left: the scoped run id, no instance
    assert fm.delete(ADD_1, run_id=rid, partition="add_1_2")
    fm.write(ADD_1, 3, run_id=(rid, "add_1_2"))
    old = f"{MOD}/{encode_run_id(rid)}@add_1_2/add_1/out.pkl"
    assert old in _artifacts(tmp_path / "store")
    assert fm.read(ADD_1, run_id=(rid, "add_1_2")) == 3  # 2.0's node artifact, read as 2.0 named it

    options = ReexecutionOptions(parent_run_id=rid, step_selection=["total"])
    with execute_job(
        reconstructable(X.reuse_job), instance=home_instance, reexecution_options=options
    ) as child:
        assert child.success
        cid = child.run_id
        assert child.output_for_node("total") == 3
    logs = [e.user_message for e in home_instance.all_logs(cid) if e.user_message.startswith("fsmirror: ")]
    assert [m for m in logs if m.startswith("fsmirror: loading input 'x'")] == [
        f"fsmirror: loading input 'x' from {tmp_path / 'store' / old}"
    ]
    assert fm.read(TOTAL, run_id=cid) == 3


def test_a_downstream_run_reads_an_asset_whose_materialization_fsmirror_2_recorded(
    local: Path, instance: DagsterInstance, tmp_path: Path
) -> None:
    """The event log's ``uri`` of a 2.0 materialization (``R@shop__basket/basket/``) is read as it is."""
    fm = FSMirror(local, mirror="project")
    basket = X.basket.op.compute_fn.decorated_fn
    uri = fm.write(basket, 5, run_id=("run-of-2.0", "shop__basket"))  # where 2.0 stored the node's output
    assert uri == str(tmp_path / "store" / MOD / "run-of-2.0@shop__basket/basket/out.pkl")
    instance.report_runless_asset_event(
        AssetMaterialization(AssetKey(["shop", "basket"]), metadata={"uri": MetadataValue.path(uri)})
    )
    io = {"io_manager": FSMirrorIOManager(mirror="project", config_path=str(local))}
    result = materialize(
        [X.basket, X.basket_total], selection=[X.basket_total], instance=instance, resources=io
    )
    assert result.success and result.output_for_node("basket_total") == 10
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert f"fsmirror: loading input 'basket' from {uri}" in logs

    # materialized by this version: the node is basket's instance, in the run's own folder
    now = materialize([X.basket], instance=instance, resources=io)
    assert now.success
    assert fm.runs(basket, partition="shop__basket") == [now.run_id]
    assert fm.artifact_uri(basket, partition="shop__basket") == str(
        tmp_path / "store" / MOD / encode_run_id(now.run_id) / "basket/shop__basket/out.pkl"
    )


# -- retries: a later attempt of the step replaces the earlier one's outputs ----------------


def test_a_retried_step_that_stored_one_output_succeeds_with_the_retry_values(
    config: Path, instance: DagsterInstance
) -> None:
    result = X.retry_job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    assert result.output_for_node("pair") == {"left": 11, "right": 21}  # the retry's values, both
    rid = result.run_id
    fm = FSMirror(config, mirror="project")
    for name, value in (("left", 11), ("right", 21)):
        man = fm.manifest(FLAKY, output_name=name)
        assert (man["run"]["id"], man["attempt"], man["output_name"]) == (rid, 1, name)
        assert fm.read(FLAKY, run_id=rid, output_name=name) == value
        assert fm.runs(FLAKY, output_name=name) == [rid]
    # the downstream was made from the retry's commit: nothing stale
    pair_inputs = fm.manifest(X.pair.compute_fn.decorated_fn)["inputs"]
    assert sorted((i["output_name"], i["created_at"]) for i in pair_inputs) == sorted(
        (n, fm.manifest(FLAKY, output_name=n)["created_at"]) for n in ("left", "right")
    )
    code, out = _cli(config, "stale")
    assert code == 0, out
    retries = [
        e
        for e in instance.all_logs(rid)
        if e.dagster_event and e.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"
    ]
    assert len(retries) == 1


def test_a_retry_in_a_step_process_knows_its_attempt(local: Path, home_instance: DagsterInstance) -> None:
    """The multiprocess executor runs each try in a new process: the attempt comes with the step."""
    with execute_job(reconstructable(X.retry_mp_job), instance=home_instance) as result:
        assert result.success
        rid = result.run_id
        assert result.output_for_node("pair") == {"left": 11, "right": 21}
    fm = FSMirror(local, mirror="project")
    assert [fm.manifest(FLAKY, run_id=rid, output_name=n)["attempt"] for n in ("left", "right")] == [1, 1]


def test_a_retried_generator_with_a_dynamic_output_replaces_its_shards(
    config: Path, instance: DagsterInstance
) -> None:
    result = X.dynamic_retry_job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    assert result.output_for_node("gather_all") == [202, 402]  # shards a=101, b=201 of the retry, doubled
    rid = result.run_id
    fm = FSMirror(config, mirror="project")
    assert [fm.read(SHARDS, run_id=rid, output_name=f"out-{k}") for k in ("a", "b")] == [101, 201]
    assert [fm.manifest(SHARDS, run_id=rid, output_name=f"out-{k}")["attempt"] for k in ("a", "b")] == [1, 1]
    # the mapped steps ran once each, after the retry
    assert [fm.manifest(DOUBLE, run_id=rid, output_name=f"out-{k}")["attempt"] for k in ("a", "b")] == [0, 0]


def test_a_retry_replaces_slot_by_slot_and_leaves_what_it_does_not_store_again(
    local: Path, instance: DagsterInstance
) -> None:
    """The first try stored shards a and b; the retry yields a only: b stays as the first try left it."""
    result = X.shrinking_retry_job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success and result.output_for_node("gather_all") == [202]  # the retry's a, doubled
    rid = result.run_id
    fm = FSMirror(local, mirror="project")
    shards = X.shrinking_shards.compute_fn.decorated_fn
    got = {k: fm.manifest(shards, run_id=rid, output_name=f"out-{k}") for k in ("a", "b")}
    assert {k: m["attempt"] for k, m in got.items()} == {"a": 1, "b": 0}
    assert [fm.read(shards, run_id=rid, output_name=f"out-{k}") for k in ("a", "b")] == [101, 200]
