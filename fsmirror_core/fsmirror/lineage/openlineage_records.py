"""The records the OpenLineage emitter and its sender process share: a step's snapshot and its error.

Their own module, so that :mod:`fsmirror.openlineage` (which starts the sender) and
:mod:`fsmirror.openlineage_sender` (which encodes and decodes these records for the pipe) both
import it instead of each other. Importable as ``fsmirror.openlineage.Step`` and
``fsmirror.openlineage.ReportedError`` too.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model.record import Input, Manifest
    from . import Scope

__all__ = ["Step", "ReportedError"]


@dataclass(frozen=True)
class Step:
    """A snapshot of a scope, taken in the step's thread when it starts or ends (scopes change)."""

    job: str | None
    key: str | None
    id: str
    orchestrator: Mapping[str, Any]
    started_at: str
    ended_at: str | None
    error: BaseException | None
    inputs: tuple[Input, ...]
    outputs: tuple[Manifest, ...]

    @classmethod
    def of(cls, s: Scope) -> Step:
        return cls(
            s.job, s.key, s.id, dict(s.orchestrator), s.started_at, s.ended_at, s.error, s.inputs, s.outputs
        )

    def portable(self) -> Step:
        """This step with its error as text, so that it pickles whatever the exception held."""
        e = self.error
        if e is None or isinstance(e, ReportedError):
            return self
        return dataclasses.replace(self, error=ReportedError.of(e))


class ReportedError(Exception):
    """A step's exception as the FAIL event reports it (type, message, traceback): what a sender
    process receives instead of the exception itself, which may not pickle."""

    def __init__(self, message: str, stack: str | None) -> None:
        super().__init__(message, stack)
        self.message, self.stack = message, stack

    @classmethod
    def of(cls, e: BaseException) -> ReportedError:
        stack = "".join(traceback.format_exception(type(e), e, e.__traceback__)) or None
        return cls(f"{type(e).__name__}: {e}", stack)
