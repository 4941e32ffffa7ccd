"""A two-task Luigi pipeline whose outputs live at mirrored paths.

Run it from ``examples/luigi`` (Luigi reads ``./luigi.cfg``, which points fsmirror at ``fsmirror.yml``)::

    python -m luigi --module project.etl.my_etl_task SummarizeTask --day 2026-11-25 --local-scheduler
    fsmirror --config fsmirror.yml ls

``LiftDataTask(day=2026-11-25)`` lands at
``store/project/etl/my_etl_task/luigi/LiftDataTask/2026-11-25/out.parquet`` with a manifest beside
it (Luigi has no run: the run slot is ``luigi``, the day is the instance); running the command
again runs nothing, another ``--day`` runs into a new folder.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

import luigi
from fsmirror_luigi import FSMirrorTask


class LiftDataTask(FSMirrorTask, luigi.Task):
    """Extract a day's rows; the DataFrame is stored as parquet (the mirror's format)."""

    day = luigi.DateParameter(default=dt.date(2026, 11, 25))

    def run(self) -> None:
        frame = pd.DataFrame({"hour": range(24), "events": [(h * 37) % 11 for h in range(24)]})
        frame["day"] = self.day.isoformat()
        self.output().write(frame)


class SummarizeTask(FSMirrorTask, luigi.Task):
    """Read the upstream's artifact through ``self.input()`` and store a JSON summary."""

    fsmirror_format = "json"
    day = luigi.DateParameter(default=dt.date(2026, 11, 25))

    def requires(self) -> LiftDataTask:
        return LiftDataTask(day=self.day)

    def run(self) -> None:
        frame = self.input().read()
        self.output().write({"day": self.day.isoformat(), "events": int(frame["events"].sum())})


if __name__ == "__main__":
    luigi.build([SummarizeTask()], local_scheduler=True)
