"""Airflow 3.3 with its OpenLineage provider (file transport), fsmirror's XCom backend and plugin.

Airflow reads its settings when first imported: the environment is set here, at module top.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

DAGS = Path(__file__).parents[1] / "airflow" / "dags"
HOME = tempfile.mkdtemp(prefix="fsmirror-ol-airflow-home-")
EVENTS = Path(HOME) / "openlineage.jsonl"
atexit.register(shutil.rmtree, HOME, True)
os.environ.update(
    {
        "AIRFLOW_HOME": HOME,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__XCOM_BACKEND": "fsmirror_airflow.FSMirrorXComBackend",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME}/airflow.db",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__FSMIRROR__MIRROR": "dags",
        # the provider's own configuration: its transport, its namespace
        "AIRFLOW__OPENLINEAGE__TRANSPORT": f'{{"type": "file", "log_file_path": "{EVENTS}", "append": true}}',
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "airflow-test",
        # fsmirror's emitter on too: it must leave Airflow steps to the provider
        "FSMIRROR_OPENLINEAGE": "1",
    }
)
sys.path.insert(0, str(Path(__file__).parents[1] / "openlineage"))  # ol_support

pytest.importorskip("airflow.providers.openlineage", reason="tox -e openlineage-airflow runs these")


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    exe = Path(sys.executable).with_name("airflow")
    subprocess.run([str(exe), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return Path(HOME) / "airflow.db"
