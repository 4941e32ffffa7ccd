"""Assets whose code location is ``project/etl/assets.py``: their outputs mirror it."""

import os
from typing import Any

import pandas as pd

from dagster import AssetExecutionContext, AssetOut, Output, StaticPartitionsDefinition, asset, multi_asset


@asset
def raw_data() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3], "name": ["a", "b", "c"]})


@asset
def lift_data(raw_data: pd.DataFrame) -> pd.DataFrame:
    return raw_data.assign(y=raw_data["x"] * 10)


@multi_asset(outs={"left": AssetOut(), "right": AssetOut()})
def split_data(lift_data: pd.DataFrame) -> tuple[Output[Any], Output[Any]]:
    return Output(lift_data.head(1), output_name="left"), Output(
        {"rows": len(lift_data)}, output_name="right"
    )


letters = StaticPartitionsDefinition(["a", "b"])


@asset(partitions_def=letters)
def part_raw(context: AssetExecutionContext) -> dict[str, Any]:
    return {
        "partition": context.partition_key,
        "run_id": context.run.run_id,
        "tag": os.environ.get("DAGSTER_TEST_TAG"),
    }


@asset(partitions_def=letters)
def part_lift(part_raw: dict[str, Any]) -> dict[str, Any]:
    return {"from": part_raw}


@asset
def part_all(part_raw: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(v["partition"] for v in part_raw.values())


@asset(partitions_def=letters)
def part_const() -> int:
    """Does not read its partition key, so a run may cover a range of partitions."""
    return 1
