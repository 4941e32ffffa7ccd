"""The DAG of the distributed Airflow test: TaskFlow XComs, a mapped task and the path macro.

Every XCom goes through ``FSMirrorXComBackend`` to ``<mirror>/dags/dist_etl/<dag>@<run>/<task>/...``;
``report`` writes its own file at ``{{ macros.fsmirror.path(...) }}``, rendered in the
Celery worker that runs it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime

from airflow.sdk import dag, task


@task
def extract() -> list[int]:
    return [1, 2, 3, 4]


@task(multiple_outputs=False)  # one XCom (one file), not one per key
def square(n: int) -> dict[str, int]:
    time.sleep(1.0)  # long enough that both Celery workers take some of the mapped instances
    return {"n": n, "square": n * n, "pid": os.getpid()}


@task
def total(parts: list[dict[str, int]]) -> int:
    return sum(p["square"] for p in parts)


@task
def report(value: int, path: str) -> None:
    from fsmirror import FSMirror

    fm = FSMirror(config=os.environ["AIRFLOW__FSMIRROR__CONFIG_PATH"])
    with fm.filesystem.open(path, "w") as f:
        json.dump({"total": value, "host": socket.gethostname(), "pid": os.getpid()}, f)


@dag(dag_id="dist_etl", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def dist_etl() -> None:
    value = total(square.expand(n=extract()))
    report(value, "{{ macros.fsmirror.path(output_name='report', output_format='json') }}")


dist_etl()
