"""Airflow 3.3 on a fresh SQLite AIRFLOW_HOME, with fsmirror's XCom backend and plugin.

Airflow reads its settings when first imported, so the environment is set here,
at module top, before any test module imports airflow.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DAGS = Path(__file__).parent / "dags"
_HOME = tempfile.mkdtemp(prefix="fsmirror-airflow-home-")
atexit.register(shutil.rmtree, _HOME, True)  # also when no test asked for the database
os.environ.update(
    {
        "AIRFLOW_HOME": _HOME,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__XCOM_BACKEND": "fsmirror_airflow.FSMirrorXComBackend",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__FSMIRROR__MIRROR": "dags",
    }
)

pytest.importorskip("airflow.sdk", reason="the airflow tox env runs these (tox -e airflow)")  # after the env

DAG_MIRRORS = {
    "dags": {"root": "dags", "prefix": "MIRROR", "output_name": "out", "output_format": "parquet"},
    "aipipeline": {"root": "aipipeline", "prefix": "MIRROR", "output_name": "out", "output_format": "pkl"},
}


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """``airflow db migrate`` once per session (about 2 s on SQLite)."""
    exe = Path(sys.executable).with_name("airflow")
    subprocess.run([str(exe), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return Path(_HOME) / "airflow.db"


@pytest.fixture
def fsmirror_config(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], Path]:
    """Point the plugin and the backend at a config file for this test only."""

    def use(path: Path) -> Path:
        monkeypatch.setenv("AIRFLOW__FSMIRROR__CONFIG_PATH", str(path))
        return path

    return use


@pytest.fixture
def run_dag(airflow_db: Path) -> Callable[..., Any]:
    """``run_dag(file_stem, dag_id, **test_kwargs)`` -> the finished DagRun of ``dag.test()``."""
    from airflow.dag_processing.dagbag import DagBag

    def run(stem: str, dag_id: str, **kw: Any) -> Any:
        bag = DagBag(dag_folder=str(DAGS / f"{stem}.py"))
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag(dag_id).test(**kw)

    return run


def xcom_rows(db: Path, dag_id: str, run_id: str) -> dict[tuple[str, int, str], Any]:
    """The ``xcom`` table's raw stored values for one run: (task_id, map_index, key) -> value."""
    import json

    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT task_id, map_index, key, value FROM xcom WHERE dag_id = ? AND run_id = ?",
            (dag_id, run_id),
        ).fetchall()
    return {(t, m, k): json.loads(v) if isinstance(v, (str, bytes)) else v for t, m, k, v in rows}


def rendered_fields(db: Path, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
    """What Airflow recorded as the task's rendered templated fields."""
    import json

    with sqlite3.connect(db) as con:
        (value,) = con.execute(
            "SELECT rendered_fields FROM rendered_task_instance_fields "
            "WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?",
            (dag_id, run_id, task_id, map_index),
        ).fetchone()
    return dict(json.loads(value))


def ti_states(db: Path, dag_id: str, run_id: str) -> dict[tuple[str, int], tuple[str, int]]:
    """(task_id, map_index) -> (state, try_number) from the task_instance table."""
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT task_id, map_index, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?",
            (dag_id, run_id),
        ).fetchall()
    return {(t, m): (s, n) for t, m, s, n in rows}
