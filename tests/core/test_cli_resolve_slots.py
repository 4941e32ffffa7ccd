"""``fsmirror resolve`` prints each orchestrator's path from the ids the orchestrator shows the user.

The distributed tests (tests/distributed) check the same commands against what real
Airflow, Dagster, Prefect and Luigi workers wrote; these pin the grammar without them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli import SEED, run

from fsmirror import FSMirror
from fsmirror.paths.address import CodeAddress

AIRFLOW_RUN = "manual__2026-11-24T18:31:09.484415+00:00"
ENCODED_RUN = "manual__2026-11-24T18~3A31~3A09.484415~2B00~3A00"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    p = tmp_path / "config.yml"
    p.write_text(SEED)
    return p


def resolve(cfg: Path, *args: str) -> str:
    r = run("--config", str(cfg), "resolve", "-m", "fsmirror", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_airflow_slot_from_dag_at_run(cfg: Path) -> None:
    """``--airflow -r DAG@RUN``: the XCom backend's path, the DAG id as the series' partition."""
    out = resolve(cfg, "fsmirror/dags/etl.py::export", "--airflow", "-r", f"daily_etl@{AIRFLOW_RUN}")
    assert out == f"s3://test.bucket/fsmirror/dags/etl/daily_etl@{ENCODED_RUN}/export/daily_etl/out.parquet"
    # -r twice says the same
    assert resolve(cfg, "fsmirror/dags/etl.py::export", "--airflow", "-r", "daily_etl", "-r", AIRFLOW_RUN) == out
    fm = FSMirror(str(cfg), mirror="fsmirror")
    assert out == fm.mirror_full_output(
        "fsmirror/dags/etl.py::export", run_id=("daily_etl", AIRFLOW_RUN), partition="daily_etl"
    )


def test_airflow_map_index_task_id_and_xcom_key(cfg: Path) -> None:
    """A mapped instance (``(dag, map_index)``, ``<dag>@<map_index>`` on disk), a task id that is no Python name, an XCom key and format."""
    out = resolve(
        cfg, "fsmirror/dags/etl.py::load-orders", "--airflow", "-r", f"daily_etl@{AIRFLOW_RUN}",
        "--map-index", "2", "--output-name", "rows", "--format", "json",
    )
    assert out == f"s3://test.bucket/fsmirror/dags/etl/daily_etl@{ENCODED_RUN}/load-orders/daily_etl@2/rows.json"
    fm = FSMirror(str(cfg), mirror="fsmirror")
    assert out == fm.mirror_full_output(
        CodeAddress(("fsmirror", "dags", "etl.py"), "load-orders"),
        run_id=("daily_etl", AIRFLOW_RUN), partition=("daily_etl", "2"), output_name="rows", output_format="json",
    )
    # --map-index -1 is Airflow's "not mapped"
    unmapped = resolve(cfg, "fsmirror/dags/etl.py::export", "--airflow", "-r", "d@r", "--map-index", "-1")
    assert unmapped == "s3://test.bucket/fsmirror/dags/etl/d@r/export/d/out.parquet"


def test_prefect_and_luigi_partitions(cfg: Path) -> None:
    flow_run = "0f8e6d2c-1b7a-4c55-9a0e-3d2f1c4b5a69"
    assert resolve(cfg, "fsmirror/flows/etl.py::lift", "-r", flow_run, "-p", "2026-11-24") == (
        f"s3://test.bucket/fsmirror/flows/etl/{flow_run}/lift/2026-11-24/out.parquet"
    )
    seg = "LiftDataTask_5_8f3c2a1b0e"
    assert resolve(cfg, "fsmirror/etl/t.py::LiftDataTask", "-r", "nightly", "-p", seg, "--format", "csv") == (
        f"s3://test.bucket/fsmirror/etl/t/nightly/LiftDataTask/{seg}/out.csv"
    )


def test_json_names_the_slot(cfg: Path) -> None:
    r = run(
        "--config", str(cfg), "resolve", "-m", "fsmirror", "fsmirror/dags/etl.py::export", "--airflow",
        "-r", "d@r1", "--map-index", "0", "--output-name", "rows", "--json",
    )
    data = json.loads(r.stdout)
    assert data["run_id"] == ["d", "r1"] and data["partition"] == ["d", "0"] and data["run_segment"] == "d@r1"
    assert data["full_output"] == "s3://test.bucket/fsmirror/dags/etl/d@r1/export/d@0/rows.parquet"
    assert data["full"] == "s3://test.bucket/fsmirror/dags/etl/d@r1/export/d@0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--airflow", "-r", "no-dag-here"], "DAG_ID@RUN_ID"),
        (["--airflow", "-r", "a", "-r", "b", "-r", "c"], "DAG_ID@RUN_ID"),
        (["-r", "x", "--map-index", "1"], "--airflow"),
    ],
)
def test_slot_usage_errors_exit_2(cfg: Path, args: list[str], message: str) -> None:
    r = run("--config", str(cfg), "resolve", "-m", "fsmirror", "fsmirror/dags/etl.py::export", *args)
    assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1, r.stderr
