"""A small Luigi pipeline for the adapter tests, at a path the mirror's root ('project') can split.

``LiftDataTask`` streams CSV through ``target.open("w")``; ``SummarizeTask``
reads it back with ``self.input().read()`` and stores a JSON summary with
``target.write(value)``. Two environment variables let tests observe and break
it from outside the process: every run appends its task id to
``$FSMIRROR_LUIGI_TEST_LOG``, and ``$FSMIRROR_LUIGI_TEST_KILL`` makes
``LiftDataTask`` SIGKILL its own process halfway through writing.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import luigi.format
from luigi.parameter import ParameterVisibility

import luigi
from fsmirror_luigi import FSMirrorTarget, FSMirrorTask

LOG_ENV = "FSMIRROR_LUIGI_TEST_LOG"
KILL_ENV = "FSMIRROR_LUIGI_TEST_KILL"


def record(task: luigi.Task) -> None:
    """Append the task id to the run log (O_APPEND: safe across forked workers)."""
    log = os.environ.get(LOG_ENV)
    if log:
        with open(log, "a") as f:
            f.write(task.task_id + "\n")


class LiftDataTask(FSMirrorTask, luigi.Task):
    fsmirror_format = "csv"
    rows = luigi.IntParameter(default=5)

    def run(self) -> None:
        record(self)
        with self.output().open("w") as f:
            f.write("i,value\n")
            for i in range(self.rows):
                f.write(f"{i},{i * i}\n")
                if os.environ.get(KILL_ENV) and i == self.rows // 2:
                    f.flush()
                    os.kill(os.getpid(), signal.SIGKILL)


class SummarizeTask(FSMirrorTask, luigi.Task):
    fsmirror_format = "json"
    rows = luigi.IntParameter(default=5)

    def requires(self) -> LiftDataTask:
        return LiftDataTask(rows=self.rows)

    def run(self) -> None:
        record(self)
        records: list[dict[str, Any]] = self.input().read()
        self.output().write({"rows": len(records), "total": sum(int(r["value"]) for r in records)})


class DailyTask(FSMirrorTask, luigi.Task):
    """One folder per run: the run id is an explicit parameter."""

    fsmirror_run_id_param = "run_id"
    run_id = luigi.Parameter()
    token = luigi.Parameter(default="s3cret-token", visibility=ParameterVisibility.PRIVATE)

    def run(self) -> None:
        record(self)
        self.output().write({"run": self.run_id}, format="json")

    def output(self) -> FSMirrorTarget:
        return self.fsmirror_target(format="json")


class RegionalTask(DailyTask):
    """A run-id parameter plus another parameter: the others become a partition segment."""

    region = luigi.Parameter()

    def run(self) -> None:
        record(self)
        self.output().write({"run": self.run_id, "region": self.region}, format="json")


class CompressedTask(FSMirrorTask, luigi.Task):
    """A Luigi format object as the output format: text, gzipped, as LocalTarget would write it."""

    fsmirror_format = luigi.format.UTF8 >> luigi.format.Gzip
    rows = luigi.IntParameter(default=3)

    def run(self) -> None:
        record(self)
        with self.output().open("w") as f:
            for i in range(self.rows):
                f.write(f"{i}é\n")


class ReadCompressedTask(FSMirrorTask, luigi.Task):
    fsmirror_format = "json"
    rows = luigi.IntParameter(default=3)

    def requires(self) -> CompressedTask:
        return CompressedTask(rows=self.rows)

    def run(self) -> None:
        record(self)
        with self.input().open("r") as f:
            lines = f.read().splitlines()
        self.output().write({"lines": lines})


ELSEWHERE = "project/etl/elsewhere.py::produce"  # code another orchestrator runs (no Luigi task)


class FromElsewhere(luigi.ExternalTask):
    """An upstream Luigi does not build: the newest committed run of a code address, whoever wrote it."""

    def output(self) -> FSMirrorTarget:
        return FSMirrorTarget(ELSEWHERE, run_id="latest")


class UsesElsewhere(FSMirrorTask, luigi.Task):
    fsmirror_format = "json"

    def requires(self) -> FromElsewhere:
        return FromElsewhere()

    def run(self) -> None:
        record(self)
        self.output().write({"got": self.input().read()})
