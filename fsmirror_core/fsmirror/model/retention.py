"""Retention's typed records: a pin sidecar's record, a policy, an age such as ``7d``.

Pure (no I/O): the config schema checks ``min_age`` with :func:`parse_age`, the facade
writes a :class:`Pin`, and :mod:`fsmirror.services.retention` decides with a :class:`Policy`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = ["Pin", "Policy", "parse_age"]

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """``'7d'``, ``'12h'``, ``'30m'``, ``'45s'``, ``'2w'`` -> seconds; anything else is a ValueError."""
    m = _AGE.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not an age: give a number and a unit s, m, h, d or w (e.g. 7d, 12h)")
    return float(m.group(1)) * _UNIT[m.group(2)]


@dataclass(frozen=True)
class Pin:
    """The record a pin sidecar holds: why, when, and who pinned the run."""

    reason: str | None
    pinned_at: str
    holder: str = ""

    def dump(self) -> bytes:
        return json.dumps(
            {"fsmirror_pin": 1, "reason": self.reason, "pinned_at": self.pinned_at, "holder": self.holder},
            sort_keys=True,
        ).encode()

    @classmethod
    def load(cls, data: bytes) -> Pin:
        """A pin's record; a damaged one is still a pin (its bytes stand there), with no reason."""
        try:
            d = json.loads(data)
            reason = d.get("reason")
            return cls(
                None if reason is None else str(reason), str(d.get("pinned_at", "")), str(d.get("holder", ""))
            )
        except (ValueError, AttributeError, UnicodeDecodeError):
            return cls(None, "")


@dataclass(frozen=True)
class Policy:
    """What a gc keeps. ``keep=None``: no count rule (only pins, age and inputs keep runs, and the newest)."""

    keep: int | None = None
    min_age: str | None = None  # as the user wrote it ('7d'): the reason names it so
    keep_inputs: bool = True

    def __post_init__(self) -> None:
        if self.keep is not None and self.keep < 0:
            raise ValueError(f"keep must be 0 or more, got {self.keep}")
        if self.min_age is not None:
            parse_age(self.min_age)
