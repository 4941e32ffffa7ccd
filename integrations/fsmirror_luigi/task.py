"""``FSMirrorTask``: a mixin giving a Luigi task an ``output()`` at its mirrored path.

Luigi has no run id and reruns any task whose output is missing, so the path
must come from what Luigi itself knows about the task. In fsmirror's identity
(``fsmirror.identity``: code x instance x run x attempt x output) a task's
parameter set is an *instance*, not a run: ``Extract(day=...)`` for eight days
is eight series of one code, each with its own runs, so ``fsmirror stale``,
``gc``, ``latest`` never compare one day with another. The instance is the
task's significant public parameter values as Luigi serializes them, in
declaration order (``.../Extract/2026-11-05/out.csv``); the run slot is the
fixed word ``luigi``, because Luigi has none. A task that wants one folder per
run names a parameter in ``fsmirror_run_id_param``; its value becomes the run
slot and the other significant parameters the instance.

fsmirror 2.0 put a task's output at run slot ``task_id`` (run-id tasks: at
partition ``task_id_str(family, others)``); a target reads there when nothing
is committed at its own slot, so a store built by 2.0 stays complete.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, ClassVar

import luigi.format
from luigi.parameter import ParameterVisibility
from luigi.task import flatten, task_id_str

import luigi
from fsmirror import ConfigError, FSMirror, FSMirrorError, ResolveError
from fsmirror.integration import in_context
from fsmirror.paths.identity import Instance, check_instance, instance_segment
from fsmirror.paths.runid import MAX_SEGMENT, RunId

from . import _running
from .config import get_mirror
from .target import FSMirrorTarget

__all__ = ["FSMirrorTask", "RUN", "EMPTY", "instance_part"]

RUN = "luigi"
"""The run slot of a task without a run-id parameter: Luigi has no run."""

EMPTY = "~"
"""The instance part of a parameter serialized as ``""`` (an unset ``OptionalParameter``).

An empty string cannot be a path segment. ``~`` stands for it, and a value that
itself starts with ``~`` gets one more ``~`` in front (``"~x"`` -> ``"~~x"``), so
two parameter values never share an instance. The core escapes ``~`` on disk
(``~7E``).
"""

log = logging.getLogger("luigi-interface")
_WIDEST_ESCAPE = 12  # characters one character can encode to in a path segment (4 UTF-8 bytes, ~XX each)
_TASK_CLASSES: set[type] = set()
_INSTANCE_PARAMS: dict[type, tuple[tuple[str, Any], ...]] = {}  # class -> (name, param.serialize)


def instance_part(value: str) -> str:
    """One parameter's part of the instance: its serialized value, ``""`` as :data:`EMPTY` (injective)."""
    if not value:
        return EMPTY
    return EMPTY + value if value.startswith(EMPTY) else value


def _instance_params(cls: type) -> tuple[tuple[str, Any], ...]:
    """``(name, serialize)`` of a task class's instance parameters, in declaration order.

    The significant public parameters (the ones Luigi's ``task_id`` hashes) but
    the run-id parameter. Cached per class: ``output()`` runs on every
    ``complete()`` check, and ``get_params()`` walks the class's attributes.
    """
    params = _INSTANCE_PARAMS.get(cls)
    if params is None:
        run_param = getattr(cls, "fsmirror_run_id_param", None)
        params = tuple(
            (name, p.serialize)
            for name, p in cls.get_params()  # type: ignore[attr-defined]
            if p.significant and p.visibility == ParameterVisibility.PUBLIC and name != run_param
        )
        _INSTANCE_PARAMS[cls] = params
    return params


class FSMirrorTask:
    """Mix into a ``luigi.Task`` (first in the bases) to get an :class:`FSMirrorTarget` output.

    Class attributes (all optional):
        fsmirror_mirror: the mirror name; else ``[fsmirror] mirror`` in luigi.cfg,
            else the core's default (``$FSMIRROR_MIRROR`` or the config's only mirror).
        fsmirror_run_id_param: the name of a parameter whose value is the run id
            (one folder per run); default: none, the run slot is ``luigi``.
        fsmirror_format: the output format, default the mirror's: an fsmirror
            format name (``"csv"``) or a Luigi format object (``luigi.format.Gzip``).
        fsmirror_output_name: the file stem, default the mirror's.
        fsmirror_address: the code address artifacts are filed under
            (``"pkg/mod.py::Name"``), for a class whose own name cannot be one: a
            task class made inside a function (a class factory), or by ``exec``.
            Default: the class itself (its source file and ``__qualname__``).

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
    fsmirror_address: ClassVar[str | None] = None

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

    def fsmirror_code(self) -> Any:
        """What the task's artifacts are filed under: ``fsmirror_address``, else the task class.

        Checked here, where the error can name the fix: a class made inside a
        function has no stable name for the core to derive an address from.
        """
        cls = type(self)
        code: Any = cls.fsmirror_address or cls
        try:
            self.fsmirror().resolver.pieces(code)  # cached per class: cheap on every complete()
        except ResolveError as e:
            if cls.fsmirror_address is not None:
                raise
            raise ResolveError(
                f"{e}; for a Luigi task class, set the class attribute "
                f"fsmirror_address = 'path/module.py::{cls.__name__}' (the code address its "
                "artifacts are filed under)"
            ) from e
        return code

    def fsmirror_run_id(self) -> str:
        """The run slot: the run-id parameter's value when one is named, else :data:`RUN` (``luigi``)."""
        task = self._task()
        name = type(self).fsmirror_run_id_param
        if name is None:
            return RUN
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

    def fsmirror_partition(self) -> Instance | None:
        """The instance: the significant public parameters' values (but the run-id parameter).

        Serialized by Luigi (``param.serialize``), in declaration order, one
        part each (:func:`instance_part`): ``"2026-11-05"`` for one parameter, a
        tuple for several, None for none.
        """
        values = self._fsmirror_values()
        parts = [v if v and v[0] != EMPTY else instance_part(v) for v in values.values()]
        if not parts:
            return None
        # The core checks the instance on every use; here, only one that could be too long for a
        # path segment is checked, to name its parameter (complete() stays cheap for the rest).
        if sum(map(len, parts)) * _WIDEST_ESCAPE + len(parts) - 1 <= MAX_SEGMENT:
            return parts[0] if len(parts) == 1 else tuple(parts)
        for name, part in zip(values, parts, strict=True):
            check_instance(part, what=f"parameter {name!r} of {type(self).__qualname__}")
        if len(parts) == 1:
            return parts[0]
        instance = tuple(parts)
        try:
            instance_segment(instance)
        except ResolveError as e:
            raise ResolveError(
                f"parameters {', '.join(values)} of {type(self).__qualname__} make an instance too long "
                f"for one path segment ({e}); override fsmirror_partition()"
            ) from e
        return instance

    def _fsmirror_values(self) -> dict[str, str]:
        """The significant public parameters but the run-id one, serialized, in declaration order.

        The same values Luigi's ``task_id`` hashes (``to_str_params(only_significant=True,
        only_public=True)``), without walking the class on every call.
        """
        cls = type(self)
        params = _INSTANCE_PARAMS.get(cls)
        if params is None:
            params = _instance_params(cls)
        kwargs = self._task().param_kwargs
        return {name: str(serialize(kwargs[name])) for name, serialize in params}

    def fsmirror_v2_slot(self) -> tuple[RunId, Instance | None]:
        """Where fsmirror 2.0 put this task's outputs: ``(run_id, partition)``.

        Run slot ``task_id`` and no partition; with a run-id parameter, its value
        and Luigi's id of the other significant parameters (None if there are none).
        """
        task = self._task()
        if type(self).fsmirror_run_id_param is None:
            return str(task.task_id), None
        others = self._fsmirror_values()
        return self.fsmirror_run_id(), (task_id_str(task.get_task_family(), others) if others else None)

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
            run_id, partition = self.fsmirror_run_id(), self.fsmirror_partition()
            v2 = self.fsmirror_v2_slot()
            code = self.fsmirror_code()
            return FSMirrorTarget(
                code,
                run_id=run_id,
                mirror=self.fsmirror(),
                partition=partition,
                output_name=output_name or cls.fsmirror_output_name,
                format=format or cls.fsmirror_format,
                orchestrator=self.fsmirror_orchestrator,
                fallback=None if v2 == (run_id, partition) else v2,
            )
        except FSMirrorError as e:
            raise in_context(e, f"luigi task {task.task_id}") from e

    def output(self) -> FSMirrorTarget:
        """The task's one output at its mirrored path; override to return several ``fsmirror_target``\\ s."""
        return self.fsmirror_target()

    def on_success(self) -> Any:
        """Commit the files ``run()`` wrote itself at its outputs' paths, then Luigi's own hook.

        ``open(self.output().path, "w")`` is the everyday ``LocalTarget`` habit and
        what pandas and pyarrow writers take, but it writes no manifest: without this
        the task would succeed, stay incomplete, fail its downstream with "Unfulfilled
        dependency at run time" and rerun in every build. Luigi calls ``on_success``
        in the task's process before it reports success, so a failed commit fails
        the task. Outputs written through fsmirror in this run cost nothing here.
        Override it? Call ``super().on_success()``.
        """
        task = self._task()
        for target in flatten(task.output()):  # type: ignore[no-untyped-call]
            if isinstance(target, FSMirrorTarget) and not _running.written(target) and target.commit_file():
                log.info("fsmirror: committed %s (written by %s at its output's path)", target.path, task)
        hook = getattr(super(), "on_success", None)
        return hook() if hook is not None else None

    @classmethod
    def bulk_complete(cls, parameter_tuples: Iterable[Any]) -> list[Any]:
        """Those of ``parameter_tuples`` whose task is complete: one listing per output, not a check per task.

        Luigi's range tools (``RangeDaily``, ``RangeHourly``, ...) ask this to find
        the missing days. Without it they infer a glob from one task's output path,
        which holds that task's own instance, conclude every day is missing, and
        schedule only the oldest ``task_limit`` days: those already built. Here the
        instances committed in a run are listed once (``FSMirror.instances``) and
        every task's outputs looked up in that set. A task class that overrides
        ``complete()``, and outputs that are no plain fsmirror output (another
        target, ``run_id="latest"``, an output without an instance), are checked
        one by one as ``complete()`` checks them; a task missing at its own slot
        that fsmirror 2.0 may have built is checked at 2.0's slot (one request per missing task).

        Range tools call it with ``cls`` bound to ``functools.partial(of, **of_params)``;
        an item is a parameter value, a tuple of them, or a dict, as
        ``luigi.task.MixinNaiveBulkComplete`` takes them.
        """
        make: Any = cls
        params = list(parameter_tuples)
        tasks = [_instantiate(make, p) for p in params]
        return [p for p, done in zip(params, _bulk_done(tasks), strict=True) if done]


def _instantiate(make: Any, param: Any) -> luigi.Task:
    """A task from one item of ``bulk_complete``'s argument (as ``MixinNaiveBulkComplete`` builds it)."""
    if isinstance(param, (list, tuple)):
        return make(*param)  # type: ignore[no-any-return]
    if isinstance(param, dict):
        return make(**param)  # type: ignore[no-any-return]
    return make(param)  # type: ignore[no-any-return]


_Group = tuple[int, Any, Any, str | None]  # (id of the FSMirror, code, run id, output name)


def _bulk_done(tasks: list[luigi.Task]) -> list[bool]:
    """Whether each task is complete, listing each (code, run, output) once (see ``bulk_complete``)."""
    done = [True] * len(tasks)
    listed: dict[_Group, list[tuple[int, FSMirrorTarget]]] = {}
    for i, task in enumerate(tasks):
        if type(task).complete is not luigi.Task.complete:
            done[i] = bool(task.complete())
            continue
        outputs = flatten(task.output())  # type: ignore[no-untyped-call]
        if not outputs:
            done[i] = False  # Luigi's complete(): a task without outputs is never complete
        for t in outputs:
            if isinstance(t, FSMirrorTarget) and t.run_id != "latest" and t.partition is not None:
                listed.setdefault((id(t.fsmirror), t.obj, t.run_id, t.output_name), []).append((i, t))
            elif done[i] and not t.exists():
                done[i] = False
    for (_, obj, run_id, output_name), found in listed.items():
        there = set(found[0][1].fsmirror.instances(obj, run_id=run_id, output_name=output_name))
        for i, t in found:
            if done[i] and t.partition not in there:
                # not at its own slot: done only if fsmirror 2.0 built it (one check, missing tasks only)
                fb = t.fallback
                done[i] = fb is not None and t.fsmirror.exists(
                    obj, run_id=fb[0], partition=fb[1], output_name=output_name
                )
    return done
