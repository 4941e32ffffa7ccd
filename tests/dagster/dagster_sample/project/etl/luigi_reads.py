"""Dagster assets a Luigi task reads, and the Luigi tasks reading them (``test_cross_luigi_reads_dagster.py``).

The other way round from ``cross.py``: Dagster writes, Luigi reads, each by the
other's code address, on one store, with no shared event log.
"""

import datetime as dt
from typing import Any

import luigi
from dagster import AssetExecutionContext, DailyPartitionsDefinition, asset
from fsmirror_luigi import FSMirrorTarget, FSMirrorTask

daily = DailyPartitionsDefinition(start_date="2026-11-20")
ADDRESS = "project/etl/luigi_reads.py"


@asset(partitions_def=daily)
def daily_orders(context: AssetExecutionContext) -> dict[str, Any]:
    day = dt.date.fromisoformat(context.partition_key)
    return {"day": context.partition_key, "orders": list(range(day.day))}


@asset(key_prefix=["sales"])
def totals() -> dict[str, int]:
    """Its Dagster name is ``sales__totals``: the artifact's instance."""
    return {"total": 7}


@asset(key_prefix=["sales"], partitions_def=daily)
def daily_totals(context: AssetExecutionContext) -> dict[str, str]:
    """Key prefix and partition: the instance is ``("sales__daily_totals", <day>)``."""
    return {"day": context.partition_key}


class DagsterDailyOrders(luigi.ExternalTask):
    """The partition of Dagster's ``daily_orders`` for one day: its newest committed run."""

    day = luigi.DateParameter()

    def output(self) -> FSMirrorTarget:
        return FSMirrorTarget(f"{ADDRESS}::daily_orders", run_id="latest", partition=self.day.isoformat())


class DailyOrderReport(FSMirrorTask, luigi.Task):
    """A date-parameterized Luigi task reading the same day of a Dagster daily-partitioned asset."""

    fsmirror_format = "json"
    day = luigi.DateParameter()

    def requires(self) -> DagsterDailyOrders:
        return DagsterDailyOrders(day=self.day)

    def run(self) -> None:
        upstream: dict[str, Any] = self.input().read()
        self.output().write({"day": upstream["day"], "orders": len(upstream["orders"])})
