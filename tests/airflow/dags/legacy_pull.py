"""Pulls another DAG run's mapped XComs: ``taskflow_xcom``'s ``scale``, in the run named by the conf."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, get_current_context, task


@dag(schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False)
def legacy_pull() -> None:
    @task
    def pull_scaled() -> Any:
        context = get_current_context()
        return context["ti"].xcom_pull(
            dag_id="taskflow_xcom",
            task_ids="scale",
            map_indexes=[0, 1, 2],
            run_id=context["dag_run"].conf["run_id"],
        )

    pull_scaled()


legacy_pull()
