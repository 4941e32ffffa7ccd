"""Prefect's record of a result key, kept beside the artifact it describes.

Every key Prefect stores through the block gets one sidecar in the slot's
directory, ``_<output_name>.prefect_<hash of the key>.json``
(:func:`fsmirror.names.sidecar_file`), holding Prefect's result metadata
(``ResultRecordMetadata``: storage key, serializer, expiration) and, under
``"fsmirror"``, how to hand the bytes back:

- ``record``: Prefect stored a whole result record (a plain ``result_storage=``
  task); reads rebuild one around the artifact's value.
- ``failed``: a failed run's exception, as Prefect serialized it (base64). There
  is no artifact then: it is never the task's committed value nor ``latest``.

Because the record sits in the run's directory, the store's delete and gc remove
it with the run: there is no index elsewhere to clean. A key whose location it
does not say (Prefect's own keys) is found by the record's file name: in the
run's own directory when a run is in progress, else by listing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from fsmirror import FSMirror
from fsmirror.paths import names

__all__ = [
    "KeyRecord",
    "kind_of",
    "record_file",
    "remembered",
    "remember",
    "forget_dir",
    "find_records",
    "committed_manifest",
    "newest",
]

KIND_PREFIX = "prefect_"
_MAX_REMEMBERED = 4096
_where: OrderedDict[tuple[str, str], str] = OrderedDict()
_lock = threading.Lock()  # Prefect runs tasks on threads
"""(mirror base, key) -> the directory its record was last found in, in this process (verified on use)."""


def kind_of(key: str) -> str:
    """The sidecar kind of ``key``: ``prefect_`` and 32 hex digits of its sha256."""
    return KIND_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]


def record_file(directory: str, output_name: str, key: str) -> str:
    return names.sidecar_file(directory, output_name, kind_of(key))


@dataclass
class KeyRecord:
    """One key's record: Prefect's metadata (as JSON) and fsmirror's note on the bytes."""

    metadata: dict[str, Any] = field(default_factory=dict)
    record: bool = False
    failed: bytes | None = None
    verbatim: bytes | None = None
    """Prefect's metadata bytes as Prefect wrote them, kept as they are when there is no note."""

    def dump(self) -> bytes:
        if self.verbatim is not None and not (self.record or self.failed is not None):
            return self.verbatim
        note: dict[str, Any] = {}
        if self.record:
            note["record"] = True
        if self.failed is not None:
            note["failed"] = base64.b64encode(self.failed).decode("ascii")
        doc = dict(self.metadata)
        if note:
            doc["fsmirror"] = note
        return _compact(doc)

    @classmethod
    def load(cls, data: bytes) -> KeyRecord:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("a key record is a JSON object")
        note = doc.pop("fsmirror", None) or {}
        failed = note.get("failed")
        return cls(
            metadata=doc,
            record=bool(note.get("record")),
            failed=None if failed is None else base64.b64decode(failed),
            verbatim=None if note else bytes(data),
        )

    def metadata_bytes(self) -> bytes:
        """What Prefect's metadata storage returns: the metadata alone, byte for byte when Prefect wrote it."""
        return self.verbatim if self.verbatim is not None else _compact(self.metadata)


def _compact(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def remembered(fm: FSMirror, key: str) -> str | None:
    return _where.get((fm.base, key))


def remember(fm: FSMirror, key: str, directory: str) -> None:
    with _lock:
        _where[(fm.base, key)] = directory
        _where.move_to_end((fm.base, key))
        while len(_where) > _MAX_REMEMBERED:
            _where.popitem(last=False)


def forget_dir(fm: FSMirror, key: str) -> None:
    with _lock:
        _where.pop((fm.base, key), None)


def find_records(fm: FSMirror, prefix: str, output_name: str, key: str) -> list[str]:
    """The directories under ``prefix`` that hold ``key``'s record (one recursive listing)."""
    fs = fm.filesystem
    wanted = record_file("", output_name, key)[1:]
    try:
        paths = fs.find(prefix)
    except FileNotFoundError:
        return []
    out = []
    for path in paths:
        directory, _, name = str(path).rpartition("/")
        if name == wanted:
            out.append(fs.unstrip_protocol(directory) if "://" in fm.base else directory)
    return out


def committed_manifest(fm: FSMirror, directory: str, output_name: str) -> dict[str, Any] | None:
    """The manifest a reader sees in ``directory`` (protocol.md: a committed cell, or an overwrite's
    previous), read through the store and the core's one reader rule (``record.visible_manifest``)."""
    from fsmirror.errors import FSMirrorError
    from fsmirror.model.record import parse_cell, visible_manifest

    path = names.manifest_file(directory, output_name)
    try:
        blob = fm.store.backend.get(path)
        man = None if blob is None else visible_manifest(parse_cell(blob.data, path))
    except FSMirrorError:
        return None  # a damaged cell holds no artifact
    return None if man is None else man.to_json()


def _created(fm: FSMirror, directory: str, output_name: str) -> str | None:
    man = committed_manifest(fm, directory, output_name)
    return None if man is None else str(man.get("created_at") or "") or None


def newest(fm: FSMirror, directories: list[str], output_name: str) -> str | None:
    """Of the directories holding a key's record, the one whose artifact was committed last.

    A record without a committed artifact beside it counts only when none has one
    (a failed run's exception: its key is Prefect's random one, so it is alone).
    """
    committed = [(c, d) for d in directories if (c := _created(fm, d, output_name)) is not None]
    if committed:
        return max(committed)[1]
    return directories[0] if directories else None
