"""``mirrored_task`` / ``mirrored_flow``: persist a Prefect result at its mirrored path in one line.

The decorators only configure Prefect's own extension points (result storage,
result serializer, a cache policy with a key storage) and check the
configuration while the module is imported, so a bad config fails before any
flow runs. One thing Prefect does not offer is a loud failure: it persists a
task's result after the task is already Completed and only logs a failing
write. ``mirrored_task`` therefore persists the result inside the task run,
through the task's own result store and transaction, so a failing write fails
the task (and its retries apply) like any other exception.

Caching is Prefect's: ``cache_policy`` (default Prefect's own ``DEFAULT``, inputs +
task source + flow run id) or ``cache_key_fn`` decides the hit; a policy that
does not depend on the flow run (``INPUTS``, a ``cache_key_fn``) hits across flow
runs, reading the earlier run's artifact where it is.
"""

from __future__ import annotations

import datetime as _dt
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from prefect.blocks.core import Block
from prefect.cache_policies import DEFAULT, CacheKeyFnPolicy, CachePolicy, CompoundCachePolicy, RunId
from prefect.client.schemas.objects import State
from prefect.context import TaskRunContext
from prefect.futures import PrefectFuture
from prefect.transactions import AsyncTransaction, BaseTransaction, CommitMode, get_transaction
from prefect.utilities.annotations import NotSet
from prefect.utilities.asyncutils import run_coro_as_sync

from fsmirror import ConfigError, FSMirrorError, ResolveError
from fsmirror.integration import in_context
from prefect import Flow, Task, flow, task

from ._lineage import flow_inputs, step_inputs, task_scope
from .storage import (
    FSMirrorSerializer,
    FSMirrorStorage,
    as_run,
    capture_run,
    make_key,
    relative_address,
)

__all__ = ["mirrored_task", "mirrored_flow", "MirroredKey"]

F = TypeVar("F", bound=Callable[..., Any])
StorageRef = FSMirrorStorage | str

# Options the decorators set themselves: a user value would silently undo the mirroring.
_OWNED = ("result_storage", "result_serializer", "result_storage_key", "persist_result")


def depends_on_run(policy: CachePolicy | None) -> bool:
    """Whether a cache policy's key changes with the flow run (it holds Prefect's ``RunId``)."""
    if isinstance(policy, RunId):
        return True
    if isinstance(policy, CompoundCachePolicy):
        return any(depends_on_run(p) for p in policy.policies)
    return False


@dataclass
class MirroredKey(CachePolicy):
    """Key a task's result on its code address (and flow run), plus an inner policy's digest.

    The key carries everything the storage block needs to find the file
    (:func:`fsmirror_prefect.storage.make_key`), so any process can read it
    back. The inner policy decides the cache hit, as in Prefect: when its
    digest depends on the flow run (Prefect's ``DEFAULT``) the key names the run
    (the slot is read directly); when it does not (``INPUTS``, a
    ``cache_key_fn``) the key names any run (``*``), and the newest run holding
    that digest answers, so a second flow run is ``Cached`` on the first one's
    artifact. No digest (``NO_CACHE``): the key names the run, nothing is cached.
    """

    address: str = ""
    inner: CachePolicy | None = None
    partition: str | None = None

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        digest = None
        if self.inner is not None:
            digest = self.inner.compute_key(
                task_ctx=task_ctx, inputs=inputs, flow_parameters=flow_parameters, **kwargs
            )
        run = task_ctx.task_run
        partition = None
        if self.partition is not None:
            partition = _format_partition(self.partition, task_ctx, inputs)
        scoped = digest is None or depends_on_run(self.inner)
        return make_key(str(run.flow_run_id or run.id) if scoped else None, digest, self.address, partition)


    def fsmirror_instance(self, task_ctx: TaskRunContext) -> str | None:
        """The instance of a task run of this mirrored_task: its ``partition=`` filled in, else none.

        The storage block asks for it when Prefect writes under a key of its own (a failed try's
        exception): that record belongs in the same slot as the task's result.
        """
        if self.partition is None:
            return None
        return _format_partition(self.partition, task_ctx, dict(task_ctx.parameters or {}))


def _format_partition(template: str, task_ctx: TaskRunContext, inputs: dict[str, Any]) -> str:
    """Fill a partition template like ``"{parameters[day]}"`` or ``"{task_run.dynamic_key}"``."""
    try:
        return template.format(parameters=inputs, task_run=task_ctx.task_run)
    except (KeyError, AttributeError, IndexError) as e:
        raise ResolveError(
            f"partition template {template!r} of task {task_ctx.task.name!r} cannot be filled: "
            f"{type(e).__name__}: {e} (it can use parameters[...] and task_run.<field>)"
        ) from e


def _resolve_storage(storage: StorageRef, where: str) -> FSMirrorStorage:
    """The block for ``storage`` (a saved block or a ``"fsmirror-storage/<name>"`` slug), checked now."""
    if isinstance(storage, str):
        slug = FSMirrorStorage.get_block_type_slug()
        if not storage.startswith(slug + "/"):
            raise ValueError(f"{where}: storage={storage!r} is not a '{slug}/<name>' block slug")
        try:
            block = Block.load(storage, _sync=True)  # type: ignore[call-arg]
        except Exception as e:
            raise ValueError(
                f"{where}: cannot load block {storage!r} ({type(e).__name__}: {e}); save one first: "
                f"FSMirrorStorage(mirror=...).save({storage.split('/', 1)[1]!r})"
            ) from e
    else:
        block = storage
    if not isinstance(block, FSMirrorStorage):
        raise TypeError(f"{where}: storage must be an FSMirrorStorage block or its slug, got {block!r}")
    if block.role != "result":
        raise ValueError(f"{where}: storage {block!r} has role={block.role!r}; pass a role='result' block")
    if getattr(block, "_block_document_id", None) is None:
        raise ValueError(
            f"{where}: the FSMirrorStorage block is not saved, and Prefect only accepts saved result "
            "storage: call block.save('<name>') first, or pass its 'fsmirror-storage/<name>' slug"
        )
    return block


def _check(
    fn: Callable[..., Any], options: dict[str, Any], storage: StorageRef, kind: str
) -> FSMirrorStorage:
    where = f"{kind} {getattr(fn, '__qualname__', fn)!r}"
    owned = sorted(set(options) & set(_OWNED))
    if owned:
        raise TypeError(
            f"{where}: {', '.join(owned)} cannot be set on a {kind}: fsmirror sets them so the result "
            "lands at its mirrored path; use prefect's own decorator for custom result storage"
        )
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(f"{where}: a generator's results cannot be persisted as one artifact")
    block = _resolve_storage(storage, where)
    try:
        fm = block.fsmirror()
        fm.mirror_relative(fn, with_id=False)  # the code must resolve under the mirror's root
    except FSMirrorError as e:
        raise in_context(e, where) from e
    if fm.settings.output_format == "bytes":
        raise ConfigError(
            f"{where}: mirror {fm.mirror!r} writes 'bytes', which cannot hold a Prefect result; "
            "use output_format 'parquet', 'pkl', 'json', 'csv' or 'txt'"
        )
    return block


def _serializer(block: FSMirrorStorage) -> FSMirrorSerializer:
    s = block.fsmirror().settings
    return FSMirrorSerializer(format=s.output_format, strict=s.strict_format, allow_pickle=s.allow_pickle)


def _persistable(value: Any) -> bool:
    return not isinstance(value, (State, PrefectFuture)) and not inspect.isawaitable(value)


def _record(value: Any) -> tuple[Any, Any] | None:
    """(result store, record) to persist now, or None when Prefect will not persist this value."""
    txn = get_transaction()
    if txn is None or not txn.key or txn.store is None or not txn.write_on_commit or not _persistable(value):
        return None
    ctx = TaskRunContext.get()
    expiration: Any = None  # Prefect's DateTime is a datetime
    if ctx is not None and ctx.task.cache_expiration is not None:
        expiration = _dt.datetime.now(_dt.timezone.utc) + ctx.task.cache_expiration
    store = txn.store
    return store, store.create_result_record(value, key=txn.key, expiration=expiration)


def _done() -> None:
    txn = get_transaction()
    if txn is not None:
        txn.write_on_commit = False  # persisted already; the commit must not write it twice


def _commits_at_exit(txn: BaseTransaction) -> bool:
    """Whether the task's own transaction commits as the task run ends (so persisting now is the same).

    Inside an enclosing ``with transaction():`` a task's transaction is that one's child: it
    commits when the enclosing one commits, and a rollback there (an exception after the task)
    must leave no result, or the next run would be ``Cached`` on a value whose side effects the
    rollback hooks undid. ``CommitMode.OFF`` never commits on its own.
    """
    if txn.commit_mode == CommitMode.EAGER:
        return True
    return txn.commit_mode == CommitMode.LAZY and txn.get_parent() is None


def _stage(store: Any, record: Any, scope: Any) -> None:
    """Write ``record`` when the task's transaction commits, as Prefect's own result storage does.

    The write runs as this task run's (its path, ids and attempt, the inputs its scope saw), though
    the commit comes later, in the flow's context; a rollback writes nothing. A write that fails
    at commit rolls the task's transaction back (Prefect logs it): the task run has already ended.
    """
    txn = get_transaction()
    assert txn is not None
    if isinstance(store.serializer, FSMirrorSerializer):
        store.serializer.choose(record.result)  # a value no format may hold fails the task run now
    ctx = TaskRunContext.get()
    run = capture_run()

    def kept() -> Any:
        # the inputs as of the commit: an upstream staged in the same transaction is stored by now
        return None if run is None else run._replace(inputs=step_inputs(scope, ctx))

    if isinstance(txn, AsyncTransaction):

        async def commit_async(_: Any) -> None:
            with as_run(kept()):
                await store.apersist_result_record(record)

        commit_async.log_on_run = False  # type: ignore[attr-defined]  # Prefect's flag: not a user hook
        txn.on_commit_hooks.append(commit_async)  # type: ignore[arg-type]  # AsyncTransaction awaits it
    else:

        def commit(_: Any) -> None:
            with as_run(kept()):
                store.persist_result_record(record)

        commit.log_on_run = False  # type: ignore[attr-defined]
        txn.on_commit_hooks.append(commit)
    txn.write_on_commit = False  # the hook writes it; Prefect must not write it again


def _flow_record(value: Any) -> tuple[Any, Any] | None:
    """(result store, record) to persist a flow's return value inside the flow run, or None.

    Persisting before the flow completes makes a failing write fail the flow.

    Prefect's flow engine writes the result again under its own key afterwards;
    the block sees the same bytes and only records that key. A value holding
    futures or states is left to Prefect, which resolves them first.
    """
    from prefect.context import FlowRunContext
    from prefect.utilities.collections import visit_collection

    ctx = FlowRunContext.get()
    if ctx is None or ctx.result_store is None or not ctx.persist_result:
        return None
    unresolved: list[Any] = []

    def spot(item: Any) -> Any:
        if not _persistable(item):
            unresolved.append(item)
        return item

    visit_collection(value, visit_fn=spot, return_data=False)
    if unresolved:
        return None
    store = ctx.result_store
    fm = (
        ctx.result_store.result_storage.fsmirror()
        if isinstance(ctx.result_store.result_storage, FSMirrorStorage)
        else None
    )
    key = None
    if fm is not None and ctx.flow is not None and ctx.flow_run is not None:
        key = make_key(str(ctx.flow_run.id), None, relative_address(fm, inspect.unwrap(ctx.flow.fn)))
    return store, store.create_result_record(value, key=key)


def _flow_run() -> Any:
    """The flow run in progress, with the task results it got as the inputs of its own result."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return None
    return capture_run(flow_inputs(ctx.flow_run.id))


def _persisting_flow(fn: F) -> F:
    """Wrap a flow function so its return value is persisted before the flow completes."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            value = await fn(*args, **kwargs)
            if (found := _flow_record(value)) is not None:
                with as_run(_flow_run()):
                    await found[0].apersist_result_record(found[1])
            return value

        return run_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        value = fn(*args, **kwargs)
        if (found := _flow_record(value)) is not None:
            # The async path, as Prefect's flow engine takes: a flow's metadata
            # storage (NullFileSystem) has no sync write that accepts _sync.
            with as_run(_flow_run()):
                run_coro_as_sync(found[0].apersist_result_record(found[1]))
        return value

    return run  # type: ignore[return-value]


def _persisting(fn: F) -> F:
    """Wrap ``fn`` so its result is persisted inside the task run (a failing write fails the task)."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            with task_scope(fn) as scope:  # one lineage scope per attempt: the results it got, in what it stores
                value = await fn(*args, **kwargs)
                if (found := _record(value)) is not None:
                    store, record = found
                    if _commits_at_exit(get_transaction()):  # type: ignore[arg-type]
                        await store.apersist_result_record(record)
                        _done()
                    else:
                        _stage(store, record, scope)
            return value

        return run_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with task_scope(fn) as scope:  # one lineage scope per attempt: the results it got, in what it stores
            value = fn(*args, **kwargs)
            if (found := _record(value)) is not None:
                store, record = found
                if _commits_at_exit(get_transaction()):  # type: ignore[arg-type]
                    store.persist_result_record(record)
                    _done()
                else:
                    _stage(store, record, scope)
        return value

    return run  # type: ignore[return-value]


@overload
def mirrored_task(
    __fn: F, *, storage: StorageRef, partition: str | None = None, **options: Any
) -> Task[Any, Any]: ...
@overload
def mirrored_task(
    __fn: None = None, *, storage: StorageRef, partition: str | None = None, **options: Any
) -> Callable[[F], Task[Any, Any]]: ...
def mirrored_task(
    __fn: F | None = None, *, storage: StorageRef, partition: str | None = None, **options: Any
) -> Task[Any, Any] | Callable[[F], Task[Any, Any]]:
    """A Prefect task whose result is stored at the task function's mirrored path.

    ``storage`` is a saved :class:`FSMirrorStorage` or its ``"fsmirror-storage/<name>"``
    slug; every other keyword goes to :func:`prefect.task`. The result lands
    at ``<mirror base>/<module path>/<flow run id>/<function>/<output>.<format>``.
    ``cache_policy`` (default Prefect's ``DEFAULT``: inputs, task source and the
    flow run) or ``cache_key_fn`` decides cache hits as in Prefect: ``INPUTS``
    or a ``cache_key_fn`` hit across flow runs, reading the earlier run's
    artifact in place. ``partition`` (a template such as ``"{parameters[day]}"``
    or ``"{task_run.dynamic_key}"``) adds a directory under the function's, for
    a task called several times in one flow run (``.map``).

    Example:
        >>> @mirrored_task(storage="fsmirror-storage/etl", retries=2)  # doctest: +SKIP
        ... def lift_data(day: str) -> pd.DataFrame: ...
    """

    def decorate(fn: F) -> Task[Any, Any]:
        opts = dict(options)
        block = _check(fn, opts, storage, "mirrored_task")
        inner = opts.pop("cache_policy", NotSet)
        key_fn = opts.pop("cache_key_fn", None)
        if key_fn is not None:
            if inner is not NotSet:
                raise TypeError(
                    f"mirrored_task {getattr(fn, '__qualname__', fn)!r}: give cache_policy or cache_key_fn, "
                    "not both (Prefect would ignore the policy)"
                )
            inner = CacheKeyFnPolicy(cache_key_fn=key_fn)
        if inner is NotSet:
            inner = DEFAULT
        policy = MirroredKey(
            address=relative_address(block.fsmirror(), fn),
            inner=inner if isinstance(inner, CachePolicy) else None,
            partition=partition,
            key_storage=block.as_metadata_storage(),
        )
        return task(  # type: ignore[call-overload,no-any-return]
            _persisting(fn),
            result_storage=block,
            result_serializer=_serializer(block),
            cache_policy=policy,
            persist_result=True,
            **opts,
        )

    return decorate(__fn) if __fn is not None else decorate


@overload
def mirrored_flow(__fn: F, *, storage: StorageRef, **options: Any) -> Flow[Any, Any]: ...
@overload
def mirrored_flow(
    __fn: None = None, *, storage: StorageRef, **options: Any
) -> Callable[[F], Flow[Any, Any]]: ...
def mirrored_flow(
    __fn: F | None = None, *, storage: StorageRef, **options: Any
) -> Flow[Any, Any] | Callable[[F], Flow[Any, Any]]:
    """A Prefect flow whose own return value is stored at the flow function's mirrored path.

    The flow's tasks are not affected: decorate them with :func:`mirrored_task`.
    Every other keyword goes to :func:`prefect.flow`. The value is persisted
    before the flow completes, so a failing write fails the flow run.
    """

    def decorate(fn: F) -> Flow[Any, Any]:
        opts = dict(options)
        block = _check(fn, opts, storage, "mirrored_flow")
        return flow(  # type: ignore[call-overload,no-any-return]
            _persisting_flow(fn),
            result_storage=block,
            result_serializer=_serializer(block),
            persist_result=True,
            **opts,
        )

    return decorate(__fn) if __fn is not None else decorate
