"""DAGs for tests/airflow/upstream/test_backend.py: the common-io XCom backend tests, run for real.

Upstream builds a task instance and a mocked supervisor and calls ``XCom.set`` /
``XCom.get_value`` / ``XCom.delete`` from the test. Here each upstream test's body
runs inside a real task of its own DAG (dag id = the upstream test's name, task id
= upstream's ``test-task-id``), so the calls go through Airflow's real supervisor
comms to the metadata DB, and the maintainers' assertions run where the values are.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, get_current_context
from airflow.sdk.execution_time.xcom import resolve_xcom_backend

XCOM_RETURN_KEY = "return_value"
REF = "__fsmirror_xcom__"


def _ti():  # type: ignore[no-untyped-def]
    return get_current_context()["ti"]


def value_db() -> None:
    task_instance = _ti()
    XCom = resolve_xcom_backend()
    XCom.set(
        key=XCOM_RETURN_KEY,
        value={"key": "value"},
        dag_id=task_instance.dag_id,
        task_id=task_instance.task_id,
        run_id=task_instance.run_id,
    )
    value = XCom.get_value(key=XCOM_RETURN_KEY, ti_key=task_instance)
    assert value == {"key": "value"}


def value_storage() -> None:
    task_instance = _ti()
    XCom = resolve_xcom_backend()
    XCom.set(
        key=XCOM_RETURN_KEY,
        value={"key": "bigvaluebigvaluebigvalue" * 100},
        dag_id=task_instance.dag_id,
        task_id=task_instance.task_id,
        run_id=task_instance.run_id,
    )
    # Upstream reads the stored reference back from its mocked comms; the real comms answer
    # the same request (the one BaseXCom.delete makes).
    stored = XCom._get_xcom_db_ref(
        key=XCOM_RETURN_KEY,
        dag_id=task_instance.dag_id,
        task_id=task_instance.task_id,
        run_id=task_instance.run_id,
    ).value
    p = Path(stored[REF])  # fsmirror's reference is a dict naming the URI (and the mirror)
    assert p.exists() is True

    value = XCom.get_value(key=XCOM_RETURN_KEY, ti_key=task_instance)
    assert value == {"key": "bigvaluebigvaluebigvalue" * 100}


def clear() -> None:
    task_instance = _ti()
    XCom = resolve_xcom_backend()
    XCom.set(
        key=XCOM_RETURN_KEY,
        value={"key": "superlargevalue" * 100},
        dag_id=task_instance.dag_id,
        task_id=task_instance.task_id,
        run_id=task_instance.run_id,
    )
    stored = XCom._get_xcom_db_ref(
        key=XCOM_RETURN_KEY,
        dag_id=task_instance.dag_id,
        task_id=task_instance.task_id,
        run_id=task_instance.run_id,
    ).value
    p = Path(stored[REF])
    assert p.exists() is True

    value = XCom.get_value(key=XCOM_RETURN_KEY, ti_key=task_instance)
    assert value

    XCom.delete(
        dag_id=task_instance.dag_id,
        task_id=task_instance.task_id,
        run_id=task_instance.run_id,
        key=XCOM_RETURN_KEY,
        map_index=task_instance.map_index,
    )
    value = XCom.get_value(key=XCOM_RETURN_KEY, ti_key=task_instance)

    assert p.exists() is False
    assert not value


for _dag_id, _fn in (
    ("test_value_db", value_db),
    ("test_value_storage", value_storage),
    ("test_clear", clear),
):
    with DAG(_dag_id, schedule=None, start_date=dt.datetime(2021, 12, 3, 4, 56), catchup=False) as _dag:
        PythonOperator(task_id="test-task-id", python_callable=_fn)
    globals()[_dag_id] = _dag
