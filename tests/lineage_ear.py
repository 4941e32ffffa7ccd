"""A lineage listener that keeps what it heard (the lineage tests share it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from fsmirror import lineage


class Ear:
    """Keeps every scope it hears start and end, in order."""

    def __init__(self) -> None:
        self.started: list[lineage.Scope] = []
        self.ended: list[lineage.Scope] = []
        self.events: list[tuple[str, lineage.Scope]] = []  # ("start" | "end", scope), as heard

    def scope_started(self, s: lineage.Scope) -> None:
        self.started.append(s)
        self.events.append(("start", s))

    def scope_ended(self, s: lineage.Scope) -> None:
        self.ended.append(s)
        self.events.append(("end", s))

    def heard(self, by: str = "key") -> list[tuple[str, Any, str | None]]:
        """``(event, scope.<by>, error class name at the end)`` for each event, in order."""
        return [
            (ev, getattr(s, by), type(s.error).__name__ if ev == "end" and s.error else None)
            for ev, s in self.events
        ]


@contextlib.contextmanager
def listening(ear: Ear) -> Iterator[Ear]:
    """``ear`` registered as a lineage listener for the block."""
    lineage.add_listener(ear)
    try:
        yield ear
    finally:
        lineage.remove_listener(ear)
