"""The artifact store: atomic, no-clobber writes and reads through fsspec.

Commit protocol (the manifest is the commit marker)::

    claim  ->  data (whole or nothing)  ->  manifest  ->  latest pointer  ->  release

- local: writers of one artifact serialize on an ``flock`` (released by the
  kernel when a writer dies, so a crash never blocks the next write); data is
  written to a temp file under ``<tenant>/.fsmirror/tmp`` and moved into place
  with ``os.replace``.
- object stores (s3, gcs, blob): the claim is an object created with fsspec's
  no-clobber ``mode="create"`` (S3 ``If-None-Match``, GCS ``ifGenerationMatch=0``,
  Azure ``overwrite=False``), so of racing writers exactly one proceeds. Data
  goes up as one PUT or one completed multipart upload; an aborted upload
  leaves nothing. A claim whose writer died is stale after ``storage.claim_ttl``
  seconds (or is taken over by ``overwrite=True``).
- memory: the same protocol, in process.

Claims, locks and temp files live under ``<tenant>/.fsmirror`` (local) or
``<tenant>/_fsmirror`` (object stores), never beside an artifact.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import io
import json
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from .errors import ArtifactExistsError, ArtifactNotFoundError, StorageError
from .manifest import manifest_name

if TYPE_CHECKING:
    from ._schema import Storage

__all__ = ["PROTOCOLS", "Slot", "ArtifactStore", "HashingWriter"]

PROTOCOLS = {"local": "file", "memory": "memory", "s3": "s3", "gcs": "gcs", "blob": "az"}
EXTRAS = {"s3": "s3", "gcs": "gcs", "blob": "azure"}
_ASYNC_HASH_MIN = 1024 * 1024
_SINGLE_PUT_MAX = 8 * 1024 * 1024
_hash_pool: concurrent.futures.ThreadPoolExecutor | None = None
_hash_pool_lock = threading.Lock()
_ORPHANED_CLAIMS: set[str] = set()  # claims this process could not release (the store was down)


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _hash_pool
    with _hash_pool_lock:
        if _hash_pool is None:
            _hash_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fsmirror-hash")
        return _hash_pool


class HashingWriter(io.RawIOBase):
    """Pass bytes through to ``f`` while hashing them, without a second pass.

    Immutable chunks are hashed on a worker thread while the caller goes on
    producing the next one (hashlib releases the GIL), so hashing hides behind
    serialization and I/O instead of adding to it. pyarrow writes a parquet
    file as many ~64 KB pages, so small chunks are batched (references only,
    no copy) and handed to the worker about once a megabyte: one hand-off per
    chunk would cost more than the hashing it hides.
    """

    def __init__(self, f: Any) -> None:
        self._f = f
        self._h = hashlib.sha256()
        self._pending: concurrent.futures.Future[None] | None = None
        self._batch: list[bytes] = []
        self._batched = 0
        self.size = 0
        self.manifest: dict[str, Any] | None = None

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        n = len(b) if isinstance(b, bytes) else memoryview(b).nbytes
        if isinstance(b, bytes):
            self._batch.append(b)
            self._batched += n
            if self._batched >= _ASYNC_HASH_MIN:
                self._submit()
        else:  # a mutable buffer may change once write() returns: hash it now, in order
            self._drain()
            self._h.update(b)
        self._f.write(b)
        self.size += n
        return n

    def _submit(self) -> None:
        batch, prev, h = self._batch, self._pending, self._h
        self._batch, self._batched = [], 0

        def update() -> None:
            if prev is not None:
                prev.result()
            for chunk in batch:
                h.update(chunk)

        self._pending = _pool().submit(update)

    def _drain(self) -> None:
        if self._pending is None:  # small artifact: no thread hop
            for chunk in self._batch:
                self._h.update(chunk)
        else:
            self._submit()
            assert self._pending is not None
            self._pending.result()
            self._pending = None
        self._batch, self._batched = [], 0

    def hexdigest(self) -> str:
        self._drain()
        return self._h.hexdigest()

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._f.flush()


class _SpillToUpload(io.RawIOBase):
    """Hold the first ``_SINGLE_PUT_MAX`` bytes in memory; past that, open the multipart upload.

    Most artifacts are small, and a deferred multipart upload costs three
    requests (create, part, complete) where one PUT does; big ones still stream.
    """

    def __init__(self, open_upload: Callable[[], Any], uri: str = "") -> None:
        self._open_upload = open_upload
        self._uri = uri
        self.buffer = io.BytesIO()
        self.upload: Any = None

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        with _translate(self._uri, "write"):  # a part upload failing mid-stream names the artifact
            if self.upload is None:
                n = self.buffer.write(b)
                if self.buffer.tell() > _SINGLE_PUT_MAX:
                    self.upload = self._open_upload()
                    self.upload.write(self.buffer.getbuffer())
                    self.buffer = io.BytesIO()
                return n
            return int(self.upload.write(b))


class _GuardedFile:
    """A local temp file whose write errors (a full disk: ENOSPC, EFBIG) are StorageErrors naming the artifact."""

    def __init__(self, f: Any, uri: str) -> None:
        self._f = f
        self._uri = uri

    def write(self, b: Any) -> int:
        with _translate(self._uri, "write"):
            return int(self._f.write(b))

    def flush(self) -> None:
        with _translate(self._uri, "write"):
            self._f.flush()


@dataclass(frozen=True)
class Slot:
    """Where one artifact lives: its directory, its series (for the pointer) and its output name."""

    dir: str
    series: str
    output_name: str

    @property
    def manifest(self) -> str:
        return f"{self.dir}/{manifest_name(self.output_name)}"

    @property
    def pointer(self) -> str:
        return f"{self.series}/_latest.{self.output_name}.json"

    def file(self, ext: str) -> str:
        return f"{self.dir}/{self.output_name}.{ext}"


def make_filesystem(storage: Storage) -> Any:
    """The fsspec filesystem for a storage config; a missing driver names the extra to install."""
    import fsspec

    proto = PROTOCOLS[storage.provider]
    try:
        if storage.provider == "local":
            return fsspec.filesystem("file", auto_mkdir=True)
        # No listing cache: a listing this process made earlier (runs(), gc) would make exists()
        # deny a manifest another process committed since, a false "not committed".
        return fsspec.filesystem(proto, **{"use_listings_cache": False, **storage.storage_options})
    except ImportError as e:
        extra = EXTRAS.get(storage.provider, storage.provider)
        raise StorageError(
            f"provider {storage.provider!r} needs the {proto!r} fsspec driver: pip install 'fsmirror[{extra}]'"
        ) from e
    except Exception as e:
        raise StorageError(
            f"cannot set up the {storage.provider!r} filesystem for tenant {storage.tenant!r}: "
            f"{type(e).__name__} (check storage.storage_options)"
        ) from e


class ArtifactStore:
    """Commit, read, list and delete artifacts for one storage config."""

    def __init__(self, storage: Storage, base: str) -> None:
        self.provider = storage.provider
        self.claim_ttl = storage.claim_ttl
        self.fs = make_filesystem(storage)
        self.local = storage.provider == "local"
        if self.local:
            tenant = os.path.abspath(storage.tenant)
            self._scratch = os.path.join(tenant, ".fsmirror")
        else:
            scheme = base.split("://", 1)[0]
            self._scratch = f"{scheme}://{storage.tenant}/_fsmirror"
        self._mem_lock = threading.Lock()
        # s3fs's cat_file first asks for the size (HEAD, and a LIST when the key is
        # missing) to split big reads; bookkeeping files are tiny: one GET.
        self._small_read: dict[str, Any] = {"max_concurrency": 1} if self.provider == "s3" else {}

    # -- small primitives --------------------------------------------------------

    def _guard(self, uri: str, what: str) -> contextlib.AbstractContextManager[None]:
        return _translate(uri, what)

    def read_bytes(self, uri: str) -> bytes:
        with self._guard(uri, "read"):
            return bytes(self.fs.cat_file(uri, **self._small_read))

    def read_json(self, uri: str) -> dict[str, Any] | None:
        """The JSON object at ``uri``, or None when there is none."""
        try:
            data = self.read_bytes(uri)
        except ArtifactNotFoundError:
            return None
        try:
            value = json.loads(data)
        except ValueError as e:
            raise StorageError(f"{uri} is not valid JSON (damaged bookkeeping file?): {e}") from e
        return value if isinstance(value, dict) else None

    def exists(self, uri: str) -> bool:
        with self._guard(uri, "check"):
            return bool(self.fs.exists(uri))

    def put_json(self, uri: str, data: Mapping[str, Any], *, create: bool = False) -> None:
        payload = json.dumps(data, indent=1, sort_keys=True).encode()
        if self.local:
            self._local_replace(uri, lambda f: f.write(payload))
            return
        with self._guard(uri, "write"):
            self.fs.pipe_file(uri, payload, mode="create" if create else "overwrite")

    def put_pointer(self, uri: str, data: Mapping[str, Any]) -> None:
        """Replace the ``latest`` pointer.

        Local: unlink, then rename the new file into place. Renaming over an
        existing file makes ext4 (auto_da_alloc) flush the new file's data
        first, which was most of a small local write's time; for the moment
        the pointer is missing, ``latest()`` on local storage lists instead.
        """
        if not self.local:
            self.put_json(uri, data)
            return
        payload = json.dumps(data, indent=1, sort_keys=True).encode()
        with self._guard(uri, "write"):
            tmp = self._tmp_path(".part")
            try:
                with open(tmp, "wb") as f:
                    f.write(payload)
                os.makedirs(os.path.dirname(uri), exist_ok=True)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(uri)
                os.replace(tmp, uri)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def remove(self, uri: str) -> bool:
        try:
            with self._guard(uri, "delete"):
                self.fs.rm_file(uri)
            return True
        except ArtifactNotFoundError:
            return False

    def open_read(self, uri: str) -> BinaryIO:
        with self._guard(uri, "open"):
            return self.fs.open(uri, "rb")  # type: ignore[no-any-return]

    # -- local -------------------------------------------------------------------

    def _tmp_path(self, suffix: str = "") -> str:
        d = os.path.join(self._scratch, "tmp")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, f"{uuid.uuid4().hex}{suffix}")

    def _local_replace(self, path: str, dump: Callable[[BinaryIO], Any]) -> Any:
        """Write via a temp file and ``os.replace``: readers see the old file or the new one."""
        with self._guard(path, "write"):
            tmp = self._tmp_path(".part")
            try:
                with open(tmp, "wb") as f:
                    result = dump(f)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            return result

    def _lock_fd(self, slot: Slot) -> int:
        """The slot's lock file, opened (locks live outside the tree readers list)."""
        with self._guard(slot.manifest, "lock"):
            d = os.path.join(self._scratch, "locks")
            os.makedirs(d, exist_ok=True)
            name = hashlib.sha256(slot.manifest.encode()).hexdigest()[:32]
            return os.open(os.path.join(d, name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)

    @contextlib.contextmanager
    def _local_lock(self, slot: Slot) -> Iterator[None]:
        import fcntl

        fd = self._lock_fd(slot)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock; the kernel does it for a killed writer too

    @contextlib.contextmanager
    def holding(self, slot: Slot) -> Iterator[bool]:
        """Hold a slot's write lock (local) or claim (object stores) without waiting.

        Yields False when a writer holds it: a caller that deletes (``gc``) then
        leaves that run alone instead of racing a write in progress.
        """
        if self.local:
            import fcntl

            fd = self._lock_fd(slot)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                yield True
            finally:
                os.close(fd)
            return
        claim = self._claim_uri(slot)
        token = uuid.uuid4().hex
        held_by = {"token": token, "host": socket.gethostname(), "pid": os.getpid(), "at": time.time()}
        payload = json.dumps(held_by).encode()
        if not self._try_create(claim, payload):
            yield False
            return
        try:
            yield True
        finally:
            held = self.read_json(claim)
            if held is not None and held.get("token") == token:
                self.remove(claim)

    # -- object stores -----------------------------------------------------------

    def _claim_uri(self, slot: Slot) -> str:
        return f"{self._scratch}/claims/{hashlib.sha256(slot.manifest.encode()).hexdigest()[:32]}.json"

    def _try_create(self, uri: str, payload: bytes) -> bool:
        try:
            with self._guard(uri, "claim"):
                if self.provider == "memory":
                    with self._mem_lock:
                        if self.fs.exists(uri):
                            return False
                        self.fs.pipe_file(uri, payload)
                        return True
                self.fs.pipe_file(uri, payload, mode="create")
            return True
        except ArtifactExistsError:
            return False

    @contextlib.contextmanager
    def _object_claim(self, slot: Slot, overwrite: bool) -> Iterator[None]:
        claim = self._claim_uri(slot)
        token = {
            "token": uuid.uuid4().hex,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "at": time.time(),
        }
        payload = json.dumps(token).encode()
        try:
            created = self._try_create(claim, payload)
        except ArtifactNotFoundError:
            raise
        except StorageError as e:
            raise StorageError(f"cannot start writing {slot.dir}/{slot.output_name}.*: {e}") from e
        if not created:
            if not overwrite and self.exists(slot.manifest):
                raise ArtifactExistsError(
                    f"{slot.manifest} is committed already; pass overwrite=True to replace it"
                )
            held = self.read_json(claim) or {}
            age = time.time() - float(held.get("at", 0))
            if overwrite or age > self.claim_ttl or held.get("token") in _ORPHANED_CLAIMS:
                self.remove(claim)
                if not self._try_create(claim, payload):
                    raise ArtifactExistsError(f"another writer took {slot.dir} at the same moment")
            else:
                raise ArtifactExistsError(
                    f"a write of {slot.dir}/{slot.output_name}.* is in progress (claimed {age:.0f}s ago by "
                    f"{held.get('host')}:{held.get('pid')}); if that writer died, the claim expires after "
                    f"storage.claim_ttl={self.claim_ttl:g}s, or pass overwrite=True"
                )
        try:
            yield
        finally:
            try:
                now_held = self.read_json(claim)
                if now_held is not None and now_held.get("token") == token["token"]:
                    self.remove(claim)
            except StorageError:
                # The store went away: keep the write's own outcome (its error, or its commit)
                # and let this process take the claim back on a retry instead of waiting claim_ttl.
                _ORPHANED_CLAIMS.add(str(token["token"]))

    @contextlib.contextmanager
    def _object_sink(self, uri: str) -> Iterator[HashingWriter]:
        """A writer whose bytes appear at ``uri`` only on a clean exit."""
        if self.provider in ("s3", "gcs"):
            spill = _SpillToUpload(lambda: self._open_upload(uri), uri)
            try:
                w = HashingWriter(spill)
                yield w
                w.hexdigest()
                with self._guard(uri, "write"):
                    if spill.upload is None:  # small: one PUT, atomic, instead of a 3-request multipart
                        self.fs.pipe_file(uri, spill.buffer.getvalue())
                    else:
                        spill.upload.close()
                        spill.upload.commit()
            except BaseException:
                if spill.upload is not None:
                    with contextlib.suppress(Exception):
                        spill.upload.discard()
                raise
            return
        if self.provider == "memory":
            buf = io.BytesIO()
            w = HashingWriter(buf)
            yield w
            w.hexdigest()
            with self._guard(uri, "write"):
                self.fs.pipe_file(uri, buf.getvalue())
            return
        # blob: spool to a local temp file, then one upload (Azure commits the block list at once)
        with tempfile.NamedTemporaryFile(prefix="fsmirror-", suffix=".part") as spool:
            w = HashingWriter(spool)
            yield w
            w.hexdigest()
            spool.flush()
            with self._guard(uri, "write"):
                self.fs.put_file(spool.name, uri)

    def _open_upload(self, uri: str) -> Any:
        with self._guard(uri, "write"):
            return self.fs.open(uri, "wb", autocommit=False)

    # -- commit ------------------------------------------------------------------

    @contextlib.contextmanager
    def _local_sink(self, path: str) -> Iterator[HashingWriter]:
        """A writer whose bytes appear at ``path`` (by ``os.replace``) only on a clean exit."""
        with self._guard(path, "write"):
            tmp = self._tmp_path(".part")
            f = open(tmp, "wb")  # noqa: SIM115 - closed on every path below
        try:
            w = HashingWriter(_GuardedFile(f, path))
            yield w
            w.hexdigest()
            with self._guard(path, "write"):
                f.close()
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                f.close()
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def writing(
        self,
        slot: Slot,
        ext: str,
        make_manifest: Callable[[str, int, str], dict[str, Any]],
        *,
        overwrite: bool,
    ) -> Iterator[HashingWriter]:
        """Yield a writer; on a clean exit the bytes and their manifest are committed.

        After the block, the writer's ``manifest`` attribute holds the committed manifest.
        """
        uri = slot.file(ext)
        guard = self._local_lock(slot) if self.local else self._object_claim(slot, overwrite)
        with guard:
            old = self.read_json(slot.manifest)
            if old is not None and not overwrite:
                run = (old.get("run") or {}).get("id")
                raise ArtifactExistsError(
                    f"{old.get('uri', uri)} is committed already (run {run!r}); pass overwrite=True to replace it"
                )
            sink = self._local_sink(uri) if self.local else self._object_sink(uri)
            with sink as w:
                yield w
                if old is not None:
                    # Uncommit before the new bytes land: a crash between the data and the
                    # manifest must not leave the old manifest vouching for the new bytes.
                    self.remove(slot.manifest)
            manifest = make_manifest(uri, w.size, w.hexdigest())
            self.put_json(slot.manifest, manifest)
            self._drop_replaced(old, uri)
        self._advance_pointer(slot, manifest)
        w.manifest = manifest

    def _drop_replaced(self, old: Mapping[str, Any] | None, uri: str) -> None:
        """After an overwrite that changed the extension, remove the old data file."""
        if old and old.get("uri") and old["uri"] != uri:
            self.remove(str(old["uri"]))

    def _advance_pointer(self, slot: Slot, manifest: Mapping[str, Any]) -> None:
        current = self.read_json(slot.pointer)
        if current and str(current.get("created_at", "")) > str(manifest["created_at"]):
            return  # a newer run committed while we wrote
        self.put_pointer(slot.pointer, pointer_record(slot, manifest))

    # -- listing -----------------------------------------------------------------

    def cat_many(self, paths: list[str]) -> dict[str, bytes]:
        """Read many small files at once (concurrently on async stores); missing ones are skipped."""
        with self._guard(paths[0] if paths else "", "read"):
            out = self.fs.cat(paths, on_error="omit")
        return {k: bytes(v) for k, v in dict(out).items()}

    def find(self, prefix: str) -> dict[str, dict[str, Any]]:
        """Every file under ``prefix`` with its listing info (one recursive listing)."""
        try:
            with self._guard(prefix, "list"):
                found = self.fs.find(prefix, detail=True)
        except ArtifactNotFoundError:
            return {}
        return dict(found)


def pointer_record(slot: Slot, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What the ``latest`` pointer holds: enough to find the run without listing."""
    return {
        "run_id": manifest["run"]["id"],
        "segment": manifest["run"]["segment"],
        "uri": manifest["uri"],
        "manifest": slot.manifest,
        "created_at": manifest["created_at"],
    }


def mtime_of(info: Mapping[str, Any]) -> float:
    """Modification time from any fsspec backend's listing info, as epoch seconds."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return float(value)
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        if isinstance(value, str):
            import datetime as _dt

            with contextlib.suppress(ValueError):
                return _dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return 0.0


@contextlib.contextmanager
def _translate(uri: str, what: str) -> Iterator[None]:
    """Backend errors -> fsmirror errors that name the URI, the cause chained."""
    try:
        yield
    except (ArtifactExistsError, ArtifactNotFoundError, StorageError):
        raise
    except FileExistsError as e:
        raise ArtifactExistsError(f"cannot {what} {uri}: it exists already") from e
    except FileNotFoundError as e:
        raise ArtifactNotFoundError(f"cannot {what} {uri}: not found") from e
    except PermissionError as e:
        raise StorageError(f"cannot {what} {uri}: permission denied ({e.strerror or e})") from e
    except OSError as e:
        raise StorageError(f"cannot {what} {uri}: {e.strerror or e}") from e
    except Exception as e:
        if type(e).__name__ in ("PreconditionFailed",) or "PreconditionFailed" in str(e):
            raise ArtifactExistsError(f"cannot {what} {uri}: it exists already") from e
        raise StorageError(f"cannot {what} {uri}: {type(e).__name__}: {e}") from e
