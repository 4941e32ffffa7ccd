"""Which artifact is which: code x instance x run x attempt x output, as pure data.

An orchestrator runs one piece of code many times, and not every time is a new *run*:

- **code**: where the function or class lives (its address, ``etl/lift.py::lift``);
- **instance**: which use of that code. A Dagster op used twice in one job (nodes
  ``add_1`` and ``add_1_2``), a Luigi parameter set, a partition key, an Airflow map
  index, a Prefect map index. ``None`` when the code has one use;
- **run**: the orchestrator's run (Dagster run id, Airflow DAG run id, Prefect flow run id);
- **attempt**: the retry number within one run (0 for the first try);
- **output**: which output of the step (the file stem).

A **series** is code x instance x output: ``runs``, ``latest``, ``gc``, ``stale`` and
``lineage`` work per series, so two instances of one code are never two runs of each
other. Within one run and instance a later attempt may replace what an earlier attempt
committed (the orchestrators' own IO managers overwrite there too); across runs or
instances, never (``docs/protocol.md``, "Attempts").

The instance sits in the path as one segment after the code's name, exactly where a
partition always sat, so a store of fsmirror 1.0 or 2.0 reads as it is: a partition is
a one-part instance. A several-part instance (a Dagster node and its partition key) is
its parts, each encoded by :func:`fsmirror.runid.encode_segment`, joined by ``@`` (a
character the encoding never emits): readable, and injective like a scoped run id.

This module is pure: no I/O, no fsspec. The path grammar around it is
:mod:`fsmirror.layout`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from ..errors import ResolveError
from .runid import SCOPE_SEP, RunId, decode_segment, encode_run_id, encode_segment

__all__ = [
    "Instance",
    "Identity",
    "SeriesKey",
    "check_instance",
    "instance_segment",
    "parse_instance_segment",
    "instance_label",
    "instance_json",
    "instance_from_json",
    "instance_sort_key",
    "check_attempt",
]

Instance = Union[str, tuple[str, ...]]
"""An instance key: one string (a partition key), or a tuple of parts (a node, then a partition)."""


def check_instance(value: Any, what: str = "partition") -> Instance | None:
    """The canonical form of an instance key, refused before anything is written when malformed.

    A one-part tuple is its string (``("x",)`` and ``"x"`` name one instance, one path);
    an empty tuple is no instance. Parts must be non-empty strings: an ``int`` partition
    would be committed as one thing and compared as another (``7`` vs ``"7"``).
    """
    if value is None:
        return None
    if isinstance(value, str):
        encode_segment(value, what=what)
        return value
    if isinstance(value, (tuple, list)):
        parts = tuple(value)
        for p in parts:
            if not isinstance(p, str):
                raise ResolveError(
                    f"{what} part {p!r} is a {type(p).__name__}; every part is a non-empty string "
                    f"(pass str({p!r}))"
                )
        if not parts:
            return None
        if len(parts) == 1:
            return check_instance(parts[0], what)
        encode_run_id(parts)  # each part one segment, and the whole fits one path segment
        return parts
    raise ResolveError(
        f"{what} {value!r} is a {type(value).__name__}; give a string (or a tuple of strings), "
        f"e.g. {str(value)!r}"
    )


def instance_segment(instance: Instance | None, what: str = "partition") -> str | None:
    """The path segment of an instance (``None``: the code's only instance, no segment)."""
    inst = check_instance(instance, what)
    if inst is None:
        return None
    return encode_run_id(inst) if isinstance(inst, tuple) else encode_segment(inst, what=what)


def parse_instance_segment(segment: str) -> Instance:
    """Invert :func:`instance_segment` (a segment with ``@`` is a several-part instance)."""
    if SCOPE_SEP in segment:
        return tuple(decode_segment(p) for p in segment.split(SCOPE_SEP))
    return decode_segment(segment)


def instance_label(instance: Instance | None) -> str | None:
    """How a person reads an instance: the string, or its parts joined by ``@``."""
    if instance is None:
        return None
    return SCOPE_SEP.join(instance) if isinstance(instance, tuple) else instance


def instance_json(instance: Instance | None) -> str | list[str] | None:
    """The manifest's ``partition`` field: a string, a list of parts, or null."""
    return list(instance) if isinstance(instance, tuple) else instance


def instance_from_json(value: Any) -> Instance | None:
    """Read a manifest's ``partition`` field back (a list is a several-part instance)."""
    if value is None:
        return None
    if isinstance(value, list):
        parts = tuple(str(p) for p in value)
        return None if not parts else parts[0] if len(parts) == 1 else parts
    return str(value)


def instance_sort_key(instance: Instance | None) -> tuple[Any, ...]:
    """None first, then by parts; runs of digits compare as numbers (map index 2 before 10)."""
    import re

    if instance is None:
        return (0,)
    parts = instance if isinstance(instance, tuple) else (instance,)
    return (
        1,
        *(
            tuple((0, int(c), "") if c.isdigit() else (1, 0, c) for c in re.split(r"(\d+)", p) if c)
            for p in parts
        ),
    )


def check_attempt(value: Any) -> int:
    """An attempt number: an ``int`` of 0 or more (0 is the first try)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ResolveError(f"attempt {value!r} must be a whole number, 0 or more (0 is the first try)")
    return value


@dataclass(frozen=True)
class SeriesKey:
    """code x instance x output: the runs of one use of one piece of code."""

    address: str
    instance: Instance | None
    output_name: str

    def label(self) -> str:
        inst = instance_label(self.instance)
        return (
            self.address
            + (f" [{inst}]" if inst is not None else "")
            + (f" ({self.output_name})" if self.output_name else "")
        )


@dataclass(frozen=True)
class Identity:
    """One artifact's identity: which code, which use of it, which run, which try, which output."""

    address: str
    instance: Instance | None
    run_id: RunId
    attempt: int
    output_name: str

    @property
    def series(self) -> SeriesKey:
        return SeriesKey(self.address, self.instance, self.output_name)

    @property
    def run_segment(self) -> str:
        return encode_run_id(self.run_id)

    @property
    def instance_segment(self) -> str | None:
        return instance_segment(self.instance)
