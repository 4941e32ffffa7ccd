"""The result storage block and serializer: Prefect results as real files at mirrored paths.

Prefect hands a storage block a key and bytes. What fsmirror stores for them:

- a **result** becomes the task's artifact: the value itself, written through
  :meth:`fsmirror.FSMirror.write` (atomic, no clobber, a manifest recording its
  real Python type and format) at the task's mirrored path for the flow run.
  :class:`FSMirrorSerializer` hands the value over with its bytes; from another
  serializer (a plain ``result_storage=`` task) the value is decoded from
  Prefect's record first, and stored in a format that gives it back exactly.
- a **failed run's exception** is kept only as a note in the key's record: no
  artifact, so it is never the task's value, never ``latest``, never listed, and
  a retry of the task (or of the flow) commits its result normally.
- every key gets a **key record** beside the artifact (:mod:`fsmirror_prefect._records`):
  Prefect's metadata, which gc removes with the run.

Where a result goes comes from its key when fsmirror made it
(``fsmirror:<flow run id | *>:<digest>:<partition>:<code address>``; ``*`` for a
cache policy that does not depend on the run, which is what lets cache hits
cross flow runs), else from the Prefect run in progress: the task, the flow run,
and which call of the task it is (:func:`call_instance`, from the call's inputs,
since Prefect 3.9's ``dynamic_key`` is a random uuid per task run); outside any
run, from the key alone (``<mirror root>/_prefect.py::result``, the key as the
run id). A task run's writes carry its try (``run_count - 1``) as the attempt, so
a retry replaces what its earlier try committed.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import io
import json
import pickle
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple
from urllib.parse import quote, unquote

import anyio.to_thread
from prefect.context import FlowRunContext, TaskRunContext
from prefect.filesystems import WritableFileSystem
from prefect.serializers import Serializer
from pydantic import Field

from fsmirror import FSMirror, ResolveError, StorageError
from fsmirror.errors import ArtifactExistsError, ArtifactNotFoundError, FormatError
from fsmirror.integration import mirror_for
from fsmirror.model.hashing import hash_bytes
from fsmirror.paths.address import CodeAddress, address_of
from fsmirror.paths.identity import Instance, check_instance
from fsmirror.paths.layout import module_path
from fsmirror.paths.runid import encode_segment

from . import _lineage, _records
from ._records import KeyRecord, record_file

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fsmirror.model.formats import Format

__all__ = [
    "FSMirrorStorage",
    "FSMirrorSerializer",
    "Encoded",
    "Where",
    "make_key",
    "parse_key",
    "relative_address",
    "code_object",
    "KEY_PREFIX",
    "ANY_RUN",
    "FALLBACK_MODULE",
    "call_instance",
    "capture_run",
    "as_run",
    "exact_format",
    "PickleRefusedError",
]


class PickleRefusedError(FormatError):
    """The store holds a pickle (or bytes Prefect would unpickle) and the mirror sets ``allow_pickle: false``.

    Raised instead of handing the bytes to Prefect, whose serializer would run them: a record in
    the store can be replaced by anyone who can write there.
    """

KEY_PREFIX = "fsmirror:"
ANY_RUN = "*"
"""The run part of a key whose cache digest does not depend on the run: the newest run holding it answers."""
FALLBACK_MODULE = "_prefect.py"
"""Results stored outside any flow or task run go to ``<mirror root>/_prefect.py::result``."""
PARQUET_MAGIC = b"PAR1"
PICKLE_MAGIC = b"\x80"  # every pickle of protocol 2 or later starts with PROTO
TEXT_FORMATS = frozenset({"json", "csv", "txt"})
_MISSING: Any = object()


class Where(NamedTuple):
    """Where a result lives: what the core resolves (a function, a CodeAddress or an address string),
    the run, the instance (the core's ``partition=``), the ids to record, and the attempt within the
    run (a task retry replaces its earlier attempt's commit). ``fallback``: keyed by the key, outside
    any run."""

    obj: Any
    run_id: str
    partition: Instance | None
    ids: dict[str, Any]
    fallback: bool = False
    attempt: int = 0
    per_call: bool = False
    """The instance is a plain task call's inputs (:func:`call_instance`), not a key's partition."""


def make_key(run_id: str | None, digest: str | None, address: str, partition: str | None = None) -> str:
    """A storage key that says where its artifact lives, so no lookup table is needed.

    ``run_id=None`` writes ``*``: the key names a cache entry that any flow run may
    hold (the newest one answers). The code address goes last: it contains ``::``
    (and may contain ``:`` on Windows); the run id and the digest never do, and the
    partition is percent-encoded.
    """
    part = "" if partition is None else quote(partition, safe="")
    return f"{KEY_PREFIX}{ANY_RUN if run_id is None else run_id}:{digest or '-'}:{part}:{address}"


def parse_key(key: str) -> tuple[str | None, str, str | None, str] | None:
    """(run id or None for any run, digest, partition, code address) of a key made by :func:`make_key`."""
    if not key.startswith(KEY_PREFIX):
        return None
    parts = key[len(KEY_PREFIX) :].split(":", 3)
    if len(parts) != 4 or not parts[0] or "::" not in parts[3]:
        return None
    run = None if parts[0] == ANY_RUN else parts[0]
    return run, parts[1], (unquote(parts[2]) if parts[2] else None), parts[3]


def code_object(fn: Any) -> Any:
    """What the core resolves for a Prefect task or flow function.

    The function itself when it has a stable address; a function defined inside
    another (a ``<locals>`` qualname, as in tests and notebooks-as-modules) is
    located by its file and its qualname without the ``<locals>`` parts
    (``test_it.<locals>.bar`` -> ``test_it.bar``).
    """
    fn = inspect.unwrap(fn)
    try:
        address_of(fn)
        return fn
    except ResolveError:
        qualname = str(getattr(fn, "__qualname__", "")).replace("<locals>.", "")
        file = getattr(getattr(fn, "__code__", None), "co_filename", "") or ""
        if not qualname or "<" in qualname or not file or file.startswith("<"):
            raise
        return CodeAddress(tuple(p for p in file.replace("\\", "/").split("/") if p), qualname)


def relative_address(fm: FSMirror, obj: Any) -> str:
    """The code address under the mirror's root, as the docs and manifests show it (never a host path)."""
    if isinstance(obj, str):
        return obj
    addr = obj if isinstance(obj, CodeAddress) else address_of(obj)
    module = module_path(addr, fm.settings.root)
    return f"{module}.py::{addr.qualname}"


class Encoded(bytes):
    """Result bytes that also say which fsmirror format they are in (and, in the writing process, the value).

    Prefect passes the serializer's output to the block untouched, so the block
    learns the value and its format without decoding; on the way back the block
    hands the manifest's format and Python type to the serializer the same way.
    Plain ``bytes`` still work everywhere: the attributes are a shortcut.
    """

    format: str
    python_type: str
    value: Any

    def __new__(
        cls, data: bytes | memoryview, format: str, python_type: str = "", value: Any = _MISSING
    ) -> Encoded:
        self = super().__new__(cls, data)
        self.format = format
        self.python_type = python_type
        self.value = value
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Encoded, (bytes(self), self.format, self.python_type))  # never pickles the value along


def _sniff(blob: bytes, declared: str) -> str:
    """The format of bytes that came without a label (written by this serializer)."""
    if blob[:4] == PARQUET_MAGIC:
        return "parquet"
    if blob[:1] == PICKLE_MAGIC:
        return "pkl"
    return declared if declared in TEXT_FORMATS else "json"


class FSMirrorSerializer(Serializer):
    """Serialize a result in the mirror's format, so the stored file is the artifact itself.

    A value the format cannot hold falls back (JSON-able -> json, else a plain
    pickle) by fsmirror's one rule; ``strict`` makes that an error instead. An
    exception (a failed run's) is always a pickle: it is kept for Prefect, never
    stored as an artifact.
    """

    type: str = Field(default="fsmirror", frozen=True)
    format: str = Field(default="pkl", description="The mirror's output format, e.g. parquet.")
    strict: bool = Field(default=False, description="Fail instead of falling back to json or pkl.")
    allow_pickle: bool = Field(default=True, description="Whether pickle may be written and read.")

    def dumps(self, obj: Any) -> bytes:
        from fsmirror.model.formats import python_type

        fmt = self.choose(obj)
        buf = io.BytesIO()
        fmt.dump(obj, buf)
        return Encoded(buf.getbuffer(), fmt.name, python_type(obj), obj)

    def choose(self, obj: Any) -> Format:
        """The format ``obj`` is stored in; raises FormatError
        when none may hold it. Cheap: nothing is serialized, so a staged result is checked early."""
        from fsmirror.model.formats import choose_format, get_format

        if self.format == "bytes":
            raise FormatError(
                "a Prefect result cannot use the 'bytes' format: the file could not say whether it "
                "holds raw bytes or a fallback pickle; use a mirror with output_format 'pkl' or 'parquet'"
            )
        if isinstance(obj, BaseException):
            if not self.allow_pickle:
                raise FormatError("a failed run's exception is kept as a pickle, and allow_pickle is False")
            fmt = get_format("pkl")
        else:
            fmt, _ = choose_format(obj, None, self.format, strict=self.strict, allow_pickle=self.allow_pickle)
            if fmt.name == "json" and not self.strict and not _json_exact(obj):
                # The value Prefect hands back on a cache hit is read from this file, and JSON
                # turns a tuple inside a dict into a list: fall back further, as for a plain task.
                exact = exact_format(obj, self.format, strict=False, allow_pickle=self.allow_pickle)
                fmt = get_format(exact or "pkl")
        return fmt

    def loads(self, blob: bytes) -> Any:
        from fsmirror.model.formats import get_format

        name = getattr(blob, "format", None) or _sniff(blob, self.format)
        if name == "pkl" and not self.allow_pickle:
            raise FormatError("this result is a pickle and the serializer sets allow_pickle=False")
        fmt = get_format(name)
        kind = getattr(blob, "python_type", "") or ""
        if name == "parquet" and kind in ("", "builtins.bytes"):
            # bytes that came without their type: parquet's own schema says whether a
            # pandas DataFrame was written.
            table = fmt.load(io.BytesIO(blob), {"python_type": "pyarrow.Table"})
            return table.to_pandas() if table.schema.pandas_metadata else table
        return fmt.load(io.BytesIO(blob), {"python_type": kind})


class _Run(NamedTuple):
    """The run in progress. ``obj`` is None when the function cannot be located in this process
    (``unlocated`` says why): a task shipped by value to a Dask worker has lost its file
    (cloudpickle names it ``<dynamic-code>``), yet its key still names its address."""

    obj: Any
    run_id: str
    ids: dict[str, Any]
    serializer: Serializer | None
    unlocated: ResolveError | None = None
    task_ctx: TaskRunContext | None = None
    attempt: int = 0
    """The try within the run: Prefect's ``run_count`` minus one (the task run's, or in a flow the flow run's)."""
    inputs: tuple[Any, ...] = ()
    """What the value was made from, given explicitly: a write that happens after its step's lineage
    scope ended (a result staged in a transaction) or outside any scope (a flow's result)."""

    def instance(self) -> Instance | None:
        """Which call of the task this is (:func:`call_instance`); None for a flow.

        Computed on use: only a plain ``result_storage=`` task needs it (``mirrored_task``'s
        key carries its partition), and hashing large inputs is not free.
        """
        if self.task_ctx is None:
            return None
        own = getattr(self.task_ctx.task.cache_policy, "fsmirror_instance", None)
        if callable(own):  # a mirrored_task: its partition= (its failed tries' records go there too)
            return own(self.task_ctx)  # type: ignore[no-any-return]
        return call_instance(self.task_ctx)

    def located(self) -> Any:
        """The code object, or the reason it cannot be located (raised)."""
        if self.obj is None and self.unlocated is not None:
            raise self.unlocated
        return self.obj


def _code_or_error(fn: Any) -> tuple[Any, ResolveError | None]:
    try:
        return code_object(fn), None
    except ResolveError as e:
        return None, e


SIMPLE_PART_MAX = 64
"""A parameter value longer than this (as text) makes the instance a digest of the inputs."""


def _simple_part(value: Any) -> str | None:
    """A parameter value as one readable instance part, or None when it has no short exact text."""
    if isinstance(value, int):  # bool too: True -> "True"
        text = str(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        text = repr(value)
    elif isinstance(value, str):
        text = value
    else:
        return None
    if not text or len(text) > SIMPLE_PART_MAX:
        return None
    try:
        check_instance(text)
    except ResolveError:
        return None
    return text


def call_instance(task_ctx: TaskRunContext) -> Instance | None:
    """Which call of a task a task run is: its instance (fsmirror's ``partition=``), from its inputs.

    Prefect 3.9 records no position for a task run: its ``dynamic_key`` is a fresh
    ``uuid4`` for every task run in a flow (``_create_task_run_locally`` and
    ``Task.create_local_run`` call ``dynamic_key_for_task_run(..., stable=False)``),
    and nothing in the flow run's context counts calls. The inputs are what Prefect
    itself tells calls apart by (its ``DEFAULT`` cache policy hashes them): two calls
    with the same inputs in one flow run are one result there (the second is
    ``Cached``), and the same call in two flow runs is one series across runs, as
    gc, stale and latest need. So:

    - no parameters: None (the task's one slot per flow run, the path fsmirror 2.0 wrote);
    - every value a short str, int, float or bool: the values as text, in the
      function's parameter order (``triple(2)`` -> ``"2"``; ``load(day="2026-11-05", n=3)``
      -> ``("2026-11-05", "3")``, on disk ``2026-11-05@3``);
    - else ``h-`` and 16 hex digits of Prefect's ``INPUTS`` hash of them;
    - inputs Prefect cannot hash (a lock, a file handle): ``tr-<task run id>``, that run alone.
    """
    params = dict(task_ctx.parameters or {})
    if not params:
        return None
    try:
        order = list(inspect.signature(task_ctx.task.fn).parameters)
    except (TypeError, ValueError):
        order = []
    names = sorted(params, key=lambda n: (order.index(n) if n in order else len(order), n))
    parts = [_simple_part(params[n]) for n in names]
    if all(p is not None for p in parts):
        return check_instance(tuple(str(p) for p in parts))
    from prefect.cache_policies import INPUTS

    try:
        digest = INPUTS.compute_key(task_ctx=task_ctx, inputs=params, flow_parameters={})
    except Exception:
        digest = None
    if digest:
        return f"h-{digest[:16]}"
    return f"tr-{task_ctx.task_run.id}"


_deferred: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("fsmirror_prefect_run", default=None)


def capture_run(inputs: tuple[Any, ...] = ()) -> _Run | None:
    """The Prefect run in progress, kept for a write that happens later (see :func:`as_run`)."""
    ctx = _run_context()
    return None if ctx is None else ctx._replace(inputs=tuple(inputs))


@contextlib.contextmanager
def as_run(run: _Run | None) -> Iterator[None]:
    """Writes inside this block belong to ``run`` (captured by :func:`capture_run`).

    A task's result staged in an enclosing ``transaction()`` is written when that transaction
    commits, after the task run ended: the commit runs in the flow's context, which would place
    and record the result as the flow's.
    """
    token = _deferred.set(run)
    try:
        yield
    finally:
        _deferred.reset(token)


def _run_context() -> _Run | None:
    """The Prefect run in progress: the user's function, the flow run id, ids to record, the serializer."""
    if (kept := _deferred.get()) is not None:
        return kept
    task_ctx = TaskRunContext.get()
    flow_ctx = FlowRunContext.get()
    ids: dict[str, Any] = {}
    if flow_ctx is not None and flow_ctx.flow_run is not None:
        ids.update(
            flow_run_id=str(flow_ctx.flow_run.id),
            flow_run_name=flow_ctx.flow_run.name,
            flow_name=flow_ctx.flow.name if flow_ctx.flow is not None else None,
        )
    if task_ctx is not None:
        run = task_ctx.task_run
        ids.update(task_run_id=str(run.id), task_run_name=run.name, task_name=task_ctx.task.name)
        if run.flow_run_id is not None:
            ids["flow_run_id"] = str(run.flow_run_id)
        store = task_ctx.result_store
        obj, error = _code_or_error(task_ctx.task.fn)
        return _Run(
            obj,
            str(ids.get("flow_run_id") or run.id),
            ids,
            store.serializer if store is not None else None,
            error,
            task_ctx,
            max(run.run_count - 1, 0),
        )
    if flow_ctx is not None and flow_ctx.flow is not None and flow_ctx.flow_run is not None:
        store = flow_ctx.result_store
        obj, error = _code_or_error(flow_ctx.flow.fn)
        return _Run(
            obj,
            str(flow_ctx.flow_run.id),
            ids,
            store.serializer if store is not None else None,
            error,
            None,
            max(flow_ctx.flow_run.run_count - 1, 0),
        )
    return None


def _json_exact(value: Any, depth: int = 0, top: bool = True) -> bool:
    """Whether JSON gives ``value`` back equal and of the same types (a top-level tuple is restored)."""
    if depth > 200:
        return False
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, list) or (top and isinstance(value, tuple)):
        return all(_json_exact(v, depth + 1, False) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_exact(v, depth + 1, False) for k, v in value.items())
    return False


SAFE_SERIALIZERS = frozenset({"json", "fsmirror"})
"""Prefect serializers that never unpickle (``fsmirror`` refuses a pickle under ``allow_pickle: false``)."""


def _refuse_unpickling(metadata: Mapping[str, Any], key: str, directory: str) -> None:
    """Raise when Prefect would decode ``key``'s result with a serializer that unpickles.

    The metadata is read from the store, so it is checked like the bytes: a record rewritten to
    name Prefect's ``pickle`` serializer must not make Prefect unpickle what the store holds.
    """
    serializer = metadata.get("serializer")
    kind = serializer.get("type") if isinstance(serializer, dict) else None
    if kind not in SAFE_SERIALIZERS:
        raise PickleRefusedError(
            f"the result of key {key!r} at {directory} is decoded with Prefect's {kind!r} serializer, "
            "which unpickles, and this mirror sets allow_pickle: false; use mirrored_task or "
            "result_serializer='json'"
        )


def exact_format(value: Any, mirror_format: str, *, strict: bool, allow_pickle: bool) -> str | None:
    """The format that gives ``value`` back equal and of the same types, for Prefect to read back.

    The mirror's format when it does, else JSON when that is exact, else a pickle.
    ``None`` under ``strict_format``: the mirror's format by the core's rule, as asked.
    A value only a pickle holds exactly, on a mirror that sets ``allow_pickle: false``,
    raises :class:`~fsmirror.errors.FormatError` rather than come back changed.
    """
    from fsmirror.model.formats import python_type

    if strict:
        return None
    if _exact_in(mirror_format, value):
        return mirror_format
    if _json_exact(value):
        return "json"
    if not allow_pickle:
        raise FormatError(
            f"a {python_type(value)} that neither {mirror_format!r} nor JSON gives back exactly (JSON turns "
            "a tuple into a list) would be kept as a pickle, and this mirror sets allow_pickle: false; "
            "return lists instead of tuples, or allow pickle"
        )
    return "pkl"


def _exact_in(fmt: str, value: Any) -> bool:
    from fsmirror.model.formats import FORMATS

    if fmt == "pkl":
        return True
    if fmt == "json":
        return _json_exact(value)
    if fmt == "txt":
        return isinstance(value, str)
    if fmt == "bytes":
        return isinstance(value, bytes)
    if fmt == "parquet":
        return FORMATS["parquet"].accepts(value)
    return False  # csv reads back strings and rows


class FSMirrorStorage(WritableFileSystem):
    """Store Prefect results as real files at paths that mirror the code that made them.

    A task ``lift_data`` in ``project/etl/pipeline.py`` stores its result at
    ``<tenant>/project/etl/pipeline/<flow run id>/lift_data/out.parquet`` with an
    fsmirror manifest beside it. Use it through ``mirrored_task`` /
    ``mirrored_flow``; as a plain ``result_storage`` it places results by the
    run context, one slot per call of a task (its inputs, :func:`call_instance`).

    Example:
        ```python
        from fsmirror_prefect import FSMirrorStorage

        storage = FSMirrorStorage.load("BLOCK_NAME")
        ```
    """

    _block_type_name: ClassVar[str] = "FSMirror Storage"
    _block_type_slug: ClassVar[str] = "fsmirror-storage"
    _documentation_url = "https://github.com/fsmirror/fsmirror/blob/main/docs/prefect.md"  # type: ignore[assignment]
    _description: ClassVar[str] = (
        "Store task and flow results as real files at paths that mirror the code that made them."
    )

    mirror: str | None = Field(
        default=None,
        description=(
            "The mirror of the fsmirror config to use; when unset, $FSMIRROR_MIRROR or the config's "
            "only mirror."
        ),
    )
    config_path: str | None = Field(
        default=None,
        description=(
            "Path of the fsmirror config YAML in the process that runs the task; when unset, "
            "$FSMIRROR_CONFIG_PATH."
        ),
    )
    role: Literal["result", "metadata"] = Field(
        default="result",
        description=("What this block stores: result files, or Prefect's result metadata kept beside them."),
    )

    def fsmirror(self) -> FSMirror:
        """The configured :class:`fsmirror.FSMirror` (a bad config raises ConfigError here).

        One per config file version and process (``fsmirror.integration.mirror_for``): fork-safe,
        and a pickled block (a result that holds one) carries its settings, never an open store.
        """
        return mirror_for(self.config_path, self.mirror)

    def as_metadata_storage(self) -> FSMirrorStorage:
        """The twin that keeps Prefect's result metadata beside each result file."""
        twin = FSMirrorStorage(mirror=self.mirror, config_path=self.config_path, role="metadata")
        return twin

    # -- where a key's result goes, and where it is -------------------------------------

    def _fallback(self, fm: FSMirror, key: str) -> Where:
        """A result stored outside any run: its slot is derived from the key alone (the key is the run id).

        A key too long for a path segment, or the reserved ``latest``, becomes
        ``k-<hash of the key>``.
        """
        try:
            fits = len(encode_segment(key)) <= 120 and key != "latest"
        except ResolveError:
            fits = False
        run = key if fits else "k-" + _records.kind_of(key)[len(_records.KIND_PREFIX) :]
        return Where(CodeAddress((fm.settings.root, FALLBACK_MODULE), "result"), run, None, {}, True)

    def _place(self, fm: FSMirror, key: str) -> tuple[Where, _Run | None]:
        """Where a result being written under ``key`` goes."""
        ctx = _run_context()
        parsed = parse_key(key)
        if parsed is not None:
            run, _, partition, address = parsed
            obj: Any = address
            own = ctx is not None and ctx.obj is not None and relative_address(fm, ctx.obj) == address
            if own:
                obj = ctx.obj  # type: ignore[union-attr]  # the function itself: the manifest records its source's hash
            # else the key's address: also where the function has no file here (shipped by value)
            if run is None:
                if ctx is None:
                    raise StorageError(
                        f"fsmirror-storage: key {key!r} names a cache entry of any flow run; writing one "
                        "needs the Prefect run in progress (write inside a task or flow run)"
                    )
                run = ctx.run_id
            ids = dict(ctx.ids) if ctx is not None else {"flow_run_id": run}
            # the attempt is the writing run's own, so only when the key is that run's code
            attempt = ctx.attempt if own and ctx is not None and run == ctx.run_id else 0
            return Where(obj, run, partition, ids, attempt=attempt), ctx
        if ctx is not None:
            # Prefect's own key (a plain result_storage= task or flow): one slot per call of the task
            return (
                Where(
                    ctx.located(), ctx.run_id, ctx.instance(), dict(ctx.ids), attempt=ctx.attempt, per_call=True
                ),
                ctx,
            )
        return self._fallback(fm, key), None

    def _dir(self, fm: FSMirror, where: Where) -> str:
        return fm.mirror_full(where.obj, run_id=where.run_id, partition=where.partition)

    @staticmethod
    def _run_split(fm: FSMirror, obj: Any, partition: str | None) -> tuple[str, str]:
        """(what comes before the run segment, what comes after it) in this code's slot directories.

        The resolver's listing of the series says it for any layout (the run slot may sit anywhere).
        """
        prefix, parts = fm.resolver.listing(obj, partition, fm.resolver.output_name(None))
        return prefix, "".join(f"/{p}" for p in parts[:-1])  # the last part is the cell's file name

    @staticmethod
    def _load(fm: FSMirror, path: str) -> KeyRecord | None:
        data = fm.store.get_sidecar(path)
        if data is None:
            return None
        try:
            return KeyRecord.load(data)
        except ValueError as e:
            raise StorageError(f"the key record {path} is damaged ({e})") from e

    def _find(self, fm: FSMirror, key: str) -> tuple[str, KeyRecord]:
        """The directory holding ``key``'s record, and the record. ArtifactNotFoundError when none does."""
        out = fm.settings.output_name

        def at(directory: str) -> tuple[str, KeyRecord] | None:
            rec = self._load(fm, record_file(directory, out, key))
            if rec is None:
                return None
            _records.remember(fm, key, directory)
            return directory, rec

        if (known := _records.remembered(fm, key)) is not None:
            if (got := at(known)) is not None:
                return got
            _records.forget_dir(fm, key)
        parsed = parse_key(key)
        dirs: list[str] = []
        if parsed is not None:
            run, _, partition, address = parsed
            if run is not None:
                if (got := at(fm.mirror_full(address, run_id=run, partition=partition))) is not None:
                    return got
            else:  # a cache entry any run may hold: the series' runs that have its record
                head, tail = self._run_split(fm, address, partition)
                dirs = [
                    d
                    for d in _records.find_records(fm, head, out, key)
                    if d.startswith(head + "/")
                    and d.endswith(tail)
                    and "/" not in d[len(head) + 1 : len(d) - len(tail)]
                ]
        else:
            ctx = _run_context()
            if ctx is not None and ctx.obj is None:
                ctx = None  # no code to look beside: search by the record's name
            if (
                ctx is not None
                and (got := at(fm.mirror_full(ctx.obj, run_id=ctx.run_id, partition=ctx.instance())))
                is not None
            ):
                return got
            if (got := at(self._dir(fm, self._fallback(fm, key)))) is not None:
                return got
            # Prefect's own key (a cache key, a storage key template, a random one): by its record's
            # name, in this code's module first, then anywhere in the mirror
            if ctx is not None:
                dirs = _records.find_records(fm, self._run_split(fm, ctx.obj, None)[0], out, key)
            if not dirs:
                dirs = _records.find_records(fm, fm.base, out, key)
        chosen = _records.newest(fm, dirs, out)
        if chosen is not None and (got := at(chosen)) is not None:
            return got
        raise ArtifactNotFoundError(
            f"the result of key {key!r} does not exist in {fm.base} (no record of it)"
        )

    # -- the one implementation behind the sync and async twins ---------------------------

    def _unpack(self, key: str, content: bytes, ctx: _Run | None) -> tuple[Any, dict[str, Any], str]:
        """(the value, Prefect's metadata as JSON, how it came): 'fsmirror', 'record', 'raw' or 'bytes'."""
        from prefect.results import ResultRecord, ResultRecordMetadata  # type: ignore[attr-defined]

        block_id = getattr(self, "_block_document_id", None)

        def meta(serializer: Serializer) -> dict[str, Any]:
            m = ResultRecordMetadata(storage_key=key, serializer=serializer, storage_block_id=block_id)
            return dict(json.loads(m.dump_bytes()))

        if isinstance(content, Encoded) and content.value is not _MISSING:
            serializer = ctx.serializer if ctx is not None and ctx.serializer is not None else None
            if serializer is None or serializer.type != "fsmirror":
                s = self.fsmirror().settings
                serializer = FSMirrorSerializer(
                    format=s.output_format, strict=s.strict_format, allow_pickle=s.allow_pickle
                )
            return content.value, meta(serializer), "fsmirror"
        try:
            record: Any = ResultRecord.deserialize(bytes(content))
        except Exception:
            record = None
        if record is not None:
            return record.result, dict(json.loads(record.serialize_metadata())), "record"
        serializer = ctx.serializer if ctx is not None else None
        if serializer is None and parse_key(key) is not None:
            s = self.fsmirror().settings  # fsmirror's own key: the bytes are FSMirrorSerializer's
            serializer = FSMirrorSerializer(
                format=s.output_format, strict=s.strict_format, allow_pickle=s.allow_pickle
            )
        if serializer is not None:
            try:
                value = serializer.loads(content)
            except Exception:
                pass
            else:
                return value, meta(serializer), "fsmirror" if serializer.type == "fsmirror" else "raw"
        return bytes(content), {"storage_key": key}, "bytes"

    def _format(self, fm: FSMirror, value: Any, how: str, content: bytes) -> str | None:
        """The format to store a value in: the one fsmirror's serializer chose (it gives the value back
        exactly), else one that gives it back."""
        if how == "fsmirror":
            return getattr(content, "format", None)
        if how == "bytes":
            return "bytes"
        s = fm.settings
        return exact_format(value, s.output_format, strict=s.strict_format, allow_pickle=s.allow_pickle)

    def _commit(
        self, fm: FSMirror, where: Where, key: str, value: Any, content: bytes, how: str, ctx: _Run | None
    ) -> str:
        kw: dict[str, Any] = {"run_id": where.run_id, "partition": where.partition}
        fmt = self._format(fm, value, how, content)
        ids = {**where.ids, "result_key": key}
        inputs = ctx.inputs if ctx is not None else ()

        def write(overwrite: bool) -> str:
            try:
                return str(
                    fm.write(
                        where.obj,
                        value,
                        format=fmt,
                        overwrite=overwrite,
                        run_source="prefect",
                        orchestrator=ids,
                        attempt=where.attempt,  # a retry replaces what its earlier attempt committed
                        inputs=inputs,
                        **kw,
                    )
                )
            except FormatError as e:
                if not isinstance(e.__cause__, BufferError):
                    raise
                # The core's hashing writer refuses pickle's out-of-band buffers (a large numpy array
                # pickled with protocol 5 arrives as a typed memoryview, which blake3 does not take):
                # pickle to bytes here and stream them. The manifest then says builtins.bytes.
                data = bytes(content) if getattr(content, "format", None) == "pkl" else pickle.dumps(value, 5)
                with fm.open_write(
                    where.obj,
                    format="pkl",
                    overwrite=overwrite,
                    run_source="prefect",
                    orchestrator=ids,
                    attempt=where.attempt,
                    inputs=inputs,
                    **kw,
                ) as w:
                    w.write(data)
                assert w.manifest is not None
                return str(w.manifest.uri)

        try:
            return write(where.fallback)  # outside a run a key names its latest value, as in Prefect
        except ArtifactExistsError as e:
            if self._load(fm, record_file(self._dir(fm, where), fm.settings.output_name, key)) is not None:
                return write(True)  # Prefect rewrites its own key (refresh_cache, an expired entry)
            if how == "fsmirror" and fm.exists(where.obj, **kw):
                man = fm.manifest(where.obj, **kw)
                recorded = man["hash"]
                if recorded["digest"] == hash_bytes(bytes(content), recorded["algorithm"]):
                    return str(man["uri"])  # the same bytes under another key (mirrored_flow, then Prefect)
            if ctx is not None:
                raise ArtifactExistsError(
                    f"{e}; fsmirror keeps one result per task call and flow run (a plain task's call is its "
                    "inputs; a mirrored_task's, its partition): for a mirrored_task called more than once "
                    "in a flow run, give mirrored_task(partition=...), e.g. '{parameters[day]}'"
                ) from e
            raise

    def _commit_call(
        self, fm: FSMirror, where: Where, key: str, value: Any, content: bytes, how: str, ctx: _Run | None
    ) -> tuple[str, Where]:
        """Commit, and where it went: a plain task call whose inputs' slot holds another task run's
        result goes beside it, under its instance and ``tr-<task run id>``.

        Two calls with the same inputs share one cache key, so the second is ``Cached`` and writes
        nothing (with ``refresh_cache`` it rewrites that key, in place). A second task run writing
        here has inputs that only read the same (the int ``1`` and the str ``"1"``) under a key of
        its own: Prefect keeps it as a result of its own, so fsmirror stores it rather than refuse
        it, at a slot only that task run can name.
        """
        if not where.per_call or ctx is None or ctx.task_ctx is None:
            return self._commit(fm, where, key, value, content, how, ctx), where
        mine = str(ctx.task_ctx.task_run.id)
        parts = where.partition if isinstance(where.partition, tuple) else (where.partition,)
        beside = where._replace(partition=check_instance((*(p for p in parts if p is not None), f"tr-{mine}")))

        def held_by_another() -> bool:
            man = _records.committed_manifest(fm, self._dir(fm, where), fm.settings.output_name)
            return man is not None and (man.get("orchestrator") or {}).get("task_run_id") not in (None, mine)

        if where.attempt > 0 and held_by_another():  # a retry replaces its own earlier try, never another call
            where = beside
        try:
            return self._commit(fm, where, key, value, content, how, ctx), where
        except ArtifactExistsError:
            if where is beside or not held_by_another():
                raise
            return self._commit(fm, beside, key, value, content, how, ctx), beside

    def _write(self, key: str, content: bytes) -> str:
        fm = self.fsmirror()
        where, ctx = self._place(fm, key)
        directory = self._dir(fm, where)
        rec_path = record_file(directory, fm.settings.output_name, key)
        if self.role == "metadata":
            existing = self._load(fm, rec_path)
            rec = KeyRecord(metadata=dict(json.loads(content)), verbatim=bytes(content))
            if existing is not None:
                rec.record, rec.failed = existing.record, existing.failed
            fm.store.put_sidecar(rec_path, rec.dump())
            _records.remember(fm, key, directory)
            return rec_path
        value, metadata, how = self._unpack(key, content, ctx)
        if isinstance(value, BaseException):
            # A failed run's exception: Prefect may read it back, but it is no artifact of the task.
            rec = KeyRecord(metadata=metadata, failed=bytes(content))
            fm.store.put_sidecar(rec_path, rec.dump())
            _records.remember(fm, key, directory)
            return rec_path
        uri, where = self._commit_call(fm, where, key, value, content, how, ctx)
        directory = self._dir(fm, where)
        rec_path = record_file(directory, fm.settings.output_name, key)
        rec = KeyRecord(metadata=metadata, record=how == "record")
        fm.store.put_sidecar(rec_path, rec.dump())
        _records.remember(fm, key, directory)
        task_run = ctx.task_ctx.task_run if ctx is not None and ctx.task_ctx is not None else None
        _lineage.remember_stored(fm, uri, task_run)  # the task run's result: downstream tasks' input
        return uri

    @staticmethod
    def _slot(man: Mapping[str, Any]) -> dict[str, Any]:
        run = man["run"]["id"]
        return {
            "obj": str(man["code"]["address"]),
            "run_id": tuple(run) if isinstance(run, list) else run,
            "partition": man.get("partition"),
        }

    def _read(self, key: str) -> bytes:
        from prefect.results import ResultRecord, ResultRecordMetadata  # type: ignore[attr-defined]

        fm = self.fsmirror()
        directory, rec = self._find(fm, key)
        allow = fm.settings.allow_pickle
        if self.role == "metadata":
            if not allow:
                _refuse_unpickling(rec.metadata, key, directory)
            return rec.metadata_bytes()
        if rec.failed is not None:
            if not allow:
                raise PickleRefusedError(
                    f"the result of key {key!r} at {directory} is a failed run's exception, kept as a "
                    "pickle, and this mirror sets allow_pickle: false (unpickling runs code from the store)"
                )
            return rec.failed
        man = _records.committed_manifest(fm, directory, fm.settings.output_name)
        if man is None:
            raise ArtifactNotFoundError(f"the result of key {key!r} at {directory} is not committed")
        if not allow and man.get("format") in ("pkl", "bytes"):
            # a pickle, or bytes stored as they came, that Prefect's serializer would decode
            if man.get("format") == "pkl":
                raise PickleRefusedError(
                    f"{man.get('uri')} is a pickle and this mirror sets allow_pickle: false "
                    "(unpickling runs code from the store)"
                )
            _refuse_unpickling(rec.metadata, key, directory)
        if (task_ctx := TaskRunContext.get()) is not None:  # a cache hit reads its result back for the task run
            _lineage.remember(task_ctx.task_run.id, man, task_ctx.task_run.flow_run_id)
        slot = self._slot(man)
        if man.get("format") == "bytes":  # stored as they came (undecodable): handed back the same
            with fm.open_read(**slot) as f:
                return bytes(f.read())
        serializer = ResultRecordMetadata.model_validate(rec.metadata).serializer if rec.metadata else None
        if rec.record:
            meta = ResultRecordMetadata.model_validate(rec.metadata)
            return ResultRecord(metadata=meta, result=fm.read(**slot)).serialize()
        if serializer is None or serializer.type == "fsmirror":
            with fm.open_read(**slot) as f:
                data = f.read()
            return Encoded(data, str(man["format"]), str(man.get("python_type", "")))
        return serializer.dumps(fm.read(**slot))

    # Prefect declares these async but calls them as write_path(key, _sync=True, content=...)
    # on its sync path and awrite_path / aread_path on its async path: both are given.
    def write_path(self, path: str, content: bytes, **_: Any) -> str:  # type: ignore[override]
        """Store ``content`` under ``path`` (a result key); raises if it cannot.

        Accepts Prefect's ``_sync=True`` and any other keyword it adds.
        """
        return self._write(path, content)

    def read_path(self, path: str, **_: Any) -> bytes:  # type: ignore[override]
        """The bytes stored under ``path`` (a result key)."""
        return self._read(path)

    async def awrite_path(self, path: str, content: bytes) -> str:
        """Async twin of :meth:`write_path` (runs the same code in a worker thread)."""
        return await anyio.to_thread.run_sync(self._write, path, content)

    async def aread_path(self, path: str) -> bytes:
        """Async twin of :meth:`read_path`."""
        return await anyio.to_thread.run_sync(self._read, path)

    def manifest_for(self, key: str) -> Mapping[str, Any]:
        """The fsmirror manifest of the result stored under ``key``."""
        fm = self.fsmirror()
        directory, rec = self._find(fm, key)
        man = _records.committed_manifest(fm, directory, fm.settings.output_name)
        if man is None or rec.failed is not None:
            raise ArtifactNotFoundError(f"no committed result under key {key!r} (at {directory})")
        return fm.manifest(**self._slot(man))
