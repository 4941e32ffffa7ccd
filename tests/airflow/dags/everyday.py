"""What users do every day: tuples in XComs, daily runs, branches, one task in one DAG.

``shared`` is one module-level callable used by two DAGs: its code address has two
partitions (the DAG ids), so ``fsmirror show`` must ask which. Every other task is used
by one DAG only: ``show`` and ``lineage`` find it without ``--partition``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, task


@task
def shared() -> int:
    return 1


@task
def produce() -> dict[str, Any]:
    return {"a": (1, 2), "b": [3]}


@task
def consume(value: dict[str, Any]) -> str:
    # what arrived, types included: a tuple that came back a list would read [1, 2]
    return repr(value) + " " + type(value["a"]).__name__ + " " + type(value["b"]).__name__


@dag(dag_id="everyday_tuple", schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False)
def everyday_tuple() -> None:
    consume(produce())
    shared()


@task
def daily_total() -> int:
    return 42


@dag(dag_id="everyday_daily", schedule="@daily", start_date=dt.datetime(2026, 1, 1), catchup=False)
def everyday_daily() -> None:
    daily_total()


@task.branch
def choose() -> str:
    return "left"


@task
def left() -> str:
    return "went left"


@task
def right() -> str:
    return "went right"


@dag(dag_id="everyday_branch", schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False)
def everyday_branch() -> None:
    choose() >> [left(), right()]
    shared()


everyday_tuple()
everyday_daily()
everyday_branch()
