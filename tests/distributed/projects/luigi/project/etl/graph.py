"""Luigi graph for the distributed test: two workers build overlapping reports on one luigid.

``Report(days=[1, 2, 3])`` and ``Report(days=[2, 3, 4])`` share ``Extract`` and
``Transform`` of days 2 and 3: the scheduler gives each to one worker, and the other
worker waits for it (``[worker] keep_alive``). Each task sleeps a little so the two
workers really run side by side. ``run_id`` is the run id (one folder per run); the
other parameters become the partition segment.
"""

from __future__ import annotations

import os
import socket
import time

import luigi
from fsmirror_luigi import FSMirrorTask


class _Base(FSMirrorTask):
    fsmirror_run_id_param = "run_id"
    fsmirror_format = "json"


class Extract(_Base, luigi.Task):
    run_id = luigi.Parameter()
    day = luigi.IntParameter()

    def run(self) -> None:
        time.sleep(0.6)
        self.output().write({"day": self.day, "rows": [self.day * 10 + i for i in range(3)],
                             "host": socket.gethostname(), "pid": os.getpid()})


class Transform(_Base, luigi.Task):
    run_id = luigi.Parameter()
    day = luigi.IntParameter()

    def requires(self) -> Extract:
        return Extract(run_id=self.run_id, day=self.day)

    def run(self) -> None:
        time.sleep(0.3)
        rows = self.input().read()["rows"]
        self.output().write({"day": self.day, "total": sum(rows)})


class Report(_Base, luigi.Task):
    run_id = luigi.Parameter()
    days = luigi.ListParameter()

    def requires(self) -> list[Transform]:
        return [Transform(run_id=self.run_id, day=d) for d in self.days]

    def run(self) -> None:
        totals = {str(t["day"]): t["total"] for t in (i.read() for i in self.input())}
        self.output().write({"totals": totals, "sum": sum(totals.values())})
