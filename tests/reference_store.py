"""A tiny store that keeps G1-G5 by construction, to prove the harness does not cry wolf.

It has the shape store v2 will have: a facade (the few ``FSMirror`` methods the harness
calls) over ``_protocol().backend``, whose every public method is one atomic request on an
in-memory "bucket". Writes claim the run (a claim goes stale after ``claim_ttl``), upload
the bytes under a key of their own, then commit the manifest only if they still hold the
claim; a commit whose answer was lost is checked before the write reports failure. Every
exploration of ``explore.py`` and the stateful machine must find nothing wrong with it; the
same runs against fsmirror then mean what they say.

``bugs`` plants one known defect (see ``BUGS``), so a test can check that the harness
catches each kind of broken store too, and names the guarantee it breaks.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from fsmirror import ArtifactExistsError, ArtifactNotFoundError, StorageError

__all__ = ["RefMirror", "RefBackend", "BUGS"]

# bug -> (what it does, the guarantees that may name it, a pair of explore.SCENARIOS that shows it)
BUGS: dict[str, tuple[str, str, str]] = {  # guarantees: any of them, "/"-separated
    "no-exclusion": ("claims never conflict and a commit replaces anything", "G2", "write/write"),
    "takeover": ("overwrite takes over a live claim (and commits check nothing)", "G2", "write/overwrite"),
    "late-commit": (
        "a commit checks neither its claim nor the manifest it saw at the start",
        "G2",
        "write/write",
    ),
    "gc-newest": ("gc deletes what its listing said was old, even if it became the newest", "G4", "write/gc"),
    "lost-answer": ("a commit whose answer was lost is reported as failed", "G5", "write/read"),
    "uncommit-first": (
        "overwrite removes the old manifest before the new bytes are up",
        "G1",
        "overwrite/overwrite",
    ),
    "latest-by-name": ("latest is the greatest run name, not the newest commit", "G3", "write/gc"),
    "delete-true": ("delete says True for a run that is not there", "G4", "write/delete"),
    # the final look at the store reads dirty too, so it is seen as runs()/latest() disagreeing
    # with what reads back (G3), or a failed write whose bytes read back (G5)
    "dirty-read": ("a read finds bytes uploaded but not committed", "G1/G3/G5", "write/read"),
}


@dataclass
class _Bucket:
    lock: threading.Lock = field(default_factory=threading.Lock)
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    claims: dict[str, tuple[str, float]] = field(default_factory=dict)
    seq: itertools.count = field(default_factory=lambda: itertools.count(1))


_BUCKETS: dict[str, _Bucket] = {}
_BUCKETS_LOCK = threading.Lock()


class ClaimLost(Exception):
    """The writer's claim went stale and another writer took the run."""


class RefBackend:
    """Every public method is one request, atomic on the bucket."""

    def __init__(self, tenant: str, claim_ttl: float, bugs: frozenset[str] = frozenset()) -> None:
        with _BUCKETS_LOCK:
            self._b = _BUCKETS.setdefault(tenant, _Bucket())
        self._ttl = claim_ttl
        self._bugs = bugs

    def _replaces(self, run: str, overwrite: bool, attempt: int) -> bool:
        """An overwrite, or a later attempt of the committed run (the bucket's lock is held)."""
        m = self._b.manifests.get(run)
        return overwrite or (m is not None and attempt > int(m.get("attempt", 0)))

    def claim(self, run: str, token: str, overwrite: bool, attempt: int = 0) -> str:
        """'ok', 'busy' (a live claim of another writer) or 'committed' (and not overwrite)."""
        b = self._b
        with b.lock:
            held = b.claims.get(run)
            live = held is not None and time.monotonic() - held[1] <= self._ttl
            if live and not ("no-exclusion" in self._bugs or ("takeover" in self._bugs and overwrite)):
                return "busy"
            if run in b.manifests and not self._replaces(run, overwrite, attempt) and "no-exclusion" not in self._bugs:
                return "committed"
            b.claims[run] = (token, time.monotonic())
            return "ok"

    def put(self, key: str, data: bytes) -> None:
        with self._b.lock:
            self._b.blobs[key] = bytes(data)

    def commit(self, run: str, token: str, key: str, size: int, overwrite: bool, attempt: int = 0) -> None:
        b = self._b
        with b.lock:
            held = b.claims.get(run)
            blind = bool(self._bugs & {"no-exclusion", "takeover", "late-commit"})
            if (held is None or held[0] != token) and not blind:
                raise ClaimLost(run)
            if run in b.manifests and not self._replaces(run, overwrite, attempt) and not blind:
                raise ClaimLost(run)
            b.manifests[run] = {
                "attempt": attempt,
                "run": {"segment": run},
                "key": key,
                "size": size,
                "token": token,
                "created_at": f"{next(b.seq):012d}",
            }
            if held is not None and held[0] == token:
                del b.claims[run]

    def release(self, run: str, token: str) -> None:
        b = self._b
        with b.lock:
            held = b.claims.get(run)
            if held is not None and held[0] == token:
                del b.claims[run]

    def uncommit(self, run: str) -> None:
        with self._b.lock:
            self._b.manifests.pop(run, None)

    def manifest(self, run: str) -> dict[str, Any] | None:
        with self._b.lock:
            m = self._b.manifests.get(run)
            if m is None and "dirty-read" in self._bugs:
                keys = [k for k in self._b.blobs if k.startswith(f"{run}/")]
                if keys:
                    return {"run": {"segment": run}, "key": keys[-1], "created_at": "", "token": ""}
            return dict(m) if m is not None else None

    def _order(self, m: dict[str, Any]) -> Any:
        return m["run"]["segment"] if "latest-by-name" in self._bugs else m["created_at"]

    def newest(self) -> dict[str, Any] | None:
        with self._b.lock:
            ms = self._b.manifests
            return dict(max(ms.values(), key=self._order)) if ms else None

    def list_runs(self) -> list[str]:
        with self._b.lock:
            return [r for r, _ in sorted(self._b.manifests.items(), key=lambda kv: kv[1]["created_at"])]

    def get(self, key: str) -> bytes:
        with self._b.lock:
            try:
                return self._b.blobs[key]
            except KeyError:
                raise FileNotFoundError(key) from None

    def delete(self, run: str, unless_newest: bool = False) -> bool:
        b = self._b
        with b.lock:
            m = b.manifests.get(run)
            if m is None:
                return "delete-true" in self._bugs
            if (
                unless_newest
                and "gc-newest" not in self._bugs
                and max(b.manifests.values(), key=self._order) is m
            ):
                return False
            del b.manifests[run]
            b.blobs.pop(m["key"], None)
            return True


class RefMirror:
    """The facade: write/read/delete/gc/latest/runs/manifest of one address, as ``FSMirror`` has them."""

    def __init__(self, config: dict[str, Any], bugs: frozenset[str] | set[str] = frozenset()) -> None:
        st = config["storage"]
        unknown = set(bugs) - set(BUGS)
        if unknown:
            raise ValueError(f"unknown bugs {sorted(unknown)}")
        self._bugs = frozenset(bugs)
        bucket = f"{st['tenant']}/{st.get('namespace', '')}"
        self._proto = SimpleNamespace(backend=RefBackend(bucket, float(st.get("claim_ttl", 900)), self._bugs))

    def _protocol(self) -> Any:
        return self._proto

    @property
    def _b(self) -> Any:
        return self._proto.backend

    def write(
        self,
        obj: Any,
        value: bytes,
        *,
        run_id: str,
        format: str | None = None,
        overwrite: bool = False,
        attempt: int = 0,
    ) -> str:
        b, token = self._b, uuid.uuid4().hex
        try:
            got = b.claim(run_id, token, overwrite, attempt)
        except OSError as e:
            raise StorageError(f"cannot claim {run_id}: {e}") from e
        if got == "busy":
            raise ArtifactExistsError(f"a write of {run_id} is in progress")
        if got == "committed":
            raise ArtifactExistsError(f"{run_id} is committed already")
        try:
            if overwrite and "uncommit-first" in self._bugs:
                b.uncommit(run_id)
            key = f"{run_id}/{token}"
            b.put(key, value)
            try:
                b.commit(run_id, token, key, len(value), overwrite, attempt)
            except ClaimLost:
                raise ArtifactExistsError(
                    f"{run_id}: the claim went stale and another writer committed"
                ) from None
            except OSError:
                if "lost-answer" in self._bugs:
                    raise
                m = b.manifest(run_id)  # the answer may be lost, not the commit
                if m is None or m["token"] != token:
                    raise
            return f"ref://{run_id}/out.bytes"
        except ArtifactExistsError:
            raise
        except OSError as e:
            try:
                b.release(run_id, token)
            except OSError:
                pass
            raise StorageError(f"cannot write {run_id}: {e}") from e

    def _load(self, m: dict[str, Any] | None, what: str) -> bytes:
        if m is None:
            raise ArtifactNotFoundError(f"no committed artifact: {what}")
        try:
            return bytes(self._b.get(m["key"]))
        except FileNotFoundError:
            raise ArtifactNotFoundError(f"{what} was deleted") from None

    def read(self, obj: Any, *, run_id: str = "latest") -> bytes:
        try:
            if run_id == "latest":
                return self._load(self._b.newest(), "latest")
            return self._load(self._b.manifest(run_id), run_id)
        except OSError as e:
            if isinstance(e, StorageError):
                raise
            raise StorageError(f"cannot read {run_id}: {e}") from e

    def manifest(self, obj: Any, *, run_id: str) -> dict[str, Any]:
        m = self._b.manifest(run_id)
        if m is None:
            raise ArtifactNotFoundError(run_id)
        return m

    def exists(self, obj: Any, *, run_id: str) -> bool:
        return self._b.manifest(run_id) is not None

    def latest(self, obj: Any) -> str | None:
        m = self._b.newest()  # (latest-by-name: the greatest name)
        return None if m is None else str(m["run"]["segment"])

    def runs(self, obj: Any) -> list[str]:
        return list(self._b.list_runs())

    def _guard(self, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except OSError as e:
            raise StorageError(f"cannot {what}: {e}") from e

    def delete(self, obj: Any, *, run_id: str) -> bool:
        return bool(self._guard(f"delete {run_id}", self._b.delete, run_id))

    def gc(self, obj: Any, *, keep: int) -> list[str]:
        runs = self._guard("list runs", self._b.list_runs)
        if "latest-by-name" in self._bugs:
            runs = sorted(runs)
        old = runs[: len(runs) - keep] if keep else runs
        deleted = []
        for run in old[:-1] if old and old[-1] == runs[-1] else old:
            if self._guard(f"delete {run}", self._b.delete, run, unless_newest=True):
                deleted.append(run)
        return deleted
