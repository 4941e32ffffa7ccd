"""``FSMirrorTask``: a mixin giving a Luigi task an ``output()`` at its mirrored path.

Luigi has no run id and reruns any task whose output is missing, so the path
must come from what Luigi itself knows about the task. By default the run slot
is Luigi's ``task_id`` (family + parameter hash): the same parameters always
land in the same folder and a rerun skips them. A task that wants one folder
per run names a parameter in ``fsmirror_run_id_param``; its value becomes the
run slot, and the remaining significant parameters (as Luigi's own id of them)
become a partition segment, so two tasks never share a path.
"""

from __future__ import annotations

from typing import Any, ClassVar

import luigi.format
from luigi.task import task_id_str

import luigi
from fsmirror import ConfigError, FSMirror, FSMirrorError

from .config import get_mirror
from .target import FSMirrorTarget

__all__ = ["FSMirrorTask"]

_TASK_CLASSES: set[type] = set()


class FSMirrorTask:
    """Mix into a ``luigi.Task`` (first in the bases) to get an :class:`FSMirrorTarget` output.

    Class attributes (all optional):
        fsmirror_mirror: the mirror name; else ``[fsmirror] mirror`` in luigi.cfg,
            else the core's default (``$FSMIRROR_MIRROR`` or the config's only mirror).
        fsmirror_run_id_param: the name of a parameter whose value is the run id
            (one folder per run); default: Luigi's ``task_id``.
        fsmirror_format: the output format, default the mirror's: an fsmirror
            format name (``"csv"``) or a Luigi format object (``luigi.format.Gzip``).
        fsmirror_output_name: the file stem, default the mirror's.

    Example:
        >>> class LiftDataTask(FSMirrorTask, luigi.Task):          # doctest: +SKIP
        ...     day = luigi.DateParameter()
        ...     def run(self):
        ...         self.output().write(make_frame(self.day))
    """

    fsmirror_mirror: ClassVar[str | None] = None
    fsmirror_run_id_param: ClassVar[str | None] = None
    fsmirror_format: ClassVar[str | luigi.format.Format | None] = None
    fsmirror_output_name: ClassVar[str | None] = None

    def _task(self) -> luigi.Task:
        if type(self) in _TASK_CLASSES:  # output() runs on every complete() check: keep it cheap
            return self  # type: ignore[return-value]
        if not isinstance(self, luigi.Task):
            raise TypeError(
                f"{type(self).__qualname__} uses FSMirrorTask without luigi.Task: "
                "declare it as 'class MyTask(FSMirrorTask, luigi.Task)'"
            )
        _TASK_CLASSES.add(type(self))
        return self

    def fsmirror(self) -> FSMirror:
        """The FSMirror this task writes through (cached per process)."""
        return get_mirror(type(self).fsmirror_mirror)

    def fsmirror_run_id(self) -> str:
        """The run slot: the run-id parameter's value when one is named, else Luigi's ``task_id``."""
        task = self._task()
        name = type(self).fsmirror_run_id_param
        if name is None:
            return str(task.task_id)
        params = dict(task.get_params())
        if name not in params:
            raise ConfigError(
                f"{type(self).__qualname__}.fsmirror_run_id_param = {name!r} but the task has no such "
                f"parameter (it has: {', '.join(params) or 'none'}); add '{name} = luigi.Parameter()'"
            )
        value = params[name].serialize(getattr(task, name))
        if not value:
            raise ConfigError(f"run-id parameter {name!r} is empty; pass a run id")
        return str(value)

    def fsmirror_partition(self) -> str | None:
        """With a run-id parameter, Luigi's id of the other significant parameters (None if there are none)."""
        task = self._task()
        name = type(self).fsmirror_run_id_param
        if name is None:
            return None
        others = {
            k: v for k, v in task.to_str_params(only_significant=True, only_public=True).items() if k != name
        }
        return task_id_str(task.get_task_family(), others) if others else None

    def fsmirror_orchestrator(self) -> dict[str, Any]:
        """What the manifest records of Luigi: task id, family and public parameters (never private ones)."""
        task = self._task()
        return {
            "name": "luigi",
            "task_id": task.task_id,
            "task_family": task.get_task_family(),
            "params": task.to_str_params(only_public=True),
        }

    def fsmirror_target(
        self, output_name: str | None = None, format: str | luigi.format.Format | None = None
    ) -> FSMirrorTarget:
        """A target of this task's run; pass ``output_name`` for a second output of one task."""
        task = self._task()
        cls = type(self)
        try:
            return FSMirrorTarget(
                cls,
                run_id=self.fsmirror_run_id(),
                mirror=self.fsmirror(),
                partition=self.fsmirror_partition(),
                output_name=output_name or cls.fsmirror_output_name,
                format=format or cls.fsmirror_format,
                orchestrator=self.fsmirror_orchestrator,
            )
        except FSMirrorError as e:
            raise type(e)(f"luigi task {task.task_id}: {e}") from e

    def output(self) -> FSMirrorTarget:
        """The task's one output at its mirrored path; override to return several ``fsmirror_target``\\ s."""
        return self.fsmirror_target()
