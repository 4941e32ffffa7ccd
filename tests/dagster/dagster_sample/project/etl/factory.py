"""Assets stamped out by a factory function (defined inside it), the usual way to make similar assets."""

from __future__ import annotations

from typing import Any

from dagster import AssetsDefinition, asset
from fsmirror_dagster import ADDRESS_METADATA_KEY


def make_sales(region: str, rate: float) -> AssetsDefinition:
    @asset(name=f"{region}_sales")
    def sales() -> dict[str, Any]:
        return {"region": region, "total": 100 * rate}

    return sales


def make_pinned_sales(region: str) -> AssetsDefinition:
    """A factory that names its assets' code address itself (fsmirror/address metadata)."""

    @asset(name=f"{region}_sales", metadata={ADDRESS_METADATA_KEY: f"project/etl/factory.py::{region}_sales"})
    def sales() -> dict[str, Any]:
        return {"region": region, "total": 1}

    return sales


eu_sales = make_sales("eu", 1.0)
us_sales = make_sales("us", 2.0)
apac_sales = make_pinned_sales("apac")


@asset
def world_sales(eu_sales: dict[str, Any], us_sales: dict[str, Any]) -> float:
    return float(eu_sales["total"] + us_sales["total"])
