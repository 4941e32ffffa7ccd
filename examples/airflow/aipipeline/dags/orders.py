"""Orders: the path macro in a BashOperator, and XComs through fsmirror's backend.

- ``export`` (BashOperator) writes a CSV to ``{{ macros.fsmirror.path(...) }}``;
- ``load_orders`` returns a DataFrame: stored as parquet at its mirrored path;
- ``city_totals`` is mapped over cities: one artifact per ``map_index``;
- ``report`` gets everything back through the XCom backend.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import dag, task

CITIES = ["Oslo", "Lima", "Pune"]


@task
def load_orders() -> Any:
    import pandas as pd

    return pd.DataFrame(
        {"city": ["Oslo", "Lima", "Pune", "Oslo", "Pune"], "amount": [12.5, 30.0, 7.25, 8.0, 2.75]}
    )


@dag(schedule="@daily", start_date=dt.datetime(2026, 11, 1), catchup=False, tags=["fsmirror"])
def orders() -> None:
    export = BashOperator(
        task_id="export",
        bash_command=(
            "out={{ macros.fsmirror.path(output_name='orders', output_format='csv') }}; "
            'mkdir -p "$(dirname "$out")" && printf "city,amount\\nOslo,12.5\\n" > "$out"; echo "$out"'
        ),
    )

    @task
    def city_totals(df: Any, city: str) -> float:
        return float(df.loc[df["city"] == city, "amount"].sum())

    @task
    def report(totals: Any, exported: str) -> dict[str, Any]:
        return {"totals": dict(zip(CITIES, list(totals), strict=True)), "export": exported}

    df = load_orders()
    totals = city_totals.partial(df=df).expand(city=CITIES)
    report(totals, export.output)


orders()
