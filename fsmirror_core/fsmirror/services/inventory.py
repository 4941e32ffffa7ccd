"""Every committed manifest of a mirror, each checked to derive its own artifact's path.

The reading is the catalog's (:func:`fsmirror.catalog.scan_manifests`: one recursive
listing, one concurrent read of the manifests), so the store has one manifest reader.
Each record must also derive, from its own fields, the very path of its artifact: a manifest copied or tampered
into another directory commits nothing there and is skipped, as a damaged one is,
with a :class:`~fsmirror.StoreWarning` naming it. Reverse lookup by content hash
(:mod:`fsmirror.lookup`) and ``fsmirror query`` (:mod:`fsmirror.query`) stand on this.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import FSMirrorError, StoreWarning

if TYPE_CHECKING:
    from ..mirror import FSMirror
    from ..model.record import Manifest

__all__ = ["Committed", "committed"]


@dataclass(frozen=True)
class Committed:
    """One committed artifact: its manifest, where that manifest is, and where its bytes are."""

    manifest: Manifest
    manifest_uri: str
    uri: str


def committed(fm: FSMirror) -> list[Committed]:
    """Every committed artifact of the mirror, oldest first, through the catalog's one scan.

    Mid-overwrite, the previous manifest is what readers see, so it is what is listed; a slot
    whose first write has not committed is not listed at all. On top of the scan's checks (the
    manifest names an artifact in its own directory), the record's fields must derive that very
    artifact: one copied and edited into another directory commits nothing there.
    """
    from .catalog import scan_manifests

    out: list[Committed] = []
    for _, man, _ in scan_manifests(fm):
        try:
            slot = fm.resolver.slot_of(man)
            if slot.data(man.format) != man.uri:
                raise FSMirrorError(f"its fields derive another artifact ({slot.data(man.format)})")
        except (FSMirrorError, ValueError) as e:
            warnings.warn(f"skipping the manifest of {man.uri}: {e}", StoreWarning, stacklevel=2)
            continue
        out.append(Committed(man, slot.manifest, man.uri))
    return out
