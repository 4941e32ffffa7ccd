"""The result storage block and serializer: Prefect results as real files at mirrored paths.

Prefect hands a storage block a key and bytes. To make those bytes a real
artifact (parquet that pyarrow reads, a plain pickle), two things cooperate:

- :class:`FSMirrorSerializer` turns a result into the mirror's own format
  (fsmirror's format registry, with its fallback rule) instead of Prefect's
  base64 JSON envelope.
- :class:`FSMirrorStorage` puts those bytes at the task's mirrored path
  through :meth:`fsmirror.FSMirror.open_write` (atomic, no clobber, manifest).
  A second instance with ``role="metadata"`` keeps Prefect's own result
  metadata beside the artifact (``_out.prefect.json``), which is what makes
  Prefect write the result bytes separately in the first place.

Where a result goes is read from its key. :func:`fsmirror_prefect.mirrored_task`
makes keys that carry the code address and the flow run id
(``fsmirror:<flow run id>:<digest>:<partition>:<code address>``), so any process can find
the file from the key alone. Any other key (a flow's own result, a plain
``@task`` pointed at this block) is placed by the Prefect run context and
remembered in a small key record under ``<mirror base>/_prefect/keys/``.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple
from urllib.parse import quote, unquote

import anyio.to_thread
from prefect.context import FlowRunContext, TaskRunContext
from prefect.filesystems import WritableFileSystem
from prefect.serializers import Serializer
from pydantic import Field, PrivateAttr

from fsmirror import FSMirror, StorageError
from fsmirror.address import address_of
from fsmirror.errors import ArtifactExistsError, ArtifactNotFoundError, FormatError
from fsmirror.hashing import hash_bytes

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["FSMirrorStorage", "FSMirrorSerializer", "Encoded", "Where", "make_key", "parse_key", "KEY_PREFIX"]

KEY_PREFIX = "fsmirror:"
PARQUET_MAGIC = b"PAR1"
PICKLE_MAGIC = b"\x80"  # every pickle of protocol 2 or later starts with PROTO
TEXT_FORMATS = frozenset({"json", "csv", "txt"})


class Where(NamedTuple):
    """Where a result lives: fsmirror's (object, run id, partition), plus ids for the manifest."""

    address: str
    run_id: str
    partition: str | None
    ids: dict[str, Any]


def make_key(run_id: str, digest: str | None, address: str, partition: str | None = None) -> str:
    """A storage key that says where its artifact lives, so no lookup table is needed.

    The code address goes last: it contains ``::`` (and may contain ``:`` on
    Windows); the run id and the digest never do, and the partition is
    percent-encoded.
    """
    part = "" if partition is None else quote(partition, safe="")
    return f"{KEY_PREFIX}{run_id}:{digest or '-'}:{part}:{address}"


def parse_key(key: str) -> tuple[str, str, str | None, str] | None:
    """(run id, digest, partition, code address) of a key made by :func:`make_key`, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    parts = key[len(KEY_PREFIX) :].split(":", 3)
    if len(parts) != 4 or not parts[0] or "::" not in parts[3]:
        return None
    return parts[0], parts[1], (unquote(parts[2]) if parts[2] else None), parts[3]


class Encoded(bytes):
    """Result bytes that also say which fsmirror format they are in.

    Prefect passes the serializer's output to the block untouched, so the block
    learns the format (the file's extension) without sniffing; on the way back
    the block hands the manifest's format to the serializer the same way. Plain
    ``bytes`` still work everywhere: the attributes are a shortcut, not a
    requirement.
    """

    format: str
    python_type: str

    def __new__(cls, data: bytes | memoryview, format: str, python_type: str = "") -> Encoded:
        self = super().__new__(cls, data)
        self.format = format
        self.python_type = python_type
        return self


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
    pickle) by fsmirror's one rule; ``strict`` makes that an error instead.
    """

    type: str = Field(default="fsmirror", frozen=True)
    format: str = Field(default="pkl", description="The mirror's output format, e.g. parquet.")
    strict: bool = Field(default=False, description="Fail instead of falling back to json or pkl.")
    allow_pickle: bool = Field(default=True, description="Whether pickle may be written and read.")

    def dumps(self, obj: Any) -> bytes:
        from fsmirror.formats import choose_format, python_type

        if self.format == "bytes":
            raise FormatError(
                "a Prefect result cannot use the 'bytes' format: the file could not say whether it "
                "holds raw bytes or a fallback pickle; use a mirror with output_format 'pkl' or 'parquet'"
            )
        fmt, _ = choose_format(obj, None, self.format, strict=self.strict, allow_pickle=self.allow_pickle)
        buf = io.BytesIO()
        fmt.dump(obj, buf)
        return Encoded(buf.getbuffer(), fmt.name, python_type(obj))

    def loads(self, blob: bytes) -> Any:
        from fsmirror.formats import get_format

        name = getattr(blob, "format", None) or _sniff(blob, self.format)
        if name == "pkl" and not self.allow_pickle:
            raise FormatError("this result is a pickle and the serializer sets allow_pickle=False")
        fmt = get_format(name)
        kind = getattr(blob, "python_type", "") or ""
        if name == "parquet" and kind in ("", "builtins.bytes"):
            # The manifest of a streamed write cannot know the Python type: parquet's
            # own schema says whether a pandas DataFrame was written.
            table = fmt.load(io.BytesIO(blob), {"python_type": "pyarrow.Table"})
            return table.to_pandas() if table.schema.pandas_metadata else table
        return fmt.load(io.BytesIO(blob), {"python_type": kind})


def _run_context() -> tuple[Any, str, dict[str, Any]]:
    """(the user's function, the flow run id, the ids to record) from the Prefect run in progress."""
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
        fn = inspect.unwrap(task_ctx.task.fn)
        return fn, str(ids.get("flow_run_id") or run.id), ids
    if flow_ctx is not None and flow_ctx.flow is not None and flow_ctx.flow_run is not None:
        return inspect.unwrap(flow_ctx.flow.fn), str(flow_ctx.flow_run.id), ids
    raise StorageError(
        "fsmirror-storage was asked to store a result whose key does not say where it goes "
        "and no Prefect flow or task run is in progress; use @mirrored_task / @mirrored_flow"
    )


class FSMirrorStorage(WritableFileSystem):
    """Store Prefect results as real files at paths that mirror the code that made them.

    A task ``lift_data`` in ``project/etl/pipeline.py`` stores its result at
    ``<tenant>/project/etl/pipeline/<flow run id>/lift_data/out.parquet`` with an
    fsmirror manifest beside it. Use it through ``mirrored_task`` /
    ``mirrored_flow``; as a plain ``result_storage`` it places results by the
    run context.

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

    _fm: Any = PrivateAttr(default=None)

    def fsmirror(self) -> FSMirror:
        """The configured :class:`fsmirror.FSMirror` (built once; a bad config raises ConfigError here)."""
        if self._fm is None:
            self._fm = FSMirror(config=self.config_path, mirror=self.mirror)
        return self._fm  # type: ignore[no-any-return]

    def as_metadata_storage(self) -> FSMirrorStorage:
        """The twin that keeps Prefect's result metadata beside each result file."""
        twin = FSMirrorStorage(mirror=self.mirror, config_path=self.config_path, role="metadata")
        twin._fm = self._fm
        return twin

    # -- where a key's artifact lives -----------------------------------------------

    def _key_record_uri(self, fm: FSMirror, key: str) -> str:
        return f"{fm.base}/_prefect/keys/{hashlib.sha256(key.encode()).hexdigest()}.json"

    def _locate(self, key: str, *, writing: bool) -> Where:
        """Where ``key``'s result lives: from the key itself, else the run context or the key record."""
        fm = self.fsmirror()
        parsed = parse_key(key)
        ids: dict[str, Any] = {}
        if writing:
            try:
                fn, run_id, ids = _run_context()
            except StorageError:
                if parsed is None:
                    raise
            else:
                if parsed is None:
                    return Where(str(address_of(fn)), run_id, None, ids)
        if parsed is not None:
            run_id, _, partition, address = parsed
            ids.setdefault("flow_run_id", run_id)
            return Where(address, run_id, partition, ids)
        record = self._read_json(fm, self._key_record_uri(fm, key))
        if record is None:
            raise ArtifactNotFoundError(f"no result stored under key {key!r} in {fm.base}")
        return Where(str(record["address"]), str(record["run_id"]), record.get("partition"), ids)

    @staticmethod
    def _read_json(fm: FSMirror, uri: str) -> dict[str, Any] | None:
        try:
            data = fm.filesystem.cat_file(uri)
        except FileNotFoundError:
            return None
        value = json.loads(data)
        return value if isinstance(value, dict) else None

    def _metadata_uri(self, fm: FSMirror, where: Where) -> str:
        directory = fm.mirror_full(where.address, run_id=where.run_id, partition=where.partition)
        return f"{directory}/_{fm.settings.output_name}.prefect.json"

    # -- the one implementation behind the sync and async twins ---------------------

    def _write(self, key: str, content: bytes) -> str:
        fm = self.fsmirror()
        where = self._locate(key, writing=True)
        if self.role == "metadata":
            uri = self._metadata_uri(fm, where)
            fm.filesystem.pipe_file(uri, bytes(content))
            return uri
        fmt = getattr(content, "format", None) or _sniff(content, fm.settings.output_format)
        ids = {**where.ids, "result_key": key}
        try:
            with fm.open_write(
                where.address,
                run_id=where.run_id,
                partition=where.partition,
                format=fmt,
                run_source="prefect",
                orchestrator=ids,
            ) as w:
                w.write(content)
            assert w.manifest is not None
            uri = w.manifest.uri
        except ArtifactExistsError:
            # The same bytes again (mirrored_flow persists before Prefect's own write
            # does, under another key) are already stored; anything else is a clash.
            man = fm.manifest(where.address, run_id=where.run_id, partition=where.partition)
            recorded = man["hash"]
            if recorded["digest"] != hash_bytes(bytes(content), recorded["algorithm"]):
                raise
            uri = str(man["uri"])
        if parse_key(key) is None:
            record = {"key": key, "address": where.address, "run_id": where.run_id, "partition": None}
            fm.filesystem.pipe_file(self._key_record_uri(fm, key), json.dumps(record).encode())
        return uri

    def _read(self, key: str) -> bytes:
        fm = self.fsmirror()
        where = self._locate(key, writing=False)
        if self.role == "metadata":
            uri = self._metadata_uri(fm, where)
            try:
                data = bytes(fm.filesystem.cat_file(uri))
            except FileNotFoundError as e:
                raise ArtifactNotFoundError(f"no Prefect metadata for key {key!r} at {uri}") from e
            if json.loads(data).get("storage_key") != key:
                # Same task and flow run, other inputs: not this key's result.
                raise ArtifactNotFoundError(f"{uri} holds the result of another key than {key!r}")
            return data
        man = fm.manifest(where.address, run_id=where.run_id, partition=where.partition)
        with fm.open_read(where.address, run_id=where.run_id, partition=where.partition) as f:
            data = f.read()
        return Encoded(data, str(man["format"]), str(man.get("python_type", "")))

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
        where = self._locate(key, writing=False)
        return self.fsmirror().manifest(where.address, run_id=where.run_id, partition=where.partition)
