"""A chain across three writers on one store: plain Python -> Luigi -> Dagster -> Luigi.

``seed`` is written in a ``fm.run`` block; Luigi's ``ShipOrders`` reads it; the Dagster asset
``shipped_count`` reads ``ShipOrders``' artifact (declared by code address); Luigi's
``ReportShipped`` reads ``shipped_count``'s newest run. Each records what it read.
"""

from __future__ import annotations

from typing import Any

import luigi
from dagster import AssetSpec, asset
from fsmirror_dagster import ADDRESS_METADATA_KEY
from fsmirror_luigi import FSMirrorTarget, FSMirrorTask

SEED = "project/etl/cross_lineage.py::seed"


class Seed(luigi.ExternalTask):
    def output(self) -> FSMirrorTarget:
        return FSMirrorTarget(SEED, run_id="latest")


class ShipOrders(FSMirrorTask, luigi.Task):
    fsmirror_format = "json"

    def requires(self) -> Seed:
        return Seed()

    def run(self) -> None:
        self.output().write({"shipped": [o for o in self.input().read() if o % 2]})


shipped_orders = AssetSpec(
    "shipped_orders", metadata={ADDRESS_METADATA_KEY: "project/etl/cross_lineage.py::ShipOrders"}
)


@asset
def shipped_count(shipped_orders: dict[str, Any]) -> dict[str, int]:
    return {"count": len(shipped_orders["shipped"])}


class ShippedCount(luigi.ExternalTask):
    def output(self) -> FSMirrorTarget:
        return FSMirrorTarget("project/etl/cross_lineage.py::shipped_count", run_id="latest")


class ReportShipped(FSMirrorTask, luigi.Task):
    fsmirror_format = "json"

    def requires(self) -> ShippedCount:
        return ShippedCount()

    def run(self) -> None:
        self.output().write({"report": f"{self.input().read()['count']} shipped"})
