"""Tasks written the way Luigi users write them every day, for ``tests/luigi/test_everyday.py``.

A daily task under ``RangeDaily``; a task writing its output with plain
``open(self.output().path, "w")`` and one writing it with pandas (a URL on
object stores, through fsspec); and a task class made by a class factory.
Every ``run()`` appends its task id to ``$FSMIRROR_LUIGI_TEST_LOG``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import luigi
from fsmirror_luigi import FSMirrorTask

LOG_ENV = "FSMIRROR_LUIGI_TEST_LOG"
S3_OPTIONS_ENV = "FSMIRROR_LUIGI_TEST_STORAGE_OPTIONS"  # JSON: how pandas reaches the bucket


def record(task: luigi.Task) -> None:
    log = os.environ.get(LOG_ENV)
    if log:
        with open(log, "a") as f:
            f.write(task.task_id + "\n")


class DailyEvents(FSMirrorTask, luigi.Task):
    fsmirror_format = "json"
    day = luigi.DateParameter()

    def run(self) -> None:
        record(self)
        self.output().write({"day": self.day.isoformat(), "events": self.day.day})


class PlainOpenWrite(FSMirrorTask, luigi.Task):
    """Writes its output as a LocalTarget user would: ``open(self.output().path, "w")``."""

    fsmirror_format = "csv"
    rows = luigi.IntParameter()

    def run(self) -> None:
        record(self)
        with open(self.output().path, "w") as f:
            f.write("i,square\n")
            for i in range(self.rows):
                f.write(f"{i},{i * i}\n")


class PandasWrite(FSMirrorTask, luigi.Task):
    """Writes its output with pandas at ``self.output().path`` (an ``s3://`` URL on S3)."""

    fsmirror_format = "csv"
    rows = luigi.IntParameter()

    def run(self) -> None:
        import pandas as pd

        record(self)
        options = json.loads(os.environ.get(S3_OPTIONS_ENV, "null"))
        frame = pd.DataFrame({"i": range(self.rows), "square": [i * i for i in range(self.rows)]})
        frame.to_csv(self.output().path, index=False, storage_options=options)


class SumSquares(FSMirrorTask, luigi.Task):
    """Reads its upstream's committed artifact through ``self.input().read()``."""

    fsmirror_format = "json"
    rows = luigi.IntParameter()
    pandas = luigi.BoolParameter(default=False)

    def requires(self) -> luigi.Task:
        return (PandasWrite if self.pandas else PlainOpenWrite)(rows=self.rows)

    def run(self) -> None:
        record(self)
        records: list[dict[str, Any]] = self.input().read()
        self.output().write({"total": sum(int(r["square"]) for r in records)})


def make_export(name: str, address: str | None) -> type[luigi.Task]:
    """A task class made by a factory: its ``__qualname__`` is ``make_export.<locals>.Export``."""

    class Export(FSMirrorTask, luigi.Task):
        fsmirror_format = "json"
        region = luigi.Parameter()

        def run(self) -> None:
            record(self)
            self.output().write({"region": self.region, "export": name})

    Export.fsmirror_address = address
    Export.__name__ = name  # Luigi's task family
    return Export
