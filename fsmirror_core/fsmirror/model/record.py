"""The records fsmirror keeps in the store, typed: the manifest and the slot's pending state.

The manifest file is the slot's *state cell*: it holds either a committed
:class:`Manifest` or a :class:`Pending` record (a takeover, an overwrite or a
delete under way). Both are built and validated before any byte is written, and
parsed strictly when read back: anything that does not parse is damaged or
foreign, never a half-trusted dict.

Runs are ordered by one definition, :func:`order_key`: the commit time the
writer recorded (UTC, microseconds), ties broken by the run segment. The run
index names entries by the same key, so a plain listing is already in order.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import FormatError, StorageError
from ..paths import names
from ..paths.identity import Identity, Instance, check_attempt, instance_from_json, instance_json

__all__ = [
    "PENDING_MAX",
    "MANIFEST_VERSION",
    "ContentHash",
    "DataTime",
    "Input",
    "Manifest",
    "Pending",
    "parse_cell",
    "visible_manifest",
    "order_key",
    "created_us",
    "utcnow",
    "check_jsonable",
    "parse_day_or_instant",
]

MANIFEST_VERSION = 2
# Every pending record but an overwrite's is smaller than this, every manifest larger: a listing
# can tell a cell that may not be committed by its size alone (runs() reads only those).
PENDING_MAX = 400


def utcnow() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def created_us(created_at: str) -> int:
    """Microseconds since the epoch of an ISO timestamp (naive ones are UTC)."""
    t = _dt.datetime.fromisoformat(created_at)
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    delta = t - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def order_key(created_at: str, segment: str) -> str:
    """The one ordering of runs: a string that sorts *newest first* (the run index entry's name).

    Newer commit time first; within one microsecond, the run segment that sorts
    first counts as newer. ``runs()`` (oldest first) is this order reversed.
    """
    return names.index_entry(created_us(created_at), segment)


def check_jsonable(value: Any, what: str) -> None:
    """Refuse, before anything is written, a record the manifest could not hold."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise FormatError(f"{what} must be JSON-able (str, number, bool, None, list, dict): {e}") from None


def _iso_utc(value: Any, what: str) -> str | None:
    """An ISO 8601 instant in UTC (``2026-11-20T00:00:00+00:00``); naive datetimes count as UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value)
        except ValueError:
            raise FormatError(f"{what} {value!r} is not an ISO 8601 date or time") from None
    if isinstance(value, _dt.datetime):
        t = value if value.tzinfo is not None else value.replace(tzinfo=_dt.timezone.utc)
        return t.astimezone(_dt.timezone.utc).isoformat()
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day, tzinfo=_dt.timezone.utc).isoformat()
    raise FormatError(f"{what} must be a datetime, a date or an ISO 8601 string, not {type(value).__name__}")


@dataclass(frozen=True)
class DataTime:
    """The period of data an artifact is about, as the orchestrator scheduled it: not when it ran.

    A rerun of last Tuesday's run is made today (``created_at``) but holds Tuesday's data;
    this says which day that is, so "the artifact for 2026-11-20" can be found. Generic on
    purpose: Airflow's ``logical_date`` and data interval fill it, and a Dagster time-window
    partition or a Luigi date parameter is the same idea. Every field is an ISO 8601 instant
    in UTC, or None when the orchestrator has none (an Airflow run without a logical date).
    """

    logical_date: str | None = None
    interval_start: str | None = None
    interval_end: str | None = None

    @classmethod
    def of(cls, logical_date: Any = None, interval_start: Any = None, interval_end: Any = None) -> DataTime:
        """From datetimes, dates or ISO strings (normalized to UTC); raises FormatError on anything else."""
        return cls(
            _iso_utc(logical_date, "logical_date"),
            _iso_utc(interval_start, "data interval start"),
            _iso_utc(interval_end, "data interval end"),
        )

    def __bool__(self) -> bool:
        return any((self.logical_date, self.interval_start, self.interval_end))

    def on(self, wanted: _dt.date | _dt.datetime) -> bool:
        """Whether the logical date is ``wanted``: a day (its UTC date) or an instant (the same instant)."""
        if self.logical_date is None:
            return False
        t = _dt.datetime.fromisoformat(self.logical_date).astimezone(_dt.timezone.utc)
        if isinstance(wanted, _dt.datetime):
            w = wanted if wanted.tzinfo is not None else wanted.replace(tzinfo=_dt.timezone.utc)
            return t == w
        return t.date() == wanted


def parse_day_or_instant(text: str) -> _dt.date | _dt.datetime:
    """``2026-11-20`` (a UTC day) or an ISO 8601 instant, for selecting by logical date; ValueError otherwise."""
    text = text.strip()
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return _dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (2026-11-20) or an ISO 8601 time") from None


@dataclass(frozen=True)
class ContentHash:
    algorithm: str
    digest: str


@dataclass(frozen=True)
class Input:
    """One artifact a step read, as recorded in the manifests of what the step wrote.

    Enough to find the artifact again (``uri``; ``address`` + ``run`` + ``partition`` +
    ``output_name`` through any mirror of the same layout) and to tell whether it is still the
    same bytes (``hash``). ``created_at`` is the input's commit time: with it, "was this
    made from the newest run of its input?" needs no second read.
    """

    uri: str
    address: str
    run: str  # the run's path segment
    output_name: str
    partition: Instance | None  # the instance (fsmirror.identity)
    hash: ContentHash | None
    created_at: str | None = None

    @classmethod
    def of(cls, m: Manifest) -> Input:
        return cls(m.uri, m.address, m.segment, m.output_name, m.partition, m.hash, m.created_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "address": self.address,
            "run": self.run,
            "output_name": self.output_name,
            "partition": instance_json(self.partition),
            "hash": None
            if self.hash is None
            else {"algorithm": self.hash.algorithm, "digest": self.hash.digest},
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Input:
        h = d.get("hash")
        return cls(
            uri=str(d["uri"]),
            address=str(d.get("address") or ""),
            run=str(d.get("run") or ""),
            output_name=str(d.get("output_name") or ""),
            partition=instance_from_json(d.get("partition")),
            hash=None if not h else ContentHash(str(h["algorithm"]), str(h["digest"])),
            created_at=None if d.get("created_at") is None else str(d["created_at"]),
        )


@dataclass(frozen=True)
class Manifest:
    """What made an artifact, and the proof that its bytes are committed.

    ``to_json`` keeps every key fsmirror 1.0 wrote (``sha256`` only when that is
    the algorithm), so 1.0 readers and scripts keep working.
    """

    uri: str
    mirror: str
    code: dict[str, Any]
    git: dict[str, Any] | None
    run_id: Any
    segment: str
    run_source: str
    orchestrator: dict[str, Any]
    partition: Instance | None  # the instance: a partition key, or parts (fsmirror.identity)
    output_name: str
    format: str
    requested_format: str
    fell_back: bool
    python_type: str
    size: int
    hash: ContentHash
    created_at: str
    versions: dict[str, str]
    etag: str | None = None
    writer: dict[str, Any] = field(default_factory=dict)  # host and pid of the process that committed
    inputs: tuple[Input, ...] = ()  # what the step that wrote it read (lineage)
    attempt: int = 0  # the try within its run that committed it (0: the first; fsmirror.identity)
    data_time: DataTime | None = None  # the logical date and data interval it is about (schedulers)
    version: int = MANIFEST_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> str:
        return order_key(self.created_at, self.segment)

    @property
    def address(self) -> str:
        return str(self.code.get("address", ""))

    @property
    def identity(self) -> Identity:
        """Code x instance x run x attempt x output: what this artifact is (fsmirror.identity)."""
        return Identity(self.address, self.partition, self.run_id, self.attempt, self.output_name)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self.extra,
            "fsmirror_manifest": self.version,
            "state": "committed",
            "uri": self.uri,
            "mirror": self.mirror,
            "code": self.code,
            "git": self.git,
            "run": {
                "id": list(self.run_id) if isinstance(self.run_id, tuple) else self.run_id,
                "segment": self.segment,
                "source": self.run_source,
            },
            "orchestrator": self.orchestrator,
            "partition": instance_json(self.partition),
            "attempt": self.attempt,
            "output_name": self.output_name,
            "format": self.format,
            "requested_format": self.requested_format,
            "fell_back": self.fell_back,
            "python_type": self.python_type,
            "size": self.size,
            "hash": {"algorithm": self.hash.algorithm, "digest": self.hash.digest},
            "created_at": self.created_at,
            "versions": self.versions,
            "inputs": [i.to_json() for i in self.inputs],
        }
        if self.writer:
            out["writer"] = self.writer
        if self.data_time:  # only when the orchestrator gave one: older manifests stay byte-identical
            out["logical_date"] = self.data_time.logical_date
            start, end = self.data_time.interval_start, self.data_time.interval_end
            out["data_interval"] = None if start is None and end is None else {"start": start, "end": end}
        if self.hash.algorithm == "sha256":
            out["sha256"] = self.hash.digest
        if self.etag is not None:
            out["etag"] = self.etag
        return out

    def dump(self) -> bytes:
        return json.dumps(self.to_json(), indent=1, sort_keys=True, allow_nan=False).encode()

    def with_content(self, size: int, digest: ContentHash, etag: str | None, created_at: str) -> Manifest:
        return dataclasses.replace(self, size=size, hash=digest, etag=etag, created_at=created_at)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Manifest:
        """Strict parse of a 1.0 or 2.x manifest; raises ValueError naming what is wrong."""
        try:
            run = d["run"]
            code = d["code"]
            if not isinstance(run, Mapping) or not isinstance(code, Mapping):
                raise ValueError("'run' and 'code' must be objects")
            if "hash" in d:
                h = d["hash"]
                digest = ContentHash(str(h["algorithm"]), str(h["digest"]))
            else:
                digest = ContentHash("sha256", str(d["sha256"]))
            rid = run["id"]
            size = d["size"]
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ValueError(f"size {size!r} is not a byte count")
            segment = run["segment"]
            fmt = d["format"]
            if not isinstance(segment, str) or not isinstance(fmt, str) or not isinstance(d["uri"], str):
                raise ValueError("'run.segment', 'format' and 'uri' must be strings")
            created = str(d["created_at"])
            created_us(created)  # must parse
            known = {
                "fsmirror_manifest", "state", "uri", "mirror", "code", "git", "run", "orchestrator",
                "partition", "output_name", "format", "requested_format", "fell_back", "python_type",
                "size", "hash", "sha256", "created_at", "versions", "etag", "writer", "inputs",
                "attempt", "logical_date", "data_interval",
            }  # fmt: skip
            raw_inputs = d.get("inputs") or []
            if not isinstance(raw_inputs, list):
                raise ValueError("'inputs' must be a list")
            return cls(
                uri=d["uri"],
                mirror=str(d.get("mirror", "")),
                code=dict(code),
                git=d.get("git"),
                run_id=tuple(rid) if isinstance(rid, list) else rid,
                segment=segment,
                run_source=str(run.get("source", "")),
                orchestrator=dict(d.get("orchestrator") or {}),
                partition=instance_from_json(d.get("partition")),
                output_name=str(d.get("output_name") or ""),
                format=fmt,
                requested_format=str(d.get("requested_format", fmt)),
                fell_back=bool(d.get("fell_back", False)),
                python_type=str(d.get("python_type", "")),
                size=size,
                hash=digest,
                created_at=created,
                versions=dict(d.get("versions") or {}),
                etag=d.get("etag"),
                writer=dict(d.get("writer") or {}),
                inputs=tuple(Input.from_json(i) for i in raw_inputs),
                attempt=check_attempt(d.get("attempt", 0)),
                data_time=_data_time(d),
                version=int(d.get("fsmirror_manifest", 1)),
                extra={k: v for k, v in d.items() if k not in known},
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"missing or mistyped field: {e!r}") from None


def _data_time(d: Mapping[str, Any]) -> DataTime | None:
    interval = d.get("data_interval") or {}
    if not isinstance(interval, Mapping):
        raise ValueError("'data_interval' must be an object with 'start' and 'end'")
    try:
        got = DataTime.of(d.get("logical_date"), interval.get("start"), interval.get("end"))
    except FormatError as e:
        raise ValueError(str(e)) from None
    return got or None


@dataclass(frozen=True)
class Pending:
    """A slot taken by a writer that has not committed yet (a takeover, an overwrite, a delete).

    ``previous`` is the committed manifest the operation started from (None for a
    fresh slot); while the record stands, that is what readers see, its bytes
    kept at ``backup`` when the operation replaces them.
    """

    token: str
    kind: str  # "write" | "overwrite" | "delete"
    at: float
    holder: str
    previous: Manifest | None = None
    backup: str | None = None
    # A delete keeps only what finishing it needs (so its record stays small: listings tell it
    # from a manifest by size): the data's format and etag and the run's order key.
    target: dict[str, str | None] | None = None

    def stale(self, now: float, ttl: float) -> bool:
        return not math.isfinite(self.at) or now - self.at > ttl

    def dump(self) -> bytes:
        return json.dumps(
            {
                "fsmirror_manifest": MANIFEST_VERSION,
                "state": "pending",
                "token": self.token,
                "kind": self.kind,
                "at": self.at,
                "holder": self.holder,
                "previous": None if self.previous is None else self.previous.to_json(),
                "backup": self.backup,
                "target": self.target,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Pending:
        try:
            prev = d.get("previous")
            return cls(
                token=str(d["token"]),
                kind=str(d["kind"]),
                at=float(d["at"]),
                holder=str(d.get("holder", "")),
                previous=None if prev is None else Manifest.from_json(prev),
                backup=None if d.get("backup") is None else str(d["backup"]),
                target=None if d.get("target") is None else {k: v for k, v in dict(d["target"]).items()},
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"damaged pending record: {e!r}") from None


def visible_manifest(cell: Manifest | Pending | None) -> Manifest | None:
    """The one reader rule for a cell: which committed manifest a reader sees in this slot.

    A manifest is itself; mid-overwrite, the run it replaces (``previous``); anything else (a
    takeover, a delete under way, nothing): no artifact. Where its bytes are read from is the
    protocol's (``Store.visible_in``); every tool that lists or looks up asks this function.
    """
    if isinstance(cell, Manifest):
        return cell
    if isinstance(cell, Pending) and cell.kind == "overwrite":
        return cell.previous
    return None


def parse_cell(data: bytes, where: str) -> Manifest | Pending:
    """The record in a slot's manifest file; damage is a StorageError naming the file."""
    try:
        d = json.loads(data)
        if not isinstance(d, dict):
            raise ValueError(f"a JSON {type(d).__name__}, not an object")
        if d.get("state") == "pending":
            return Pending.from_json(d)
        return Manifest.from_json(d)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise StorageError(f"{where} is damaged or not an fsmirror manifest ({e})") from None
