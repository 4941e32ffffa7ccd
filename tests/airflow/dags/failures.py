"""Retried tasks (a first try's XComs must be purged) and a plain task for store failures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, get_current_context, task


@dag(schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False)
def retry_purge() -> None:
    @task(retries=1, retry_delay=dt.timedelta(0))
    def flaky() -> dict[str, int] | None:
        ti = get_current_context()["ti"]
        if ti.try_number == 1:
            ti.xcom_push(key="first_try", value={"try": 1})
            ti.xcom_push(key="progress", value={"try": 1})
            raise RuntimeError("first try fails on purpose")
        ti.xcom_push(key="progress", value={"try": ti.try_number})
        return None

    flaky()


@dag(schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False)
def store_fails() -> None:
    @task
    def produce() -> list[int]:
        return [1, 2, 3]

    produce()


@dag(schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False)
def retry_latest() -> None:
    @task(retries=1, retry_delay=dt.timedelta(0))
    def pushes() -> None:
        """Pushes 'maybe' on every first try; fails that try when the run's conf says so.

        The retry pushes nothing under 'maybe': after it, the failed try's value is purged,
        and the newest committed 'maybe' is the previous DAG run's.
        """
        context = get_current_context()
        ti = context["ti"]
        if ti.try_number == 1:
            ti.xcom_push(key="maybe", value={"run": ti.run_id})
            if context["dag_run"].conf.get("fail_first"):
                raise RuntimeError("first try fails on purpose")

    pushes()


@dag(schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False)
def retry_downstream() -> None:
    @task(retries=1, retry_delay=dt.timedelta(0))
    def flaky_value() -> Any:  # not dict-annotated: no multiple_outputs
        """Pushes 'progress' and then fails on its first try; the second try pushes and returns."""
        ti = get_current_context()["ti"]
        ti.xcom_push(key="progress", value={"try": ti.try_number})
        if ti.try_number == 1:
            raise RuntimeError("first try fails on purpose, after pushing")
        return {"try": ti.try_number}

    @task
    def consume(value: dict[str, int]) -> Any:
        progress = get_current_context()["ti"].xcom_pull(task_ids="flaky_value", key="progress")
        return {"value": value, "progress": progress}

    consume(flaky_value())


retry_purge()
store_fails()
retry_latest()
retry_downstream()
