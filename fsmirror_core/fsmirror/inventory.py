"""Every committed manifest of a mirror, read concurrently and checked against its own path.

A manifest is the commit marker, so one recursive listing and one concurrent read of
the small JSON files finds exactly the committed artifacts. Each record must derive,
from its own fields, the very path it was read from: a manifest copied or tampered
into another directory commits nothing there and is skipped, as a damaged one is,
with a :class:`~fsmirror.StoreWarning` naming it. Reverse lookup by content hash
(:mod:`fsmirror.lookup`) and ``fsmirror query`` (:mod:`fsmirror.query`) stand on this.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import names
from .errors import FSMirrorError, StoreWarning

if TYPE_CHECKING:
    from .mirror import FSMirror
    from .record import Manifest

__all__ = ["Committed", "committed", "BATCH"]

#: Manifests read at once: enough to hide an object store's latency, few enough threads.
BATCH = 256


@dataclass(frozen=True)
class Committed:
    """One committed artifact: its manifest, where that manifest is, and where its bytes are."""

    manifest: Manifest
    manifest_uri: str
    uri: str


def _scratch(fm: FSMirror, path: str) -> bool:
    return any(f"/{s}/" in "/" + path for s in (names.LOCAL_SCRATCH, names.OBJECT_SCRATCH))


def committed(fm: FSMirror, root: str | None = None) -> list[Committed]:
    """Every committed artifact under ``root`` (default: the mirror's base), in listing order.

    Mid-overwrite, the previous manifest is what readers see, so it is what is listed;
    a slot whose first write has not committed is not listed at all.
    """
    from .record import Manifest, Pending, parse_cell

    backend = fm._protocol().backend
    cells = [
        st.path
        for st in backend.listing(root or fm.base)
        if names.kind_of(st.path.rsplit("/", 1)[-1])[0] == "manifest"
        and not _scratch(fm, st.path)
        and not names.in_run_index(st.path)
    ]
    out: list[Committed] = []
    for i in range(0, len(cells), BATCH):
        batch = cells[i : i + BATCH]
        reads: list[Any] = backend.parallel(*[(lambda p=p: backend.get(p)) for p in batch])
        for path, blob in zip(batch, reads, strict=True):
            try:
                if isinstance(blob, Exception):
                    raise blob
                if blob is None:
                    continue  # deleted since the listing
                cell = parse_cell(blob.data, path)
                man = cell.previous if isinstance(cell, Pending) and cell.kind == "overwrite" else cell
                if not isinstance(man, Manifest):
                    continue
                if not (man.format.isascii() and man.format.isalnum()):
                    raise FSMirrorError(f"its format {man.format!r} is damaged")
                slot = fm._slot(man.address, man.run_id, man.partition, man.output_name or None)
                if slot.manifest != path:
                    raise FSMirrorError(f"its fields derive another path ({slot.manifest})")
                out.append(Committed(man, path, slot.data(man.format)))
            except (FSMirrorError, ValueError, KeyError, TypeError) as e:
                warnings.warn(f"skipping {path}: {e}", StoreWarning, stacklevel=2)
    return out
