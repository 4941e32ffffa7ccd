"""Lineage scopes: what one step read, written into the manifests of what it wrote.

A *scope* is one step of a pipeline (a Dagster op, an Airflow task instance, a
Prefect task run, a Luigi task, or a ``with fm.run(...)`` block in plain Python).
Every committed artifact read while a scope is current is noted as an input;
every artifact written while it is current records those inputs in its manifest
(:attr:`fsmirror.record.Manifest.inputs`). So lineage lives in the store beside
the artifacts, shared by every orchestrator that writes the same layout, and
needs no lineage server.

Scopes are carried by a :class:`contextvars.ContextVar`, so threads and asyncio
tasks started inside a scope see it (``contextvars.copy_context``) and unrelated
work in the same process does not. Adapters whose orchestrator calls them
outside the step's own call stack (an IO manager's ``load_input`` and
``handle_output``) keep the scope themselves and pass it with :func:`entered`.

Adapters whose orchestrator calls them outside the step's own call stack (an
IO manager's ``load_input`` and ``handle_output``, an XCom backend called after
the task's context is torn down) keep the scope in a per-step registry keyed by
the step's ``key``: :func:`step` gets or creates (and announces) it, :func:`get`
finds it, and :func:`finish` ends it at the orchestrator's natural step end.

Listeners (:func:`add_listener`) hear a scope start and end; the OpenLineage
emitter is one. With none registered a scope costs a context-variable set and
reset: nothing is imported, nothing is sent.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..model.record import Input, Manifest
    from ..paths.address import CodeAddress

__all__ = [
    "Scope",
    "ScopeListener",
    "current",
    "scope",
    "entered",
    "enter",
    "leave",
    "start",
    "end",
    "step",
    "get",
    "finish",
    "open_steps",
    "job_of",
    "Addresses",
    "add_listener",
    "remove_listener",
    "listeners",
    "deleted",
    "wants",
]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def _new_id() -> str:
    import uuid  # on the first scope, not at ``import fsmirror`` (uuid loads platform)

    return uuid.uuid4().hex


@dataclass(eq=False)
class Scope:
    """One step: its identity, the artifacts it read and the artifacts it committed.

    ``job`` names the step (a code address, or the orchestrator's task name);
    ``run_id`` is the run its writes default to; ``orchestrator`` is the same
    record the adapter stamps on manifests (dag/run/task ids, links), kept here
    for listeners that report the parent run. ``key`` is a stable identity of
    the step within its orchestrator run: a listener derives the same run id
    from it when the same step is re-run.
    """

    job: str | None = None
    run_id: Any = None
    orchestrator: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    id: str = field(default_factory=_new_id)
    started_at: str = field(default_factory=_now)
    ended_at: str | None = None
    error: BaseException | None = None
    _inputs: dict[str, Input] = field(default_factory=dict, repr=False)
    _outputs: dict[str, Manifest] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def inputs(self) -> tuple[Input, ...]:
        """What was read, in the order first read (one entry per URI)."""
        with self._lock:
            return tuple(self._inputs.values())

    @property
    def outputs(self) -> tuple[Manifest, ...]:
        """What was committed, in the order written (one entry per URI, the last commit)."""
        with self._lock:
            return tuple(self._outputs.values())

    def note_read(self, m: Manifest | Input) -> None:
        """Record an input. Reading an artifact this scope wrote itself is not an input."""
        from ..model.record import Input

        i = m if isinstance(m, Input) else Input.of(m)
        with self._lock:
            new = i.uri not in self._outputs and i.uri not in self._inputs
            if new:
                self._inputs[i.uri] = i
        if new and _artifact_ears:
            _tell_artifact("artifact_read", self, i)

    def note_reads(self, ms: Iterable[Manifest | Input]) -> None:
        for m in ms:
            self.note_read(m)

    def note_write(self, m: Manifest) -> None:
        with self._lock:
            self._outputs[m.uri] = m
        if _artifact_ears:
            _tell_artifact("artifact_written", self, m)


class ScopeListener(Protocol):
    """Hears steps start and end (the OpenLineage emitter is one). Errors it raises are logged
    and swallowed: lineage reporting never fails a pipeline.

    Optional methods (a listener without them is not called): ``artifacts_deleted(manifests)``,
    which ``gc`` calls with the manifests of the runs it deleted; ``artifact_read(scope, input)``
    and ``artifact_written(scope, manifest)``, called as each is noted (for sinks that must hear
    an artifact while the step runs, such as Airflow's hook-lineage collector).
    """

    def scope_started(self, s: Scope) -> None: ...

    def scope_ended(self, s: Scope) -> None: ...


_current: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("fsmirror_scope", default=None)
_listeners: list[ScopeListener] = []


def current() -> Scope | None:
    """The scope of the step running here, if any."""
    return _current.get()


def add_listener(listener: ScopeListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)
    _count_ears()


def remove_listener(listener: ScopeListener) -> None:
    with contextlib.suppress(ValueError):
        _listeners.remove(listener)
    _count_ears()


_artifact_ears = 0  # listeners with artifact_read/artifact_written: none, and a note costs nothing more


def _count_ears() -> None:
    global _artifact_ears
    _artifact_ears = sum(hasattr(x, "artifact_read") or hasattr(x, "artifact_written") for x in _listeners)


def _tell_artifact(event: str, s: Scope, x: Input | Manifest) -> None:
    for listener in tuple(_listeners):
        hear = getattr(listener, event, None)
        if hear is None:
            continue
        try:
            hear(s, x)
        except Exception:  # a lineage sink must never fail the step
            import logging

            logging.getLogger("fsmirror.lineage").warning(
                "lineage listener %r failed on %s", listener, event, exc_info=True
            )


def listeners() -> tuple[ScopeListener, ...]:
    return tuple(_listeners)


def wants(event: str) -> bool:
    """Whether any listener defines ``event`` (so a caller can skip gathering what only it needs)."""
    return any(hasattr(listener, event) for listener in _listeners)


def deleted(manifests: Sequence[Manifest]) -> None:
    """Tell listeners that define ``artifacts_deleted`` which committed artifacts were deleted."""
    if manifests:
        _tell("artifacts_deleted", manifests)


def _tell(event: str, s: Any) -> None:
    for listener in tuple(_listeners):
        hear = getattr(listener, event, None)
        if hear is None:
            continue
        try:
            hear(s)
        except Exception:  # a lineage sink must never fail the step
            import logging

            logging.getLogger("fsmirror.lineage").warning(
                "lineage listener %r failed on %s", listener, event, exc_info=True
            )


def start(s: Scope) -> Scope:
    """Announce ``s`` to listeners (for adapters that open and close a scope in separate calls)."""
    _tell("scope_started", s)
    return s


def end(s: Scope, error: BaseException | None = None) -> None:
    """Close ``s`` once: record the end and the error, and tell listeners."""
    if s.ended_at is not None:
        return
    s.ended_at = _now()
    s.error = error
    _tell("scope_ended", s)


@contextlib.contextmanager
def entered(s: Scope) -> Iterator[Scope]:
    """Make ``s`` current for a block, without starting or ending it."""
    token = _current.set(s)
    try:
        yield s
    finally:
        _current.reset(token)


def enter(s: Scope) -> contextvars.Token[Scope | None]:
    """Make ``s`` current until :func:`leave` (for orchestrators that signal a step's start and end
    as separate callbacks in the step's thread, such as Luigi's task events)."""
    return _current.set(s)


def leave(token: contextvars.Token[Scope | None]) -> None:
    """Undo :func:`enter`; if the token belongs to another context, just clear the current scope."""
    try:
        _current.reset(token)
    except (ValueError, RuntimeError):
        _current.set(None)


@contextlib.contextmanager
def scope(
    job: str | None = None,
    *,
    run_id: Any = None,
    orchestrator: Mapping[str, Any] | None = None,
    key: str | None = None,
    inputs: Iterable[Manifest | Input] = (),
) -> Iterator[Scope]:
    """A step, from start to end: current inside the block, ended with the block's error."""
    s = Scope(job=job, run_id=run_id, orchestrator=dict(orchestrator or {}), key=key)
    s.note_reads(inputs)
    start(s)
    token = _current.set(s)
    try:
        yield s
    except BaseException as e:
        _current.reset(token)
        end(s, e)
        raise
    _current.reset(token)
    end(s)


# -- the per-step registry ------------------------------------------------------------------

MAX_OPEN_STEPS = 4096
"""Steps whose end never came (a killed worker) are forgotten, oldest first, beyond this many."""

_steps: OrderedDict[str, Scope] = OrderedDict()
_steps_lock = threading.Lock()


def step(
    key: str,
    *,
    job: str | None = None,
    run_id: Any = None,
    orchestrator: Mapping[str, Any] | None = None,
    inputs: Iterable[Manifest | Input] = (),
) -> Scope:
    """The open scope of the step ``key``, created and announced (:func:`start`) on first call.

    ``inputs`` known before the step starts (a Luigi task's ``input()``) are noted before the
    start is announced, so listeners see them in the START event too.

    For orchestrators that call an adapter several times per step, from places
    that share no call stack: every call with the same key gets the same scope,
    until :func:`finish` ends it. The first caller's ``job``, ``run_id`` and
    ``orchestrator`` stand; a later caller's fill in what the first left empty.
    """
    with _steps_lock:
        s = _steps.get(key)
        created = s is None
        if s is None:
            s = Scope(job=job, run_id=run_id, orchestrator=dict(orchestrator or {}), key=key)
            _steps[key] = s
            while len(_steps) > MAX_OPEN_STEPS:
                _steps.popitem(last=False)
        else:
            if s.job is None:
                s.job = job
            if s.run_id is None:
                s.run_id = run_id
            for k, v in (orchestrator or {}).items():
                s.orchestrator.setdefault(k, v)
    s.note_reads(inputs)
    if created:
        start(s)
    return s


def get(key: str) -> Scope | None:
    """The open scope of the step ``key``, if one was opened with :func:`step` and not finished."""
    with _steps_lock:
        return _steps.get(key)


def finish(key: str, error: BaseException | None = None) -> Scope | None:
    """End the step ``key`` (with its error, if it failed) and forget it; None if it is not open."""
    with _steps_lock:
        s = _steps.pop(key, None)
    if s is not None:
        end(s, error)
    return s


def open_steps() -> tuple[Scope, ...]:
    """The steps opened with :func:`step` and not finished yet, oldest first."""
    with _steps_lock:
        return tuple(_steps.values())


class AddressOf(Protocol):
    """The part of a resolver :func:`job_of` uses (``fsmirror.resolver.Resolver.address``)."""

    def address(self, obj: Any, /) -> CodeAddress: ...


class Addresses(Protocol):
    """What :func:`job_of` asks of an ``FSMirror``: its resolver, for the code address manifests
    record. A protocol, so that this module (below the facade) never imports :mod:`fsmirror.mirror`."""

    @property
    def resolver(self) -> AddressOf: ...


def job_of(fm: Addresses, obj: Any) -> str:
    """The code address manifests record for ``obj`` (``pkg/mod.py::Name``): a scope's ``job``."""
    return str(fm.resolver.address(obj))
