"""A lineage listener that keeps what it heard (the adapters' lineage tests share it)."""

from __future__ import annotations

from fsmirror import lineage


class Ear:
    """Keeps every scope it hears start and end, in order."""

    def __init__(self) -> None:
        self.started: list[lineage.Scope] = []
        self.ended: list[lineage.Scope] = []

    def scope_started(self, s: lineage.Scope) -> None:
        self.started.append(s)

    def scope_ended(self, s: lineage.Scope) -> None:
        self.ended.append(s)
