"""Backends: the store's requests, one method each, behind one interface.

The protocol (:mod:`fsmirror.protocol`) is written once against
:class:`Backend`; each backend turns a method into exactly one request (a PUT,
GET, HEAD, LIST, DELETE or COPY on an object store; one file-system operation
on local disk), so request counts in ``docs/protocol.md`` are method counts and
a fault injector that wraps a backend sees every request.

Conditional requests are the only synchronization:

- ``put(if_absent=True)``: S3 ``If-None-Match: *``; GCS ``ifGenerationMatch=0``;
  Azure ``overwrite=False``; local ``link(2)`` of a finished temp file;
  memory, under one process-wide lock.
- ``put(if_match=etag)`` / ``delete(if_match=etag)``: S3 ``If-Match``; local and
  memory compare-and-swap under a lock; GCS and Azure compare then act (see
  ``docs/protocol.md``, "Known limits").

Local backends also have ``slot_lock``: an ``flock`` keyed by the canonical
(real) path, held by a writer for its whole write and released by the kernel
when the writer dies, so a dead local writer never blocks the next one.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import (
    ArtifactExistsError,
    ArtifactNotFoundError,
    FSMirrorError,
    IntegrityError,
    ResolveError,
    StorageError,
)
from ..paths import names
from ..paths.providers import PROVIDERS, by_scheme, provider

if TYPE_CHECKING:
    from ..model.schema import Storage

__all__ = [
    "PROTOCOLS",
    "Stat",
    "Blob",
    "PreconditionFailed",
    "Backend",
    "LocalBackend",
    "S3Backend",
    "FsspecBackend",
    "make_backend",
    "make_filesystem",
    "translate",
    "SINGLE_PUT_MAX",
]

PROTOCOLS = {
    name: p.protocol for name, p in PROVIDERS.items()
}  # provider -> fsspec protocol (from the table)
SINGLE_PUT_MAX = 8 * 1024 * 1024
PARALLEL_MAX = 32  # requests one S3Backend.parallel keeps in flight (and threads it starts)
_MEMORY_LOCK = threading.RLock()  # fsspec's memory store is process-global, so is its lock
# GCS and Azure compare then act: one lock per tenant for the whole process, so every FSMirror of
# the process (each has its own backend) is one writer to the others, not only within one FSMirror.
_TENANT_LOCKS: dict[tuple[str, str], threading.RLock] = {}
_TENANT_LOCKS_GUARD = threading.Lock()


def _tenant_lock(scheme: str, tenant: str) -> threading.RLock:
    with _TENANT_LOCKS_GUARD:
        return _TENANT_LOCKS.setdefault((scheme, tenant), threading.RLock())


def _forget_tenant_locks() -> None:
    """A fork child starts with fresh locks: one held by another thread at fork time never frees."""
    global _TENANT_LOCKS_GUARD
    _TENANT_LOCKS_GUARD = threading.Lock()
    _TENANT_LOCKS.clear()


os.register_at_fork(after_in_child=_forget_tenant_locks)


class PreconditionFailed(Exception):
    """A conditional request lost: the object exists (if_absent) or changed (if_match)."""


@dataclass(frozen=True)
class Stat:
    path: str
    size: int
    etag: str
    mtime: float


@dataclass(frozen=True)
class Blob:
    data: bytes
    etag: str
    mtime: float


@contextlib.contextmanager
def translate(uri: str, what: str) -> Iterator[None]:
    """Backend errors -> fsmirror errors that name the URI, the cause chained."""
    try:
        yield
    except (FSMirrorError, PreconditionFailed):
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
        raise StorageError(f"cannot {what} {uri}: {type(e).__name__}: {e}") from e


def _error_codes(e: BaseException) -> set[str]:
    """The store's own error codes (botocore's ``response["Error"]["Code"]``) on ``e`` and its causes.

    s3fs translates a ``ClientError`` into a builtin error whose message is the server's prose
    and chains the ``ClientError`` as the cause: the code is read there, never from the text.
    """
    codes = set()
    seen: BaseException | None = e
    while seen is not None:
        resp = getattr(seen, "response", None)
        if isinstance(resp, dict):
            codes.add(str(resp.get("Error", {}).get("Code", "")))
        seen = seen.__cause__ or seen.__context__
    return codes - {""}


def _is_precondition(e: BaseException) -> bool:
    if _error_codes(e) & {"PreconditionFailed", "412", "ConditionalRequestConflict", "ConditionNotMet"}:
        return True
    seen: BaseException | None = e
    while seen is not None:
        status = getattr(seen, "status_code", None) or getattr(seen, "code", None)
        if status == 412 or type(seen).__name__ in ("PreconditionFailed", "ResourceModifiedError"):
            return True
        if isinstance(seen, FileExistsError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _refuse_syntax(path: str, driver: str, bucket: str, key: str, got: tuple[Any, ...]) -> None:
    """Refuse a path the fsspec driver would not address as (bucket, key), before any request.

    Drivers read URL syntax in a path: s3fs cuts a key at ``?versionId=``, adlfs at
    ``?versionid=`` and drops a ``#fragment``, gcsfs (version aware) reads ``#`` and
    ``?generation=``. Such a key would reach another object than the one named (one write
    of ``.../out.bytes?versionId=z/...`` replaced another task's bytes), so the driver's
    own split is asked first, locally, and any disagreement is refused.
    """
    d_bucket, d_key, version = (*got, None, None, None)[:3]
    if (str(d_bucket), str(d_key).rstrip("/")) != (bucket, key.rstrip("/")) or version:
        raise ResolveError(
            f"refusing {path!r}: the {driver} driver reads it as bucket {d_bucket!r}, key {d_key!r}"
            + (f", version {version!r}" if version else "")
            + " (URL syntax such as '?versionId=' or '#' in a name): rename the task, module or run",
            kind="malformed-address",
        )


class Backend:
    """One request per method. Paths are full URIs/paths as :class:`fsmirror.FSMirror` builds them."""

    local = False
    exclusive = False  # True: holding slot_lock means no live writer of that slot exists
    # The methods that are requests to the store (what docs/protocol.md counts and a fault
    # injector may fail); the others (spool, parallel, slot_lock, check_inside, ...) are local.
    REQUESTS = frozenset(
        {
            "get", "head", "put", "put_file", "store", "delete", "copy", "move", "update",
            "listing", "list_names", "open",
        }
    )  # fmt: skip

    def get(self, path: str) -> Blob | None:
        raise NotImplementedError

    def head(self, path: str) -> Stat | None:
        raise NotImplementedError

    def put(
        self,
        path: str,
        data: bytes,
        *,
        if_absent: bool = False,
        if_match: str | None = None,
        hint: bool = False,
    ) -> str:
        raise NotImplementedError

    def delete(self, path: str, *, if_match: str | None = None) -> bool:
        raise NotImplementedError

    def copy(self, src: str, dst: str) -> None:
        raise NotImplementedError

    def move(self, src: str, dst: str) -> None:
        """Rename (local only: object stores have no atomic rename)."""
        raise NotImplementedError

    def update(self, path: str, change: Callable[[bytes | None], bytes | None]) -> None:
        """Local only: replace a small hint file's bytes with ``change(old)`` under its own lock.

        Written in place (no rename): a reader may see a torn hint, which fails verification
        and sends it to the manifests, so the hint needs no atomicity, only mutual exclusion.
        ``change`` returning None leaves the file as it is.
        """
        raise NotImplementedError

    def canonical(self, path: str) -> str:
        """The key a lock on ``path`` is taken by: the same file however the tenant is spelled."""
        return path

    def listing(self, prefix: str) -> list[Stat]:
        """Every file under the directory ``prefix`` (recursive), sorted by path; no globbing."""
        raise NotImplementedError

    def list_names(self, directory: str, limit: int | None = None) -> list[str]:
        """File names directly in ``directory``, ascending; at most ``limit`` (one LIST page)."""
        raise NotImplementedError

    def spool(self, uri: str) -> Spool:
        """Somewhere to serialize ``uri``'s value before any request is made."""
        return Spool(uri)

    def store(self, path: str, spool: Spool, *, if_absent: bool) -> str:
        """Send a spool's bytes to ``path`` (one PUT, or one multipart upload); returns the etag."""
        data = spool.data
        if data is not None:
            return self.put(path, data, if_absent=if_absent)
        return self.put_file(path, spool.to_file(), if_absent=if_absent)

    def put_file(self, path: str, local: str, *, if_absent: bool) -> str:
        raise NotImplementedError

    def open(self, path: str, size: int, etag: str | None = None) -> BinaryIO:
        """A reader of ``size`` bytes; with ``etag``, of that version only: every byte read comes
        from the object ``etag`` names, or the read raises :class:`IntegrityError`."""
        raise NotImplementedError

    def parallel(self, *calls: Callable[[], Any]) -> list[Any]:
        """Run independent requests at once; exceptions are returned in place of results."""
        out: list[Any] = []
        for call in calls:
            try:
                out.append(call())
            except Exception as e:
                out.append(e)
        return out

    @contextlib.contextmanager
    def slot_lock(self, key: str, *, drop: bool = False) -> Iterator[None]:
        """Exclusive use of a slot for the block; ``drop``: the slot is emptied in it, so whatever
        the lock keeps for it (local: its lock file) goes at the end."""
        yield

    def slot_busy(self, key: str) -> bool:
        """Whether a live writer holds ``slot_lock(key)`` now (only local stores can tell)."""
        return False

    def check_inside(self, path: str) -> None:
        """Refuse a path that would leave the tenant (local: through a symlink)."""

    def scratch(self, *parts: str) -> str:
        raise NotImplementedError


class Spool(io.RawIOBase):
    """Where a value's bytes go while it is serialized, before any request: memory, then a temp file.

    Spooling first makes every later request replayable (a takeover re-sends the
    same bytes) and keeps a serializer's failure from touching the store.
    """

    def __init__(
        self, uri: str = "", directory: str | None = None, *, in_memory_max: int = SINGLE_PUT_MAX
    ) -> None:
        self._uri = uri
        self._dir = directory
        self._max = in_memory_max
        self.buffer: io.BytesIO | None = io.BytesIO()
        self.file: Any = None
        self.path: str | None = None
        self.size = 0
        if in_memory_max < 0:  # straight to disk: fail now, before the caller serializes anything
            with translate(uri, "write"):
                self._spill()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        n = len(b) if isinstance(b, bytes) else memoryview(b).nbytes
        with translate(self._uri, "write"):  # a full disk (ENOSPC, EFBIG) names the artifact
            if self.buffer is not None:
                self.buffer.write(b)
                if self.buffer.tell() > self._max:
                    self._spill()
            else:
                self.file.write(b)
        self.size += n
        return n

    def _spill(self) -> None:
        if self._dir is not None:
            os.makedirs(self._dir, exist_ok=True)
        fd, self.path = tempfile.mkstemp(prefix="fsmirror-", suffix=".part", dir=self._dir)
        self.file = os.fdopen(fd, "wb")
        assert self.buffer is not None
        self.file.write(self.buffer.getbuffer())
        self.buffer = None

    def to_file(self) -> str:
        """The spooled bytes as a closed file on local disk (spilling a small spool)."""
        with translate(self._uri, "write"):
            if self.buffer is not None:
                self._spill()
            self.file.flush()
        return str(self.path)

    def finish(self, durable: bool = False) -> None:
        if self.file is not None:
            self.file.flush()
            if durable:
                os.fsync(self.file.fileno())
            self.file.close()

    @property
    def data(self) -> bytes | None:
        return None if self.buffer is None else self.buffer.getvalue()

    def discard(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


# -- local ------------------------------------------------------------------------------------------


def _local_etag(st: os.stat_result) -> str:
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


class LocalBackend(Backend):
    """Local disk through os calls: temp file, fsync, then ``link`` (no-clobber) or ``rename``."""

    local = True
    exclusive = True

    def __init__(self, tenant: str, *, durability: str = "fsync") -> None:
        self.tenant = tenant
        self.real_tenant = os.path.realpath(tenant)
        self.durable = durability == "fsync"
        self._scratch = os.path.join(self.real_tenant, names.LOCAL_SCRATCH)
        self._lock = threading.Lock()

    def scratch(self, *parts: str) -> str:
        return os.path.join(self._scratch, *parts)

    def check_inside(self, path: str) -> None:
        real = os.path.realpath(path)
        if real != self.real_tenant and not real.startswith(self.real_tenant + os.sep):
            raise StorageError(
                f"refusing {path}: it resolves to {real}, outside the tenant {self.real_tenant} "
                "(a symlink inside the store points out of it)"
            )

    def _tmp(self) -> str:
        d = self.scratch("tmp")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, uuid.uuid4().hex + ".part")

    def _fsync_dir(self, d: str) -> None:
        if not self.durable:
            return
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _place(self, tmp: str, path: str, *, if_absent: bool, sync: bool = True) -> None:
        d = os.path.dirname(path)
        os.makedirs(d, exist_ok=True)  # the protocol checked the directory (check_inside) first
        if if_absent:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise PreconditionFailed(path) from None
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        else:
            os.replace(tmp, path)
        if sync:
            self._fsync_dir(d)

    def get(self, path: str) -> Blob | None:
        with translate(path, "read"):
            try:
                with open(path, "rb") as f:
                    st = os.fstat(f.fileno())
                    data = f.read()
            except FileNotFoundError:
                return None
            except IsADirectoryError:
                raise StorageError(f"cannot read {path}: it is a directory") from None
            return Blob(data, _local_etag(st), st.st_mtime)

    def head(self, path: str) -> Stat | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StorageError(f"cannot check {path}: {e.strerror or e}") from e
        return Stat(path, st.st_size, _local_etag(st), st.st_mtime)

    def put(
        self,
        path: str,
        data: bytes,
        *,
        if_absent: bool = False,
        if_match: str | None = None,
        hint: bool = False,
    ) -> str:
        with translate(path, "write"):
            tmp = self._tmp()
            try:
                with open(tmp, "wb") as f:
                    f.write(data)
                    if self.durable and not hint:  # a hint (the pointer) is rebuilt if lost: no fsync
                        f.flush()
                        os.fsync(f.fileno())
                with self._lock if if_match is not None else contextlib.nullcontext():
                    if if_match is not None:
                        cur = self.head(path)
                        if cur is None or cur.etag != if_match:
                            raise PreconditionFailed(path)
                    self._place(tmp, path, if_absent=if_absent, sync=not hint)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            st = self.head(path)
            return st.etag if st else ""

    def delete(self, path: str, *, if_match: str | None = None) -> bool:
        with translate(path, "delete"):
            if if_match is not None:
                cur = self.head(path)
                if cur is None:
                    return False
                if cur.etag != if_match:
                    raise PreconditionFailed(path)
            self.check_inside(os.path.dirname(path))
            try:
                os.unlink(path)
            except (FileNotFoundError, NotADirectoryError):
                return False
            d = os.path.dirname(path)
            # Remove directories the run leaves empty, up to (not including) the tenant.
            while d.startswith(self.real_tenant + os.sep) or (
                os.path.realpath(d).startswith(self.real_tenant + os.sep)
            ):
                try:
                    os.rmdir(d)
                except OSError:
                    break
                d = os.path.dirname(d)
            return True

    def move(self, src: str, dst: str) -> None:
        with translate(src, "move"):
            self.check_inside(os.path.dirname(src))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.replace(src, dst)

    def update(self, path: str, change: Callable[[bytes | None], bytes | None]) -> None:
        import fcntl

        with translate(path, "write"):
            d = os.path.dirname(path)
            os.makedirs(d, exist_ok=True)
            self.check_inside(d)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                old = b""
                while chunk := os.read(fd, 65536):
                    old += chunk
                new = change(old or None)
                if new is not None and new != old:
                    os.pwrite(fd, new, 0)
                    os.ftruncate(fd, len(new))
            finally:
                os.close(fd)

    def copy(self, src: str, dst: str) -> None:
        with translate(src, "copy"):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(dst)
            os.link(src, dst)  # the old inode stays reachable: a copy that costs nothing

    def listing(self, prefix: str) -> list[Stat]:
        out: list[Stat] = []
        if not os.path.isdir(prefix):
            return out
        for d, dirs, files in os.walk(prefix):
            dirs[:] = sorted(x for x in dirs if x != names.LOCAL_SCRATCH)
            for name in files:
                p = os.path.join(d, name)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                out.append(Stat(p, st.st_size, _local_etag(st), st.st_mtime))
        out.sort(key=lambda s: s.path)
        return out

    def list_names(self, directory: str, limit: int | None = None) -> list[str]:
        try:
            found = sorted(os.listdir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return found[:limit] if limit is not None else found

    def spool(self, uri: str) -> Spool:
        # Straight to a temp file beside the store: committing is a rename, never a copy.
        return Spool(uri, self.scratch("tmp"), in_memory_max=-1)

    def store(self, path: str, spool: Spool, *, if_absent: bool) -> str:
        with translate(path, "write"):
            tmp = spool.to_file()
            spool.finish(durable=self.durable)
            self._place(tmp, path, if_absent=if_absent)
            st = self.head(path)
            return st.etag if st else ""

    def open(self, path: str, size: int, etag: str | None = None) -> BinaryIO:
        with translate(path, "open"):
            self.check_inside(path)
            f = open(path, "rb")  # noqa: SIM115 (returned open: the caller closes it)
            # An open descriptor keeps reading its inode whatever is renamed over the name later:
            # checking the inode opened is the one ``etag`` names pins the whole read.
            if etag is not None and _local_etag(os.fstat(f.fileno())) != etag:
                f.close()
                raise IntegrityError(f"{path} was replaced while it was read")
            return f

    @contextlib.contextmanager
    def slot_lock(self, key: str, *, drop: bool = False) -> Iterator[None]:
        """An ``flock`` on ``<tenant>/.fsmirror/locks/<hash of the canonical path>``.

        After locking, the holder checks the name still points at the inode it locked, and
        locks again if not: a waiter may have opened a lock file that the holder before it
        unlinked. ``drop`` (a delete, gc) unlinks the file while holding it, so a store does not
        keep one lock file per slot ever written (100,083 of them for 100,011 artifacts). Only
        a holder unlinks, and only the file it verified, so two writers of one slot still meet
        on one inode: the one that opened the unlinked file finds it gone and starts over.
        """
        import fcntl

        d = self.scratch("locks")
        name = hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock"
        path = os.path.join(d, name)
        while True:
            with translate(path, "lock"):
                os.makedirs(d, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            # The descriptor is closed exactly once, here: a second close could hit a descriptor
            # another thread of the process has just been given under the same number.
            try:
                with translate(path, "lock"):
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    try:
                        same = os.stat(path).st_ino == os.fstat(fd).st_ino
                    except FileNotFoundError:
                        same = False
            except BaseException:
                os.close(fd)
                raise
            if not same:
                os.close(fd)
                continue
            try:
                yield
            finally:
                if drop:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                os.close(fd)
            return

    def slot_busy(self, key: str) -> bool:
        import fcntl

        path = os.path.join(self.scratch("locks"), hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock")
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return False  # no lock file: nobody is writing
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def canonical(self, path: str) -> str:
        """The lock key of a path: the real tenant plus the path below it, however the tenant is spelled."""
        absolute = os.path.abspath(path)
        tenant_abs = os.path.abspath(self.tenant)
        rel = os.path.relpath(absolute, tenant_abs)
        return os.path.join(self.real_tenant, rel)


# -- object stores ------------------------------------------------------------------------------------


def mtime_of(info: dict[str, Any]) -> float:
    """Modification time from any fsspec backend's listing info, as epoch seconds."""
    import datetime as _dt

    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return float(value)
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return _dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return 0.0


def make_filesystem(storage: Storage) -> Any:
    """The fsspec filesystem for a storage config; a missing driver names the extra to install."""
    import fsspec

    p = provider(storage.provider)
    try:
        if not p.object_store:
            return fsspec.filesystem(p.protocol, auto_mkdir=True)
        # No listing cache: a listing this process made earlier would make a later check
        # deny an object another process committed since.
        return fsspec.filesystem(p.protocol, **{"use_listings_cache": False, **storage.storage_options})
    except ImportError as e:
        raise StorageError(
            f"provider {storage.provider!r} needs the {p.protocol!r} fsspec driver: {p.install_hint}"
        ) from e
    except Exception as e:
        raise StorageError(
            f"cannot set up the {storage.provider!r} filesystem for tenant {storage.tenant!r}: "
            f"{type(e).__name__} (check storage.storage_options)"
        ) from e


class FsspecBackend(Backend):
    """Object stores through fsspec's public API: memory, GCS, Azure Blob.

    ``if_absent`` uses fsspec's no-clobber ``mode="create"``; ``if_match`` is a
    compare-and-swap under a process-wide lock per tenant (memory: exact; GCS and Azure: exact
    among the FSMirrors of one process, compare-then-act across processes).
    """

    def __init__(self, fs: Any, scheme: str, tenant: str) -> None:
        self.fs = fs
        self.scheme = scheme
        self.tenant = tenant
        info = by_scheme(scheme)
        self._in_process = info is not None and info.in_process
        self._lock = _MEMORY_LOCK if self._in_process else _tenant_lock(scheme, tenant)
        self.read_block: int | None = None  # bytes per ranged read of a streamed artifact (8 MiB)

    def scratch(self, *parts: str) -> str:
        return "/".join((f"{self.scheme}://{self.tenant}", names.OBJECT_SCRATCH, *parts))

    def _addressable(self, path: str) -> str:
        """``path`` when the driver addresses exactly that object; refused (typed) before any request."""
        if self._in_process:
            return path  # fsspec's memory store keys by the whole string
        rest = path.split("://", 1)[-1].lstrip("/")
        bucket, _, key = rest.partition("/")
        split = getattr(self.fs, "split_path", None)
        if split is not None:
            _refuse_syntax(path, type(self.fs).__name__, bucket, key, tuple(split(path)))
        return path

    def check_inside(self, path: str) -> None:
        """Refuse a path the driver would read as another object (URL syntax in a name)."""
        self._addressable(path)

    def _strip(self, path: str) -> str:
        """The driver's path for a URI, by hand: drivers' own stripping eats a '?' as a URL query."""
        rest = path.split("://", 1)[-1].lstrip("/")
        return "/" + rest if self._in_process else rest  # fsspec's memory store roots paths at '/'

    def _etag(self, info: dict[str, Any]) -> str:
        for key in ("generation", "etag", "ETag", "md5Hash", "created"):
            if info.get(key) is not None:
                return str(info[key]).strip('"')
        return f"{info.get('size')}-{info.get('mtime') or info.get('last_modified') or info.get('updated')}"

    def _mtime(self, info: dict[str, Any]) -> float:
        return mtime_of(info)  # defined below: module-level, used only at call time

    def _info(self, path: str) -> dict[str, Any] | None:
        if self._in_process:
            # fsspec's memory ``info`` first scans every key for a directory of that name: O(N)
            # per call, so a scan reading every manifest was O(N^2). Objects are keys of its
            # ``store`` dict: one lookup answers, and a key is an object even where longer keys
            # share its prefix (as on S3).
            f = self.fs.store.get(self._strip(path))
            if f is None:
                return None
            return {
                "name": self._strip(path),
                "size": f.size,
                "type": "file",
                "created": getattr(f, "created", None),
            }
        try:
            info = self.fs.info(self._addressable(path))
        except FileNotFoundError:
            return None
        return dict(info) if info.get("type", "file") != "directory" else None

    def get(self, path: str) -> Blob | None:
        with translate(path, "read"):
            with self._lock:
                info = self._info(path)
                if info is None:
                    return None
                try:
                    data = bytes(self.fs.cat_file(self._addressable(path)))
                except FileNotFoundError:
                    return None
            return Blob(data, self._etag(info), self._mtime(info))

    def head(self, path: str) -> Stat | None:
        with translate(path, "check"):
            info = self._info(path)
            if info is None:
                return None
            return Stat(path, int(info.get("size") or 0), self._etag(info), self._mtime(info))

    def put(
        self,
        path: str,
        data: bytes,
        *,
        if_absent: bool = False,
        if_match: str | None = None,
        hint: bool = False,
    ) -> str:
        with translate(path, "write"), self._lock:
            if if_match is not None:
                info = self._info(path)
                if info is None or self._etag(info) != if_match:
                    raise PreconditionFailed(path)
            try:
                # Checked first as well: the GCS emulator ignores ifGenerationMatch=0, and within one
                # process the lock makes check-and-create exact; across processes the store decides.
                if if_absent and self._info(path) is not None:
                    raise PreconditionFailed(path)
                self.fs.pipe_file(self._addressable(path), data, mode="create" if if_absent else "overwrite")
            except PreconditionFailed:
                raise
            except Exception as e:
                if if_absent and _is_precondition(e):
                    raise PreconditionFailed(path) from e
                raise
            info = self._info(path)
            return self._etag(info) if info else ""

    def delete(self, path: str, *, if_match: str | None = None) -> bool:
        with translate(path, "delete"), self._lock:
            if if_match is not None:
                info = self._info(path)
                if info is None:
                    return False
                if self._etag(info) != if_match:
                    raise PreconditionFailed(path)
            try:
                self.fs.rm_file(self._addressable(path))
            except FileNotFoundError:
                return False
            return True

    def copy(self, src: str, dst: str) -> None:
        with translate(src, "copy"), self._lock:
            self.fs.copy(self._addressable(src), self._addressable(dst))

    def listing(self, prefix: str) -> list[Stat]:
        root = self._strip(prefix).rstrip("/")
        # Some drivers glob or mis-handle '[', '*' and '?' in a prefix (adlfs lists nothing after
        # a '?'): list from the deepest parent free of them, and keep what lies under ``root``.
        start = root
        while any(c in start for c in "[]*?") and "/" in start:
            start = start.rsplit("/", 1)[0]
        with translate(prefix, "list"):
            try:
                found = self.fs.find(start, detail=True, withdirs=False)
            except FileNotFoundError:
                return []
        found = {p: i for p, i in dict(found).items() if self._strip(p).startswith(root + "/")}
        scheme = f"{self.scheme}://"
        out = []
        for p, info in dict(found).items():
            if info.get("type", "file") == "directory":
                continue
            full = p if "://" in p else scheme + p.lstrip("/")
            out.append(Stat(full, int(info.get("size") or 0), self._etag(info), self._mtime(info)))
        out.sort(key=lambda s: s.path)
        return out

    def list_names(self, directory: str, limit: int | None = None) -> list[str]:
        root = self._strip(directory).rstrip("/")
        found = sorted(
            s.path.rsplit("/", 1)[-1]
            for s in self.listing(directory)
            if self._strip(s.path).rsplit("/", 1)[0] == root
        )
        return found[:limit] if limit is not None else found

    def put_file(self, path: str, local: str, *, if_absent: bool) -> str:
        with translate(path, "write"), self._lock:
            if if_absent and self._info(path) is not None:
                raise PreconditionFailed(path)
            try:
                self.fs.put_file(local, self._addressable(path), mode="create" if if_absent else "overwrite")
            except Exception as e:
                if if_absent and _is_precondition(e):
                    raise PreconditionFailed(path) from e
                raise
            info = self._info(path)
            return self._etag(info) if info else ""

    def open(self, path: str, size: int, etag: str | None = None) -> BinaryIO:
        """Memory: a copy taken under the lock, checked against ``etag``. GCS and Azure: ranged
        reads, each followed by a check that the object is still the version ``etag`` names (a
        generation or ETag changes with every write, so a block read between two checks that
        both saw it came from it); neither driver takes a version condition on a ranged read."""
        if self._in_process or etag is None:
            with translate(path, "open"), self._lock:
                f = self.fs.open(self._addressable(path), "rb")
                if etag is not None:
                    info = self._info(path)
                    if info is None or self._etag(info) != etag:
                        f.close()
                        raise IntegrityError(f"{path} was replaced while it was read")
                return f  # type: ignore[no-any-return]
        target = self._addressable(path)

        def fetch(start: int, end: int) -> bytes:
            data = bytes(self.fs.cat_file(target, start=start, end=end))
            info = self._info(path)
            if info is None or self._etag(info) != etag:
                raise _Replaced(path)
            return data

        block = self.read_block or SINGLE_PUT_MAX
        return io.BufferedReader(_PinnedRanges(path, size, block, fetch), buffer_size=block)


class S3Backend(Backend):
    """S3 through s3fs's client: every conditional is the server's (If-None-Match, If-Match)."""

    def __init__(self, fs: Any, tenant: str) -> None:
        self.fs = fs
        self.tenant = tenant

    def scratch(self, *parts: str) -> str:
        return "/".join((f"s3://{self.tenant}", names.OBJECT_SCRATCH, *parts))

    def _split(self, path: str) -> tuple[str, str]:
        """(bucket, key) by hand, what every request is built from; refused (typed) if s3fs would
        read the path otherwise (``put_file`` and ``open`` go through s3fs's own splitting)."""
        rest = path.split("://", 1)[-1].lstrip("/")
        if rest == self.tenant or rest.startswith(self.tenant + "/"):
            bucket, key = self.tenant, rest[len(self.tenant) + 1 :]
        else:
            bucket, _, key = rest.partition("/")
        _refuse_syntax(path, "s3fs", bucket, key, tuple(self.fs.split_path(path)))
        return bucket, key

    def check_inside(self, path: str) -> None:
        """Refuse a path s3fs would read as another key (URL syntax in a name)."""
        self._split(path)

    def _sync(self, coro: Any) -> Any:
        from fsspec.asyn import sync

        return sync(self.fs.loop, lambda: coro)

    async def _aget(self, path: str) -> Blob | None:
        bucket, key = self._split(path)
        try:
            resp = await self.fs._call_s3("get_object", Bucket=bucket, Key=key)
        except FileNotFoundError:
            return None
        try:
            data = await resp["Body"].read()
        finally:
            resp["Body"].close()
        return Blob(bytes(data), str(resp.get("ETag", "")).strip('"'), resp["LastModified"].timestamp())

    async def _aput(self, path: str, data: bytes, if_absent: bool, if_match: str | None) -> str:
        bucket, key = self._split(path)
        cond: dict[str, str] = {}
        if if_absent:
            cond["IfNoneMatch"] = "*"
        if if_match is not None:
            cond["IfMatch"] = f'"{if_match}"'
        try:
            resp = await self.fs._call_s3("put_object", Bucket=bucket, Key=key, Body=data, **cond)
        except FileNotFoundError as e:
            if if_match is not None:  # If-Match on an object deleted since: it changed
                raise PreconditionFailed(path) from e
            raise
        except Exception as e:
            if cond and _is_precondition(e):
                raise PreconditionFailed(path) from e
            raise
        return str(resp.get("ETag", "")).strip('"')

    def get(self, path: str) -> Blob | None:
        with translate(path, "read"):
            return self._sync(self._aget(path))  # type: ignore[no-any-return]

    def head(self, path: str) -> Stat | None:
        bucket, key = self._split(path)
        with translate(path, "check"):
            try:
                resp = self.fs.call_s3("head_object", Bucket=bucket, Key=key)
            except FileNotFoundError:
                return None
        return Stat(
            path, int(resp["ContentLength"]), str(resp["ETag"]).strip('"'), resp["LastModified"].timestamp()
        )

    def put(
        self,
        path: str,
        data: bytes,
        *,
        if_absent: bool = False,
        if_match: str | None = None,
        hint: bool = False,
    ) -> str:
        with translate(path, "write"):
            return self._sync(self._aput(path, data, if_absent, if_match))  # type: ignore[no-any-return]

    def delete(self, path: str, *, if_match: str | None = None) -> bool:
        bucket, key = self._split(path)
        cond = {"IfMatch": f'"{if_match}"'} if if_match is not None else {}
        with translate(path, "delete"):
            try:
                self.fs.call_s3("delete_object", Bucket=bucket, Key=key, **cond)
            except FileNotFoundError:
                return False
            except Exception as e:
                if cond and _is_precondition(e):
                    raise PreconditionFailed(path) from e
                raise
            return True

    def copy(self, src: str, dst: str) -> None:
        """One server-side CopyObject (up to 5 GB; s3fs's multipart copy past that)."""
        sb, sk = self._split(src)
        db, dk = self._split(dst)
        with translate(src, "copy"):
            try:
                self.fs.call_s3("copy_object", Bucket=db, Key=dk, CopySource={"Bucket": sb, "Key": sk})
            except OSError as e:
                if not _error_codes(e) & {"EntityTooLarge", "InvalidRequest"}:  # past CopyObject's 5 GB
                    raise
                self.fs.copy(src, dst)

    def listing(self, prefix: str) -> list[Stat]:
        bucket, key = self._split(prefix)
        key = key.rstrip("/") + "/" if key else ""
        out: list[Stat] = []

        async def run() -> None:
            token: dict[str, str] = {}
            while True:
                resp = await self.fs._call_s3("list_objects_v2", Bucket=bucket, Prefix=key, **token)
                for o in resp.get("Contents", []):
                    out.append(
                        Stat(
                            f"s3://{bucket}/{o['Key']}",
                            int(o["Size"]),
                            str(o.get("ETag", "")).strip('"'),
                            o["LastModified"].timestamp(),
                        )
                    )
                if not resp.get("IsTruncated"):
                    return
                token = {"ContinuationToken": resp["NextContinuationToken"]}

        with translate(prefix, "list"):
            self._sync(run())
        out.sort(key=lambda s: s.path)
        return out

    def list_names(self, directory: str, limit: int | None = None) -> list[str]:
        bucket, key = self._split(directory)
        key = key.rstrip("/") + "/"
        kw: dict[str, Any] = {"Delimiter": "/"}
        if limit is not None:
            kw["MaxKeys"] = limit
        with translate(directory, "list"):
            resp = self.fs.call_s3("list_objects_v2", Bucket=bucket, Prefix=key, **kw)
        return [o["Key"][len(key) :] for o in resp.get("Contents", [])]

    def parallel(self, *calls: Callable[[], Any]) -> list[Any]:
        """Independent requests at once, at most :data:`PARALLEL_MAX` in flight.

        Each call blocks on s3fs's one event loop, so a few threads keep that many requests
        in flight; one thread per call (what this was) started 4,782 threads for a catalog of
        10k artifacts and never finished. Each call runs in a copy of the caller's context, so
        context variables (the lineage scope, a tracer's span, a test's actor) follow it.
        """
        if len(calls) < 2:
            return super().parallel(*calls)
        results: list[Any] = [None] * len(calls)

        def run(i: int, call: Callable[[], Any]) -> None:
            try:
                results[i] = call()
            except Exception as e:
                results[i] = e

        from concurrent.futures import ThreadPoolExecutor

        contexts = [contextvars.copy_context() for _ in calls]  # taken here, in the caller's thread
        workers = min(PARALLEL_MAX, len(calls))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fsmirror-s3") as pool:
            for f in [
                pool.submit(ctx.run, run, i, c)
                for i, (ctx, c) in enumerate(zip(contexts, calls, strict=True))
            ]:
                f.result()
        return results

    def put_file(self, path: str, local: str, *, if_absent: bool) -> str:
        self._split(path)
        with translate(path, "write"):
            try:
                self.fs.put_file(local, path, mode="create" if if_absent else "overwrite")
            except Exception as e:
                if if_absent and _is_precondition(e):
                    raise PreconditionFailed(path) from e
                raise
        head = self.head(path)
        return head.etag if head else ""

    def open(self, path: str, size: int, etag: str | None = None) -> BinaryIO:
        """Ranged GETs of ``default_block_size`` bytes, each ``If-Match: etag`` when given.

        s3fs's own file turns its ETag pinning off when given a size, so an overwrite
        committed mid-read mixed old and new bytes; these requests are built here.
        """
        bucket, key = self._split(path)
        block = int(getattr(self.fs, "default_block_size", 0) or SINGLE_PUT_MAX)
        cond = {"IfMatch": f'"{etag}"'} if etag else {}

        def fetch(start: int, end: int) -> bytes:
            async def get() -> bytes:
                resp = await self.fs._call_s3(
                    "get_object", Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}", **cond
                )
                try:
                    return bytes(await resp["Body"].read())
                finally:
                    resp["Body"].close()

            try:
                return self._sync(get())  # type: ignore[no-any-return]
            except Exception as e:
                if cond and _is_precondition(e):
                    raise _Replaced(path) from e
                raise

        return io.BufferedReader(_PinnedRanges(path, size, block, fetch), buffer_size=block)


class _PinnedRanges(io.RawIOBase):
    """An object read block by block, every block from one version (``Backend.open``'s ``etag``).

    ``fetch(start, end)`` returns the bytes ``[start, end)`` of the pinned version or raises
    ``_Replaced``; an empty answer before ``size`` is a short object, also an error.
    """

    def __init__(self, path: str, size: int, block: int, fetch: Callable[[int, int], bytes]) -> None:
        self._path, self._size, self._block, self._fetch, self._pos = path, size, block, fetch, 0

    def readable(self) -> bool:
        return True

    def readall(self) -> bytes:
        """The rest in blocks (``RawIOBase.readall`` would send one request per 8 KiB)."""
        out = bytearray()
        while self._pos < self._size:
            buf = bytearray(min(self._block, self._size - self._pos))
            n = self.readinto(buf)
            out += buf[:n]
        return bytes(out)

    def readinto(self, buf: Any) -> int:
        n = min(len(buf), self._block, self._size - self._pos)
        if n <= 0:
            return 0
        with translate(self._path, "read"):
            try:
                data = self._fetch(self._pos, self._pos + n)
            except (_Replaced, FileNotFoundError) as e:
                raise IntegrityError(f"{self._path} was replaced while it was read") from e
        if not data:
            raise IntegrityError(f"{self._path} ended at byte {self._pos} of {self._size} while it was read")
        buf[: len(data)] = data
        self._pos += len(data)
        return len(data)


class _Replaced(Exception):
    """A pinned block read found another version of the object."""


def make_backend(storage: Storage, base: str) -> tuple[Backend, Any]:
    """The backend for a storage config, and the fsspec filesystem it stands on."""
    fs = make_filesystem(storage)
    family = provider(storage.provider).backend
    if family == "local":
        return LocalBackend(storage.tenant, durability=storage.durability), fs
    if family == "s3":
        return S3Backend(fs, storage.tenant), fs
    return FsspecBackend(fs, base.split("://", 1)[0], storage.tenant), fs
