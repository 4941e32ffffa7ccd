"""Two assets and a partitioned one; their outputs land under ``aipipeline/etl/assets/<run id>/``."""

import pandas as pd

from dagster import AssetExecutionContext, DailyPartitionsDefinition, asset


@asset
def raw_orders() -> pd.DataFrame:
    return pd.DataFrame({"order_id": [1, 2, 3], "amount": [9.5, 12.0, 3.25]})


@asset
def order_totals(raw_orders: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"orders": [len(raw_orders)], "total": [raw_orders["amount"].sum()]})


@asset(partitions_def=DailyPartitionsDefinition(start_date="2026-11-01"))
def daily_events(context: AssetExecutionContext) -> dict[str, str]:
    return {"day": context.partition_key}
