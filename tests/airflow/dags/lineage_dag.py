"""Lineage DAGs: a pulled XCom and a file read at an upstream's macro path are inputs of what a task writes.

``lineage_dag``: ``extract`` -> ``transform`` (a TaskFlow pull) -> ``report`` (reads ``transform``'s
artifact at ``macros.fsmirror.path('dags/lineage_dag.py::transform', ...)`` and writes its own file).
``lineage_broken``: ``fail_after_pull`` pulls ``extract``'s value, then fails.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, dag, task

from fsmirror_airflow._locate import get_mirror


@task
def extract() -> dict[str, Any]:
    return {"rows": [1, 2, 3]}


@task
def transform(data: dict[str, Any]) -> dict[str, Any]:
    return {"total": sum(data["rows"])}


@task
def fail_after_pull(data: dict[str, Any]) -> None:
    raise ValueError(f"broken on purpose after pulling {len(data['rows'])} rows")


@task
def direct_read() -> int:
    """Reads extract's artifact through FSMirror itself, inside the task: an input too."""
    from airflow.sdk import get_current_context

    ti = get_current_context()["ti"]
    rows = get_mirror().read(
        "dags/lineage_dag.py::extract", run_id=(ti.dag_id, ti.run_id), partition=ti.dag_id
    )["rows"]
    return len(rows)


def write_report(upstream: str, out: str) -> None:
    """Reads the upstream's file itself (no fsmirror call) and writes its own at its macro path."""
    fs = get_mirror().filesystem
    total = json.loads(fs.cat_file(upstream))["total"]
    fs.makedirs(out.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(out, json.dumps({"report": f"total {total}"}).encode())


with DAG("lineage_dag", schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False):
    report = PythonOperator(
        task_id="report",
        python_callable=write_report,
        op_kwargs={
            "upstream": "{{ macros.fsmirror.path('dags/lineage_dag.py::transform', output_format='json') }}",
            "out": "{{ macros.fsmirror.path(output_format='json') }}",
        },
    )
    data = extract()
    transform(data) >> report
    data >> direct_read()


@dag(schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False)
def lineage_broken() -> None:
    fail_after_pull(extract())


lineage_broken()
