"""Assets: mirrored run-scoped paths, metadata in the event log, cross-run and partitioned loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from dagster_sample.project.etl import assets as A

from conftest import materialization_metadata, read_manifest, stored_files
from dagster import DagsterInstance, materialize
from fsmirror import FSMirror
from fsmirror.paths.runid import encode_run_id
from fsmirror_dagster import FSMirrorIOManager

MOD = "project/etl/assets"


def _io(config: Path, **kw: Any) -> dict[str, Any]:
    return {"io_manager": FSMirrorIOManager(mirror="project", config_path=str(config), **kw)}


def _artifacts(files: set[str]) -> set[str]:
    return {f for f in files if not f.rsplit("/", 1)[-1].startswith("_")}


def test_two_assets_land_at_mirrored_run_scoped_paths(
    local_config: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    config = local_config()
    store = tmp_path / "store"
    result = materialize([A.raw_data, A.lift_data], instance=instance, resources=_io(config))
    assert result.success
    rid = result.run_id
    seg = encode_run_id(rid)
    assert _artifacts(stored_files(store)) == {
        f"{MOD}/{seg}/raw_data/out.parquet",
        f"{MOD}/{seg}/lift_data/out.parquet",
    }
    lifted = pd.read_parquet(store / f"{MOD}/{seg}/lift_data/out.parquet")
    assert lifted["y"].tolist() == [10, 20, 30]

    man = read_manifest(store / f"{MOD}/{seg}/lift_data/_out.manifest.json")
    assert man["run"] == {"id": rid, "segment": seg, "source": "dagster"}
    assert man["orchestrator"]["run_id"] == rid
    assert man["orchestrator"]["asset_key"] == "lift_data"
    assert man["orchestrator"]["step_key"] == "lift_data"
    assert man["code"]["qualname"] == "lift_data"
    assert man["code"]["address"] == "project/etl/assets.py::lift_data"

    meta = materialization_metadata(instance, rid, "lift_data")
    assert meta["uri"].path == str(store / f"{MOD}/{seg}/lift_data/out.parquet")
    assert meta["size_bytes"].value == man["size"] > 0
    assert meta["format"].value == "parquet"
    assert meta["dagster/row_count"].value == 3
    assert [(c.name, c.type) for c in meta["dagster/column_schema"].schema.columns] == [
        (str(c), str(t)) for c, t in lifted.dtypes.items()
    ]
    assert [c.name for c in meta["dagster/column_schema"].schema.columns] == ["x", "name", "y"]


def test_downstream_only_loads_upstream_from_the_event_log_not_the_newest_files(
    local_config: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    config = local_config()
    store = tmp_path / "store"
    first = materialize([A.raw_data, A.lift_data], instance=instance, resources=_io(config))
    # Another Dagster instance writes raw_data later into the same store: newest on disk,
    # but not what *this* instance's event log recorded as raw_data's latest materialization.
    other = materialize([A.raw_data], resources=_io(config))
    assert other.success and other.run_id != first.run_id
    fm = FSMirror(config, mirror="project")
    assert fm.latest(A.raw_data.op.compute_fn.decorated_fn) == other.run_id  # the core's pointer moved on

    second = materialize(
        [A.raw_data, A.lift_data], selection=[A.lift_data], instance=instance, resources=_io(config)
    )
    assert second.success
    s1, s2 = encode_run_id(first.run_id), encode_run_id(second.run_id)
    files = stored_files(store)
    assert f"{MOD}/{s2}/lift_data/out.parquet" in files
    assert f"{MOD}/{s2}/raw_data/out.parquet" not in files  # not re-materialized
    loaded = [e for e in second.all_events if e.event_type_value == "LOADED_INPUT"]
    assert len(loaded) == 1
    # the downstream step was given run 1's raw_data: same bytes, and the manifest chain says so
    lifted = pd.read_parquet(store / f"{MOD}/{s2}/lift_data/out.parquet")
    assert lifted["y"].tolist() == [10, 20, 30]
    assert materialization_metadata(instance, second.run_id, "lift_data")["uri"].path.endswith(
        f"{s2}/lift_data/out.parquet"
    )
    assert f"{MOD}/{s1}/raw_data/out.parquet" in files


def test_cross_run_load_reads_exactly_the_recorded_artifact(
    local_config: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    """Changing what run 1 stored changes what the later downstream run reads: it really loads that URI."""
    config = local_config()
    store = tmp_path / "store"
    first = materialize([A.raw_data], instance=instance, resources=_io(config))
    uri = materialization_metadata(instance, first.run_id, "raw_data")["uri"].path
    # rewrite run 1's raw_data through the core (overwrite), keeping its manifest honest
    fm = FSMirror(config, mirror="project")
    fm.write(
        A.raw_data.op.compute_fn.decorated_fn,
        pd.DataFrame({"x": [7], "name": ["z"]}),
        run_id=first.run_id,
        overwrite=True,
    )
    second = materialize(
        [A.raw_data, A.lift_data], selection=[A.lift_data], instance=instance, resources=_io(config)
    )
    assert second.success
    lifted = pd.read_parquet(store / MOD / encode_run_id(second.run_id) / "lift_data/out.parquet")
    assert lifted["y"].tolist() == [70]
    assert uri == str(store / MOD / encode_run_id(first.run_id) / "raw_data/out.parquet")


def test_multi_asset_gets_one_artifact_per_output(
    local_config: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    config = local_config()
    store = tmp_path / "store"
    result = materialize([A.raw_data, A.lift_data, A.split_data], instance=instance, resources=_io(config))
    assert result.success
    seg = encode_run_id(result.run_id)
    files = _artifacts(stored_files(store))
    # left is a table (parquet); right is a dict the parquet mirror cannot hold: visible json fallback
    assert {f for f in files if "/split_data/" in f} == {
        f"{MOD}/{seg}/split_data/left.parquet",
        f"{MOD}/{seg}/split_data/right.json",
    }
    assert read_manifest(store / f"{MOD}/{seg}/split_data/_right.manifest.json")["fell_back"] is True
    assert materialization_metadata(instance, result.run_id, "right")["uri"].path.endswith(
        "split_data/right.json"
    )
    assert materialization_metadata(instance, result.run_id, "left")["dagster/row_count"].value == 1


def test_partitions_get_a_segment_and_load_the_right_partitions_run(
    local_config: Any, instance: DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = local_config(
        mirrors={"project": {"root": "project", "output_name": "out", "output_format": "pkl"}}
    )
    store = tmp_path / "store"
    runs = {}
    for pk in ("a", "b"):
        monkeypatch.setenv("DAGSTER_TEST_TAG", f"first-{pk}")
        res = materialize([A.part_raw], partition_key=pk, instance=instance, resources=_io(config))
        assert res.success
        runs[pk] = res.run_id
    # partition a again, later: the newest "a" is run 3, "b" stays run 2
    monkeypatch.setenv("DAGSTER_TEST_TAG", "second-a")
    again = materialize([A.part_raw], partition_key="a", instance=instance, resources=_io(config))
    runs["a"] = again.run_id

    files = _artifacts(stored_files(store))
    assert f"{MOD}/{encode_run_id(runs['b'])}/part_raw/b/out.pkl" in files
    assert f"{MOD}/{encode_run_id(again.run_id)}/part_raw/a/out.pkl" in files
    man = read_manifest(store / f"{MOD}/{encode_run_id(runs['b'])}/part_raw/b/_out.manifest.json")
    assert man["partition"] == "b" and man["orchestrator"]["partition"] == "b"

    down = materialize(
        [A.part_raw, A.part_lift],
        selection=[A.part_lift],
        partition_key="b",
        instance=instance,
        resources=_io(config),
    )
    assert down.success
    got = FSMirror(config, mirror="project").read(
        A.part_lift.op.compute_fn.decorated_fn, run_id=down.run_id, partition="b"
    )
    assert got == {"from": {"partition": "b", "run_id": runs["b"], "tag": "first-b"}}

    # an unpartitioned downstream of every partition gets {partition: value}, each from its own run
    every = materialize(
        [A.part_raw, A.part_all], selection=[A.part_all], instance=instance, resources=_io(config)
    )
    assert every.success
    fm = FSMirror(config, mirror="project")
    assert fm.read(A.part_all.op.compute_fn.decorated_fn, run_id=every.run_id) == ["a", "b"]


def test_partitioned_same_run_loads_this_runs_partition(
    local_config: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    config = local_config(
        mirrors={"project": {"root": "project", "output_name": "out", "output_format": "pkl"}}
    )
    res = materialize([A.part_raw, A.part_lift], partition_key="a", instance=instance, resources=_io(config))
    assert res.success
    fm = FSMirror(config, mirror="project")
    got = fm.read(A.part_lift.op.compute_fn.decorated_fn, run_id=res.run_id, partition="a")
    assert got["from"]["run_id"] == res.run_id and got["from"]["partition"] == "a"


def test_output_format_override_and_envvar_fields(
    local_config: Any, instance: DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import Definitions, EnvVar

    config = local_config()
    monkeypatch.setenv("FSM_TEST_MIRROR", "project")
    monkeypatch.setenv("FSM_TEST_CONFIG", str(config))
    io = FSMirrorIOManager(
        mirror=EnvVar("FSM_TEST_MIRROR"), config_path=EnvVar("FSM_TEST_CONFIG"), output_format="pkl"
    )
    defs = Definitions(assets=[A.raw_data, A.lift_data], resources={"io_manager": io})
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance)
    assert result.success
    seg = encode_run_id(result.run_id)
    assert _artifacts(stored_files(tmp_path / "store")) == {
        f"{MOD}/{seg}/raw_data/out.pkl",
        f"{MOD}/{seg}/lift_data/out.pkl",
    }
    assert yaml.safe_load(config.read_text())["mirrors"]["project"]["output_format"] == "parquet"


def test_s3_flow_on_moto(s3_config: Any, s3_server: Any, instance: DagsterInstance) -> None:
    config = s3_config()
    bucket = yaml.safe_load(config.read_text())["storage"]["tenant"]
    first = materialize([A.raw_data, A.lift_data], instance=instance, resources=_io(config))
    assert first.success
    second = materialize(
        [A.raw_data, A.lift_data], selection=[A.lift_data], instance=instance, resources=_io(config)
    )
    assert second.success
    fm = FSMirror(config, mirror="project")
    keys = {k.split("/", 1)[1] for k in fm.filesystem.find(bucket)}
    s1, s2 = encode_run_id(first.run_id), encode_run_id(second.run_id)
    assert {k for k in keys if "/_" not in "/" + k} == {  # artifacts: no manifest, index or scratch
        f"{MOD}/{s1}/raw_data/out.parquet",
        f"{MOD}/{s1}/lift_data/out.parquet",
        f"{MOD}/{s2}/lift_data/out.parquet",
    }
    meta = materialization_metadata(instance, second.run_id, "lift_data")
    assert meta["uri"].path == f"s3://{bucket}/{MOD}/{s2}/lift_data/out.parquet"
    assert fm.read(A.lift_data.op.compute_fn.decorated_fn, run_id=second.run_id)["y"].tolist() == [10, 20, 30]
    assert fm.manifest(A.lift_data.op.compute_fn.decorated_fn, run_id=second.run_id)["orchestrator"][
        "run_id"
    ] == (second.run_id)
