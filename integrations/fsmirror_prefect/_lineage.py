"""One lineage scope per ``mirrored_task`` call: the results it received, in the result it stored.

``mirrored_task`` wraps the task function (:func:`fsmirror_prefect.decorators._persisting`)
and persists the result inside the task run, so one ``with`` block spans the
whole step: :func:`task_scope` opens it around the call and the persist, and it
ends with the call's exception when the attempt fails (each retry is a new
attempt, with the same key ``prefect:<flow run id>:<task run id>``).

Prefect resolves a task's upstream futures into values before the function
runs, reading persisted results from storage only when it does not hold them
in memory, so a read is not a reliable signal. What Prefect does record is
which task runs fed which parameter (``task_run.task_inputs``). A task run's
result is remembered here when its artifact is written or read back for it
(a cache hit) in this process; an upstream that ran elsewhere is looked up
through the Prefect API (its state's ``storage_key``, then the block's
manifest for that key).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prefect.context import FlowRunContext, TaskRunContext

from fsmirror import FSMirrorError, lineage
from fsmirror.model.record import Manifest

if TYPE_CHECKING:
    from .storage import FSMirrorStorage

__all__ = ["scope_key", "task_scope", "remember", "remember_stored", "result_of", "flow_inputs", "step_inputs"]

log = logging.getLogger("fsmirror.prefect")
MAX_REMEMBERED = 4096
API_WAIT = 30.0
"""Seconds to wait for the Prefect API to know an upstream task run and report its final state: a
bound, not a cost (on a warm server both are there at once; right after the server starts, the task
run itself was not there yet, and the upstream's input went unrecorded)."""
_results: OrderedDict[str, Manifest] = OrderedDict()
_by_flow: OrderedDict[str, dict[str, Manifest]] = OrderedDict()
"""flow run id -> the task results its task runs stored or read back in this process (by URI, in order)."""
_lock = threading.Lock()


def scope_key(flow_run_id: Any, task_run_id: Any) -> str:
    """``prefect:<flow run id>:<task run id>``: one task run (its retries share it)."""
    return f"prefect:{flow_run_id}:{task_run_id}"


def remember(task_run_id: Any, man: Manifest | Mapping[str, Any], flow_run_id: Any = None) -> None:
    """Note that ``task_run_id``'s result is the artifact ``man`` describes (a result of ``flow_run_id``)."""
    m = man if isinstance(man, Manifest) else Manifest.from_json(man)
    with _lock:
        _results[str(task_run_id)] = m
        _results.move_to_end(str(task_run_id))
        while len(_results) > MAX_REMEMBERED:
            _results.popitem(last=False)
        if flow_run_id is not None:
            of_flow = _by_flow.setdefault(str(flow_run_id), {})
            if len(of_flow) < MAX_REMEMBERED or m.uri in of_flow:  # bounded: a huge .map keeps its first
                of_flow[m.uri] = m
            _by_flow.move_to_end(str(flow_run_id))
            while len(_by_flow) > MAX_REMEMBERED:
                _by_flow.popitem(last=False)


def flow_inputs(flow_run_id: Any) -> tuple[Manifest, ...]:
    """The task results a flow run's tasks stored or read back (a cache hit) in this process so far.

    A flow's body gets its value from these: they are the inputs of the flow's own result
    (``mirrored_flow``), as the results a task receives are the inputs of the task's.
    """
    with _lock:
        return tuple(_by_flow.get(str(flow_run_id), {}).values())


def _from_api(task_run_id: str, block: FSMirrorStorage | None) -> Manifest | None:
    """The artifact of a task run that ran in another process: its state's result key, then the block."""
    if block is None:
        return None
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    # The upstream is done (this task got its value), but Prefect reports task runs and their
    # states as events: its API may not know the run yet (ObjectNotFound), or still say Running,
    # for a moment. Wait briefly for the final state.
    deadline = time.monotonic() + API_WAIT
    with get_client(sync_client=True) as client:
        while True:
            try:
                run = client.read_task_run(uuid.UUID(task_run_id))
            except ObjectNotFound:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
                continue
            if (run.state is not None and run.state.is_final()) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    data = getattr(run.state, "data", None) if run.state is not None else None
    key = getattr(data, "storage_key", None)
    if not isinstance(key, str):
        return None
    try:
        return Manifest.from_json(block.manifest_for(key))
    except FSMirrorError:
        return None


def result_of(task_run_id: Any, block: FSMirrorStorage | None = None) -> Manifest | None:
    """The artifact holding ``task_run_id``'s result, if fsmirror stored it (None otherwise)."""
    with _lock:
        got = _results.get(str(task_run_id))
    if got is not None:
        return got
    try:
        got = _from_api(str(task_run_id), block)
    except Exception:  # the API unreachable, the run gone: the input is simply unknown
        log.debug("fsmirror: no result found for task run %s", task_run_id, exc_info=True)
        return None
    if got is not None:
        remember(task_run_id, got)
    return got


def _upstream(ctx: TaskRunContext, block: FSMirrorStorage | None) -> list[Manifest]:
    """The stored results of the task runs that fed this task run's parameters, in parameter order."""
    from prefect.client.schemas.objects import TaskRunResult

    out: list[Manifest] = []
    for inputs in (ctx.task_run.task_inputs or {}).values():
        for item in inputs:
            if not isinstance(item, TaskRunResult):
                continue
            man = result_of(item.id, block)
            if man is not None:
                out.append(man)
    return out


def step_inputs(scope: lineage.Scope | None, ctx: TaskRunContext | None) -> tuple[Any, ...]:
    """What task run ``ctx`` read (its ``scope``) and the stored results it received, as of now.

    For a result written after its task ended (staged in a transaction): an upstream in the same
    transaction is stored only when the transaction commits, just before this one.
    """
    from .storage import FSMirrorStorage

    found: list[Any] = list(scope.inputs) if scope is not None else []
    if ctx is not None:
        block = ctx.result_store.result_storage if ctx.result_store is not None else None
        with contextlib.suppress(Exception):
            found += _upstream(ctx, block if isinstance(block, FSMirrorStorage) else None)
    return tuple(found)


@contextlib.contextmanager
def task_scope(fn: Any) -> Iterator[lineage.Scope | None]:
    """The step scope of the task run calling ``fn`` (nothing outside a task run)."""
    from .storage import FSMirrorStorage, code_object

    ctx = TaskRunContext.get()
    if ctx is None:
        yield None
        return
    store = ctx.result_store
    block = store.result_storage if store is not None else None
    block = block if isinstance(block, FSMirrorStorage) else None
    run = ctx.task_run
    flow_run_id = str(run.flow_run_id or run.id)
    ids: dict[str, Any] = {}
    flow_ctx = FlowRunContext.get()
    if flow_ctx is not None and flow_ctx.flow_run is not None:
        ids.update(
            flow_run_id=str(flow_ctx.flow_run.id),
            flow_run_name=flow_ctx.flow_run.name,
            flow_name=flow_ctx.flow.name if flow_ctx.flow is not None else None,
        )
    ids.update(
        flow_run_id=flow_run_id, task_run_id=str(run.id), task_run_name=run.name, task_name=ctx.task.name
    )
    job = None
    if block is not None:
        with contextlib.suppress(FSMirrorError):
            job = lineage.job_of(block.fsmirror(), code_object(fn))
    try:
        upstream = _upstream(ctx, block)
    except Exception:
        log.warning("fsmirror: finding the results task run %s received failed", run.id, exc_info=True)
        upstream = []
    with lineage.scope(
        job, run_id=flow_run_id, orchestrator=ids, key=scope_key(flow_run_id, run.id), inputs=upstream
    ) as s:
        yield s


def remember_stored(fm: Any, uri: str, task_run: Any = None) -> None:
    """Called by the block when it committed (or found) a result at ``uri`` for a task run
    (``task_run``, else the one in progress)."""
    if task_run is None:
        ctx = TaskRunContext.get()
        if ctx is None:
            return
        task_run = ctx.task_run
    s = lineage.current()
    man = next((m for m in s.outputs if m.uri == uri), None) if s is not None else None
    try:
        remember(task_run.id, man if man is not None else fm.manifest_uri(uri), task_run.flow_run_id)
    except FSMirrorError:
        pass
