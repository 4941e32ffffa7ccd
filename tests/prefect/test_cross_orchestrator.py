"""One layout for every orchestrator: Prefect reads what Airflow wrote, Airflow reads what Prefect wrote.

Airflow 3.3 and Prefect 3.9 cannot share a venv, so this test (in the prefect env,
which tox runs after the airflow env) drives a real Airflow in the airflow tox env's
interpreter, with this checkout's fsmirror on its path, against one shared store:

1. a Prefect flow stores ``etl/pipeline.py::lift_data`` (mirrored_task);
2. Airflow runs examples/airflow's ``orders`` DAG, then the DAG of docs/airflow.md's
   "Reading another orchestrator's artifacts" snippet, whose task reads the newest
   Prefect ``lift_data`` by its code address;
3. the flow of docs/prefect.md's snippet reads Airflow's ``load_orders`` by its code
   address and DAG partition.

Both snippets are pasted from the docs as written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from etl import pipeline as p

from fsmirror import FSMirror
from fsmirror.paths.address import CodeAddress
from fsmirror_prefect import FSMirrorStorage, mirrored_task
from prefect import flow

ROOT = Path(__file__).parents[2]
AIRFLOW_PYTHON = Path(sys.executable).parents[2] / "airflow" / "bin" / "python"

pytestmark = pytest.mark.skipif(
    not AIRFLOW_PYTHON.exists(),
    reason=f"needs the airflow tox env ({AIRFLOW_PYTHON}; run tox -e airflow first): "
    "Airflow 3.3 and Prefect 3.9 cannot share a venv",
)


def snippet(doc: str, contains: str) -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", (ROOT / "docs" / doc).read_text(), flags=re.M | re.S)
    (found,) = [b for b in blocks if contains in b]
    return textwrap.dedent(found)


AIRFLOW_SCRIPT = """
import os, subprocess, sys, json
from pathlib import Path
subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True, capture_output=True)
from airflow.dag_processing.dagbag import DagBag
out = {}
for name, dag_id in (("orders.py", "orders"), ("report_prefect.py", "report_prefect")):
    bag = DagBag(dag_folder=os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], name))
    assert not bag.import_errors, bag.import_errors
    run = bag.get_dag(dag_id).test()
    out[dag_id] = [run.run_id, str(run.state)]
print(json.dumps(out))
"""


def run_airflow(tmp_path: Path, config: Path, dags: Path) -> dict[str, Any]:
    home = tmp_path / "airflow-home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AIRFLOW"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__XCOM_BACKEND": "fsmirror_airflow.FSMirrorXComBackend",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__FSMIRROR__CONFIG_PATH": str(config),
        "AIRFLOW__FSMIRROR__MIRROR": "aipipeline",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        # this checkout's fsmirror, whatever the airflow env last installed
        "PYTHONPATH": os.pathsep.join([str(ROOT / "fsmirror_core"), str(ROOT / "integrations")]),
    }
    proc = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", AIRFLOW_SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-5000:])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_prefect_and_airflow_read_each_others_artifacts(
    tmp_path: Path, save_block: Callable[..., FSMirrorStorage], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "fsmirror.yml"
    mirror = {"prefix": "MIRROR", "output_name": "out", "output_format": "parquet"}
    config.write_text(
        yaml.safe_dump(
            {
                "storage": {"provider": "local", "tenant": str(tmp_path / "store")},
                "mirrors": {"etl": {"root": "etl", **mirror}, "aipipeline": {"root": "aipipeline", **mirror}},
            }
        )
    )
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(config))

    # 1. Prefect writes etl/pipeline.py::lift_data
    block = save_block(config, mirror="etl")
    lift = mirrored_task(storage=block)(p.lift_data)

    @flow
    def produce() -> int:
        return len(lift(5))

    state = produce(return_state=True)
    assert state.is_completed(), state.message
    prefect_run = str(state.state_details.flow_run_id)

    # 2. Airflow: the example DAG writes, the docs' DAG reads Prefect's artifact
    dags = tmp_path / "project" / "aipipeline" / "dags"
    dags.mkdir(parents=True)
    (dags / "orders.py").write_text(
        (ROOT / "examples" / "airflow" / "aipipeline" / "dags" / "orders.py").read_text()
    )
    (dags / "report_prefect.py").write_text(snippet("airflow.md", "# aipipeline/dags/report_prefect.py"))
    runs = run_airflow(tmp_path, config, dags)
    assert {dag: state for dag, (_, state) in runs.items()} == {
        "orders": "success",
        "report_prefect": "success",
    }

    air = FSMirror(config, mirror="aipipeline")
    rows_lifted = CodeAddress(
        tuple(p for p in str(dags / "report_prefect.py").split("/") if p), "rows_lifted"
    )
    assert air.read(rows_lifted, partition="report_prefect") == 5  # Airflow read Prefect's 5 rows
    assert FSMirror(config, mirror="etl").latest(p.lift_data) == prefect_run

    # 3. Prefect reads Airflow's load_orders (the docs' flow, pasted as written)
    scope: dict[str, Any] = {}
    exec(snippet("prefect.md", "orders_from_airflow"), scope)
    assert scope["report"]() == 5  # five orders
    frame = air.read("aipipeline/dags/orders.py::load_orders", partition="orders")
    pd.testing.assert_frame_equal(
        frame,
        pd.DataFrame(
            {"city": ["Oslo", "Lima", "Pune", "Oslo", "Pune"], "amount": [12.5, 30.0, 7.25, 8.0, 2.75]}
        ),
    )
    man = air.manifest("aipipeline/dags/orders.py::load_orders", partition="orders")
    assert man["run"]["source"] == "airflow" and man["run"]["id"] == ["orders", runs["orders"][0]]
