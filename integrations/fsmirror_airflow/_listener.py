"""Remember which task instance is running, for the XCom backend.

``serialize_value`` gets only ``dag_id``, ``task_id``, ``run_id`` and
``map_index``, after the task context is torn down; the code location needs the
operator itself. Airflow's documented listener hook ``on_task_instance_running``
hands us the running task instance in the task process, before ``execute``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from airflow.listeners import hookimpl

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
