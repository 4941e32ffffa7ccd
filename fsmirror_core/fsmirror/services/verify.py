"""Check that committed artifacts still hold the bytes their manifests vouch for.

A read checks one artifact's size (and, with ``verify: true``, its content hash);
:func:`verify` does it for every committed artifact under a code path at once:
the size, then the content hash (the manifest's algorithm, blake3 or sha256),
through the same check a verified read makes (``Store.open_verified``). Nothing
is written. ``fsmirror verify`` stands on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import FSMirrorError
from ..paths.identity import Instance, instance_json

if TYPE_CHECKING:
    from ..mirror import FSMirror
    from ..model.record import Manifest
    from .catalog import Artifact

__all__ = ["Verified", "verify", "BATCH"]

BATCH = 16
"""Artifacts checked at once: concurrency for object stores, with memory bounded (a small artifact is
read whole, up to 8 MB each; larger ones are streamed)."""


@dataclass(frozen=True)
class Verified:
    """One artifact's check: ``problem`` is None when size and hash match the manifest."""

    uri: str
    address: str
    segment: str
    partition: Instance | None
    size: int
    algorithm: str
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "address": self.address,
            "run": self.segment,
            "partition": instance_json(self.partition),
            "size": self.size,
            "algorithm": self.algorithm,
            "ok": self.ok,
            "problem": self.problem,
        }


def _check_one(fm: FSMirror, art: Artifact, man: Manifest, pending: bool) -> Verified | None:
    """Size and hash of one artifact; None when it was deleted since the listing."""
    store = fm.store
    result = Verified(art.uri, art.address, art.segment, art.partition, man.size, man.hash.algorithm)
    try:
        if pending:  # mid-overwrite: the committed bytes may sit in the backup
            found = fm.visible_at(art.uri)
            if found is None:
                return None
            _, man, path = found
        else:
            path = man.uri
        store.open_verified(man, path, True).close()
    except FSMirrorError as e:
        if fm.visible_at(art.uri) is None:
            return None  # deleted (gc, delete) since the listing: nothing to vouch for any more
        return replace(result, problem=str(e).removeprefix(f"{art.uri}: "))  # the uri is the line's
    return result


def verify(
    fm: FSMirror,
    target: str | None = None,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Verified]:
    """Check size and content hash of every committed artifact under ``target``, oldest first.

    ``target`` is what ``fsmirror ls`` takes: a code address, a code path prefix, or None
    for the whole mirror. ``on_progress(done, total)`` is called after each batch. An
    artifact deleted while the check ran is left out; every other one is in the result,
    with the mismatch (:class:`~fsmirror.IntegrityError`'s message) as ``problem``.

    >>> bad = [v for v in verify(fm) if not v.ok]  # doctest: +SKIP
    """
    from .catalog import cell_identities, scan_manifests

    damaged: list[tuple[str, FSMirrorError]] = []
    found = scan_manifests(fm, target, on_damaged=lambda path, e: damaged.append((path, e)))
    backend = fm.store.backend
    total = len(found)
    out: list[Verified] = []
    if on_progress is not None:
        on_progress(0, total)
    for i in range(0, total, BATCH):
        batch = found[i : i + BATCH]
        results = backend.parallel(*[(lambda e=e: _check_one(fm, *e)) for e in batch])
        for (art, man, _), r in zip(batch, results, strict=True):
            if isinstance(r, Exception):  # not fsmirror's own: report it, never hide it
                r = Verified(
                    art.uri,
                    art.address,
                    art.segment,
                    art.partition,
                    man.size,
                    man.hash.algorithm,
                    f"{type(r).__name__}: {r}",
                )
            if r is not None:
                out.append(r)
        if on_progress is not None:
            on_progress(min(i + BATCH, total), total)
    # A manifest that cannot be read vouches for nothing: whatever its run holds is unchecked,
    # and a read of it (or of its series' latest run, when the hint names it) fails. Say so.
    for path, e in damaged:
        ident = next(iter(cell_identities(fm, path)), None)
        out.append(
            Verified(
                path,
                "" if ident is None else ident.address,
                "" if ident is None else ident.run_segment,
                None if ident is None else ident.instance,
                0,
                "",
                f"the manifest cannot be read, so nothing vouches for this run's bytes: {e}",
            )
        )
    return out
