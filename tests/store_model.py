"""A small model of the store's guarantees (G1-G5) and a checker for concurrent histories.

The model is what a committed slot holds: run -> bytes, in commit order (oldest first). An
operation of an actor (write, overwrite, delete, gc, read, read of the latest) is a short
script of atomic *events* on the model; a history (what each actor returned, and when, in
the scheduler's trace) is explained if the events of all operations can be put in one order
that respects real time (an operation that returned before another began comes first) and
reproduces every returned value and the state found on the store afterwards. A killed
operation may have taken effect or not (its events happened before its death, if at all);
a write that failed must have had no effect (G5).

Besides that yes/no answer, :func:`check` runs direct checks that name the guarantee a
history breaks (G1-G5) and say what was seen.

Guarantees (issue #12):
- G1 a write that returned success reads back exactly its bytes until a delete, gc or
  overwrite of that run returned success;
- G2 without overwrite a committed artifact is never replaced, and of racing writers of one
  slot exactly one succeeds (also past claim_ttl: the stalled writer's late commit fails);
  overwrite replaces a committed artifact and does not take over a write in progress;
- G3 latest() is the newest committed run (greatest manifest created_at, then run segment),
  never a run that is not committed;
- G4 gc and delete never delete the newest committed run (an explicit delete of it moves
  latest back), and delete nothing for a run that is not committed;
- G5 a write that fails for any reason leaves the committed state as it was.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from faultfs import ActorResult, RunResult, format_trace

__all__ = [
    "ADDR",
    "OUT",
    "mirror_config",
    "Tenants",
    "OpSpec",
    "Observed",
    "Err",
    "observe",
    "Violation",
    "check",
    "explain",
    "State",
]

ADDR = "project/etl/my_etl_task.py::LiftDataTask"
OUT = "out"


def mirror_config(storage: Mapping[str, Any]) -> dict[str, Any]:
    """A config writing raw bytes under ``project/`` (``out.bytes``)."""
    return {
        "storage": dict(storage),
        "mirrors": {"project": {"root": "project", "output_name": OUT, "output_format": "bytes"}},
    }


class Tenants:
    """Fresh, empty tenants of one provider: a new directory or memory prefix; on a server, a fresh
    ``namespace`` (the literal segment after the bucket) in one bucket, as a bucket costs a client."""

    def __init__(self, provider: str, server: Any = None, root: str | None = None) -> None:
        self.provider = provider
        self.server = server
        self._root = root
        self._bucket: str | None = None
        self._n = 0

    @property
    def root(self) -> str:
        if self._root is None:
            self._root = tempfile.mkdtemp(prefix="fsmirror-sched-")
        return self._root

    def fresh(self, **storage: Any) -> dict[str, Any]:
        self._n += 1
        if self.provider == "local":
            st: dict[str, Any] = {"provider": "local", "tenant": os.path.join(self.root, f"t{self._n}")}
        elif self.provider == "memory":
            st = {"provider": "memory", "tenant": f"sched-{uuid.uuid4().hex[:12]}"}
        else:
            if self._bucket is None:
                self._bucket = self.server.new_bucket()
            st = {
                "provider": self.provider,
                "tenant": self._bucket,
                "namespace": f"n{self._n}-{uuid.uuid4().hex[:6]}",
                "storage_options": self.server.storage_options(),
            }
        st.update(storage)
        return st

    def discard(self, storage: Mapping[str, Any]) -> None:
        """Free what a memory tenant holds (local tenants go with the root in :meth:`close`, at
        once, as removing directories is slow on some disks; servers keep their buckets)."""
        if storage["provider"] == "memory":
            import fsspec

            fs = fsspec.filesystem("memory")
            try:
                if fs.exists(f"/{storage['tenant']}"):
                    fs.rm(f"/{storage['tenant']}", recursive=True)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        if self.provider == "local" and self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)


# -- operations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpSpec:
    """One operation an actor performs on the slot ``ADDR``."""

    kind: str  # write | overwrite | retry | delete | gc | read | read_latest
    run: str | None = None
    data: bytes | None = None
    keep: int | None = None
    attempt: int = 0  # retry: the attempt number written (docs/protocol.md, "Attempts")

    def __call__(self, fm: Any) -> Any:
        if self.kind == "write":
            return fm.write(ADDR, self.data, run_id=self.run, format="bytes")
        if self.kind == "retry":
            return fm.write(ADDR, self.data, run_id=self.run, format="bytes", attempt=self.attempt)
        if self.kind == "overwrite":
            return fm.write(ADDR, self.data, run_id=self.run, format="bytes", overwrite=True)
        if self.kind == "delete":
            return fm.delete(ADDR, run_id=self.run)
        if self.kind == "gc":
            return fm.gc(ADDR, keep=self.keep)
        if self.kind == "read":
            return fm.read(ADDR, run_id=self.run)
        if self.kind == "read_latest":
            return fm.read(ADDR)
        raise ValueError(self.kind)

    def __str__(self) -> str:
        if self.kind in ("write", "overwrite"):
            return f"{self.kind}({self.run}, {len(self.data or b'')}B)"
        if self.kind == "retry":
            return f"write({self.run}, attempt={self.attempt}, {len(self.data or b'')}B)"
        if self.kind == "gc":
            return f"gc(keep={self.keep})"
        if self.kind == "read_latest":
            return "read(latest)"
        return f"{self.kind}({self.run})"

    @property
    def writes(self) -> bool:
        return self.kind in ("write", "overwrite", "retry")


# -- what the store holds afterwards -----------------------------------------------------------


@dataclass(frozen=True)
class Err:
    """An error where a value was expected (kept by type name and message)."""

    type: str
    message: str

    def __str__(self) -> str:
        return f"{self.type}: {self.message[:160]}"


@dataclass
class Observed:
    """The store after a schedule, through a fresh FSMirror with no faults."""

    reads: dict[str, bytes | Err | None]  # read(run): bytes, None (ArtifactNotFoundError) or an error
    created: dict[str, tuple[str, str]]  # run -> (manifest created_at, run segment), committed runs only
    latest: str | Err | None
    runs: list[str] | Err

    @property
    def committed(self) -> list[str]:
        """Committed runs (a readable manifest), oldest first by (created_at, segment)."""
        return sorted(self.created, key=lambda r: self.created[r])

    def describe(self) -> str:
        reads = ", ".join(f"{r}={_show(v)}" for r, v in self.reads.items())
        return f"reads: {reads}; latest()={_show(self.latest)}; runs()={_show(self.runs)}"


def _show(v: Any) -> str:
    if isinstance(v, (bytes, bytearray)):
        return f"{bytes(v[:10])!r}{'...' if len(v) > 10 else ''}[{len(v)}]"
    if v is None:
        return "none"
    return str(v)


def observe(fm: Any, universe: Iterable[str]) -> Observed:
    from fsmirror import ArtifactNotFoundError

    reads: dict[str, bytes | Err | None] = {}
    created: dict[str, tuple[str, str]] = {}
    for run in universe:
        try:
            reads[run] = bytes(fm.read(ADDR, run_id=run))
        except ArtifactNotFoundError:
            reads[run] = None
        except Exception as e:
            reads[run] = Err(type(e).__name__, str(e))
        try:
            man = fm.manifest(ADDR, run_id=run)
            created[run] = (str(man.get("created_at", "")), str(man.get("run", {}).get("segment", run)))
        except Exception:
            pass
    latest: str | Err | None
    try:
        lr = fm.latest(ADDR)
        latest = None if lr is None else str(lr)
    except Exception as e:
        latest = Err(type(e).__name__, str(e))
    runs: list[str] | Err
    try:
        runs = [str(r) for r in fm.runs(ADDR)]
    except Exception as e:
        runs = Err(type(e).__name__, str(e))
    return Observed(reads, created, latest, runs)


# -- the model ---------------------------------------------------------------------------------

State = tuple[tuple[str, bytes], ...]  # committed (run, bytes), oldest commit first


def _runs(state: State) -> list[str]:
    return [r for r, _ in state]


def _get(state: State, run: str) -> bytes | None:
    for r, b in state:
        if r == run:
            return b
    return None


def _newest(state: State) -> str | None:
    return state[-1][0] if state else None


def attempt_of(data: bytes) -> int:
    """The attempt that wrote ``data``: ``explore.data`` tags a retry's bytes ``<actor>#<attempt>:``."""
    tag = data.split(b":", 1)[0]
    return int(tag.rsplit(b"#", 1)[1]) if b"#" in tag else 0


def doomed(state: State, keep: int) -> list[str]:
    """What gc(keep) deletes from ``state``: all but the ``keep`` newest, never the newest."""
    runs = _runs(state)
    old = runs[: len(runs) - keep] if keep else runs
    return [r for r in old if r != _newest(state)]


@dataclass(frozen=True)
class Ev:
    """An atomic event on the model; ``expect`` is what the operation observed (None: unobserved)."""

    kind: str  # commit | delete | snap | get | get_latest
    run: str | None = None
    data: bytes | None = None
    overwrite: bool = False
    expect: Any = None
    gc: bool = False
    keep: int = 0
    deleted: tuple[str, ...] | None = None
    attempt: int = 0  # a commit's attempt: a later one replaces the run's earlier attempt


_UNSEEN = object()


def apply(state: State, ev: Ev) -> State | None:
    """``state`` after ``ev``, or None if ``ev`` cannot have observed what it did."""
    if ev.kind == "commit":
        current = _get(state, ev.run)  # type: ignore[arg-type]
        present = current is not None
        # A later attempt of a committed run replaces it, as an overwrite does (never an earlier one).
        replaces = current is not None and ev.attempt > attempt_of(current)
        if present and not ev.overwrite and not replaces:
            return None if ev.expect == "ok" else state
        if ev.expect == "exists":
            # An overwrite that lost its compare-and-swap to another actor (a concurrent overwrite,
            # a delete or gc in progress) raises ArtifactExistsError and changes nothing. A later
            # attempt reads the cell first as an overwrite does, so it is refused by the same.
            return state if ev.overwrite or ev.attempt > 0 else None
        return (*((r, b) for r, b in state if r != ev.run), (ev.run, ev.data))  # type: ignore[return-value]
    if ev.kind == "delete":
        present = _get(state, ev.run) is not None  # type: ignore[arg-type]
        if present:
            if ev.expect is False:
                return None
            if ev.gc and ev.run == _newest(state):
                return None
            return tuple((r, b) for r, b in state if r != ev.run)
        return None if ev.expect is True else state
    if ev.kind == "snap":
        if ev.deleted is not None and not set(ev.deleted) <= set(doomed(state, ev.keep)):
            return None
        return state
    if ev.kind == "get":
        return state if _get(state, ev.run) == ev.expect else None  # type: ignore[arg-type]
    if ev.kind == "get_latest":
        newest = _newest(state)
        got = None if newest is None else _get(state, newest)
        return state if got == ev.expect else None
    raise ValueError(ev.kind)


# -- histories ---------------------------------------------------------------------------------


@dataclass
class Done:
    """One operation of a schedule and how it ended."""

    actor: str
    op: OpSpec
    result: ActorResult
    stalled: bool = False  # its run spanned a stall past claim_ttl
    lost_answer: bool = False  # a failure was injected after a request of it: that request took effect

    @property
    def status(self) -> str:
        return self.result.status

    @property
    def error(self) -> str:
        return type(self.result.error).__name__ if self.result.error is not None else ""

    def unresolved(self) -> bool:
        """Killed, hung, or an injected failure: may or may not have taken (part) effect."""
        return self.status in ("killed", "hung") or (self.status == "error" and self.result.injected)


def _precedes(a: Done, b: Done) -> bool:
    ea, sb = a.result.end, b.result.start
    return ea is not None and sb is not None and ea < sb


def _overlap(a: Done, b: Done) -> bool:
    return not _precedes(a, b) and not _precedes(b, a)


def _busy(d: Done, others: Sequence[Done]) -> bool:
    """Whether a concurrent writer of the same run may explain ``d`` being refused "in progress"."""
    for o in others:
        if o is d or not o.op.writes or o.op.run != d.op.run:
            continue
        if _overlap(d, o):
            return True
        if o.unresolved() and (o.result.start or 0) <= (d.result.end or 0):
            return True  # its claim may outlive it (until claim_ttl)
    return False


def _exists_error(name: str) -> bool:
    return name == "ArtifactExistsError"


def scripts(
    d: Done,
    others: Sequence[Done],
    exclusive: bool = True,
    universe: Sequence[str] = (),
    failed_writes_may_commit: bool = False,
) -> list[list[Ev]]:
    """The alternative event scripts that explain how ``d`` ended (empty list: nothing does).

    ``exclusive=False``: racing writes may clobber each other (no no-clobber create);
    ``failed_writes_may_commit``: G5 suspended (to tell a G5 break from the others).
    """
    op, st, err = d.op, d.status, d.error
    if op.writes:
        commit = functools.partial(Ev, "commit", op.run, op.data, op.kind == "overwrite", attempt=op.attempt)
        racing = any(o is not d and o.op.writes and o.op.run == op.run and _overlap(d, o) for o in others)
        if st == "ok":
            alts = [[commit(expect="ok")]]
            if not exclusive and racing:
                alts.append([Ev("commit", op.run, op.data, True, expect="ok")])
            return alts
        if st in ("killed", "hung"):
            alts = [[], [commit(expect=None)]]
            if not exclusive and racing:
                alts.append([Ev("commit", op.run, op.data, True, expect=None)])
            return alts
        if d.result.injected:
            # a store error leaves the committed state as it was (G5); but when the error hid the
            # answer of a request that was made (injected after it), the commit may have landed
            return [[], [commit(expect=None)]] if d.lost_answer or failed_writes_may_commit else [[]]
        if failed_writes_may_commit and _is_storage_error(d.result.error):
            return [[], [commit(expect=None)]]
        if _exists_error(err):
            alts = [[commit(expect="exists")]]
            if _busy(d, others):
                alts.append([])
            return alts
        if d.stalled and _is_storage_error(d.result.error):
            return [[]]
        return []
    if op.kind == "delete":
        if st == "ok":
            return [[Ev("delete", op.run, expect=bool(d.result.value))]]
        if d.unresolved():
            return [[], [Ev("delete", op.run)]]
        return []
    if op.kind == "gc":
        keep = op.keep or 0
        if st == "ok":
            deleted = tuple(str(r) for r in (d.result.value or []))
            return [
                [
                    Ev("snap", keep=keep, deleted=deleted),
                    *(Ev("delete", r, expect=True, gc=True) for r in deleted),
                ]
            ]
        if d.unresolved():
            runs = sorted({o.op.run for o in others if o.op.run} | set(universe))
            alts = []
            for k in range(len(runs) + 1):
                for subset in itertools.combinations(runs, k):
                    alts.append(
                        [Ev("snap", keep=keep), *(Ev("delete", r, expect=True, gc=True) for r in subset)]
                    )
            return alts
        return []
    if op.kind in ("read", "read_latest"):
        ev = (
            functools.partial(Ev, "get", op.run) if op.kind == "read" else functools.partial(Ev, "get_latest")
        )
        if st == "ok":
            return [[ev(expect=bytes(d.result.value))]]
        if st == "error" and err == "ArtifactNotFoundError" and not d.result.injected:
            return [[ev(expect=None)]]
        if d.unresolved():
            return [[]]
        return []
    raise ValueError(op.kind)


def _is_storage_error(e: BaseException | None) -> bool:
    from fsmirror import StorageError

    return isinstance(e, StorageError)


def final_matches(state: State, observed: Observed) -> bool:
    for run, got in observed.reads.items():
        if got != _get(state, run):
            return False
    committed = observed.committed
    if all(r in observed.created for r in _runs(state)):
        return committed == _runs(state)
    return True


def explain(
    initial: State,
    done: Sequence[Done],
    observed: Observed,
    exclusive: bool = True,
    failed_writes_may_commit: bool = False,
) -> bool:
    """Whether some order of the operations' events, respecting real time, yields what was seen."""
    alts = [scripts(d, done, exclusive, _runs(initial), failed_writes_may_commit) for d in done]
    if any(not a for a in alts):
        return False
    before = [[j for j, o in enumerate(done) if j != i and _precedes(o, d)] for i, d in enumerate(done)]
    for choice in itertools.product(*alts):
        if _search(initial, tuple(0 for _ in done), choice, before, observed, set()):
            return True
    return False


def _search(
    state: State,
    pos: tuple[int, ...],
    choice: tuple[list[Ev], ...],
    before: list[list[int]],
    observed: Observed,
    seen: set[tuple[State, tuple[int, ...]]],
) -> bool:
    """Depth-first over the next event of each operation (memoized on (state, progress))."""
    key = (state, pos)
    if key in seen:
        return False
    seen.add(key)
    if all(p == len(s) for p, s in zip(pos, choice)):
        return final_matches(state, observed)
    for i, script in enumerate(choice):
        if pos[i] == len(script) or any(pos[j] < len(choice[j]) for j in before[i]):
            continue
        nxt = apply(state, script[pos[i]])
        if nxt is not None and _search(
            nxt, (*pos[:i], pos[i] + 1, *pos[i + 1 :]), choice, before, observed, seen
        ):
            return True
    return False


# -- naming what broke -------------------------------------------------------------------------


@dataclass
class Violation:
    guarantee: str  # G1..G5, or "harness"
    message: str
    schedule: str = ""
    trace: str = ""
    outcomes: str = ""
    observed: str = ""
    faults: str = ""

    def render(self) -> str:
        return (
            f"[{self.guarantee}] {self.message}\n    schedule: {self.schedule}\n    faults: {self.faults or '-'}"
            f"\n    trace: {self.trace}\n    outcomes: {self.outcomes}\n    after: {self.observed}"
        )


def check(
    initial: Mapping[str, bytes],
    done: Sequence[Done],
    observed: Observed,
    *,
    exclusive: bool = True,
) -> tuple[list[tuple[str, str]], bool]:
    """(guarantee, message) findings for one history, and whether only non-exclusivity explains it.

    ``initial``: run -> bytes committed before the schedule, in commit order.
    With ``exclusive=False`` (a store whose no-clobber create is not honoured) the racing-writer
    findings (G2) are dropped and the history is judged as if racing writes could clobber; the
    second value then says whether that relaxation was needed.
    """
    state0: State = tuple(initial.items())
    found: list[tuple[str, str]] = []
    found += _g3(observed)
    found += _direct(initial, done, observed)
    relaxed = False
    if not exclusive:
        kept = [f for f in found if not f[0].startswith("G2")]
        relaxed = len(kept) != len(found)
        found = kept
    ok = explain(state0, done, observed, exclusive=True)
    if not ok and not exclusive and explain(state0, done, observed, exclusive=False):
        ok, relaxed = True, True
    if not ok and not found:
        # name the guarantee: the one whose suspension would explain the history
        if explain(state0, done, observed, failed_writes_may_commit=True):
            found.append(
                ("G5", "a write that failed took effect: only its commit explains what the others saw")
            )
        elif exclusive and explain(state0, done, observed, exclusive=False):
            found.append(
                ("G2", "only racing writes clobbering each other explain what they returned and hold")
            )
        else:
            found.append(
                (
                    _default_tag(done),
                    "no order of the operations explains what they returned and what the store holds",
                )
            )
    return found, relaxed


def _default_tag(done: Sequence[Done]) -> str:
    kinds = {d.op.kind for d in done}
    if kinds & {"gc", "delete"}:
        return "G4"
    if kinds & {"read", "read_latest"}:
        return "G1"
    return "G2"


def _g3(observed: Observed) -> list[tuple[str, str]]:
    out = []
    committed = observed.committed
    newest = committed[-1] if committed else None
    if isinstance(observed.latest, Err):
        out.append(("G3", f"latest() raised {observed.latest}"))
    elif observed.latest != newest:
        if observed.latest is not None and observed.latest not in observed.created:
            out.append(
                ("G3", f"latest() is {observed.latest!r}, which is not committed (committed: {committed})")
            )
        else:
            out.append(
                (
                    "G3",
                    f"latest() is {observed.latest!r}, the newest committed run is {newest!r} (by created_at)",
                )
            )
    if isinstance(observed.runs, Err):
        out.append(("G3", f"runs() raised {observed.runs}"))
    elif observed.runs != committed:
        out.append(("G3", f"runs() is {observed.runs}, the committed runs by created_at are {committed}"))
    return out


def _direct(initial: Mapping[str, bytes], done: Sequence[Done], observed: Observed) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    by_run: dict[str, list[Done]] = {}
    for d in done:
        if d.op.run:
            by_run.setdefault(d.op.run, []).append(d)
    written = {d.op.data for d in done if d.op.writes} | set(initial.values())

    # unexpected errors (not injected, not the refusals the API promises)
    for d in done:
        if d.status != "error" or d.result.injected:
            continue
        if d.op.writes and (_exists_error(d.error) or (d.stalled and _is_storage_error(d.result.error))):
            continue
        if d.op.kind in ("read", "read_latest") and d.error == "ArtifactNotFoundError":
            continue
        tag = {"write": "G2", "overwrite": "G2", "retry": "G2", "read": "G1", "read_latest": "G1"}.get(d.op.kind, "G4")
        out.append((tag, f"{d.actor}: {d.op} raised {d.error}: {str(d.result.error)[:200]}"))
    for d in done:
        if d.status == "hung":
            out.append(("harness", f"{d.actor}: {d.op} never finished"))

    # G5: a failed write left its bytes committed
    for d in done:
        if d.op.writes and d.status == "error" and observed.reads.get(d.op.run) == d.op.data:  # type: ignore[arg-type]
            out.append(("G5", f"{d.actor}: {d.op} failed ({d.error}) but its bytes are committed"))

    # G2: racing writers
    for run, ds in by_run.items():
        plain = [d for d in ds if d.op.kind == "write"]
        ok_plain = [d for d in plain if d.status == "ok"]
        if len(ok_plain) > 1:
            out.append(
                (
                    "G2",
                    f"{', '.join(d.actor for d in ok_plain)}: both writes of {run} (no overwrite) succeeded",
                )
            )
        if run in initial:
            for d in ok_plain:
                out.append(("G2", f"{d.actor}: {d.op} succeeded over committed run {run} without overwrite"))
        writers = [d for d in ds if d.op.writes]
        none_won = len(writers) > 1 and all(
            d.status == "error" and not d.unresolved() and not d.stalled for d in writers
        )
        if none_won and (run not in initial or all(d.op.kind in ("overwrite", "retry") for d in writers)):
            out.append(
                ("G2", f"racing writers of {run}: none succeeded ({', '.join(d.error for d in writers)})")
            )
        got = observed.reads.get(run)
        for w in ok_plain:
            for o in ds:
                if o.op.kind == "overwrite" and o.status == "ok" and _overlap(w, o) and got == w.op.data:
                    out.append(
                        (
                            "G2",
                            f"{o.actor}'s overwrite took over {w.actor}'s write in progress: both succeeded "
                            f"and the write's bytes are what {run} holds",
                        )
                    )
        if run in initial and isinstance(got, bytes) and got != initial[run]:
            for d in plain:
                if got == d.op.data:
                    out.append(("G2", f"{d.actor}: {d.op} replaced committed run {run} without overwrite"))

    # G1: what returned success reads back; readers see only written bytes
    for run, ds in by_run.items():
        got = observed.reads.get(run, None)
        removers = [
            d
            for d in ds
            if d.op.kind == "delete" and (d.unresolved() or (d.status == "ok" and d.result.value))
        ]
        removers += [
            d
            for d in done
            if d.op.kind == "gc" and (d.unresolved() or (d.status == "ok" and run in (d.result.value or [])))
        ]
        replacers = [d for d in ds if d.op.writes and (d.status == "ok" or d.unresolved())]
        allowed = {d.op.data for d in replacers}
        oks = [d for d in ds if d.op.writes and d.status == "ok"]
        if oks or run in initial:
            if run in initial:
                allowed.add(initial[run])
            if isinstance(got, Err):
                out.append(("G1", f"committed run {run} does not read back: {got}"))
            elif got is None and not removers:
                who = ", ".join(f"{d.actor}:{d.op}" for d in oks) or "the setup"
                out.append(
                    ("G1", f"run {run} (committed by {who}) is gone, and no delete or gc of it succeeded")
                )
            elif isinstance(got, bytes) and got not in allowed:
                out.append(
                    (
                        "G1",
                        f"run {run} holds {_show(got)}: bytes no successful (or interrupted) write of it wrote",
                    )
                )
        elif isinstance(got, bytes) and got not in written:
            out.append(("G1", f"run {run} holds {_show(got)}: bytes nobody wrote"))
    for d in done:
        if d.op.kind in ("read", "read_latest") and d.status == "ok":
            value = bytes(d.result.value)
            if value not in written:
                out.append(("G1", f"{d.actor}: {d.op} returned {_show(value)}: bytes nobody wrote"))
            else:
                for w in done:
                    if not (w.op.writes and w.op.data == value and w.status != "ok"):
                        continue
                    if observed.reads.get(w.op.run) == value:  # type: ignore[arg-type]
                        continue  # it did commit (judged above)
                    if any(o.op.kind in ("delete", "gc") for o in done):
                        continue  # it may have committed and been deleted
                    how = "failed" if w.status == "error" else w.status
                    out.append(
                        (
                            "G1",
                            f"{d.actor}: {d.op} returned the bytes of {w.actor}'s write, which {how} and never committed",
                        )
                    )
        missed = d.op.kind == "read" and d.status == "error" and d.error == "ArtifactNotFoundError"
        if missed and d.op.run in initial and not any(o.op.kind in ("delete", "gc") for o in done):
            out.append(
                (
                    "G1",
                    f"{d.actor}: {d.op} found nothing while run {d.op.run} was committed (an overwrite was in progress)",
                )
            )

    # G4: gc and delete
    for d in done:
        if d.op.kind == "gc" and d.status == "ok":
            for r in d.result.value or []:
                if isinstance(observed.reads.get(str(r)), bytes) and not any(
                    w.op.writes and w.op.run == r for w in done
                ):
                    out.append(("G4", f"{d.actor}: gc reported deleting {r}, which still reads back"))
            newest0 = list(initial)[-1] if initial else None
            if newest0 in (d.result.value or []) and not any(
                w.op.writes and (w.status == "ok" or w.unresolved()) and w.op.run != newest0 for w in done
            ):
                out.append(("G4", f"{d.actor}: gc deleted {newest0}, the newest committed run"))
        if d.op.kind == "delete" and d.status == "ok" and d.result.value:
            run = d.op.run
            could = run in initial or any(
                w.op.writes and w.op.run == run and (w.status == "ok" or w.unresolved()) for w in done
            )
            if not could:
                out.append(("G4", f"{d.actor}: delete({run}) returned True but {run} was never committed"))
    gcs = [d for d in done if d.op.kind == "gc" and d.status == "ok"]
    for a, b in itertools.combinations(gcs, 2):
        both = set(map(str, a.result.value or [])) & set(map(str, b.result.value or []))
        if both:
            out.append(("G4", f"{a.actor} and {b.actor} both report deleting {sorted(both)}"))
    return out


def describe_outcomes(done: Sequence[Done]) -> str:
    return "; ".join(
        f"{d.actor}:{d.op} -> {d.result.summary()}{' (stalled)' if d.stalled else ''}" for d in done
    )


def render(
    found: Sequence[tuple[str, str]],
    *,
    schedule: Sequence[Any],
    faults: Mapping[Any, Any],
    result: RunResult,
    done: Sequence[Done],
    observed: Observed,
) -> list[Violation]:
    sched = "".join(str(t) if isinstance(t, str) else f"[sleep {t.seconds:g}]" for t in schedule) or "(solo)"
    fl = ", ".join(
        f"{type(a).__name__.lower()} {actor}{i} {phase}" for (actor, i, phase), a in faults.items()
    )
    return [
        Violation(
            g,
            msg,
            schedule=sched,
            trace=format_trace(result.trace),
            outcomes=describe_outcomes(done),
            observed=observed.describe(),
            faults=fl,
        )
        for g, msg in found
    ]


@dataclass
class Tally:
    """Counts of one exploration, and the first example of each guarantee broken."""

    schedules: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    not_reached: int = 0
    replays: int = 0
    relaxed: int = 0
    broken: dict[str, int] = field(default_factory=dict)
    bad_schedules: int = 0
    examples: dict[str, Violation] = field(default_factory=dict)
    harness: list[str] = field(default_factory=list)
    store_paths: list[str] = field(default_factory=list)  # replays where the store itself chose another path

    def add(self, kind: str) -> None:
        self.schedules += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    def record(self, violations: Sequence[Violation]) -> None:
        if not violations:
            return
        self.bad_schedules += 1
        for g in sorted({v.guarantee for v in violations}):
            self.broken[g] = self.broken.get(g, 0) + 1
        for v in violations:
            self.examples.setdefault(v.guarantee, v)
