"""Luigi tasks for the lineage tests: one that fails after reading, one with a dynamic dependency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from my_etl_task import LiftDataTask

import luigi
from fsmirror_luigi import FSMirrorTask


class BrokenTask(FSMirrorTask, luigi.Task):
    fsmirror_format = "json"

    def requires(self) -> LiftDataTask:
        return LiftDataTask(rows=3)

    def run(self) -> None:
        rows = self.input().read()
        raise ValueError(f"broken on purpose after reading {len(rows)} rows")


class DynamicTask(FSMirrorTask, luigi.Task):
    """Reads one input before yielding a dynamic dependency and one after: both are its inputs."""

    fsmirror_format = "json"

    def requires(self) -> LiftDataTask:
        return LiftDataTask(rows=2)

    def run(self) -> Iterator[Any]:
        first = self.input().read()
        extra = yield LiftDataTask(rows=4)
        second = extra.read()
        self.output().write({"first": len(first), "second": len(second)})
