"""Which task's ``run()`` is current in this thread, and which attempt its writes are.

Luigi runs only a task that is incomplete, so every write a task makes to its
own outputs from ``run()`` is a new *attempt* (``fsmirror.identity``): one more
than the attempt committed there before, if any. A task that crashed after
writing one of two outputs is then not stuck: its rerun's writes replace the
earlier attempt's partial outputs, and a task that finished is never rerun, so
nothing a finished task committed is ever replaced.

Luigi's ``Event.START`` (fired in the process and thread that runs the task,
just before ``run()``) records the task's :class:`~fsmirror_luigi.FSMirrorTarget`
outputs; ``Event.SUCCESS`` / ``Event.FAILURE`` forget them. A write through a
target counts as an attempt only while the task that declares that target in
``output()`` is running in this thread: a script writing to a task's output,
or a task writing to another task's output, keeps the never-overwrite rule.
Each output's attempt is decided once per run (at its first write), so a
second write to one output within one run is refused as before.

On local storage, ``Event.START`` also creates each output's directory, so a
task can write ``open(self.output().path, "w")`` as it would a ``LocalTarget``'s
path; the mixin's ``on_success`` commits such a file (:meth:`FSMirrorTarget.commit_file`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from luigi.event import Event
from luigi.task import flatten

import luigi

if TYPE_CHECKING:
    from .target import FSMirrorTarget

__all__ = ["install", "attempt_for", "written"]

log = logging.getLogger("luigi-interface")
_state = threading.local()  # .run: the _Run current in this thread, or None


@dataclass
class _Run:
    """One start of one task: its fsmirror outputs, by slot, and the attempt each is written as."""

    task_id: str
    attempts: dict[tuple[str, str], int | None] = field(default_factory=dict)  # None: not decided yet


def attempt_for(target: FSMirrorTarget) -> int | None:
    """The attempt a write through ``target`` is, or None when it is no output of the running task.

    Decided at the output's first write in this run: one more than the attempt
    of the artifact committed at the target's own slot, or 0 when nothing is.
    """
    run: _Run | None = getattr(_state, "run", None)
    if run is None:
        return None
    key = target.slot_key()
    if key not in run.attempts:
        return None
    attempt = run.attempts[key]
    if attempt is None:
        attempt = run.attempts[key] = target.next_attempt()
    return attempt


def written(target: FSMirrorTarget) -> bool:
    """Whether the running task wrote ``target`` through fsmirror in this run (its attempt is decided)."""
    run: _Run | None = getattr(_state, "run", None)
    return run is not None and run.attempts.get(target.slot_key()) is not None


def _on_start(task: luigi.Task) -> None:
    from .target import FSMirrorTarget

    _state.run = None
    try:
        outputs = [
            t
            for t in flatten(task.output())  # type: ignore[no-untyped-call]
            if isinstance(t, FSMirrorTarget) and t.run_id != "latest"
        ]
        if outputs:
            _state.run = _Run(task.task_id, {t.slot_key(): None for t in outputs})
            for t in outputs:  # local storage: open(target.path, "w") works, as it would for a LocalTarget
                t.makedirs()
    except Exception:  # an output() that fails here fails again in run(), where Luigi reports it
        log.warning("fsmirror: listing the outputs of %s failed", task, exc_info=True)


def _on_end(task: luigi.Task, *_: Any) -> None:
    run: _Run | None = getattr(_state, "run", None)
    if run is not None and run.task_id == task.task_id:
        _state.run = None


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
    on(Event.FAILURE)(_on_end)  # type: ignore[no-untyped-call]
