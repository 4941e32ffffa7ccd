"""Fault injection around a real store, and a deterministic scheduler of actors (test machinery).

``FaultProxy(target, controller)`` wraps any object (an fsspec filesystem today, the store v2
backend later) and turns every call of a public method into a *step*: the controller is
consulted before and after it, with the calling thread's *actor* (:func:`acting`), and may
let it proceed, fail it with a given exception, kill the actor (:class:`Killed`, after which
every call by that actor raises at once: no cleanup requests, like SIGKILL; ``with`` blocks
and ``finally`` clauses still unwind, so file descriptors close and local ``flock`` locks drop
as for a dead process), or pause it. Calls from a thread with no actor pass straight through,
so a test can inspect the store with the same objects between schedules.

:class:`Scheduler` runs actors in threads and lets exactly one of them take a step at a
time, in the order a *schedule* (a sequence of actor names) says; a schedule replays the
same trace every time. An actor that is stuck outside a step (waiting on a lock another
actor holds) is detected and the turn passes on; an actor stuck for good is reported with
the trace (:class:`Hung`), it never hangs the suite: every wait has a timeout.

:func:`install` is the one place that knows where the store's requests go through:
``fm._protocol().backend`` (store v2) if the facade has it, else ``fm._artifacts().fs``.
"""

from __future__ import annotations

import contextlib
import errno
import faulthandler
import gc
import itertools
import math
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "Killed",
    "Aborted",
    "Hung",
    "Proceed",
    "Fail",
    "Kill",
    "Pause",
    "PROCEED",
    "KILL",
    "Call",
    "Controller",
    "FaultProxy",
    "install",
    "raw_target",
    "acting",
    "current_actor",
    "Sleep",
    "Entry",
    "ActorResult",
    "RunResult",
    "Scheduler",
    "run_solo",
    "interleavings",
    "crash_points",
    "sample_product",
    "format_trace",
    "injected_error",
    "watchdog",
    "disarm_watchdog",
]


# -- what can happen to an actor ---------------------------------------------------------------


class Killed(BaseException):
    """The actor is dead: raised at the kill point and by every call it makes afterwards.

    A ``BaseException`` so that no ``except Exception`` in the code under test can swallow it.
    """

    def __init__(self, actor: str, where: str) -> None:
        super().__init__(f"actor {actor!r} killed {where}")
        self.actor = actor
        self.where = where


class Aborted(Killed):
    """The harness gave up on the actor (a hang, or a pause that was never released)."""


class Hung(AssertionError):
    """A schedule did not finish: some actor was stuck for ``hang_timeout`` seconds."""

    def __init__(self, message: str, result: RunResult) -> None:
        super().__init__(f"{message}\ntrace: {format_trace(result.trace)}")
        self.result = result


@dataclass(frozen=True)
class Proceed:
    """Let the call happen (before) or return its result (after)."""


@dataclass(frozen=True)
class Fail:
    """Raise ``make()`` instead of making the call (before) or instead of returning (after).

    ``make`` builds a fresh exception each time (an instance raised twice chains tracebacks).
    """

    make: Callable[[], BaseException]
    label: str = "OSError"


@dataclass(frozen=True)
class Kill:
    """Kill the actor here."""


@dataclass(frozen=True)
class Pause:
    """Block the actor until ``release`` is set (for stalls), at most ``timeout`` seconds.

    ``reached`` (if given) is set when the actor starts waiting, so a test knows it is parked.
    A pause that is never released aborts the actor after ``timeout``.
    """

    release: threading.Event
    timeout: float = 30.0
    reached: threading.Event | None = None


Action = Proceed | Fail | Kill | Pause
PROCEED = Proceed()
KILL = Kill()


def injected_error(label: str = "EIO") -> Fail:
    """A store error as a provider would raise it: an ``OSError`` (EIO), or a ``ConnectionError``."""
    if label == "connection":
        return Fail(lambda: ConnectionError("injected fault: connection reset"), "ConnectionError")
    return Fail(lambda: OSError(errno.EIO, "injected fault"), "OSError(EIO)")


def watchdog(seconds: float) -> None:
    """(Re-)arm a process-wide watchdog for code that runs the store outside any scheduler.

    Unless it is re-armed or disarmed within ``seconds``, every thread's stack is dumped to
    stderr and the process exits: a store call that hangs (a lock nobody releases) ends the
    suite with the stacks instead of stalling it.
    """
    faulthandler.dump_traceback_later(seconds, exit=True)


def disarm_watchdog() -> None:
    faulthandler.cancel_dump_traceback_later()


# -- the actor a thread is playing -------------------------------------------------------------

_local = threading.local()


def current_actor() -> str | None:
    """The actor the calling thread is playing, or None (calls then pass through unobserved)."""
    return getattr(_local, "actor", None)


@contextlib.contextmanager
def acting(name: str | None) -> Iterator[None]:
    """Play actor ``name`` in this thread for the block."""
    before = current_actor()
    _local.actor = name
    try:
        yield
    finally:
        _local.actor = before


# -- controller and proxy ----------------------------------------------------------------------


@dataclass
class Call:
    """One step: the ``index``-th call (0-based) ``actor`` made through any proxy of a controller."""

    actor: str
    index: int
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any = None
    error: BaseException | None = None


class Controller:
    """Decides what happens at each step; the base class lets every call proceed.

    ``plans[actor][(index, phase)]`` (phase ``"before"`` or ``"after"``) schedules an action
    at one step of one actor; subclasses may also override :meth:`before` and :meth:`after`.
    """

    def __init__(self, plans: Mapping[str, Mapping[tuple[int, str], Action]] | None = None) -> None:
        self._mutex = threading.RLock()
        self.plans: dict[str, dict[tuple[int, str], Action]] = {a: dict(p) for a, p in (plans or {}).items()}
        self.killed: set[str] = set()
        self.failed: set[str] = set()  # actors that had a Fail injected
        self.steps: dict[str, int] = {}
        self.log: list[tuple[str, int, str, str]] = []  # (actor, index, method, what happened)
        self.history: list[tuple[str, int, str]] = []  # every step: (actor, index, method)

    # hooks for subclasses
    def before(self, call: Call) -> Action:
        return self.plans.get(call.actor, {}).get((call.index, "before"), PROCEED)

    def after(self, call: Call) -> Action:
        return self.plans.get(call.actor, {}).get((call.index, "after"), PROCEED)

    def note(self, call: Call, what: str) -> None:
        """Record what happened at a step (kept in ``log``; the scheduler keeps a trace too)."""
        with self._mutex:
            self.log.append((call.actor, call.index, call.method, what))

    def suppressed(self, actor: str, method: str) -> None:
        """A dead actor tried another call (none reaches the store)."""
        with self._mutex:
            self.log.append((actor, -1, method, "suppressed"))

    def kill(self, actor: str) -> None:
        with self._mutex:
            self.killed.add(actor)

    def is_dead(self, actor: str) -> bool:
        return actor in self.killed

    def perform(
        self, actor: str, method: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run one step of ``actor``: the call ``fn(*args, **kwargs)`` between the two hooks."""
        if self.is_dead(actor):
            self.suppressed(actor, method)
            raise Killed(actor, f"earlier (then tried {method})")
        with self._mutex:
            index = self.steps.get(actor, 0)
            self.steps[actor] = index + 1
            self.history.append((actor, index, method))
        call = Call(actor, index, method, args, kwargs)
        self._apply(call, "before", self.before(call))
        try:
            result = fn(*args, **kwargs)
        except BaseException as e:
            call.error = e
            self._apply(call, "after", self.after(call))
            raise
        call.result = result
        self._apply(call, "after", self.after(call))
        return result

    def _apply(self, call: Call, phase: str, action: Action) -> None:
        if isinstance(action, Proceed):
            return
        if isinstance(action, Kill):
            self.kill(call.actor)
            self.note(call, f"kill {phase}")
            raise Killed(call.actor, f"{phase} step {call.index} ({call.method})")
        if isinstance(action, Fail):
            with self._mutex:
                self.failed.add(call.actor)
            self.note(call, f"fail {phase}: {action.label}")
            raise action.make()
        if isinstance(action, Pause):
            self.note(call, f"pause {phase}")
            if action.reached is not None:
                action.reached.set()
            if not action.release.wait(action.timeout):
                self.kill(call.actor)
                raise Aborted(
                    call.actor, f"paused {phase} step {call.index} ({call.method}) and never released"
                )
            return
        raise TypeError(f"not an action: {action!r}")


def _is_file_like(value: Any) -> bool:
    if isinstance(value, (bytes, bytearray, memoryview, str, dict, list, tuple)) or value is None:
        return False
    return callable(getattr(value, "close", None)) and (
        callable(getattr(value, "read", None)) or callable(getattr(value, "write", None))
    )


def _sequential(*calls: Callable[[], Any]) -> list[Any]:
    """``Backend.parallel`` for a proxied backend: the same results, the calls one after another.

    Keeps each actor's requests in its own thread (the scheduler steps one request of an actor
    at a time); any order is one the real concurrent requests could take.
    """
    out: list[Any] = []
    for call in calls:
        try:
            out.append(call())
        except Exception as e:
            out.append(e)
    return out


class FaultProxy:
    """Every public method call on the wrapped object is a step of the calling actor.

    Attributes that are not callables, and names starting with ``_`` (fsspec's async
    ``_cat_file`` and friends, ``_strip_protocol``), pass through untouched. Results that are
    open files (``fs.open``) come back wrapped too, as ``open().write``-style steps, so a
    multipart upload's part, commit and discard requests are steps, and a dead actor's
    cleanup call (``discard``) is suppressed like any other.
    """

    __slots__ = ("_fp_controller", "_fp_label", "_fp_target")

    def __init__(self, target: Any, controller: Controller, *, label: str = "") -> None:
        object.__setattr__(self, "_fp_target", target)
        object.__setattr__(self, "_fp_controller", controller)
        object.__setattr__(self, "_fp_label", label)

    def __getattr__(self, name: str) -> Any:
        target = object.__getattribute__(self, "_fp_target")
        attr = getattr(target, name)
        if name.startswith("_") or not callable(attr):
            return attr
        requests = getattr(type(target), "REQUESTS", None)
        if requests is not None:  # a store v2 backend says which of its methods are requests
            if name == "parallel":
                return _sequential  # one actor's concurrent requests, in one thread, in order
            if name not in requests:
                return attr  # local work (spool, slot_lock, check_inside, ...): not a step
        controller: Controller = object.__getattribute__(self, "_fp_controller")
        label = object.__getattribute__(self, "_fp_label")
        method = f"{label}.{name}" if label else name

        def step(*args: Any, **kwargs: Any) -> Any:
            actor = current_actor()
            if actor is None:
                return attr(*args, **kwargs)
            result = controller.perform(actor, method, attr, args, kwargs)
            if _is_file_like(result):
                return FaultProxy(result, controller, label=f"{method}()")
            return result

        step.__name__ = name
        return step

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_fp_target"), name, value)

    def __repr__(self) -> str:
        return f"FaultProxy({object.__getattribute__(self, '_fp_target')!r})"

    # files: `with fs.open(...) as f` and iteration
    def __enter__(self) -> FaultProxy:
        object.__getattribute__(self, "_fp_target").__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        target = object.__getattribute__(self, "_fp_target")
        controller: Controller = object.__getattribute__(self, "_fp_controller")
        actor = current_actor()
        if actor is None:
            return target.__exit__(*exc)
        label = object.__getattribute__(self, "_fp_label")
        return controller.perform(actor, f"{label}.close", target.__exit__, exc, {})

    def __iter__(self) -> Iterator[Any]:
        return iter(self.__getattr__("__iter__")())


def raw_target(obj: Any) -> Any:
    """The object a FaultProxy wraps (or ``obj`` itself)."""
    while isinstance(obj, FaultProxy):
        obj = object.__getattribute__(obj, "_fp_target")
    return obj


def install(fm: Any, controller: Controller) -> FaultProxy:
    """Route every store request of ``fm`` through a FaultProxy of ``controller``; returns the proxy.

    Store v2 (``fm._protocol().backend``, one request per public call) when the facade has
    it; else today's ``ArtifactStore.fs`` (the fsspec filesystem). Installing twice replaces
    the controller, never stacks proxies.
    """
    protocol = getattr(fm, "_protocol", None)
    if callable(protocol):
        owner, attr = protocol(), "backend"
    else:
        owner, attr = fm._artifacts(), "fs"
    proxy = FaultProxy(raw_target(getattr(owner, attr)), controller)
    setattr(owner, attr, proxy)
    return proxy


# -- the deterministic scheduler ---------------------------------------------------------------


class Sleep(NamedTuple):
    """A schedule token: the world waits ``seconds`` (wall clock), e.g. to age a claim past claim_ttl."""

    seconds: float


class Entry(NamedTuple):
    """One thing the scheduler saw, in order: a step granted, a fault, a block, an actor done."""

    actor: str
    what: str  # step | kill-before | kill-after | fail-before | fail-after | blocked | done | sleep
    index: int = -1
    method: str = ""
    detail: str = ""

    def __str__(self) -> str:
        if self.what == "step":
            return f"{self.actor}{self.index}:{self.method}"
        if self.what == "sleep":
            return f"~sleep {self.detail}s~"
        if self.what in ("kill-before", "kill-after", "fail-before", "fail-after"):
            verb, phase = self.what.split("-")
            sign = "KILL" if verb == "kill" else "FAIL"
            return f"{sign}:{self.actor}{self.index}({phase} {self.method})"
        if self.what == "done":
            return f"{self.actor}={self.detail}"
        return f"{self.actor}:{self.what}"


def format_trace(trace: Iterable[Entry]) -> str:
    return " ".join(str(e) for e in trace)


@dataclass
class ActorResult:
    """How one actor's function ended: ``ok`` (with ``value``), ``error``, ``killed`` or ``hung``."""

    status: str
    value: Any = None
    error: BaseException | None = None
    injected: bool = False  # a Fail was injected into this actor
    steps: int = 0
    start: int | None = None  # trace position of its first step (None: it took none)
    end: int | None = None  # trace position of its end ("done" entry)

    def summary(self) -> str:
        if self.status == "ok":
            return f"ok({_short(self.value)})"
        if self.status == "error":
            return f"{type(self.error).__name__}{'*' if self.injected else ''}"
        return self.status


def _short(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        head = bytes(value[:12])
        return f"{head!r}{'...' if len(value) > 12 else ''}[{len(value)}]"
    if isinstance(value, str) and "/" in value:
        return "…/" + value.rsplit("/", 1)[-1]
    return repr(value)


@dataclass
class RunResult:
    trace: list[Entry]
    actors: dict[str, ActorResult]
    skipped_turns: int = 0
    hung: bool = False
    problems: list[str] = field(default_factory=list)

    def signature(self) -> tuple[Any, ...]:
        """What must be equal when a schedule is replayed."""
        return (tuple(self.trace), tuple((a, r.summary()) for a, r in sorted(self.actors.items())))


@dataclass
class _Actor:
    name: str
    fn: Callable[[], Any]
    thread: threading.Thread | None = None
    ident: int | None = None
    native_id: int | None = None
    status: str = "unstarted"  # unstarted | starting | running | waiting | done
    arrivals: int = 0  # times it reached a hook or its end
    blocked: bool = False
    result: ActorResult | None = None
    waiting_at: tuple[int, str] | None = None


_gc_last = [0.0]  # monotonic time a garbage collection last ended (it holds the GIL: threads stand still)


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    _gc_last[0] = time.monotonic() if phase == "stop" else float("inf")


gc.callbacks.append(_on_gc)


def _gc_busy(since: float) -> bool:
    """Whether a collection ran (or runs) since ``since``: a still thread then proves nothing."""
    return _gc_last[0] >= since


def _proc_state(native_id: int | None) -> str | None:
    """The kernel's state letter for a thread (R running, S sleeping, D disk), or None."""
    if native_id is None:
        return None
    try:
        with open(f"/proc/self/task/{native_id}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2]
    except (OSError, ValueError, IndexError):
        return None


class Scheduler(Controller):
    """Run actors so that one step happens at a time, in the order of ``schedule``.

    A *turn* of actor X lets X make its next call and run on to the call after it (or to its
    end). The schedule is a sequence of actor names and :class:`Sleep` tokens; a turn for an
    actor that has finished is skipped; when the schedule runs out the actors still going are
    driven round-robin in the order given to :meth:`run`.

    ``faults`` maps (actor, step index, "before"|"after") to an action at that point.

    An actor that does not reach its next call is *blocked* (e.g. on a lock another, paused,
    actor holds) once its thread has sat still in one place for ``quiet`` seconds (same Python
    frame and instruction; kernel state "S" where /proc shows it) — only when ``detect_blocks``
    — or after ``block_timeout`` seconds in any case; its turn passes. After each turn the
    scheduler waits for every blocked actor to block again or reach a call, so what an actor
    released during a turn is settled before the next one: the same schedule gives the same
    trace. If no actor can move for ``hang_timeout`` seconds the run is :class:`Hung`.
    """

    def __init__(
        self,
        schedule: Sequence[str | Sleep],
        faults: Mapping[tuple[str, int, str], Action] | None = None,
        *,
        detect_blocks: bool = True,
        quiet: float = 0.015,
        block_timeout: float = 5.0,
        hang_timeout: float = 30.0,
        poll: float = 0.001,
    ) -> None:
        super().__init__()
        self.schedule = list(schedule)
        self.faults = dict(faults or {})
        self.detect_blocks = detect_blocks
        self.quiet = quiet
        self.block_timeout = block_timeout
        self.hang_timeout = hang_timeout
        self.poll = poll
        self.trace: list[Entry] = []
        self._cv = threading.Condition(threading.Lock())
        self._actors: dict[str, _Actor] = {}
        self._turn: str | None = None
        self._aborted = False
        self._skipped = 0

    # -- hooks (actor threads) -------------------------------------------------------------

    def before(self, call: Call) -> Action:
        st = self._actors.get(call.actor)
        if st is None:  # an actor this scheduler does not run: not scheduled
            return PROCEED
        deadline = time.monotonic() + self.hang_timeout
        with self._cv:
            st.status = "waiting"
            st.waiting_at = (call.index, call.method)
            st.arrivals += 1
            st.blocked = False
            self._cv.notify_all()
            while self._turn != call.actor:
                if self._aborted:
                    raise Aborted(call.actor, f"at step {call.index} ({call.method}): the run was aborted")
                left = deadline - time.monotonic()
                if left <= 0:
                    self._aborted = True
                    self._cv.notify_all()
                    raise Aborted(call.actor, f"waited {self.hang_timeout}s for a turn at step {call.index}")
                self._cv.wait(min(left, 0.25))
            self._turn = None
            st.status = "running"
            st.waiting_at = None
            action = self.faults.get((call.actor, call.index, "before"), PROCEED)
            self.trace.append(Entry(call.actor, _what(action, "before"), call.index, call.method))
            self._cv.notify_all()
        return action

    def after(self, call: Call) -> Action:
        action = self.faults.get((call.actor, call.index, "after"), PROCEED)
        if not isinstance(action, Proceed) and call.actor in self._actors:
            with self._cv:
                self.trace.append(Entry(call.actor, _what(action, "after"), call.index, call.method))
        return action

    def _main(self, st: _Actor) -> None:
        st.ident = threading.get_ident()
        st.native_id = threading.get_native_id()
        with acting(st.name):
            try:
                value = st.fn()
                result = ActorResult("ok", value=value)
            except Killed as e:
                result = ActorResult("killed", error=e)
            except BaseException as e:  # the actor's own outcome, judged by the test
                result = ActorResult("error", error=e)
        result.injected = st.name in self.failed
        result.steps = self.steps.get(st.name, 0)
        with self._cv:
            st.result = result
            st.status = "done"
            st.arrivals += 1
            st.blocked = False
            self.trace.append(Entry(st.name, "done", detail=result.summary()))
            self._cv.notify_all()

    # -- the driver (the test's thread) ------------------------------------------------------

    def run(self, actors: Mapping[str, Callable[[], Any]]) -> RunResult:
        """Run ``actors`` (name -> function) under the schedule; returns the trace and outcomes.

        Raises :class:`Hung` (with the trace) when the actors cannot finish.
        """
        if self._actors:
            raise RuntimeError("a Scheduler runs once")
        for name, fn in actors.items():
            self._actors[name] = _Actor(name, fn)
        try:
            for token in self.schedule:
                if isinstance(token, Sleep):
                    with self._cv:
                        self.trace.append(Entry("*", "sleep", detail=f"{token.seconds:g}"))
                    time.sleep(token.seconds)
                    continue
                if token not in self._actors:
                    raise ValueError(f"schedule names unknown actor {token!r}")
                self._turn_of(self._actors[token])
            self._drain()
        finally:
            self._finish()
        return self._result()

    def _turn_of(self, st: _Actor) -> bool:
        """One turn of ``st``; False if it had finished or stayed blocked.

        An actor's thread starts at its first turn (so even what it does before its first
        call, such as taking a local lock, happens in schedule order) and that turn goes on
        through its first call.
        """
        if st.status == "done":
            self._skipped += 1
            return False
        if st.status == "unstarted":
            self._start(st)
            if not self._await(st, 0):
                self._note_blocked(st)
                return True
            if st.status == "done":
                return True
        elif st.status != "waiting":
            # blocked at the end of an earlier turn: it may have been released since
            if not self._await(st, st.arrivals):
                self._note_blocked(st)
                return False
            if st.status == "done":
                return True
        with self._cv:
            self._turn = st.name
            arrivals = st.arrivals
            self._cv.notify_all()
        if not self._await(st, arrivals):
            self._note_blocked(st)
        for other in self._actors.values():  # settle whatever this turn released
            if other is not st and other.status in ("running", "starting"):
                self._await(other, other.arrivals)
        return True

    def _start(self, st: _Actor) -> None:
        st.status = "starting"
        st.thread = threading.Thread(target=self._main, args=(st,), name=f"actor-{st.name}", daemon=True)
        st.thread.start()

    def _note_blocked(self, st: _Actor) -> None:
        with self._cv:
            st.blocked = True
            self.trace.append(Entry(st.name, "blocked"))

    def _await(self, st: _Actor, arrivals: int) -> bool:
        """Wait until ``st`` reaches a hook or its end beyond ``arrivals``; False if it is blocked."""
        start = time.monotonic()
        last: tuple[Any, ...] | None = None
        still_since = start
        while True:
            with self._cv:
                if st.status == "done" or (st.status == "waiting" and st.arrivals > arrivals):
                    return True
                self._cv.wait(self.poll)
            now = time.monotonic()
            if now - start > self.block_timeout:
                return False
            if self.detect_blocks and st.ident is not None:
                frame = sys._current_frames().get(st.ident)
                here = (id(frame), frame.f_lasti, frame.f_lineno) if frame is not None else None
                state = _proc_state(st.native_id)
                del frame
                sample = (here, state)
                if here is None or state not in (None, "S") or sample != last or _gc_busy(still_since):
                    last, still_since = sample, now
                elif now - still_since >= self.quiet:
                    return False

    def _drain(self) -> None:
        """Round-robin the actors still going until all are done (or none can move: Hung)."""
        stuck_since: float | None = None
        while any(st.status != "done" for st in self._actors.values()):
            moved = False
            for st in self._actors.values():
                if st.status == "done":
                    continue
                moved |= self._turn_of(st)
            if moved:
                stuck_since = None
                continue
            now = time.monotonic()
            stuck_since = stuck_since or now
            if now - stuck_since > self.hang_timeout:
                names = [st.name for st in self._actors.values() if st.status != "done"]
                raise Hung(f"actors {names} blocked for {self.hang_timeout}s", self._result(hung=True))
            time.sleep(0.01)

    def _finish(self) -> None:
        with self._cv:
            if any(st.status != "done" for st in self._actors.values()):
                self._aborted = True
            self._cv.notify_all()
        deadline = time.monotonic() + 5.0
        for st in self._actors.values():
            if st.thread is not None:
                st.thread.join(max(0.0, deadline - time.monotonic()))

    def _result(self, hung: bool = False) -> RunResult:
        with self._cv:
            trace = list(self.trace)
            actors = {}
            for name, st in self._actors.items():
                r = st.result or ActorResult("hung", steps=self.steps.get(name, 0))
                steps = [i for i, e in enumerate(trace) if e.actor == name and e.what != "done"]
                ends = [i for i, e in enumerate(trace) if e.actor == name and e.what == "done"]
                r.start = steps[0] if steps else (ends[0] if ends else None)
                r.end = ends[0] if ends else None
                actors[name] = r
        return RunResult(
            trace, actors, self._skipped, hung or any(r.status == "hung" for r in actors.values())
        )


def _what(action: Action, phase: str) -> str:
    if isinstance(action, Kill):
        return f"kill-{phase}"
    if isinstance(action, Fail):
        return f"fail-{phase}"
    return "step"


def run_solo(name: str, fn: Callable[[], Any], **kw: Any) -> RunResult:
    """Run one actor alone (to learn its step count)."""
    return Scheduler([], **kw).run({name: fn})


# -- enumeration -------------------------------------------------------------------------------


def interleavings(counts: Mapping[str, int], budget: int, seed: int = 0) -> tuple[list[tuple[str, ...]], int]:
    """Schedules interleaving two actors' steps: all of them if at most ``budget``, else a
    deterministic sample of ``budget`` (with ``seed``) that always holds both serial orders.

    Returns (schedules, how many exist).
    """
    (a, n), (b, m) = counts.items()
    total = math.comb(n + m, n)

    def build(positions: Iterable[int]) -> tuple[str, ...]:
        chosen = set(positions)
        return tuple(a if i in chosen else b for i in range(n + m))

    if total <= budget:
        return [build(c) for c in itertools.combinations(range(n + m), n)], total
    rng = random.Random(seed)
    out = [build(range(n)), build(range(m, n + m))]
    seen = set(out)
    tries = 0
    while len(out) < budget and tries < budget * 50:
        tries += 1
        s = build(rng.sample(range(n + m), n))
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out, total


def crash_points(counts: Mapping[str, int]) -> list[tuple[str, int, str]]:
    """Every (actor, step index, "before"|"after") point of the actors' steps."""
    return [
        (actor, i, phase) for actor, n in counts.items() for i in range(n) for phase in ("before", "after")
    ]


def sample_product(
    xs: Sequence[Any], ys: Sequence[Any], budget: int, seed: int = 0
) -> tuple[list[tuple[Any, Any]], int]:
    """All pairs of ``xs`` x ``ys`` if at most ``budget``, else a deterministic sample of them."""
    total = len(xs) * len(ys)
    if total <= budget:
        return [(x, y) for x in xs for y in ys], total
    picks = sorted(random.Random(seed).sample(range(total), budget))
    return [(xs[k // len(ys)], ys[k % len(ys)]) for k in picks], total
