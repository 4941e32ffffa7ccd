"""Run ids: where they come from and how they become one path segment.

The encoding is the one place a run id meets the path grammar, so it must be
injective (two run ids never share a directory), readable (``run42`` stays
``run42``) and safe (no ``/``, ``..``, NUL or control character can come out).

Rule: ASCII letters, digits, ``.``, ``_`` and ``-`` pass through; every other
character becomes ``~XX`` for each byte of its UTF-8 form (uppercase hex). A
leading ``.`` or ``_`` is escaped too, so a run segment is never ``.``/``..``
and never collides with fsmirror's own ``_``-prefixed bookkeeping files.
Airflow's ``manual__2026-11-24T18:31:09.484415+00:00`` becomes
``manual__2026-11-24T18~3A31~3A09.484415~2B00~3A00``.

A *scoped* run id is a tuple of parts (Airflow's ``(dag_id, run_id)``): each
part is encoded on its own and the parts are joined with ``@``, a character the
encoding never emits, so scoped ids stay injective too.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import threading
import time
from typing import Union

from ..errors import ResolveError

__all__ = [
    "RunId",
    "ID_METHODS",
    "encode_segment",
    "decode_segment",
    "encode_run_id",
    "decode_run_id",
    "generate_run_id",
    "env_run_id",
]

RunId = Union[str, tuple[str, ...]]
"""A run id: a string, or a tuple of parts scoped left to right."""

ID_METHODS = ("date", "uuid", "ulid")
SCOPE_SEP = "@"
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
_ESCAPE = re.compile(r"~([0-9A-F]{2})")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_SEGMENT = 255


def encode_segment(value: str, *, what: str = "run id") -> str:
    """Encode one string as one safe, readable path segment (see module doc)."""
    if not isinstance(value, str):
        raise ResolveError(f"{what} must be a string, got {type(value).__name__} {value!r}")
    if not value:
        raise ResolveError(f"{what} is empty: give a non-empty string")
    if _SAFE.issuperset(value) and value[0] not in "._":
        out = value
    else:
        chunks = []
        for i, ch in enumerate(value):
            if ch in _SAFE and not (i == 0 and ch in "._"):
                chunks.append(ch)
            else:
                chunks.append("".join(f"~{b:02X}" for b in ch.encode("utf-8", "surrogatepass")))
        out = "".join(chunks)
    if len(out) > MAX_SEGMENT:
        raise ResolveError(
            f"{what} {value[:40]!r}... encodes to {len(out)} characters; "
            f"a path segment holds at most {MAX_SEGMENT}: use a shorter id"
        )
    return out


def decode_segment(segment: str) -> str:
    """Invert :func:`encode_segment`.

    A segment no encoding gives (``~FF``, not UTF-8; ``é~41``, a raw non-ASCII character
    beside an escape) is a :class:`ResolveError`, never a ``UnicodeError`` from inside.
    """
    if "~" not in segment:
        return segment
    raw = bytearray()
    pos = 0
    try:
        for m in _ESCAPE.finditer(segment):
            raw += segment[pos : m.start()].encode("ascii")
            raw.append(int(m.group(1), 16))
            pos = m.end()
        raw += segment[pos:].encode("ascii")
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeError:
        raise ResolveError(
            f"{segment!r} is not a run or partition segment as fsmirror writes them: its ~XX escapes "
            "must spell UTF-8 and the rest be ASCII; give the segment as `fsmirror runs` or `ls` prints it"
        ) from None


def encode_run_id(run_id: RunId) -> str:
    """Encode a run id (or a scoped tuple of parts) as one path segment."""
    if isinstance(run_id, tuple):
        if not run_id:
            raise ResolveError("scoped run id is an empty tuple: give at least one part")
        seg = SCOPE_SEP.join(encode_segment(p) for p in run_id)
        if len(seg) > MAX_SEGMENT:
            raise ResolveError(f"scoped run id {run_id!r} is too long for one path segment")
        return seg
    return encode_segment(run_id)


def decode_run_id(segment: str) -> RunId:
    """Invert :func:`encode_run_id`: a tuple for scoped segments, else a string."""
    if SCOPE_SEP in segment:
        return tuple(decode_segment(p) for p in segment.split(SCOPE_SEP))
    return decode_segment(segment)


def _ulid() -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, Crockford base32, sortable."""
    import secrets  # lazily: it pulls in hmac and OpenSSL, for the ulid method only

    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


_issued: dict[str, set[str]] = {}  # this process's date ids of the current millisecond
_date_lock = threading.Lock()


def _utc_now() -> _dt.datetime:
    """The clock date ids read (one function, so a test can stop it)."""
    return _dt.datetime.now(_dt.timezone.utc)


def _date_id(now: _dt.datetime | None = None) -> str:
    """``20261201092448.483-7KQ2M``: the UTC time to the millisecond, then 5 random characters.

    The seconds come first (``%Y%m%d%H%M%S``, as fsmirror 0.4 wrote them), so date ids
    still sort and read by time. Two runs started in the same second used to get the same
    id and share one directory; the milliseconds and 25 random bits (Crockford base32)
    make two processes, on one machine or many, collide with odds of 1 in 2**25 per pair
    within the same millisecond, and one process never hands out the same id twice.
    """
    import secrets  # lazily, as for ulid

    now = now or _utc_now()
    stamp = now.strftime("%Y%m%d%H%M%S") + f".{now.microsecond // 1000:03d}"
    with _date_lock:
        seen = _issued.get(stamp)
        if seen is None:
            _issued.clear()
            seen = _issued[stamp] = set()
        while True:
            bits = secrets.randbits(25)
            rid = f"{stamp}-" + "".join(_CROCKFORD[(bits >> s) & 31] for s in (20, 15, 10, 5, 0))
            if rid not in seen:
                seen.add(rid)
                return rid


def generate_run_id(method: str = "date") -> str:
    """A fresh run id for runs no orchestrator names: the last resort of the precedence.

    Every generated id is unique: ``date`` ids carry milliseconds and a random suffix
    (see :func:`_date_id`), ``uuid`` and ``ulid`` their own randomness.
    """
    if method == "date":
        return _date_id()
    if method == "uuid":
        import uuid  # lazily: it imports platform, for the uuid method only

        return str(uuid.uuid4())
    if method == "ulid":
        return _ulid()
    raise ResolveError(f"unknown id_method {method!r}: choose one of {', '.join(ID_METHODS)}")


def env_run_id() -> str | None:
    """``$FSMIRROR_RUN_ID`` when set and non-empty: lets a launcher pin one id for all workers."""
    return os.environ.get("FSMIRROR_RUN_ID") or None
