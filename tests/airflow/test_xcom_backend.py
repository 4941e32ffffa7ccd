"""``FSMirrorXComBackend`` under ``dag.test()``: values land in storage, the DB keeps references."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import DAG_MIRRORS, xcom_rows
from fsmirror import FSMirror

REF = "__fsmirror_xcom__"


def _escape(run_id: str) -> str:
    return run_id.replace(":", "~3A").replace("+", "~2B")


@pytest.mark.parametrize("provider", ["local", "s3"])
def test_taskflow_values_go_through_storage(
    provider: str,
    run_dag: Callable[..., Any],
    airflow_db: Path,
    request: pytest.FixtureRequest,
    fsmirror_config: Any,
    tmp_path: Path,
) -> None:
    make = request.getfixturevalue(f"{provider}_config")
    cfg = fsmirror_config(make(mirrors=DAG_MIRRORS))
    fm = FSMirror(cfg, mirror="dags")
    dr = run_dag("taskflow_xcom", "taskflow_xcom")
    assert dr.state == "success"

    base = f"{fm.base}/dags/taskflow_xcom/taskflow_xcom@{_escape(dr.run_id)}"
    dag = "taskflow_xcom"  # the instance: the DAG id, and (dag_id, map_index) when mapped (dag@<map_index>)
    expected = {
        ("extract", -1, "return_value"): f"{base}/extract/{dag}/out.parquet",
        ("summarize", -1, "return_value"): f"{base}/summarize/{dag}/out.json",
        ("summarize", -1, "stats"): f"{base}/summarize/{dag}/stats.json",
        # a dict-annotated @task has multiple_outputs: Airflow pushes each key too
        ("summarize", -1, "cities"): f"{base}/summarize/{dag}/cities.json",
        ("summarize", -1, "max_temp"): f"{base}/summarize/{dag}/max_temp.json",
        ("scale", 0, "return_value"): f"{base}/scale/{dag}@0/out.json",
        ("scale", 1, "return_value"): f"{base}/scale/{dag}@1/out.json",
        ("scale", 2, "return_value"): f"{base}/scale/{dag}@2/out.json",
        ("report", -1, "return_value"): f"{base}/report/{dag}/out.json",
    }
    rows = xcom_rows(airflow_db, "taskflow_xcom", dr.run_id)
    assert rows == {k: {REF: uri, "mirror": "dags"} for k, uri in expected.items()}

    # what landed in storage, read back by URI and by raw bytes
    df = fm.read_uri(expected[("extract", -1, "return_value")])
    pd.testing.assert_frame_equal(
        df, pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "temp": [3.5, 19.0, 27.25]})
    )
    fs = fm.filesystem
    raw = {k: json.loads(fs.cat_file(uri)) for k, uri in expected.items() if uri.endswith(".json")}
    assert raw[("summarize", -1, "stats")] == {"rows": 3}
    assert raw[("summarize", -1, "cities")] == ["Oslo", "Lima", "Pune"]
    assert [raw[("scale", i, "return_value")] for i in range(3)] == [7.0, 38.0, 54.5]
    assert raw[("report", -1, "return_value")] == "3 cities, 99.5"

    man = fm.manifest_uri(expected[("scale", 1, "return_value")])
    assert man["run"] == {
        "id": ["taskflow_xcom", dr.run_id],
        "segment": f"taskflow_xcom@{_escape(dr.run_id)}",
        "source": "airflow",
    }
    assert man["code"]["qualname"] == "scale"  # nested in the DAG function: the task id
    assert man["orchestrator"]["dag_id"] == "taskflow_xcom"
    assert man["orchestrator"]["map_index"] == 1
    assert man["partition"] == ["taskflow_xcom", "1"]  # a two-part instance
    assert man["attempt"] == 0  # the first try
    written = sorted(p for p in fs.find(base) if not p.rsplit("/", 1)[-1].startswith("_"))
    assert written == sorted(fs._strip_protocol(u) for u in expected.values())  # nothing else


def test_threshold_keeps_small_values_inline(
    run_dag: Callable[..., Any],
    airflow_db: Path,
    local_config: Callable[..., Path],
    fsmirror_config: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fsmirror_config(local_config(mirrors=DAG_MIRRORS))
    monkeypatch.setenv("AIRFLOW__FSMIRROR__XCOM_THRESHOLD", "200")
    dr = run_dag("taskflow_xcom", "taskflow_xcom")
    assert dr.state == "success"
    rows = xcom_rows(airflow_db, "taskflow_xcom", dr.run_id)
    assert rows[("scale", 0, "return_value")] == 7.0  # inline, as Airflow stores it
    assert rows[("summarize", -1, "stats")] == {"rows": 3}
    assert set(rows[("extract", -1, "return_value")]) == {REF, "mirror"}  # a DataFrame is bigger


def test_serialize_value_outside_a_task_uses_the_fallback_address(
    local_config: Callable[..., Path], fsmirror_config: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Airflow's own backend tests call serialize_value with no task running: the value still lands."""
    from collections import namedtuple

    from fsmirror_airflow import FSMirrorXComBackend

    Result = namedtuple("Result", "key value")
    fm = FSMirror(fsmirror_config(local_config(mirrors=DAG_MIRRORS)), mirror="dags")

    # All ids given, but no running task seen: <root>/_airflow/<dag_id>.py::<task_id>, with a warning.
    ref = FSMirrorXComBackend.serialize_value([1, 2], key="k", dag_id="etl", task_id="load", run_id="r1")
    assert ref == {REF: f"{fm.base}/dags/_airflow/etl/etl@r1/load/etl/k.json", "mirror": "dags"}
    assert FSMirrorXComBackend.deserialize_value(Result("k", ref)) == [1, 2]
    assert fm.read("dags/_airflow/etl.py::load", partition="etl", output_name="k") == [1, 2]
    man = fm.manifest_uri(ref[REF])
    assert man["orchestrator"]["located"] is False and man["orchestrator"]["dag_id"] == "etl"
    assert any("was not seen starting in this process" in r.getMessage() for r in caplog.records)

    # No ids at all (BaseXCom.serialize_value(value)): placeholders, and a fresh run per call.
    one = FSMirrorXComBackend.serialize_value({"a": 1})
    two = FSMirrorXComBackend.serialize_value({"a": 2})
    prefix = f"{fm.base}/dags/_airflow/unknown_dag/unknown_dag@unlocated-"
    assert one[REF].startswith(prefix) and two[REF].startswith(prefix) and one != two
    assert one[REF].endswith("/unknown_task/unknown_dag/out.json")
    assert [FSMirrorXComBackend.deserialize_value(Result("return_value", r)) for r in (one, two)] == [
        {"a": 1},
        {"a": 2},
    ]
    # Purge removes what the reference names, as for a task's own value.
    FSMirrorXComBackend.purge(Result("return_value", one))
    assert not Path(one[REF]).exists() and Path(two[REF]).exists()


def test_mapped_xcoms_written_by_fsmirror_2_0_still_pull(
    run_dag: Callable[..., Any], airflow_db: Path, local_config: Callable[..., Path], fsmirror_config: Any
) -> None:
    """fsmirror 2.0 stored a mapped task instance under the one string ``<dag_id>@<map_index>``
    (``taskflow_xcom~400`` on disk). A DAG run's XComs are turned into exactly what 2.0 wrote (its
    backend's ``fm.write`` call, partition string and all, and the DB reference to that file); a
    task of another DAG pulls them through the backend, and purge still removes them."""
    import sqlite3
    from collections import namedtuple

    from fsmirror.paths.address import CodeAddress
    from fsmirror_airflow import FSMirrorXComBackend, dag_partition, legacy_partition

    cfg = fsmirror_config(local_config(mirrors=DAG_MIRRORS))
    fm = FSMirror(cfg, mirror="dags")
    dr = run_dag("taskflow_xcom", "taskflow_xcom")
    assert dr.state == "success"
    dag_file = Path(__file__).parent / "dags" / "taskflow_xcom.py"
    scale = CodeAddress(tuple(p for p in str(dag_file).split("/") if p), "scale")
    run = ("taskflow_xcom", dr.run_id)
    base = f"{fm.base}/dags/taskflow_xcom/taskflow_xcom@{_escape(dr.run_id)}/scale"
    old_refs = {}
    for i in range(3):
        value = fm.read(scale, run_id=run, partition=dag_partition("taskflow_xcom", i))
        assert fm.delete(scale, run_id=run, partition=("taskflow_xcom", str(i)))
        uri = fm.write(  # FSMirrorXComBackend.serialize_value of fsmirror 2.0
            scale,
            value,
            run_id=run,
            partition=f"taskflow_xcom@{i}",
            output_name=None,
            format="auto",
            overwrite=True,
            run_source="airflow",
            orchestrator={"dag_id": "taskflow_xcom", "task_id": "scale", "run_id": dr.run_id, "map_index": i},
        )
        assert uri == f"{base}/taskflow_xcom~40{i}/out.json"
        old_refs[i] = {REF: uri, "mirror": "dags"}
        with sqlite3.connect(airflow_db) as con:
            con.execute(
                "UPDATE xcom SET value = ? WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?",
                (json.dumps(old_refs[i]), "taskflow_xcom", dr.run_id, "scale", i),
            )
    assert sorted(p.name for p in Path(base).iterdir()) == [f"taskflow_xcom~40{i}" for i in range(3)]

    puller = run_dag("legacy_pull", "legacy_pull", run_conf={"run_id": dr.run_id})
    assert puller.state == "success"
    got = xcom_rows(airflow_db, "legacy_pull", puller.run_id)[("pull_scaled", -1, "return_value")]
    assert fm.read_uri(got[REF]) == [7.0, 38.0, 54.5]

    # Reading 2.0's series by hand: its partition is legacy_partition(), not dag_partition().
    assert legacy_partition("taskflow_xcom", 1) == "taskflow_xcom@1"
    assert legacy_partition("taskflow_xcom") is None
    assert fm.read(scale, partition=legacy_partition("taskflow_xcom", 1)) == 38.0
    assert fm.latest(scale, partition=("taskflow_xcom", "1")) is None
    from click.testing import CliRunner

    from fsmirror.cli import cli

    args = ["show", "dags/taskflow_xcom.py::scale", "--partition", "taskflow_xcom~401", "--json"]
    shown = CliRunner().invoke(cli, ["--config", str(cfg), *args, "--mirror", "dags"], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["partition"] == "taskflow_xcom@1"  # the one string, as 2.0 wrote it
    assert json.loads(shown.output)["uri"] == f"{base}/taskflow_xcom~401/out.json"

    # A retry or clear of such a task purges 2.0's file by the reference, as Airflow hands it over.
    Result = namedtuple("Result", "key value")
    FSMirrorXComBackend.purge(Result("return_value", old_refs[0]))
    assert not fm.exists(scale, run_id=run, partition="taskflow_xcom@0")
    assert fm.exists(scale, run_id=run, partition="taskflow_xcom@1")
