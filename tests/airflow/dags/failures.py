"""A retried task (its first try's XCom must be purged) and a plain task for store failures."""

from __future__ import annotations

import datetime as dt

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


retry_purge()
store_fails()
