"""Where an Airflow task's artifacts go: one function shared by the macro and the XCom backend.

Both must agree byte for byte, so the rules live here once:

- code location: the task's ``python_callable`` (PythonOperator, ``@task``); a
  callable nested in the DAG function (a ``<locals>`` qualname), a lambda, or a
  callable reused under another task id (``add`` run as ``add__1``) is located
  by its file plus the task id, so two tasks never share a directory; any other
  operator by the DAG file plus the task id.
- run slot: ``(dag_id, run_id)``, a scoped run id (``<dag_id>@<run_id>``): Airflow
  run ids repeat across DAGs, ``logical_date`` can be None.
- instance (the core's ``partition=``): the DAG id, and ``(dag_id, str(map_index))``
  for a mapped task instance, so ``latest``, ``runs`` and gc keep each DAG's (and
  each map index's) history apart even when two DAGs run the same code (a DAG
  factory): the run slot alone makes paths distinct, but the core groups runs by
  code, instance and output name. fsmirror 2.0 wrote a mapped instance as the one
  string ``"<dag_id>@<map_index>"`` (``dag~400`` on disk): :func:`legacy_partition`.
- attempt: ``try_number - 1`` (Airflow counts tries from 1; the core's attempts from 0).
- a push nobody saw start (``serialize_value`` called outside a running task) goes
  to a fallback address, ``<mirror root>/_airflow/<dag_id>.py::<task_id>``.
"""

from __future__ import annotations

import functools
import inspect
import os
import uuid
from typing import Any

from fsmirror import ConfigError, FSMirror, ResolveError
from fsmirror.integration import mirror_for
from fsmirror.model.fingerprint import WHOLE_MODULE, first_definition
from fsmirror.paths.address import CodeAddress
from fsmirror.paths.identity import Instance

__all__ = [
    "task_location",
    "task_target",
    "fallback_target",
    "dag_partition",
    "legacy_partition",
    "attempt_of",
    "get_mirror",
    "setting",
    "FALLBACK_MODULE",
]

SECTION = "fsmirror"
FALLBACK_MODULE = "_airflow"
"""The directory (under the mirror's root) of XComs pushed where no running task was seen."""
MAP_SEP = "@"
"""How fsmirror 2.0 joined a DAG id and a map index into one partition string."""


def _parts(file: str) -> tuple[str, ...]:
    return tuple(p for p in file.replace("\\", "/").split("/") if p)


def _dag_of(task: Any) -> Any:
    """The task's DAG, or None: Airflow 3's ``task.dag`` raises (not AttributeError) for a task not
    assigned to a DAG yet, as a bare operator run by a test harness is."""
    has_dag = getattr(task, "has_dag", None)
    if callable(has_dag) and not has_dag():
        return None
    return getattr(task, "dag", None)


def task_location(task: Any) -> Any:
    """The object the core resolves for ``task``: its callable, or a ``CodeAddress``.

    Returning the function itself (the common case) lets ``FSMirror`` cache the
    resolved pieces per function.
    """
    task_id = str(task.task_id)
    dag = _dag_of(task)
    fn = getattr(task, "python_callable", None)
    if callable(fn):
        while isinstance(fn, functools.partial):
            fn = fn.func
        fn = inspect.unwrap(fn)
        code = getattr(fn, "__code__", None)
        file = getattr(code, "co_filename", None)
        if file and not file.startswith("<"):
            qualname = getattr(fn, "__qualname__", "")
            if task_id == getattr(fn, "__name__", None) and "<" not in qualname:
                return fn
            return CodeAddress(_parts(file), task_id, _definition(file, qualname, task_id, dag))
    fileloc = getattr(dag, "fileloc", None)
    if not fileloc:
        raise ResolveError(
            f"fsmirror: cannot locate task {task_id!r}: it has no python_callable and no DAG file "
            "(dag.fileloc); define it in a DAG file, or pass a code address to macros.fsmirror.path(...)"
        )
    return CodeAddress(_parts(str(fileloc)), task_id, _definition(str(fileloc), "", task_id, dag))


def _definition(file: str, qualname: str, task_id: str, dag: Any) -> str | None:
    """The code whose fingerprint versions a task named by its id, not by its code.

    The callable's own definition (``orders.<locals>.square`` is ``orders.square``: nested in
    the DAG function, reused as ``square__1``, renamed by ``.override(task_id=...)``); else,
    for an operator (or a lambda), the variable it is assigned to in the DAG function
    (``export = BashOperator(task_id="export", ...)`` in ``def orders``), or at module level;
    else the whole DAG function, else the whole file. The first that the file defines is kept.
    """
    candidates: list[str] = []
    own = ".".join(p for p in qualname.split(".") if p != "<locals>")
    if own and "<" not in own:
        candidates.append(own)
    name = task_id.rpartition(".")[2]  # 'group.export' -> 'export'
    dag_id = str(getattr(dag, "dag_id", "") or "")
    if dag_id:
        candidates.append(f"{dag_id}.{name}")
    candidates += [name, WHOLE_MODULE]
    return first_definition(file, candidates)


def dag_partition(dag_id: str, map_index: int | None = None) -> Instance:
    """The instance of a task in one DAG: ``dag_id``, or ``(dag_id, str(map_index))`` when mapped.

    Pass it as ``partition=`` to ``FSMirror.latest/runs/read/manifest/gc`` (or
    ``fsmirror show ... --partition <dag_id>[@<map_index>]``) to name the DAG (and
    the map index). Each DAG, and each map index of a mapped task, is its own
    series: no DAG's newest run is ever gc'd because of another's. On disk the
    parts are joined by ``@`` (``twin_a@0``), a character no encoded part contains,
    as ``fsmirror resolve --airflow --map-index N`` names it too.
    """
    if map_index is not None and int(map_index) >= 0:
        return (str(dag_id), str(int(map_index)))
    return str(dag_id)


def legacy_partition(dag_id: str, map_index: int | None = None) -> str | None:
    """Where fsmirror 2.0 put a mapped task instance: the string ``"<dag_id>@<map_index>"``.

    2.0 stored it escaped (``twin_a~400``), a different series from today's
    ``(dag_id, str(map_index))`` (``twin_a@0``), so reads of what 2.0 wrote name
    it explicitly: ``fm.read(obj, partition=legacy_partition("twin_a", 0))``. None
    for an unmapped task, whose instance (the DAG id) did not change.
    """
    if map_index is not None and int(map_index) >= 0:
        return f"{dag_id}{MAP_SEP}{int(map_index)}"
    return None


def attempt_of(ti: Any) -> int:
    """The core's attempt of a running task instance: ``try_number - 1`` (0 for the first try).

    Airflow's scheduler raises ``try_number`` by one each time it schedules a task
    instance to run (``DagRun.schedule_tis``: 1 for the first try, 2 for a retry),
    except for a sensor rescheduled in ``mode="reschedule"``, which keeps its try.
    The manifest says which try committed a value. Without a number (no running
    task seen) the attempt is 0.
    """
    try:
        n = int(getattr(ti, "try_number", None) or 0)
    except (TypeError, ValueError):
        return 0
    return max(n - 1, 0)


def task_target(task: Any, dag_id: str, run_id: str, map_index: int | None) -> dict[str, Any]:
    """Keyword arguments for the core's path and write calls for one task instance."""
    if not run_id:
        raise ResolveError(
            f"fsmirror: no Airflow run_id for task {getattr(task, 'task_id', task)!r} of DAG {dag_id!r}"
        )
    return {
        "obj": task_location(task),
        "run_id": (str(dag_id), str(run_id)),
        "partition": dag_partition(str(dag_id), map_index),
    }


def fallback_target(
    root: str, dag_id: str | None, task_id: str | None, run_id: str | None, map_index: int | None
) -> dict[str, Any]:
    """Where a value goes when its task's code is unknown (no running task was seen in this process).

    The address is ``<root>/_airflow/<dag_id>.py::<task_id>``; missing ids become
    ``unknown_dag`` / ``unknown_task``, and a missing run id a fresh
    ``unlocated-<uuid>`` per call, so two such values never share a slot.
    """
    dag = str(dag_id) if dag_id else "unknown_dag"
    task = str(task_id) if task_id else "unknown_task"
    run = str(run_id) if run_id else f"unlocated-{uuid.uuid4().hex}"
    return {
        "obj": CodeAddress((root, FALLBACK_MODULE, f"{dag}.py"), task),
        "run_id": (dag, run),
        "partition": dag_partition(dag, map_index),
    }


def setting(key: str, env: str | None = None) -> str | None:
    """``[fsmirror] <key>`` from Airflow's config (``AIRFLOW__FSMIRROR__<KEY>``), else ``$<env>``."""
    from airflow.sdk.configuration import conf

    value = conf.get(SECTION, key, fallback=None)
    if value in (None, "") and env:
        value = os.environ.get(env)
    return value or None




def get_mirror(mirror: str | None = None) -> FSMirror:
    """The ``FSMirror`` for ``[fsmirror] config_path`` / ``mirror`` (else ``$FSMIRROR_CONFIG_PATH`` / ``$FSMIRROR_MIRROR``).

    Cached per (file, mirror, file mtime): a task process builds it once, and an
    edited config is picked up without a restart.
    """
    path = setting("config_path", "FSMIRROR_CONFIG_PATH")
    if path is None:
        raise ConfigError(
            "fsmirror: no config file: set [fsmirror] config_path in airflow.cfg "
            "(AIRFLOW__FSMIRROR__CONFIG_PATH) or $FSMIRROR_CONFIG_PATH"
        )
    name = mirror or setting("mirror", "FSMIRROR_MIRROR")
    return mirror_for(path, name)  # one per config file version, fork-safe
