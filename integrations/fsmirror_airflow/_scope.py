"""One lineage scope per Airflow task instance: what it pulled and read, in what it wrote.

A task instance's life in its task process, as the task runner calls it:
templates render (TaskFlow arguments pull their upstream XComs here, and
``macros.fsmirror.path`` renders), then the listener hook
``on_task_instance_running``, then ``execute`` (more pulls), then the return
value's XCom push (``serialize_value``, after the task context is torn down),
then ``on_task_instance_success`` / ``on_task_instance_failed`` /
``on_task_instance_skipped``.

So the scope is opened by whichever comes first -- a pull during rendering
(the running task found with ``get_current_context()``, which works while
templates render), the macro, or the listener -- in the core's per-step
registry keyed ``airflow:<dag_id>:<run_id>:<task_id>:<map_index>``. The listener
makes it current for ``execute`` and the push; the end hooks end it (with the
task's error on failure or retry), after the files the task wrote at macro
paths are recorded inside it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from fsmirror import FSMirrorError, lineage

from ._locate import get_mirror, task_location

__all__ = ["scope_key", "step_for", "open_step", "current_step", "activate", "finish", "within"]

_tokens: dict[str, Any] = {}
_lock = threading.Lock()


def scope_key(dag_id: Any, run_id: Any, task_id: Any, map_index: Any) -> str:
    """``airflow:<dag_id>:<run_id>:<task_id>:<map_index>`` (``-1`` when unmapped): one task instance."""
    mi = -1 if map_index is None else int(map_index)
    return f"airflow:{dag_id}:{run_id}:{task_id}:{mi}"


def _key_of(ti: Any) -> str:
    return scope_key(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1))


def step_for(ti: Any) -> lineage.Scope | None:
    """The task instance's scope, opened now if nothing opened it yet (None if ``ti`` has no task)."""
    task = getattr(ti, "task", None)
    if task is None:
        return None
    key = _key_of(ti)
    s = lineage.get(key)
    if s is not None:
        return s
    job: str | None = None
    with contextlib.suppress(FSMirrorError):
        job = lineage.job_of(get_mirror(), task_location(task))
    map_index = getattr(ti, "map_index", -1)
    return lineage.step(
        key,
        job=job,
        run_id=(str(ti.dag_id), str(ti.run_id)),
        orchestrator={
            "dag_id": ti.dag_id,
            "task_id": ti.task_id,
            "run_id": ti.run_id,
            "map_index": -1 if map_index is None else map_index,
            "try_number": getattr(ti, "try_number", None),
        },
    )


def open_step(ti: Any) -> lineage.Scope | None:
    """``ti``'s scope if it is open (never opens one: a push after the task ended belongs to no step)."""
    return lineage.get(_key_of(ti))


def current_step() -> lineage.Scope | None:
    """The scope of the task running here: the current one, else the rendering task's (found by its context)."""
    s = lineage.current()
    if s is not None:
        return s
    try:
        from airflow.sdk import get_current_context

        ti = get_current_context().get("ti")
    except Exception:  # no task context (a pull from outside a task)
        return None
    return None if ti is None else step_for(ti)


@contextlib.contextmanager
def within(s: lineage.Scope | None) -> Iterator[None]:
    """``s`` current for a block (nothing when None)."""
    if s is None:
        yield
        return
    with lineage.entered(s):
        yield


def activate(ti: Any) -> None:
    """Open (or find) ``ti``'s scope and make it current until :func:`finish` (the listener's start hook)."""
    s = step_for(ti)
    if s is None:
        return
    token = lineage.enter(s)
    with _lock:
        _tokens[_key_of(ti)] = token


def finish(ti: Any, error: BaseException | None = None) -> None:
    """End ``ti``'s scope (with ``error`` when it failed) and undo :func:`activate`."""
    key = _key_of(ti)
    with _lock:
        token = _tokens.pop(key, None)
    if token is not None:
        lineage.leave(token)
    lineage.finish(key, error)
