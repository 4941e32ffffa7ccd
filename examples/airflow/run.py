"""Run the example DAG once, in-process, on a throwaway SQLite Airflow home, and list what it wrote.

    python examples/airflow/run.py

Airflow reads its settings when first imported, so they are set before the import.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
home = tempfile.mkdtemp(prefix="fsmirror-airflow-example-home-")
os.environ.update(
    {
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "aipipeline" / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # the one line that turns the backend on, and where its config is
        "AIRFLOW__CORE__XCOM_BACKEND": "fsmirror_airflow.FSMirrorXComBackend",
        "AIRFLOW__FSMIRROR__CONFIG_PATH": str(HERE / "fsmirror.yml"),
        "AIRFLOW__FSMIRROR__MIRROR": "aipipeline",
    }
)
subprocess.run(
    [str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True, capture_output=True
)

from airflow.dag_processing.dagbag import DagBag  # noqa: E402

from fsmirror import FSMirror  # noqa: E402

dag = DagBag(dag_folder=str(HERE / "aipipeline" / "dags" / "orders.py")).get_dag("orders")
run = dag.test()
print(f"run {run.run_id}: {run.state}")
fm = FSMirror(str(HERE / "fsmirror.yml"), mirror="aipipeline")
for path in sorted(fm.filesystem.find(f"{fm.base}/aipipeline")):
    if not any(part.startswith(("_", ".")) for part in path.split("/")):  # data files, not bookkeeping
        print(path)
