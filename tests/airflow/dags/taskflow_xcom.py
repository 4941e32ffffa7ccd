"""TaskFlow: a DataFrame and a dict through the XCom backend, a mapped task, a named XCom.

Downstream tasks check what they receive, so a wrong value fails the run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, get_current_context, task


@task
def extract() -> Any:
    """Module level: located by the function itself."""
    import pandas as pd

    return pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "temp": [3.5, 19.0, 27.25]})


@dag(schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False)
def taskflow_xcom() -> None:
    @task
    def summarize(df: Any) -> dict[str, Any]:
        """Nested in the DAG function (a <locals> qualname): located by its file and task id."""
        import pandas as pd

        assert isinstance(df, pd.DataFrame), type(df)
        assert df["city"].tolist() == ["Oslo", "Lima", "Pune"]
        get_current_context()["ti"].xcom_push(key="stats", value={"rows": len(df)})
        return {"cities": df["city"].tolist(), "max_temp": float(df["temp"].max())}

    @task
    def scale(temp: float) -> float:
        return temp * 2

    @task
    def report(summary: dict[str, Any], scaled: Any) -> str:
        assert summary == {"cities": ["Oslo", "Lima", "Pune"], "max_temp": 27.25}, summary
        values = list(scaled)
        assert values == [7.0, 38.0, 54.5], values
        return f"{len(summary['cities'])} cities, {sum(values)}"

    df = extract()
    summary = summarize(df)
    scaled = scale.expand(temp=[3.5, 19.0, 27.25])
    report(summary, scaled)


taskflow_xcom()
