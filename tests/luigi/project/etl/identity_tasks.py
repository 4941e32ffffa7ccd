"""Luigi tasks for the identity tests: a parameter set is an instance, a rerun is an attempt.

``Part(n)`` x 3 feed ``Combine``; ``Extract(day)`` feeds ``Summary(day)``;
``TwoOutputs`` writes output ``a``, then crashes before ``b`` unless the file
named by ``$FSMIRROR_LUIGI_TEST_FLAG`` exists; ``Tagged`` has an optional
parameter (serialized ``""`` when unset). Every run appends its task id to
``$FSMIRROR_LUIGI_TEST_LOG`` (see ``my_etl_task.record``).
"""

from __future__ import annotations

import os
from typing import Any

from my_etl_task import record

import luigi
from fsmirror_luigi import FSMirrorTarget, FSMirrorTask

FLAG_ENV = "FSMIRROR_LUIGI_TEST_FLAG"


class Part(FSMirrorTask, luigi.Task):
    fsmirror_format = "json"
    n = luigi.IntParameter()

    def run(self) -> None:
        record(self)
        self.output().write({"n": self.n, "value": 10 * (self.n + 1)})


class Combine(FSMirrorTask, luigi.Task):
    fsmirror_format = "json"

    def requires(self) -> list[Part]:
        return [Part(n=i) for i in range(3)]

    def run(self) -> None:
        record(self)
        self.output().write({"total": sum(t.read()["value"] for t in self.input())})


class Extract(FSMirrorTask, luigi.Task):
    fsmirror_format = "csv"
    day = luigi.DateParameter()

    def run(self) -> None:
        record(self)
        with self.output().open("w") as f:
            f.write("day,events\n")
            f.write(f"{self.day.isoformat()},{self.day.day * 3}\n")


class Summary(FSMirrorTask, luigi.Task):
    fsmirror_format = "json"
    day = luigi.DateParameter()

    def requires(self) -> Extract:
        return Extract(day=self.day)

    def run(self) -> None:
        record(self)
        rows: list[dict[str, Any]] = self.input().read()
        self.output().write({"day": self.day.isoformat(), "events": sum(int(r["events"]) for r in rows)})


class TwoOutputs(FSMirrorTask, luigi.Task):
    """Writes ``a``, then ``b``; the first build (no flag file yet) crashes in between."""

    fsmirror_format = "json"
    key = luigi.Parameter(default="k")

    def output(self) -> dict[str, FSMirrorTarget]:
        return {"a": self.fsmirror_target(output_name="a"), "b": self.fsmirror_target(output_name="b")}

    def run(self) -> None:
        record(self)
        flag = os.environ.get(FLAG_ENV, "")
        build = 2 if flag and os.path.exists(flag) else 1
        self.output()["a"].write({"out": "a", "build": build})
        if build == 1:
            raise RuntimeError("crashed after writing a")
        self.output()["b"].write({"out": "b", "build": build})


class Thief(FSMirrorTask, luigi.Task):
    """Writes to another task's output from its run(): not its own output, so no attempt: refused."""

    fsmirror_format = "json"

    def run(self) -> None:
        record(self)
        TwoOutputs().output()["a"].write({"out": "a", "build": "thief"})
        self.output().write({"stole": True})


class Tagged(FSMirrorTask, luigi.Task):
    """An optional parameter: unset, Luigi serializes it as ``""``."""

    fsmirror_format = "json"
    tag = luigi.OptionalParameter(default=None)
    name = luigi.Parameter(default="x")

    def run(self) -> None:
        record(self)
        self.output().write({"tag": self.tag, "name": self.name})


HAND = "project/etl/identity_tasks.py::hand_made"


class HandTwoOutputs(luigi.Task):
    """TwoOutputs without the mixin: hand-built targets are the task's own outputs all the same."""

    key = luigi.Parameter(default="k")

    def output(self) -> dict[str, FSMirrorTarget]:
        return {
            name: FSMirrorTarget(HAND, run_id="hand", partition=self.key, output_name=name, format="json")
            for name in ("a", "b")
        }

    def run(self) -> None:
        TwoOutputs.run(self)  # type: ignore[arg-type]


class WritesTwice(FSMirrorTask, luigi.Task):
    """Writes its one output twice in one run: the second write is the same attempt, so refused."""

    fsmirror_format = "json"

    def run(self) -> None:
        record(self)
        self.output().write({"write": 1})
        self.output().write({"write": 2})
