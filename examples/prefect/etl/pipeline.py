"""An ETL flow whose task results are real files at mirrored paths.

``lift_data`` stores ``<store>/etl/pipeline/<flow run id>/lift_data/out.parquet``;
``summarize`` returns a dict, which a parquet mirror stores as ``out.json``.
The block ``fsmirror-storage/example-etl`` must be saved first (``run.py`` does).
"""

from __future__ import annotations

import pandas as pd

from fsmirror_prefect import mirrored_task
from prefect import flow

STORAGE = "fsmirror-storage/example-etl"


@mirrored_task(storage=STORAGE, retries=1)
def lift_data(days: int) -> pd.DataFrame:
    return pd.DataFrame({"day": range(days), "sales": [100 + 7 * d for d in range(days)]})


@mirrored_task(storage=STORAGE)
def summarize(df: pd.DataFrame) -> dict[str, float]:
    return {"days": len(df), "total_sales": float(df["sales"].sum())}


@flow(log_prints=True)
def etl(days: int = 7) -> dict[str, float]:
    summary = summarize(lift_data(days))
    print(f"summary: {summary}")
    return summary
