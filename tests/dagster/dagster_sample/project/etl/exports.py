"""Luigi tasks beside the Dagster assets: one upstream of a Dagster asset, one downstream of one.

fsmirror's layout is the same for every orchestrator, so each side finds the
other's artifacts by code address, with no shared event log.
"""

from __future__ import annotations

from typing import Any

import luigi
from fsmirror_luigi import FSMirrorTarget, FSMirrorTask


class ExportOrders(FSMirrorTask, luigi.Task):
    """Written by Luigi, read by the Dagster asset ``order_count`` (``cross.py``)."""

    fsmirror_format = "json"
    day = luigi.Parameter()

    def run(self) -> None:
        self.output().write(
            {"day": self.day, "orders": [1, 2, 3] if self.day < "2026-11-26" else [1, 2, 3, 4]}
        )


class RawDataFromDagster(luigi.ExternalTask):
    """The Dagster asset ``raw_data`` (project/etl/assets.py) as Luigi sees it: its newest committed run."""

    def output(self) -> FSMirrorTarget:
        return FSMirrorTarget("project/etl/assets.py::raw_data", run_id="latest")


class SummarizeDagsterData(FSMirrorTask, luigi.Task):
    fsmirror_format = "json"

    def requires(self) -> RawDataFromDagster:
        return RawDataFromDagster()

    def run(self) -> None:
        frame: Any = self.input().read()
        self.output().write({"rows": len(frame), "x_total": int(frame["x"].sum())})
