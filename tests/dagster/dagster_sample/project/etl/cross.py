"""A Dagster asset whose upstream a Luigi task writes (``exports.py``), declared by its code address."""

from typing import Any

from dagster import AssetSpec, asset
from fsmirror_dagster import ADDRESS_METADATA_KEY

# Not in Dagster's event log: FSMirrorIOManager reads the store's newest committed run of this address.
exported_orders = AssetSpec(
    "exported_orders", metadata={ADDRESS_METADATA_KEY: "project/etl/exports.py::ExportOrders"}
)


@asset
def order_count(exported_orders: dict[str, Any]) -> dict[str, Any]:
    return {"day": exported_orders["day"], "orders": len(exported_orders["orders"])}
