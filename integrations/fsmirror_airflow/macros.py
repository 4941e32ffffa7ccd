"""``{{ macros.fsmirror.path() }}``: the mirrored output URI of the task being rendered."""

from __future__ import annotations

from typing import Any

import jinja2

from fsmirror import FSMirror, FSMirrorError
from fsmirror.model.record import Manifest
from fsmirror.paths.identity import Instance

from . import _scope
from ._locate import get_mirror, task_target
from ._outputs import Rendered, remember

__all__ = ["path"]


@jinja2.pass_context
def path(
    context: Any,
    address: str | None = None,
    mirror: str | None = None,
    output: bool = True,
    output_name: str | None = None,
    output_format: str | None = None,
) -> str:
    """The mirrored URI for the current task (or ``address``) in this DAG run.

    Args:
        address: a code address ``"pkg/mod.py::Name"``; default: the task being rendered
            (its ``python_callable``, else its DAG file plus task id).
        mirror: which mirror of the config; default ``[fsmirror] mirror``.
        output: the output file (``.../out.parquet``) when true, else its directory.
        output_name: the file stem instead of the mirror's ``output_name``.
        output_format: the file extension instead of the mirror's ``output_format``
            (for a file the task writes itself, e.g. ``"csv"``).

    The run slot is ``<dag_id>@<run_id>`` from the template context, never the
    logical date, and the instance (``partition=``) is the DAG id (``(dag_id,
    str(map_index))`` for a mapped task, ``<dag_id>@<map_index>`` on disk), also for
    an explicit ``address``. A file the task writes at the
    rendered path (or, for ``output=False``, directly in the directory) is recorded
    with a manifest when the task succeeds. An ``address`` whose output is committed
    already in this DAG run (an upstream task's) is an input the task reads: it is
    recorded in the manifests of what the task writes (lineage). Example:
    ``bash_command="train --out {{ macros.fsmirror.path() }}"``.
    """
    ti = context.get("ti")
    run_id = context.get("run_id")
    if ti is None or not run_id:
        raise FSMirrorError(
            "macros.fsmirror.path() needs a task's template context (ti, run_id): "
            "it only renders inside a running task"
        )
    target = task_target(ti.task, ti.dag_id, run_id, getattr(ti, "map_index", -1))
    if address is not None:
        target["obj"] = address
    fm = get_mirror(mirror)
    obj, run, partition = target["obj"], target["run_id"], target["partition"]
    if output:
        uri = fm.mirror_full_output(
            obj, run_id=run, partition=partition, output_name=output_name, output_format=output_format
        )
    else:
        uri = fm.mirror_full(obj, run_id=run, partition=partition)
    remember(ti, Rendered(fm.mirror, obj, run, partition, uri, directory=not output))
    if address is not None and output:
        _note_upstream(fm, ti, obj, run, partition, output_name, uri)
    return uri


def _note_upstream(
    fm: FSMirror, ti: Any, obj: Any, run: Any, partition: Instance | None, output_name: str | None, uri: str
) -> None:
    """Record the committed artifact at ``uri`` (another task's output) as an input of ``ti``'s step."""
    kw: dict[str, Any] = {"run_id": run, "partition": partition, "output_name": output_name}
    if not fm.exists(obj, **kw):
        return  # nothing there yet: a path the task will write
    man = Manifest.from_json(fm.manifest(obj, **kw))
    if man.uri != uri or man.orchestrator.get("task_id") == ti.task_id:
        return  # another format than the path names, or the task's own file from an earlier try
    s = _scope.step_for(ti)
    if s is not None:
        s.note_read(man)
