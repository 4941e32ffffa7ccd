"""A Dagster asset whose upstream a Luigi task writes (``exports.py``), declared by its code address."""

from typing import Any

from dagster import AssetSpec, DailyPartitionsDefinition, asset
from fsmirror_dagster import ADDRESS_METADATA_KEY

daily = DailyPartitionsDefinition(start_date="2026-11-20")

# Not in Dagster's event log: FSMirrorIOManager reads the store's newest committed run of this
# address's instance named by the partition key: ExportOrders(day=<key>), as Luigi wrote it.
exported_orders = AssetSpec(
    "exported_orders",
    metadata={ADDRESS_METADATA_KEY: "project/etl/exports.py::ExportOrders"},
    partitions_def=daily,
)


@asset(partitions_def=daily)
def order_count(exported_orders: dict[str, Any]) -> dict[str, Any]:
    return {"day": exported_orders["day"], "orders": len(exported_orders["orders"])}
