"""One lineage scope per Luigi task run: its ``input()`` targets in the manifests of its outputs.

Luigi announces a task's run with its own events, fired in the process and
thread that run it: ``Event.START`` just before ``run()``, then
``Event.SUCCESS`` or ``Event.FAILURE`` (with the exception). Handlers on
``luigi.Task`` (registered when :mod:`fsmirror_luigi` is imported) open a scope
at the start, make it current while ``run()`` reads and writes, and end it with
the task's outcome. The scope is keyed ``luigi:<task_id>`` in the core's
registry: a task that yields dynamic dependencies is run again later, and its
second start resumes the same scope (what it read before the yield counts).

A task's inputs are what it declared and what it read: every
:class:`~fsmirror_luigi.FSMirrorTarget` among its ``input()`` (a committed
artifact by then: Luigi checked its requirements are complete) is noted when
the task starts, and any other artifact read through fsmirror during ``run()``
(``fm.read``, ``target.open("r")``) is noted as it is read.

Only tasks that touch fsmirror get a scope: an :class:`~fsmirror_luigi.FSMirrorTask`,
or a task with an ``FSMirrorTarget`` among its inputs or outputs.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from typing import Any

from luigi.event import Event
from luigi.task import flatten

import luigi
from fsmirror import FSMirrorError, lineage
from fsmirror.model.record import Manifest

from .target import FSMirrorTarget

__all__ = ["scope_key", "install"]

log = logging.getLogger("luigi-interface")
_state = threading.local()  # the scope this thread made current: (key, token)


def scope_key(task: luigi.Task) -> str:
    """The registry key of a task's run: ``luigi:<task_id>`` (Luigi's task id is the step's identity)."""
    return f"luigi:{task.task_id}"


def _targets(x: Any) -> list[FSMirrorTarget]:
    return [t for t in flatten(x) if isinstance(t, FSMirrorTarget)]  # type: ignore[no-untyped-call]


def _describe(task: luigi.Task) -> tuple[str | None, Any, dict[str, Any]] | None:
    """(job, run id, orchestrator record) of a task that touches fsmirror, else None."""
    from .task import FSMirrorTask

    if isinstance(task, FSMirrorTask):
        try:
            job: str | None = lineage.job_of(task.fsmirror(), type(task))
        except FSMirrorError:  # code outside the mirror's root: its writes say so themselves
            job = None
        return job, task.fsmirror_run_id(), task.fsmirror_orchestrator()
    outputs = _targets(task.output())  # type: ignore[no-untyped-call]
    if not outputs and not _targets(task.input()):  # type: ignore[no-untyped-call]
        return None
    job = None
    if outputs:
        first = outputs[0]
        try:
            job = lineage.job_of(first.fsmirror, first.obj)
        except FSMirrorError:
            job = None
    family = task.get_task_family()  # type: ignore[no-untyped-call]
    ids = {"name": "luigi", "task_id": task.task_id, "task_family": family}
    return job, None, ids


def _leave() -> None:
    """Undo what this thread's last start made current (a task that yielded dependencies never ended)."""
    held = getattr(_state, "held", None)
    if held is not None:
        _state.held = None
        lineage.leave(held[1])


def _on_start(task: luigi.Task) -> None:
    try:
        described = _describe(task)
        if described is None:
            return
        job, run_id, ids = described
        _leave()
        key = scope_key(task)
        declared = [
            Manifest.from_json(t.manifest())
            for t in _targets(task.input())  # type: ignore[no-untyped-call]
            if t.exists()
        ]
        s = lineage.step(key, job=job, run_id=run_id, orchestrator=ids, inputs=declared)
        token: contextvars.Token[lineage.Scope | None] = lineage.enter(s)
        _state.held = (key, token)
    except Exception:  # a lineage record must never fail the task
        log.warning("fsmirror: opening the lineage scope of %s failed", task, exc_info=True)


def _on_end(task: luigi.Task, error: BaseException | None = None) -> None:
    try:
        key = scope_key(task)
        held = getattr(_state, "held", None)
        if held is not None and held[0] == key:
            _leave()
        lineage.finish(key, error)
    except Exception:
        log.warning("fsmirror: ending the lineage scope of %s failed", task, exc_info=True)


def _on_failure(task: luigi.Task, error: BaseException) -> None:
    _on_end(task, error)


_installed = False


def install() -> None:
    """Register the handlers on ``luigi.Task`` (once per process; importing fsmirror_luigi does it)."""
    global _installed
    if _installed:
        return
    _installed = True
    on = luigi.Task.event_handler
    on(Event.START)(_on_start)  # type: ignore[no-untyped-call]
    on(Event.SUCCESS)(_on_end)  # type: ignore[no-untyped-call]
    on(Event.FAILURE)(_on_failure)  # type: ignore[no-untyped-call]
