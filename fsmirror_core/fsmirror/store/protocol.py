"""The commit protocol: write, overwrite, read, latest, runs, delete and gc, once, for every backend.

``docs/protocol.md`` is the specification; this module follows it section by
section. In short:

- A slot's manifest file is its state cell. A fresh write sends its data with
  ``if_absent`` (the data object doubles as the claim) and its run-index entry
  at once, then creates the cell with ``if_absent``: that request is the commit.
  Three requests, two in sequence.
- Everything else that changes a cell (an overwrite, a delete, a takeover of an
  abandoned slot) first swaps the cell to a :class:`~fsmirror.record.Pending`
  record by compare-and-swap, which fences every other actor, including a
  writer that stalled past ``claim_ttl``, whose own commit then fails.
- Readers trust nothing but a committed cell, and check the bytes against it.
- Runs are ordered by :func:`fsmirror.record.order_key` and nothing else.
  ``latest`` comes from the run index (object stores) or a pointer (local), both
  hints verified against the cell and rebuilt from the manifests when wrong.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import socket
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..errors import (
    ArtifactExistsError,
    ArtifactNotFoundError,
    IntegrityError,
    ResolveError,
    StorageError,
    StoreWarning,
)
from ..model.hashing import HashingWriter, new_hasher
from ..model.record import PENDING_MAX, ContentHash, Manifest, Pending, parse_cell, utcnow, visible_manifest
from ..paths import names
from ..paths.runid import decode_run_id, encode_run_id
from .backends import SINGLE_PUT_MAX, Backend, PreconditionFailed, S3Backend, Spool

__all__ = ["Slot", "Series", "Store", "Run", "MTIME_GRAIN"]

#: Seconds added to ``claim_ttl`` before a data object with no cell counts as abandoned: object
#: stores keep LastModified in whole seconds, so a write just begun can look up to 1 s old.
MTIME_GRAIN = 1.0

#: How many times a later attempt retries its compare-and-swap when earlier attempts keep
#: committing under it (each loss means another attempt of the run committed: bounded, not a spin).
_ATTEMPT_RACES = 4


@dataclass(frozen=True)
class Slot:
    """Where one artifact lives. Every path fsmirror touches for it is derived here, from names."""

    dir: str
    series: str
    output_name: str
    segment: str
    address: str

    @property
    def manifest(self) -> str:
        return names.manifest_file(self.dir, self.output_name)

    def data(self, ext: str) -> str:
        return names.artifact_file(self.dir, self.output_name, ext)

    @property
    def pointer(self) -> str:
        return names.pointer_file(self.series, self.output_name)

    @property
    def index(self) -> str:
        return names.index_dir(self.series, self.output_name)


@dataclass(frozen=True)
class Series:
    """One code address's runs (same partition and output): how to find each run's slot."""

    series: str
    output_name: str
    address: str
    slot_of: Callable[[str], Slot]
    listing: tuple[str, tuple[str, ...]]  # (prefix to list, path parts after the run segment)

    @property
    def pointer(self) -> str:
        return names.pointer_file(self.series, self.output_name)

    @property
    def index(self) -> str:
        return names.index_dir(self.series, self.output_name)


@dataclass(frozen=True)
class Run:
    segment: str
    order: str  # order_key: sorts newest first

    @property
    def run_id(self) -> Any:
        return decode_run_id(self.segment)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _parse_pointer(data: bytes | None) -> Run | None:
    """The run a local pointer names, or None when it is missing, torn, damaged or tampered."""
    if not data:
        return None
    try:
        d = json.loads(data)
        run = Run(str(d["segment"]), str(d["order"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    if not _valid_segment(run.segment) or names.parse_index_entry(run.order) is None:
        return None
    return run


def _ext(fmt: str) -> str:
    """A manifest's format as a file extension: letters and digits only, or it is damaged."""
    if not fmt or not fmt.isascii() or not fmt.isalnum():
        raise StorageError(
            f"the manifest's format {fmt!r} is damaged (not letters and digits)", kind="damaged"
        )
    return fmt


def _owned(address: str, m: Manifest) -> bool:
    """Whether ``m`` was written by the code at ``address`` (either unknown: no one else's).

    Two addresses can map to one path (``job.py::add_1`` instance ``x`` in run ``R1`` and
    ``job/R1.py::x`` in run ``add_1`` share ``job/R1/add_1/x/``): the cell's recorded address
    says whose it is, so a series' reads, listings and deletes never take another's artifact.
    """
    return not (m.address and address and m.address != address)


def _foreign(slot: Slot, m: Manifest) -> StorageError:
    return StorageError(
        f"{slot.manifest} belongs to {m.address} (run {m.segment}), not {slot.address}: the two "
        "addresses map to the same path (rename one of them, or give one a layout prefix)",
        kind="foreign",
    )


def _valid_segment(segment: str) -> bool:
    try:
        return encode_run_id(decode_run_id(segment)) == segment
    except Exception:
        return False


@contextlib.contextmanager
def _as_storage_error(slot: Slot) -> Iterator[None]:
    """Whatever a (wrapped) backend lets through as a bare OSError is a StorageError naming the slot."""
    try:
        yield
    except StorageError:
        raise
    except OSError as e:
        raise StorageError(f"cannot write {slot.dir}/{slot.output_name}.*: {e.strerror or e}") from e


class _CellChanged(Exception):
    """An overwrite's compare-and-swap lost: the cell changed since it was read."""


class Store:
    """The protocol over one backend. ``backend`` may be wrapped (fault injection) before first use."""

    def __init__(
        self, backend: Backend, *, claim_ttl: float, hash_algorithm: str, root: str | None = None
    ) -> None:
        self.backend = backend
        self.claim_ttl = claim_ttl
        self.hash_algorithm = hash_algorithm
        self.root = root  # the tenant's URI: sidecars are refused outside it
        # Object-store artifacts up to this size are read by one GET; larger ones are streamed,
        # every stream pinned to the version ``head`` saw (``Backend.open``'s ``etag``).
        self.single_read_max = SINGLE_PUT_MAX

    # -- cells -------------------------------------------------------------------------------------

    def _cell(self, slot: Slot) -> tuple[Manifest | Pending | None, str | None]:
        blob = self.backend.get(slot.manifest)
        if blob is None:
            return None, None
        try:
            return parse_cell(blob.data, slot.manifest), blob.etag
        except StorageError as e:  # record.py says what is wrong; the kind is said here
            raise StorageError(str(e), kind="damaged") from None

    def _lock_key(self, slot: Slot) -> str:
        return self.backend.canonical(slot.manifest)

    def exists(self, slot: Slot) -> bool:
        """Whether a reader would find a committed artifact (local: one stat; objects: one GET)."""
        if self.backend.exclusive:
            # Local cells are manifests or pending overwrites (which show the previous run);
            # a local delete moves the cell away before anything else.
            return self.backend.head(slot.manifest) is not None
        return self.visible(slot) is not None

    def _check_owner(self, slot: Slot, m: Manifest) -> None:
        if not _owned(slot.address, m):
            raise ArtifactExistsError(
                f"{slot.dir} belongs to {m.address} (run {m.run_id!r}); {slot.address} maps to the same "
                "path: rename one of them, or give one a layout prefix"
            )

    def _exists_error(self, slot: Slot, m: Manifest) -> ArtifactExistsError:
        self._check_owner(slot, m)
        return ArtifactExistsError(
            f"{m.uri} is committed already (run {m.run_id!r}"
            + (f", attempt {m.attempt}" if m.attempt else "")
            + "); pass overwrite=True to replace it, or write a later attempt of the run (attempt=...)",
            kind="committed",
        )

    def _in_progress(self, slot: Slot, what: str, age: float) -> ArtifactExistsError:
        return ArtifactExistsError(
            f"a {what} of {slot.dir}/{slot.output_name}.* is in progress (started {age:.0f}s ago); if that "
            f"writer died, its claim expires after storage.claim_ttl={self.claim_ttl:g}s",
            kind="in-progress",
        )

    # -- write -------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self, slot: Slot, ext: str, draft: Manifest, *, overwrite: bool) -> Iterator[HashingWriter]:
        """Yield a writer; on a clean exit its bytes and manifest are committed (``w.manifest``).

        Serialization goes to a spool first: a serializer that fails has made no request.
        """
        b = self.backend
        b.check_inside(slot.dir)
        spool = b.spool(slot.data(ext))
        try:
            w = HashingWriter(spool, self.hash_algorithm)
            yield w
            digest = ContentHash(self.hash_algorithm, w.hexdigest())
            with b.slot_lock(self._lock_key(slot)), _as_storage_error(slot):
                w.manifest = self._commit(slot, ext, draft, spool, w.size, digest, overwrite)
        finally:
            with contextlib.suppress(Exception):  # scratch: its cleanup never decides a write's outcome
                spool.discard()

    def _commit(
        self,
        slot: Slot,
        ext: str,
        draft: Manifest,
        spool: Spool,
        size: int,
        digest: ContentHash,
        overwrite: bool,
    ) -> Manifest:
        b = self.backend
        retry = draft.attempt > 0  # may replace an earlier attempt's commit: read the cell first
        if b.exclusive or overwrite or retry:
            cell, etag = self._cell(slot)
            if isinstance(cell, Pending) and (b.exclusive or cell.stale(time.time(), self.claim_ttl)):
                cell, etag = self._recover(slot, cell, etag), None
                if cell is not None:
                    got = self._cell(slot)
                    cell, etag = got
            if isinstance(cell, Pending):
                raise self._in_progress(slot, cell.kind, time.time() - cell.at)
            if isinstance(cell, Manifest):
                if not (overwrite or self._replaces(draft, cell)):
                    raise self._exists_error(slot, cell)
                self._check_owner(slot, cell)
                for _ in range(_ATTEMPT_RACES):
                    try:
                        return self._overwrite(slot, ext, draft, spool, size, digest, cell, etag)
                    except _CellChanged:
                        # Another actor changed the cell first. Deleted (gc, delete): nothing left
                        # to replace, so this is a fresh write. An earlier attempt that committed
                        # meanwhile is still replaced by this later one; anything else won and stands.
                        cell, etag = self._cell(slot)
                        if cell is None:
                            break
                        if not (isinstance(cell, Manifest) and not overwrite and self._replaces(draft, cell)):
                            raise ArtifactExistsError(
                                f"{slot.dir}/{slot.output_name}.* changed while overwriting it "
                                "(another overwrite won, or a write or delete is in progress)"
                            ) from None
                else:
                    raise ArtifactExistsError(
                        f"{slot.dir}/{slot.output_name}.* kept changing while attempt {draft.attempt} "
                        "replaced an earlier attempt"
                    )
        return self._fresh(slot, ext, draft, spool, size, digest)

    @staticmethod
    def _replaces(draft: Manifest, committed: Manifest) -> bool:
        """Whether a write is a later attempt of the committed run (``docs/protocol.md``, "Attempts").

        The slot already fixes code, instance, run and output; only the attempt is left to
        compare. The same or an earlier attempt never replaces: two live writers of one attempt
        still have one winner, and a slow earlier try cannot undo a later one.
        """
        return draft.attempt > committed.attempt and draft.segment == committed.segment

    def _stamp(self, draft: Manifest, size: int, digest: ContentHash, etag: str | None) -> Manifest:
        return draft.with_content(size, digest, etag, utcnow())

    def _entry(self, slot: Slot, m: Manifest) -> str:
        return f"{slot.index}/{m.order}"

    def _note_latest(self, slot: Slot, m: Manifest) -> None:
        """Before the commit: make the latest hint name this run if it is newer (local: a pointer)."""
        b = self.backend
        if not b.local:
            b.put(self._entry(slot, m), b"", hint=True)
            return

        def newer(old: bytes | None) -> bytes | None:
            current = _parse_pointer(old)
            if current is None or m.order <= current.order:
                return json.dumps({"segment": m.segment, "order": m.order}).encode()
            return None

        b.update(slot.pointer, newer)

    def _pointer(self, path: str) -> Run | None:
        blob = self.backend.get(path)
        return None if blob is None else _parse_pointer(blob.data)

    def _fresh(
        self, slot: Slot, ext: str, draft: Manifest, spool: Spool, size: int, digest: ContentHash
    ) -> Manifest:
        b = self.backend
        data_path = slot.data(ext)
        m = self._stamp(draft, size, digest, None)
        if b.exclusive:
            # Holding the slot lock: no live writer; leftover data is a dead writer's.
            etag = b.store(data_path, spool, if_absent=False)
            m = self._stamp(draft, size, digest, etag)
            self._note_latest(slot, m)
            self._commit_put(slot, m, if_absent=True)  # the commit
            return m
        entry = self._entry(slot, m)
        got, noted = b.parallel(lambda: b.store(data_path, spool, if_absent=True), lambda: b.put(entry, b""))
        if isinstance(noted, Exception) and not isinstance(got, Exception):
            with contextlib.suppress(Exception):
                b.delete(data_path, if_match=str(got))
            raise noted
        if isinstance(got, PreconditionFailed):
            return self._contend(slot, ext, draft, spool, size, digest, m, entry, noted)
        if isinstance(got, Exception):
            self._drop(entry)
            raise got
        m = m.with_content(size, digest, str(got), m.created_at)
        try:
            self._commit_put(slot, m, if_absent=True)  # the commit
        except PreconditionFailed:
            return self._commit_lost(slot, m, entry)
        return m

    def _commit_put(
        self, slot: Slot, m: Manifest, *, if_absent: bool = False, if_match: str | None = None
    ) -> None:
        """The commit request. When it fails without an answer (a timeout, a dropped connection),
        it may have taken effect: read the cell back, and it is ours or the error stands."""
        try:
            self.backend.put(slot.manifest, m.dump(), if_absent=if_absent, if_match=if_match)
        except PreconditionFailed:
            raise
        except OSError:  # StorageError, or an unwrapped error of a wrapped backend
            try:
                cell, _ = self._cell(slot)
            except Exception:
                cell = None
            if isinstance(cell, Manifest) and cell.created_at == m.created_at and cell.etag == m.etag:
                return
            raise

    def _commit_lost(self, slot: Slot, m: Manifest, entry: str) -> Manifest:
        """A fresh write's commit found a cell: its own (retried), a dead deleter's, or a taker's."""
        b = self.backend
        cell, cetag = self._cell(slot)
        if isinstance(cell, Manifest) and cell.created_at == m.created_at and cell.etag == m.etag:
            return m  # our own commit, answered late and retried
        if isinstance(cell, Pending) and cell.kind == "delete":
            if cell.stale(time.time(), self.claim_ttl):
                with contextlib.suppress(PreconditionFailed):
                    b.put(slot.manifest, m.dump(), if_match=cetag)  # the commit, over a dead delete
                    return m
            self._drop(entry)
            with contextlib.suppress(Exception):
                b.delete(m.uri, if_match=m.etag)
            raise self._in_progress(slot, "delete", time.time() - cell.at)
        self._drop(entry)
        raise ArtifactExistsError(
            f"lost {slot.dir}/{slot.output_name}.*: this write took longer than "
            f"storage.claim_ttl={self.claim_ttl:g}s and another writer took the slot over; nothing was committed"
        )

    def _drop(self, path: str) -> None:
        with contextlib.suppress(Exception):
            self.backend.delete(path)

    def _contend(
        self,
        slot: Slot,
        ext: str,
        draft: Manifest,
        spool: Spool,
        size: int,
        digest: ContentHash,
        m: Manifest,
        entry: str,
        noted: Any,
    ) -> Manifest:
        """The data object exists: a committed artifact, a write in progress, or an abandoned one."""
        b = self.backend
        if not isinstance(noted, Exception):
            self._drop(entry)
        cell, etag = self._cell(slot)
        now = time.time()
        if isinstance(cell, Manifest):
            if self._replaces(draft, cell):  # an earlier attempt committed between our GET and PUT
                self._check_owner(slot, cell)
                try:
                    return self._overwrite(slot, ext, draft, spool, size, digest, cell, etag)
                except _CellChanged:
                    raise ArtifactExistsError(
                        f"{slot.dir}/{slot.output_name}.* changed while replacing an earlier attempt"
                    ) from None
            raise self._exists_error(slot, cell)
        if isinstance(cell, Pending):
            if not cell.stale(now, self.claim_ttl):
                raise self._in_progress(slot, cell.kind, now - cell.at)
            previous = cell.previous if cell.kind == "overwrite" else None
            if previous is not None:
                raise self._exists_error(slot, previous)  # an abandoned overwrite: the old run stands
        else:
            head = b.head(slot.data(ext))
            if head is not None and now - head.mtime <= self.claim_ttl + MTIME_GRAIN:
                raise self._in_progress(slot, "write", now - head.mtime)
        # Abandoned: take the slot by swapping the cell, which fences the stalled writer's commit.
        mine = Pending(uuid.uuid4().hex, "write", now, _holder())
        try:
            p_etag = b.put(slot.manifest, mine.dump(), if_absent=etag is None, if_match=etag)
        except PreconditionFailed:
            raise ArtifactExistsError(f"another writer took {slot.dir} at the same moment") from None
        m = self._stamp(draft, size, digest, None)
        entry = self._entry(slot, m)
        got, noted = b.parallel(
            lambda: b.store(slot.data(ext), spool, if_absent=False), lambda: b.put(entry, b"")
        )
        for r in (got, noted):
            if isinstance(r, Exception):
                raise r
        m = m.with_content(size, digest, str(got), m.created_at)
        try:
            self._commit_put(slot, m, if_match=p_etag)  # the commit
        except PreconditionFailed:
            self._drop(entry)
            raise ArtifactExistsError(
                f"lost {slot.dir}/{slot.output_name}.* to another writer during a takeover"
            ) from None
        return m

    def _backup_path(self, slot: Slot, token: str) -> str:
        import hashlib

        h = hashlib.sha256(self._lock_key(slot).encode()).hexdigest()[:32]
        return self.backend.scratch("backup", h, token)

    def _overwrite(
        self,
        slot: Slot,
        ext: str,
        draft: Manifest,
        spool: Spool,
        size: int,
        digest: ContentHash,
        old: Manifest,
        etag: str | None,
    ) -> Manifest:
        b = self.backend
        token = uuid.uuid4().hex
        old_data = slot.data(_ext(old.format))
        backup: str | None = self._backup_path(slot, token)
        try:
            b.copy(old_data, str(backup))  # the old bytes stay readable until the new ones commit
        except ArtifactNotFoundError:
            backup = None  # the old bytes are gone already (a damaged store): nothing to keep
        mine = Pending(token, "overwrite", time.time(), _holder(), previous=old, backup=backup)
        try:
            p_etag = b.put(slot.manifest, mine.dump(), if_match=etag)
        except PreconditionFailed:
            if backup is not None:
                self._drop(backup)
            raise _CellChanged() from None
        try:
            m = self._stamp(draft, size, digest, None)
            if b.local:
                etag_new = b.store(slot.data(ext), spool, if_absent=False)
                m = m.with_content(size, digest, etag_new, m.created_at)
                self._note_latest(slot, m)
            else:
                got, noted = b.parallel(
                    lambda: b.store(slot.data(ext), spool, if_absent=False),
                    lambda: b.put(self._entry(slot, m), b""),
                )
                for r in (got, noted):
                    if isinstance(r, Exception):
                        raise r
                m = m.with_content(size, digest, str(got), m.created_at)
        except BaseException:
            # Put the old bytes back (a store error; a killed writer is rolled back by the next caller).
            with contextlib.suppress(Exception):
                self._roll_back(slot, mine, p_etag)
            raise
        try:
            self._commit_put(slot, m, if_match=p_etag)  # the commit
        except PreconditionFailed:
            raise self._overwrite_lost(slot, ext, m) from None
        except BaseException:
            with contextlib.suppress(Exception):  # the commit failed: the old run comes back now
                self._roll_back(slot, mine, p_etag)
            raise
        if backup is not None:
            self._drop(backup)
        if old.order != m.order and not b.local:
            self._drop(self._entry(slot, old))
        if old.format != ext:
            self._drop(old_data)
        return m

    def _overwrite_lost(self, slot: Slot, ext: str, m: Manifest) -> ArtifactExistsError:
        """An overwrite's commit was fenced: clear what it sent, and say who changed the cell.

        A delete (or gc) may take the run from under a pending overwrite (``delete``); its
        data delete is conditional on the old bytes, so the new bytes this overwrite stored
        stay unless it removes them here. Left there with no cell, they would read as a
        write in progress to every later writer for ``claim_ttl``. Removed only if they are
        still this write's own (``if_match``) and no committed cell vouches for them.
        """
        try:
            cell, _ = self._cell(slot)
        except StorageError:
            cell = None
        ours = isinstance(cell, Manifest) and cell.etag == m.etag and cell.order == m.order
        if not self.backend.local and not (isinstance(cell, Manifest) and cell.order == m.order):
            self._drop(self._entry(slot, m))  # no committed run of this order: the entry is ours
        if not ours and m.etag:
            with contextlib.suppress(Exception):
                self.backend.delete(slot.data(ext), if_match=m.etag)
        if cell is None or (isinstance(cell, Pending) and cell.kind == "delete"):
            return ArtifactExistsError(
                f"{slot.dir}/{slot.output_name}.* was deleted (delete or gc) while this overwrite "
                "was under way; nothing was committed"
            )
        return ArtifactExistsError(
            f"lost {slot.dir}/{slot.output_name}.*: this overwrite took longer than "
            f"storage.claim_ttl={self.claim_ttl:g}s and another writer took the slot over"
        )

    def _roll_back(self, slot: Slot, pending: Pending, p_etag: str | None) -> Manifest | None:
        """Undo a pending operation: the previous manifest and its bytes come back."""
        b = self.backend
        prev = pending.previous
        if prev is None:
            b.delete(slot.manifest, if_match=p_etag)
            return None
        backup = self._backup_of(slot, pending)
        if backup is not None and b.head(backup) is not None:
            b.copy(backup, slot.data(_ext(prev.format)))
        b.put(slot.manifest, prev.dump(), if_match=p_etag)
        if backup is not None:
            self._drop(backup)
        return prev

    def _recover(self, slot: Slot, pending: Pending, etag: str | None) -> Manifest | None:
        """A pending record whose actor is gone: roll an overwrite back, finish a delete, clear a takeover."""
        if pending.kind == "delete" and pending.target is not None:
            t = pending.target
            self._finish_delete(slot, str(t.get("format")), t.get("etag"), str(t.get("order")), etag)
            return None
        try:
            return self._roll_back(slot, pending, etag)
        except PreconditionFailed:
            return None

    # -- read --------------------------------------------------------------------------------------

    # -- sidecars: an adapter's records beside an artifact -------------------------------------

    def _sidecar(self, path: str) -> str:
        """``path`` when it names a sidecar (``names.sidecar_file``) inside the tenant; else refused.

        A sidecar is one whole object written by one request (local: a temp file renamed into
        place), deleted with its run by ``delete`` and ``gc``; it is never an artifact, a cell or
        a hint, so an adapter cannot write over what the protocol owns through it.
        """
        directory, _, filename = path.rpartition("/")
        if not directory or names.kind_of(filename)[0] != "sidecar":
            raise ResolveError(f"{path!r} is not a sidecar file name (names.sidecar_file makes them)")
        if self.root is not None and not (path.startswith(self.root + "/") and "/../" not in path):
            raise ResolveError(f"refusing the sidecar {path!r}: it is outside the tenant {self.root!r}")
        self.backend.check_inside(directory)
        return path

    def get_sidecar(self, path: str) -> bytes | None:
        """The bytes of the sidecar at ``path``, or None when there is none."""
        blob = self.backend.get(self._sidecar(path))
        return None if blob is None else blob.data

    def put_sidecar(self, path: str, data: bytes) -> None:
        """Write the sidecar at ``path`` whole (readers see the old bytes or the new, never a part)."""
        self.backend.put(self._sidecar(path), data)

    def visible(self, slot: Slot) -> tuple[Manifest, str] | None:
        """What a reader sees at a slot: the committed manifest and where its bytes are, or None."""
        cell, _ = self._cell(slot)
        return self.visible_in(cell, slot)

    def visible_in(self, cell: Manifest | Pending | None, slot: Slot) -> tuple[Manifest, str] | None:
        """The same for a cell already read (mid-overwrite: the previous run, from its backup).

        Every path comes from the slot: never from the record's fields (only its format, an
        extension of letters and digits, and a pending record's hex token).
        """
        man = visible_manifest(cell)
        if man is None:
            return None
        if not _owned(slot.address, man):
            raise _foreign(slot, man)
        if isinstance(cell, Manifest):
            return cell, slot.data(_ext(cell.format))
        if isinstance(cell, Pending):
            prev = man
            backup = self._backup_of(slot, cell)
            if backup is not None and self.backend.head(backup) is not None:
                return prev, backup
            return prev, slot.data(_ext(prev.format))  # checked against ``prev`` when read
        return None

    def _backup_of(self, slot: Slot, pending: Pending) -> str | None:
        """Where a pending overwrite keeps the old bytes: derived from the slot and the token."""
        if pending.backup is None:
            return None
        if not pending.token.isalnum() or not pending.token.isascii():
            raise StorageError(
                f"{slot.manifest}: a pending record with a damaged token {pending.token!r}", kind="damaged"
            )
        return self._backup_path(slot, pending.token)

    def read_bytes(self, m: Manifest, path: str, verify: bool) -> bytes:
        blob = self.backend.get(path)
        if blob is None:
            raise IntegrityError(f"{m.uri} is committed (size {m.size}) but its bytes are missing at {path}")
        self._check(m, path, len(blob.data), lambda: [blob.data], verify)
        if (
            isinstance(self.backend, S3Backend)
            and m.etag
            and "-" not in m.etag
            and blob.etag
            and blob.etag != m.etag
            and path == m.uri
        ):
            # S3's single-PUT ETag is the content's MD5: other bytes than the committed ones
            raise IntegrityError(f"{m.uri}: the manifest recorded ETag {m.etag}, found {blob.etag} at {path}")
        return blob.data

    def open_verified(self, m: Manifest, path: str, verify: bool) -> BinaryIO:
        """A reader over the bytes a manifest vouches for; size always checked, content when ``verify``."""
        b = self.backend
        if m.size <= self.single_read_max and not b.local:
            return io.BytesIO(self.read_bytes(m, path, verify))
        head = b.head(path)
        if head is None:
            raise IntegrityError(f"{m.uri} is committed (size {m.size}) but its bytes are missing at {path}")
        if verify:

            def chunks() -> Iterator[bytes]:
                with b.open(path, head.size, head.etag) as f:
                    yield from iter(lambda: f.read(1 << 20), b"")

            self._check(m, path, head.size, chunks, verify)
        elif head.size != m.size:
            self._check(m, path, head.size, lambda: [], False)
        return b.open(path, head.size, head.etag)

    def load(
        self,
        m: Manifest,
        path: str,
        verify: bool,
        parse: Callable[[BinaryIO], Any],
        parse_path: Callable[[str], Any] | None = None,
    ) -> Any:
        """Parse the bytes ``m`` vouches for; with ``verify``, hash them on a thread meanwhile.

        The size is checked before parsing; the content hash (``verify``) while the format
        parses the same bytes (local: a second read from the page cache; object stores: the one
        download), so verifying costs the slower of the two, not their sum. A mismatch raises
        ``IntegrityError`` and the parsed value is dropped.
        """
        import threading

        b = self.backend
        if not verify:
            if b.local:
                b.check_inside(path)
                head = b.head(path)
                if head is None:
                    raise IntegrityError(
                        f"{m.uri} is committed (size {m.size}) but its bytes are missing at {path}"
                    )
                self._check(m, path, head.size, lambda: [], False)
                if parse_path is not None:
                    value = parse_path(path)
                else:
                    with b.open(path, head.size, head.etag) as f:
                        value = parse(f)
                self._unchanged(m, path, head)
                return value
            with self.open_verified(m, path, False) as f:
                return parse(f)
        found: list[str] = []
        failed: list[BaseException] = []

        def digest(chunks: Callable[[], Any]) -> None:
            try:
                h = new_hasher(m.hash.algorithm)
                for c in chunks():
                    h.update(c)
                found.append(str(h.hexdigest()))
            except BaseException as e:
                failed.append(e)

        if b.local:
            b.check_inside(path)
            head = b.head(path)
            if head is None:
                raise IntegrityError(
                    f"{m.uri} is committed (size {m.size}) but its bytes are missing at {path}"
                )
            self._check(m, path, head.size, lambda: [], False)

            def chunks() -> Iterator[bytes]:
                with b.open(path, head.size, head.etag) as f:
                    yield from iter(lambda: f.read(8 << 20), b"")

            t = threading.Thread(target=digest, args=(chunks,), daemon=True)
            t.start()
            try:
                if parse_path is not None:
                    value = parse_path(path)
                else:
                    with b.open(path, head.size, head.etag) as f:
                        value = parse(f)
            finally:
                t.join()
            self._unchanged(m, path, head)
        else:
            blob = b.get(path)
            if blob is None:
                raise IntegrityError(
                    f"{m.uri} is committed (size {m.size}) but its bytes are missing at {path}"
                )
            data = blob.data
            self._check(m, path, len(data), lambda: [], False)
            t = threading.Thread(target=digest, args=(lambda: [data],), daemon=True)
            t.start()
            try:
                value = parse(io.BytesIO(data))
            finally:
                t.join()
        if failed:
            raise failed[0]
        if found[0] != m.hash.digest:
            raise IntegrityError(
                f"{m.uri}: the manifest recorded {m.hash.algorithm} {m.hash.digest}, found {found[0]} at {path}"
            )
        return value

    def _unchanged(self, m: Manifest, path: str, before: Any) -> None:
        """Local: the file is the one that was checked (an overwrite renames over it meanwhile)."""
        after = self.backend.head(path)
        if after is None or after.etag != before.etag:
            raise IntegrityError(f"{m.uri}: {path} was replaced while it was read")

    def _check(self, m: Manifest, path: str, size: int, chunks: Callable[[], Any], verify: bool) -> None:
        if size != m.size:
            raise IntegrityError(
                f"{m.uri}: the manifest recorded {m.size} bytes, found {size} at {path} "
                "(truncated, replaced or damaged)"
            )
        if verify:
            h = new_hasher(m.hash.algorithm)
            for c in chunks():
                h.update(c)
            found = str(h.hexdigest())
            if found != m.hash.digest:
                raise IntegrityError(
                    f"{m.uri}: the manifest recorded {m.hash.algorithm} {m.hash.digest}, found {found} at {path}"
                )

    # -- listing and latest ------------------------------------------------------------------------

    def _scan(self, series: Series) -> dict[str, tuple[str, Any]]:
        """Every slot of a series that has a cell: segment -> (cell path, listing etag)."""
        prefix, after = series.listing
        found: dict[str, tuple[str, Any]] = {}
        root = prefix.rstrip("/")
        for st in self.backend.listing(prefix):
            p = st.path
            if not p.startswith(root + "/"):
                continue
            parts = p[len(root) + 1 :].split("/")
            if len(parts) != len(after) + 1 or tuple(parts[1:]) != after:
                continue
            seg = parts[0]
            if not _valid_segment(seg):
                warnings.warn(
                    f"skipping {p}: {seg!r} is not a run segment fsmirror writes", StoreWarning, stacklevel=3
                )
                continue
            found[seg] = (p, st)
        return found

    def _read_orders(self, series: Series, segs: list[str]) -> dict[str, str]:
        """Read the cells of ``segs`` (concurrently) and return segment -> order for committed ones."""
        out: dict[str, str] = {}
        slots = [series.slot_of(s) for s in segs]
        results = self.backend.parallel(*[(lambda sl=sl: self.visible(sl)) for sl in slots]) if slots else []
        for seg, sl, r in zip(segs, slots, results, strict=True):
            if isinstance(r, StorageError):
                warnings.warn(f"skipping {sl.manifest}: {r}", StoreWarning, stacklevel=3)
                continue
            if isinstance(r, Exception):
                raise r
            if r is not None:
                out[seg] = r[0].order
        return out

    def runs(self, series: Series, *, exact: bool = False) -> list[Run]:
        """Committed runs, oldest first. Object stores: the index and cell listings, no read per run.

        ``exact``: order every run by its manifest, whatever the index says: gc (which deletes
        by order) and latest()'s fallback (which names the newest) must not follow a damaged or
        dangling entry. Local stores always read the manifests.
        """
        cells = self._scan(series)
        if self.backend.local or exact:
            orders = self._read_orders(series, sorted(cells))
        else:
            orders = {}
            by_seg: dict[str, list[str]] = {}
            for name in self.backend.list_names(series.index):
                parsed = names.parse_index_entry(name)
                if parsed is not None and parsed[1] in cells:
                    by_seg.setdefault(parsed[1], []).append(name)
            unsure = [s for s, es in by_seg.items() if len(es) > 1]
            unsure += [s for s in cells if s not in by_seg]  # no entry: a 1.0 run, or the entry was lost
            # A cell too small to be a manifest is a pending record (a delete, a takeover): read it.
            unsure += [s for s in by_seg if len(by_seg[s]) == 1 and cells[s][1].size < PENDING_MAX]
            read = set(unsure)
            for s, es in by_seg.items():
                if len(es) == 1 and s not in read:
                    orders[s] = es[0]
            orders.update(self._read_orders(series, unsure))
        runs = [Run(s, o) for s, o in orders.items()]
        runs.sort(key=lambda r: r.order, reverse=True)
        return runs

    def latest(self, series: Series) -> tuple[Run, Manifest, str] | None:
        """The newest committed run, its manifest and where its bytes are.

        A verified hint (local: the pointer; object stores: the first entries of
        the run index, one LIST), else the manifests, and then the hint is repaired.
        """
        b = self.backend
        if b.local:
            hint = self._pointer(series.pointer)
            if hint is not None:
                got = self._confirm(series, hint)
                if got is not None:
                    return hint, *got
        else:
            for name in b.list_names(series.index, limit=8):
                parsed = names.parse_index_entry(name)
                if parsed is None or not _valid_segment(parsed[1]):
                    continue
                run = Run(parsed[1], name)
                got = self._confirm(series, run)
                if got is not None:
                    return run, *got
        runs = self.runs(series, exact=True)
        newest = runs[-1] if runs else None
        self._repair(series, newest, runs)
        if newest is None:
            return None
        got = self.visible(series.slot_of(newest.segment))
        return None if got is None else (newest, *got)

    def _confirm(self, series: Series, run: Run) -> tuple[Manifest, str] | None:
        """The hint's run when its cell confirms it; None when it does not (not committed, another's).

        A hint naming a run whose cell cannot be read raises ``StorageError(kind="damaged")``:
        that run may be the newest, so answering with an older one would be a wrong answer.
        """
        slot = series.slot_of(run.segment)
        try:
            got = self.visible(slot)
        except StorageError as e:
            if e.kind != "damaged":
                return None
            raise StorageError(
                f"the newest run of {series.address} the latest hint names ({run.segment}) cannot be "
                f"read: {e}; read an earlier run by its run id, or delete or rewrite {run.segment}",
                kind="damaged",
            ) from e
        return got if got is not None and got[0].order == run.order else None

    def _repair(self, series: Series, newest: Run | None, runs: list[Run]) -> None:
        """Rebuild the latest hint from what the manifests say (best effort: a hint is never required)."""
        b = self.backend
        if b.local and newest is None:
            # Nothing to point at. Leave any pointer (it fails verification, or names a run
            # committed since ``runs`` was read) and never create one: a read of a series that
            # does not exist must not leave files or directories behind.
            return
        with contextlib.suppress(StorageError, PreconditionFailed):
            if b.local and newest is not None:
                target: Run = newest
                record = json.dumps({"segment": target.segment, "order": target.order}).encode()

                def fix(old: bytes | None) -> bytes | None:
                    current = _parse_pointer(old)
                    if current is None:
                        return record
                    if current.order == target.order:
                        return None
                    if current.order < target.order:
                        # It names a run newer than ``newest``: one committed since ``runs`` was
                        # read, or a write between its pointer and its commit. Keep it then.
                        slot = series.slot_of(current.segment)
                        if b.slot_busy(self._lock_key(slot)) or self._confirm(series, current) is not None:
                            return None
                    return record

                b.update(series.pointer, fix)
                return
            have: set[str] = set(b.list_names(series.index))
            for r in runs:
                if r.order not in have:
                    b.put(f"{series.index}/{r.order}", b"")

    # -- delete and gc -----------------------------------------------------------------------------

    def delete(self, slot: Slot, *, only_order: str | None = None) -> bool:
        """Delete a run's artifact and everything fsmirror wrote for it; False when nothing is committed.

        ``only_order``: delete only that version of the run (gc judged it old).
        """
        b = self.backend
        with b.slot_lock(self._lock_key(slot), drop=True):
            cell, etag = self._cell(slot)
            backup: str | None = None
            if (
                isinstance(cell, Pending)
                and cell.kind == "overwrite"
                and cell.previous is not None
                and not b.exclusive
            ):
                # An overwrite under way: the run it replaces is still the committed one, so the
                # delete takes it, and the overwrite's own commit (if its writer lives) then fails.
                backup = self._backup_of(slot, cell)
                cell = cell.previous
            elif isinstance(cell, Pending):
                if not (b.exclusive or cell.stale(time.time(), self.claim_ttl)):
                    return False  # a write or delete is at it: nothing committed to delete
                prev = self._recover(slot, cell, etag)
                if prev is None:
                    return False
                cell, etag = self._cell(slot)
            if not isinstance(cell, Manifest):
                return False
            if only_order is not None and cell.order != only_order:
                return False
            if not _owned(slot.address, cell):
                raise _foreign(slot, cell)  # another address's artifact at this path: not ours to delete
            if b.exclusive:
                if only_order is not None and self.pinned(slot):
                    return False  # under the slot lock: a pin cannot land between this and the move
                # Local, under the slot lock: moving the cell away is the delete (atomic, and a
                # cell that exists is always visible, so exists() stays one stat).
                trash = self.backend.scratch("trash", uuid.uuid4().hex + ".json")
                b.move(slot.manifest, trash)
                self._finish_delete(slot, cell.format, cell.etag, cell.order, None)
                self._drop(trash)
                self._after_delete(slot, cell)
                return True
            target = {"format": cell.format, "etag": cell.etag, "order": cell.order}
            mine = Pending(uuid.uuid4().hex, "delete", time.time(), _holder(), target=target)
            try:
                p_etag = b.put(slot.manifest, mine.dump(), if_match=etag)  # the delete takes effect
            except PreconditionFailed:
                return False
            if only_order is not None and self._unpinned_or_restored(slot, cell, p_etag):
                return False
            if backup is not None:
                self._drop(backup)
            self._finish_delete(slot, cell.format, cell.etag, cell.order, p_etag)
        self._after_delete(slot, cell)
        return True

    # -- pins: gc's deletes re-check them (docs/protocol.md, "Pins") --------------------------------

    def pinned(self, slot: Slot) -> bool:
        """Whether a pin sidecar stands beside the slot's run (one GET)."""
        return self.get_sidecar(names.pin_file(slot.dir, slot.output_name)) is not None

    def _unpinned_or_restored(self, slot: Slot, cell: Manifest, p_etag: str | None) -> bool:
        """After gc's pending-delete record: True (and the manifest put back) when a pin stands.

        The re-read comes after the record, and a pin writes its sidecar before it reads the
        cell: so either this read sees the pin, or the pin's read sees the pending record and
        the pin fails. Putting the manifest back is conditional on our record: if another
        actor recovered it meanwhile, there is nothing of ours to undo.
        """
        if not self.pinned(slot):
            return False
        with contextlib.suppress(PreconditionFailed):
            self.backend.put(slot.manifest, cell.dump(), if_match=p_etag)
        return True

    def put_pin(self, slot: Slot, data: bytes) -> None:
        """Write the slot's pin sidecar so that a pin that returns holds against gc.

        Local (exclusive): under the slot lock, only while a run is committed there.
        Object stores: the sidecar first, then the cell is read; a delete under way (gc's
        pending record) or no committed run fails the pin, typed, and its sidecar is removed.
        """
        path = names.pin_file(slot.dir, slot.output_name)
        b = self.backend
        if b.exclusive:
            with b.slot_lock(self._lock_key(slot)):
                self._pin_target(slot, self._cell(slot)[0])
                self.put_sidecar(path, data)
            return
        self.put_sidecar(path, data)
        try:
            self._pin_target(slot, self._cell(slot)[0])
        except StorageError:
            with contextlib.suppress(OSError):
                b.delete(self._sidecar(path))
            raise

    def unpin(self, slot: Slot) -> bool:
        """Remove the slot's pin sidecar; False when there was none."""
        path = self._sidecar(names.pin_file(slot.dir, slot.output_name))
        if self.backend.get(path) is None:
            return False
        self.backend.delete(path)
        return True

    def _pin_target(self, slot: Slot, cell: Manifest | Pending | None) -> None:
        if isinstance(cell, Pending) and cell.kind == "delete":
            raise ArtifactNotFoundError(
                f"{slot.dir}/{slot.output_name}.* is being deleted: the pin did not take",
                kind="being-deleted",
            )
        man = visible_manifest(cell)
        if man is None:
            raise ArtifactNotFoundError(f"no committed artifact at {slot.dir}/{slot.output_name}.* to pin")
        if not _owned(slot.address, man):
            raise _foreign(slot, man)

    def _finish_delete(
        self, slot: Slot, fmt: str, data_etag: str | None, order: str, p_etag: str | None
    ) -> None:
        b = self.backend
        extra = [
            st.path
            for st in b.listing(slot.dir)
            if st.path.rsplit("/", 1)[-1].startswith(f"_{slot.output_name}.")
            and st.path.rsplit("/", 1)[-1] != names.manifest_file("", slot.output_name)[1:]
            and st.path.rsplit("/", 1)[0] == slot.dir.rstrip("/")
        ]
        # Conditional on the old bytes' etag: a deleter that stalls here cannot remove a later writer's data.
        old = None if b.local else data_etag
        calls: list[Callable[[], Any]] = [lambda: b.delete(slot.data(_ext(fmt)), if_match=old)]
        calls += [functools.partial(b.delete, p) for p in extra]
        if not b.local and names.parse_index_entry(order) is not None:
            calls.append(lambda: b.delete(f"{slot.index}/{order}"))
        for r in b.parallel(*calls):
            if isinstance(r, Exception) and not isinstance(r, PreconditionFailed):
                raise r
        if b.exclusive:
            return  # the cell was moved away first
        try:
            b.delete(slot.manifest, if_match=p_etag)
        except PreconditionFailed:
            raise StorageError(
                f"the delete of {slot.dir}/{slot.output_name}.* took longer than storage.claim_ttl="
                f"{self.claim_ttl:g}s and another writer took the slot over"
            ) from None

    def _after_delete(self, slot: Slot, m: Manifest) -> None:
        """Local: move the pointer back when it named the deleted run."""
        b = self.backend
        if not b.local:
            return
        hint = self._pointer(slot.pointer)
        if hint is not None and hint.segment == slot.segment:
            b.delete(slot.pointer)  # the next latest() rebuilds it from the manifests

    def gc(
        self,
        series: Series,
        keep: int,
        *,
        dry_run: bool = False,
        on_delete: Callable[[Run], None] | None = None,
        before_delete: Callable[[Run], None] | None = None,
    ) -> list[Run]:
        runs = self.runs(series, exact=True)
        if not runs:
            return []
        newest = runs[-1]
        doomed = [r for r in (runs[: len(runs) - keep] if keep else runs) if r != newest]
        if dry_run:
            return doomed
        deleted = []
        for r in doomed:
            slot = series.slot_of(r.segment)
            if before_delete is not None:
                before_delete(r)
            try:
                gone = self.delete(slot, only_order=r.order)
            except StorageError as e:
                if e.kind != "damaged":
                    raise
                warnings.warn(f"gc skipped {slot.manifest}: {e}", StoreWarning, stacklevel=3)
                gone = False
            if gone:
                deleted.append(r)
            if on_delete is not None:
                on_delete(r)
        self._repair(series, newest, [x for x in runs if x not in deleted])
        return deleted
