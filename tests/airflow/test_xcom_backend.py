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
    dag = "taskflow_xcom"  # the partition: the DAG id, and '@<map_index>' ('~40' escaped) when mapped
    expected = {
        ("extract", -1, "return_value"): f"{base}/extract/{dag}/out.parquet",
        ("summarize", -1, "return_value"): f"{base}/summarize/{dag}/out.json",
        ("summarize", -1, "stats"): f"{base}/summarize/{dag}/stats.json",
        # a dict-annotated @task has multiple_outputs: Airflow pushes each key too
        ("summarize", -1, "cities"): f"{base}/summarize/{dag}/cities.json",
        ("summarize", -1, "max_temp"): f"{base}/summarize/{dag}/max_temp.json",
        ("scale", 0, "return_value"): f"{base}/scale/{dag}~400/out.json",
        ("scale", 1, "return_value"): f"{base}/scale/{dag}~401/out.json",
        ("scale", 2, "return_value"): f"{base}/scale/{dag}~402/out.json",
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
    assert man["partition"] == "taskflow_xcom@1"
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
