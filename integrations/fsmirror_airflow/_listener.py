"""Listen to task instances in the task process: who is running, and who succeeded.

``serialize_value`` gets only ``dag_id``, ``task_id``, ``run_id`` and
``map_index``, after the task context is torn down; the code location needs the
operator itself. Airflow's documented listener hook ``on_task_instance_running``
hands us the running task instance in the task process, before ``execute``.
``on_task_instance_success`` records the files the task wrote at its macro paths
(:mod:`fsmirror_airflow._outputs`). The same hooks open, make current and end
the task instance's lineage scope (:mod:`fsmirror_airflow._scope`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from airflow.listeners import hookimpl

from . import _outputs, _scope

__all__ = ["RUNNING", "TaskLocator", "running_ti"]

Key = tuple[str, str, str, int]
RUNNING: OrderedDict[Key, Any] = OrderedDict()
"""(dag_id, task_id, run_id, map_index) -> the running RuntimeTaskInstance, in this process."""
MAX_REMEMBERED = 256
"""A task process runs one task; ``dag.test()`` runs many in one process: keep the newest only.
Entries are not dropped when a task ends, since callbacks after success may still push XComs."""


def _key(ti: Any) -> Key:
    map_index = getattr(ti, "map_index", -1)
    return (str(ti.dag_id), str(ti.task_id), str(ti.run_id), -1 if map_index is None else int(map_index))


def running_ti(dag_id: str, task_id: str, run_id: str, map_index: int | None) -> Any | None:
    """The task instance recorded for these coordinates, if it started in this process."""
    return RUNNING.get((dag_id, task_id, run_id, -1 if map_index is None else int(map_index)))


log = logging.getLogger("airflow.task")


class TaskLocator:
    """Listener object registered by ``FSMirrorPlugin``: never raises (Airflow only logs listener errors)."""

    @hookimpl
    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        if getattr(task_instance, "task", None) is not None:
            key = _key(task_instance)
            RUNNING[key] = task_instance
            RUNNING.move_to_end(key)
            while len(RUNNING) > MAX_REMEMBERED:
                RUNNING.popitem(last=False)
            try:
                _scope.activate(task_instance)
            except Exception:
                log.warning("fsmirror: opening the lineage scope of %s failed", task_instance, exc_info=True)

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        error: BaseException | None = None
        try:
            with _scope.within(_scope.step_for(task_instance)):  # its files record what it read
                _outputs.commit_rendered(task_instance)
        except Exception as e:
            error = e
            # The success is recorded already; say loudly what was not (post_execute= makes it fail the task).
            log.error(
                "%s; the task succeeded but this file has no manifest: add "
                "post_execute=fsmirror_airflow.commit_outputs to fail the task instead",
                e,
            )
        self._end(task_instance, error)

    @hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        # A retry renders its paths again; what this try rendered is not to be recorded.
        _outputs.forget(task_instance)
        failure = error if isinstance(error, BaseException) else RuntimeError(str(error or "task failed"))
        self._end(task_instance, failure)

    @hookimpl
    def on_task_instance_skipped(self, previous_state: Any, task_instance: Any) -> None:
        self._end(task_instance, None)

    @staticmethod
    def _end(task_instance: Any, error: BaseException | None) -> None:
        try:
            _scope.finish(task_instance, error)
        except Exception:
            log.warning("fsmirror: ending the lineage scope of %s failed", task_instance, exc_info=True)
