"""A hypothesis state machine that drives one slot of the store and compares it with a model.

Rules: write, overwrite, delete, gc, read, a write killed at a chosen step (``crash_write``),
a write whose request fails at a chosen step (``failing_write``), a writer paused past
``claim_ttl`` while another writes the same run (``stall``, two threads), and tampering with
the store behind fsmirror's back (``tamper``: delete or garble the latest pointer, delete a
run-index entry, truncate or flip a byte of an artifact), hostile names (``hostile``: URL syntax a
driver reads, ``#``, ``[``, control characters) and a second spelling of the tenant (``alias_write``
and its reads: a symlink or a relative path on local disk). The model is run -> bytes in commit
order, plus what was tampered with. After every step the invariants hold:

- read(run) is the model's bytes for a committed run (G1), ArtifactNotFoundError for any
  other (G4, G5), and a ``StorageError`` (``IntegrityError``), never bytes, for a damaged one;
- latest() is the newest committed run (G3) and runs() the committed runs oldest first; once
  bookkeeping was tampered with they may raise a ``StorageError`` instead, never be wrong;
- exists(run) agrees with the model.

``make_machine(...)`` builds the class for one provider; ``run_machine`` runs it with the
example and step counts of ``FSMIRROR_STATEFUL_STEPS`` (total steps wanted per provider) and
``FSMIRROR_STATEFUL_STEP_COUNT`` (steps per example), and reports how many steps ran;
``FSMIRROR_STATEFUL_SHRINK=0`` reports a failure unshrunk (faster on a slow store);
``FSMIRROR_STATEFUL_TAMPER=0`` leaves tampering out (to see what else breaks).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from faultfs import (
    KILL,
    Controller,
    Killed,
    Pause,
    acting,
    disarm_watchdog,
    injected_error,
    install,
    watchdog,
)
from fsmirror.store.protocol import MTIME_GRAIN
from store_model import ADDR, OUT, Tenants, mirror_config

__all__ = ["make_machine", "run_machine", "Stats", "RUNS", "Broken"]

RUNS = ("r0", "r1", "r2")
CONTROL = "control"  # a hostile name that must be refused (ResolveError) everywhere
# Hostile code addresses, each with what the store must do with it: "fine" (ordinary data) or the
# providers whose driver would read its URL syntax (refused with ResolveError before any request).
# The ``{run}`` ones would address the model's own slot of that run through s3fs's or adlfs's split.
HOSTILE: tuple[tuple[str, str], ...] = (
    ("project/etl/my_etl_task/{run}/LiftDataTask/out.bytes?versionId=z/m.py::X", "s3"),
    ("project/etl/my_etl_task/{run}/LiftDataTask/out.bytes?versionid=z/m.py::X", "blob"),
    ("project/etl/my_etl_task/{run}/LiftDataTask/_out.manifest.json?versionId=1/m.py::X", "s3"),
    ("project/etl/my_etl_task#1.py::LiftDataTask", "fine"),
    ("project/etl/my_etl_task[0].py::LiftDataTask", "fine"),
    ("project/etl/my_etl_task/{run}/LiftDataTask/out.bytes#1/m.py::X", "fine"),
    ("project/etl/my_\x07task.py::LiftDataTask", CONTROL),
    ("project/etl/my_\x9btask.py::LiftDataTask", CONTROL),  # C1 (CSI): refused like C0
)
CLAIM_TTL = 0.15  # seconds: a dead or stalled writer's claim goes stale this fast here
SLACK = 0.6  # a claim younger than CLAIM_TTL + SLACK (+ MTIME_GRAIN on object stores) may block a run
MAX_STALLS = 1  # per example: each stall waits CLAIM_TTL + a margin
STALL_B = 0.2  # how long B gets before A goes on anyway (B may be waiting on A's local lock)
WATCHDOG = 300.0  # seconds one step may take before the process dumps its stacks and exits


class Broken(AssertionError):
    """A guarantee broke; the message starts with its name (G1..G5, or the contract it breaks)."""


@dataclass
class Stats:
    """Shared by every example of one run: what ran (printed by the test)."""

    steps: int = 0
    examples: int = 0
    rules: dict[str, int] = field(default_factory=dict)
    degraded: dict[str, int] = field(default_factory=dict)  # tampered reads that raised instead of answering

    def rule(self, name: str) -> None:
        watchdog(WATCHDOG)  # a step that hangs ends the run with every thread's stack
        self.steps += 1
        self.rules[name] = self.rules.get(name, 0) + 1

    def line(self, provider: str, seconds: float) -> str:
        rules = ", ".join(f"{k} {v}" for k, v in sorted(self.rules.items()))
        out = f"{provider}: {self.steps} steps in {self.examples} examples, {seconds:.1f}s ({rules})"
        if self.degraded:
            out += "; after tampering, raised instead of answering: " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.degraded.items())
            )
        return out


def _raw_fs(storage: dict[str, Any]) -> Any:
    import fsspec

    proto = {"local": "file", "memory": "memory", "s3": "s3", "gcs": "gcs", "blob": "az"}[storage["provider"]]
    opts = dict(storage.get("storage_options") or {})
    if proto != "file":
        opts.setdefault("use_listings_cache", False)
    return fsspec.filesystem(proto, **opts)


def _supported_config(storage: dict[str, Any], make: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """The config, with ``verify: true`` on the mirror when the store knows the setting (store v2)."""
    from fsmirror import ConfigError

    cfg = mirror_config(storage)
    trial = mirror_config(storage)
    trial["mirrors"]["project"]["verify"] = True
    try:
        make(trial)
        return trial
    except ConfigError:
        return cfg


def make_machine(
    tenants: Tenants,
    *,
    make: Callable[[dict[str, Any]], Any] | None = None,
    tamper: bool = True,
    stats: Stats | None = None,
) -> type[RuleBasedStateMachine]:
    """The state machine class for one provider: a fresh tenant of ``tenants`` per example.

    ``make(config)`` -> the facade (default ``fsmirror.FSMirror``); ``tamper``: whether the
    store's files can be reached with fsspec to tamper with them.
    """
    from fsmirror import FSMirror

    make_fm = make or FSMirror
    counts = stats if stats is not None else Stats()

    class StoreMachine(RuleBasedStateMachine):
        stats = counts

        def __init__(self) -> None:
            super().__init__()
            counts.examples += 1
            self.storage = tenants.fresh(claim_ttl=CLAIM_TTL)
            self.cfg = _supported_config(self.storage, make_fm)
            self.fm = make_fm(self.cfg)
            self.ctl = Controller()
            install(self.fm, self.ctl)
            self.model: dict[str, bytes] = {}
            self.attempts: dict[str, int] = {}  # run -> the attempt its committed bytes came from
            self.order: list[str] = []
            self.damaged: set[str] = set()
            self.hints_tampered = False
            # Runs whose run-index entry tamper() deleted, until they are committed again: latest()
            # may pass over them, runs() may misplace them (docs/protocol.md); gc may not.
            self.unindexed: set[str] = set()
            self.rewritten: set[str] = set()  # runs whose data file tamper() rewrote (a new etag)
            self.tampered: list[str] = []  # what tamper() did, for messages
            self.claims: dict[str, float] = {}  # run -> until when a dead writer's claim may block it
            # A dead writer's data object with no cell blocks for claim_ttl + MTIME_GRAIN (only the
            # local store, holding a slot lock, knows a leftover is dead at once).
            self.block_for = CLAIM_TTL + SLACK + (0.0 if tenants.provider == "local" else MTIME_GRAIN)
            self.n = 0
            self.stalls = 0
            self.hostile_slots: dict[tuple[str, str], bytes] = {}  # (address, run) -> bytes, hostile slots
            self.alias = make_fm(
                _alias_config(self.cfg, counts.examples)
            )  # the same store, spelled otherwise

        # -- helpers ----------------------------------------------------------------------

        def _value(self, raw: bytes) -> bytes:
            self.n += 1
            return raw + f"#{self.n}".encode()  # every value written is unique

        def _actor(self, kind: str) -> str:
            self.n += 1
            return f"{kind}-{self.n}"

        def _after(self) -> str:
            """Context for a message: tampering done before (a damaged hint must be repaired, not fatal)."""
            return f" (after tampering: {', '.join(self.tampered)})" if self.tampered else ""

        def _claim_may_block(self, run: str) -> bool:
            return time.monotonic() < self.claims.get(run, 0.0)

        def _commit(self, run: str, value: bytes, attempt: int = 0) -> None:
            self.model[run] = value
            self.attempts[run] = attempt
            if run in self.order:
                self.order.remove(run)
            self.order.append(run)
            self.damaged.discard(run)
            self.claims.pop(run, None)
            self.unindexed.discard(run)
            self.rewritten.discard(run)

        def _left_behind(self, run: str) -> None:
            """A deleted run whose bytes were rewritten (even back to the same bytes): an object store's fenced data delete
            (``If-Match`` the recorded etag) leaves them, and they block the run like a dead
            writer's data until claim_ttl + MTIME_GRAIN (docs/protocol.md, "Damage")."""
            if run in self.rewritten and tenants.provider != "local":
                self.claims[run] = time.monotonic() + self.block_for

        def _forget(self, run: str) -> None:
            self.model.pop(run, None)
            if run in self.order:
                self.order.remove(run)
            self.damaged.discard(run)
            self.unindexed.discard(run)
            self.rewritten.discard(run)

        def _write(self, run: str, value: bytes, overwrite: bool, rule_name: str, fm: Any = None) -> None:
            from fsmirror import ArtifactExistsError

            counts.rule(rule_name)
            blocked_ok = self._claim_may_block(run)
            try:
                (fm or self.fm).write(ADDR, value, run_id=run, format="bytes", overwrite=overwrite)
            except ArtifactExistsError as e:
                if not overwrite and run in self.model:
                    return  # G2: a committed artifact is not replaced
                if blocked_ok:
                    return  # a dead writer's claim, still fresh
                raise Broken(
                    f"G2: {rule_name}({run}) refused with nothing committed nor in progress: {e}"
                ) from e
            except Exception as e:
                raise Broken(f"G5: {rule_name}({run}) raised {type(e).__name__}: {e}{self._after()}") from e
            if not overwrite and run in self.model:
                raise Broken(f"G2: write({run}) without overwrite succeeded over a committed artifact")
            self._commit(run, value)

        def _resolve(self, run: str, value: bytes, before: bytes | None, what: str) -> None:
            """After a write that may or may not have committed: which one is it?"""
            from fsmirror import StorageError

            try:
                got = _read(self.fm, run)
            except StorageError:
                if run in self.damaged:
                    return  # the write did not commit: the run is as damaged as before
                raise
            if got == value:
                self._commit(run, value)
            elif got == before and (before is not None or run not in self.model):
                pass
            elif before is not None and got is None:
                raise Broken(f"G1: {what} of {run} lost the committed artifact (it reads as not found)")
            else:
                raise Broken(
                    f"G1: after {what} of {run}, it reads {_show(got)}: neither the old bytes nor the new"
                )

        # -- rules ------------------------------------------------------------------------

        @rule(run=st.sampled_from(RUNS), raw=st.binary(max_size=48))
        def write(self, run: str, raw: bytes) -> None:
            self._write(run, self._value(raw), False, "write")

        @rule(run=st.sampled_from(RUNS), raw=st.binary(max_size=48))
        def overwrite(self, run: str, raw: bytes) -> None:
            self._write(run, self._value(raw), True, "overwrite")

        @rule(run=st.sampled_from(RUNS), raw=st.binary(max_size=48), overwrite=st.booleans())
        def alias_write(self, run: str, raw: bytes, overwrite: bool) -> None:
            """A write through another spelling of the tenant, then every run read through it: the
            same store, the same promises (the invariants read the plain spelling after)."""
            self._write(run, self._value(raw), overwrite, "alias_write", fm=self.alias)
            for r in RUNS:
                self._check_read(r, fm=self.alias)

        # The reference store (tests/reference_store.py) keeps one slot whatever the address: only
        # fsmirror's own facade resolves names.
        @precondition(lambda self: make is None)
        @rule(which=st.integers(0, len(HOSTILE) - 1), run=st.sampled_from(RUNS), raw=st.binary(max_size=16))
        def hostile(self, which: int, run: str, raw: bytes) -> None:
            """A write and read of a hostile name: refused with a typed error before any request when
            its syntax would reach a driver or it holds a control character; otherwise plain data.
            The invariants then check the model's own slots are untouched."""
            from fsmirror import FSMirrorError, ResolveError

            template, expect = HOSTILE[which]
            addr = template.replace("{run}", run)
            counts.rule(f"hostile:{'refused' if expect in (CONTROL, tenants.provider) else 'fine'}")
            value = self._value(raw)
            refused = expect in (CONTROL, tenants.provider)
            try:
                self.fm.write(addr, value, run_id=run, format="bytes", overwrite=True)
            except ResolveError as e:
                if refused:
                    return
                raise Broken(f"names: write of {addr!r} (ordinary data here) was refused: {e}") from e
            except FSMirrorError as e:
                if refused:
                    raise Broken(
                        f"names: {addr!r} refused with {type(e).__name__}, not ResolveError: {e}"
                    ) from e
                raise Broken(f"names: write of {addr!r} raised {type(e).__name__}: {e}{self._after()}") from e
            except Exception as e:
                raise Broken(f"names: write of {addr!r} raised a raw {type(e).__name__}: {e}") from e
            if refused:
                raise Broken(f"names: write of {addr!r} was accepted; it must be refused ({expect})")
            self.hostile_slots[(addr, run)] = value
            for (a, r), want in self.hostile_slots.items():
                got = bytes(self.fm.read(a, run_id=r))
                if got != want:
                    raise Broken(f"names: read of {a!r} run {r} returned {_show(got)}, wrote {_show(want)}")

        @rule(run=st.sampled_from(RUNS), raw=st.binary(max_size=48), later=st.integers(0, 2))
        def retry(self, run: str, raw: bytes, later: int) -> None:
            """A later attempt of a run replaces the earlier one's commit; the same attempt is refused."""
            from fsmirror import ArtifactExistsError

            counts.rule("retry")
            value = self._value(raw)
            committed = self.attempts.get(run) if run in self.model else None
            attempt = (committed or 0) + later  # later=0 over a committed run: the same attempt again
            blocked_ok = self._claim_may_block(run)
            try:
                self.fm.write(ADDR, value, run_id=run, format="bytes", attempt=attempt)
            except ArtifactExistsError as e:
                if committed is not None and attempt <= committed:
                    return  # the same or an earlier attempt never replaces
                if blocked_ok:
                    return  # a dead writer's claim, still fresh
                raise Broken(
                    f"attempts: write({run}, attempt={attempt}) refused over "
                    f"{'nothing' if committed is None else f'attempt {committed}'}: {e}{self._after()}"
                ) from e
            except Exception as e:
                raise Broken(
                    f"G5: write({run}, attempt={attempt}) raised {type(e).__name__}: {e}{self._after()}"
                ) from e
            if committed is not None and attempt <= committed:
                raise Broken(f"attempts: attempt {attempt} of {run} replaced attempt {committed}")
            self._commit(run, value, attempt)

        @rule(run=st.sampled_from(RUNS))
        def delete(self, run: str) -> None:
            counts.rule("delete")
            try:
                got = self.fm.delete(ADDR, run_id=run)
            except Exception as e:
                raise Broken(f"G4: delete({run}) raised {type(e).__name__}: {e}{self._after()}") from e
            if got != (run in self.model):
                raise Broken(
                    f"G4: delete({run}) returned {got}, but {run} is {'' if run in self.model else 'not '}committed"
                )
            self._left_behind(run)
            self._forget(run)

        @rule(keep=st.integers(0, 3))
        def gc(self, keep: int) -> None:
            counts.rule("gc")
            newest = self.order[-1] if self.order else None
            old = self.order[: len(self.order) - keep] if keep else list(self.order)
            doomed = [r for r in old if r != newest]
            try:
                deleted = [str(r) for r in self.fm.gc(ADDR, keep=keep)]
            except Exception as e:
                raise Broken(f"G4: gc(keep={keep}) raised {type(e).__name__}: {e}{self._after()}") from e
            if newest in deleted:
                raise Broken(f"G4: gc(keep={keep}) deleted {newest}, the newest committed run")
            extra = set(deleted) - set(doomed)
            if extra:
                raise Broken(f"G4: gc(keep={keep}) deleted {sorted(extra)}; only {doomed} were old enough")
            # gc orders runs by their manifests, not the index: damage to the index changes nothing.
            skipped = [r for r in doomed if r not in deleted and not self._claim_may_block(r)]
            if skipped:
                raise Broken(
                    f"gc contract: gc(keep={keep}) left {skipped} (runs {self.order}); no live writer holds them"
                )
            for r in deleted:
                self._left_behind(r)
                self._forget(r)

        @rule(run=st.sampled_from(RUNS))
        def read(self, run: str) -> None:
            counts.rule("read")
            self._check_read(run)

        @rule(
            run=st.sampled_from(RUNS),
            raw=st.binary(max_size=48),
            at=st.integers(0, 11),
            phase=st.sampled_from(["before", "after"]),
            overwrite=st.booleans(),
        )
        def crash_write(self, run: str, raw: bytes, at: int, phase: str, overwrite: bool) -> None:
            """A write killed (like SIGKILL: no cleanup) before or after its ``at``-th request."""
            from fsmirror import ArtifactExistsError

            counts.rule("crash_write")
            value, before, actor = self._value(raw), self.model.get(run), self._actor("crash")
            self.ctl.plans[actor] = {(at, phase): KILL}
            died = False
            try:
                with acting(actor):
                    self.fm.write(ADDR, value, run_id=run, format="bytes", overwrite=overwrite)
            except Killed:
                died = True
            except ArtifactExistsError:
                if not (self._claim_may_block(run) or (run in self.model and not overwrite)):
                    raise
            if died:
                self.claims[run] = time.monotonic() + self.block_for
            if not overwrite and before is not None:
                if run not in self.damaged and _read(self.fm, run) != before:
                    raise Broken(f"G2: a killed write (no overwrite) of committed run {run} changed it")
                return
            self._resolve(
                run, value, before, f"a {'overwrite' if overwrite else 'write'} killed {phase} request {at}"
            )

        @rule(
            run=st.sampled_from(RUNS),
            raw=st.binary(max_size=48),
            at=st.integers(0, 11),
            phase=st.sampled_from(["before", "after"]),
            overwrite=st.booleans(),
        )
        def failing_write(self, run: str, raw: bytes, at: int, phase: str, overwrite: bool) -> None:
            """A write whose ``at``-th request fails (before it is made, or its answer is lost)."""
            from fsmirror import ArtifactExistsError, StorageError

            counts.rule("failing_write")
            value, before, actor = self._value(raw), self.model.get(run), self._actor("fail")
            self.ctl.plans[actor] = {(at, phase): injected_error()}
            try:
                with acting(actor):
                    self.fm.write(ADDR, value, run_id=run, format="bytes", overwrite=overwrite)
                failed = None
            except ArtifactExistsError as e:
                failed = e
            except StorageError as e:
                failed = e
                self.claims[run] = time.monotonic() + self.block_for  # its claim may be orphaned
            except Exception as e:
                raise Broken(
                    f"G5: a write whose request failed raised {type(e).__name__}, not a StorageError: {e}"
                ) from e
            try:
                got = _read(self.fm, run)
            except StorageError:
                if run in self.damaged and failed is not None:
                    return  # a failed write changed nothing: the run is as damaged as before
                raise
            if failed is None:
                if not overwrite and before is not None:
                    raise Broken(f"G2: write({run}) without overwrite succeeded over a committed artifact")
                if got != value:
                    raise Broken(f"G1: write({run}) returned success but reads {_show(got)}")
                self._commit(run, value)
                return
            if got != before:
                raise Broken(
                    f"G5: a write of {run} failed ({type(failed).__name__} after an OSError {phase} request {at}) "
                    f"but the committed state changed: it reads {_show(got)}, was {_show(before)}"
                )

        @precondition(lambda self: self.stalls < MAX_STALLS)
        @rule(
            run=st.sampled_from(RUNS),
            raw_a=st.binary(max_size=32),
            raw_b=st.binary(max_size=32),
            at=st.integers(0, 8),
        )
        def stall(self, run: str, raw_a: bytes, raw_b: bytes, at: int) -> None:
            """Writer A pauses before its ``at``-th request, past claim_ttl, while B writes the same run."""
            counts.rule("stall")
            self.stalls += 1
            if self._claim_may_block(run):
                return
            self._stall(run, self._value(raw_a), self._value(raw_b), at)

        def _stall(self, run: str, va: bytes, vb: bytes, at: int) -> None:
            from fsmirror import StorageError

            a, release, reached = self._actor("stall-A"), threading.Event(), threading.Event()
            self.ctl.plans[a] = {(at, "before"): Pause(release, timeout=20, reached=reached)}
            other = make_fm(self.cfg)  # B is another worker
            out: dict[str, Any] = {}

            def writer(name: str, fm: Any, value: bytes, actor: str | None) -> None:
                try:
                    with acting(actor):
                        out[name] = fm.write(ADDR, value, run_id=run, format="bytes")
                except BaseException as e:  # judged below
                    out[name] = e

            ta = threading.Thread(target=writer, args=("A", self.fm, va, a), daemon=True)
            ta.start()
            deadline = time.monotonic() + 10
            while not reached.is_set() and ta.is_alive() and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(CLAIM_TTL + 0.05)  # A's claim is stale now
            tb = threading.Thread(target=writer, args=("B", other, vb, None), daemon=True)
            tb.start()
            tb.join(STALL_B)  # B may wait on A (a local lock): then A goes on, and the race is real
            release.set()
            ta.join(20)
            tb.join(20)
            if ta.is_alive() or tb.is_alive():
                raise Broken(
                    f"harness: a stalled writer of {run} did not finish (A alive={ta.is_alive()}, B alive={tb.is_alive()})"
                )
            ok = {k for k, v in out.items() if isinstance(v, str)}
            errors = {k: v for k, v in out.items() if not isinstance(v, str)}
            for k, e in errors.items():
                if not isinstance(e, StorageError):
                    raise Broken(f"G2: stalled-writer race on {run}: {k} raised {type(e).__name__}: {e}")
            if run in self.model:
                if ok:
                    raise Broken(f"G2: {sorted(ok)} replaced committed run {run} without overwrite")
                return
            if len(ok) != 1:
                detail = ", ".join(f"{k}: {type(v).__name__}: {v}" for k, v in sorted(errors.items()))
                raise Broken(
                    f"G2: of two writers of {run}, one stalled past claim_ttl before request {at}, "
                    f"{'both' if len(ok) == 2 else 'none'} succeeded {detail}"
                )
            winner = ok.pop()
            got = _read(self.fm, run)
            want = va if winner == "A" else vb
            if got != want:
                raise Broken(f"G2: {winner} won the race on {run} but the store holds {_show(got)}")
            self._commit(run, want)

        @precondition(lambda self: tamper and os.environ.get("FSMIRROR_STATEFUL_TAMPER", "1") != "0")
        @rule(
            kind=st.sampled_from(["pointer-delete", "pointer-garble", "index-delete", "truncate", "flip"]),
            run=st.sampled_from(RUNS),
        )
        def tamper(self, kind: str, run: str) -> None:
            """Damage the store behind fsmirror's back."""
            counts.rule(f"tamper:{kind}")
            from fsmirror import names

            fs = _raw_fs(self.storage)
            series = self.fm.mirror_full(ADDR, with_id=False)
            if kind.startswith("pointer"):
                path = names.pointer_file(series, OUT)
                if fs.exists(path):
                    if kind == "pointer-delete":
                        fs.rm_file(path)
                    else:
                        fs.pipe_file(path, b'{"run_id": "r9", "segm')
                    self.hints_tampered = True
                    self.tampered.append(kind)
            elif kind == "index-delete":
                d = names.index_dir(series, OUT)
                entries = sorted(fs.ls(d, detail=False)) if fs.exists(d) else []
                if entries:
                    fs.rm_file(entries[0])  # names sort newest first
                    parsed = names.parse_index_entry(entries[0].rsplit("/", 1)[-1])
                    if parsed is not None:
                        self.unindexed.add(parsed[1])
                    self.hints_tampered = True
                    self.tampered.append(kind)
            elif run in self.model:
                cell = names.manifest_file(self.fm.mirror_full(ADDR, run_id=run), OUT)
                with contextlib.suppress(Exception):
                    if json.loads(fs.cat_file(cell)).get("state") == "pending":
                        # An overwrite or delete under way: readers see the backup, and the next
                        # caller rolls the data file back. Damage to it is not damage to the run.
                        return
                uri = self.fm.artifact_uri(ADDR, run_id=run)
                data = bytes(fs.cat_file(uri))
                if not data:
                    return  # nothing to flip or cut
                flipped = data[:-1] + bytes([data[-1] ^ 0xFF])
                bad = data[: len(data) // 2] if kind == "truncate" else flipped
                fs.pipe_file(uri, bad)
                self.rewritten.add(run)
                if bad == self.model[run]:  # a second flip puts the committed bytes back
                    self.damaged.discard(run)
                else:
                    self.damaged.add(run)
                self.tampered.append(f"{kind} {run}")

        # -- invariants -------------------------------------------------------------------

        def _check_read(self, run: str, fm: Any = None) -> None:
            from fsmirror import ArtifactNotFoundError, StorageError

            try:
                got = bytes((fm or self.fm).read(ADDR, run_id=run))
            except StorageError as e:
                if run in self.damaged:  # what a damaged artifact must give: an error, not bytes
                    key = f"damaged read:{type(e).__name__}"
                    counts.degraded[key] = counts.degraded.get(key, 0) + 1
                    return
                if isinstance(e, ArtifactNotFoundError):
                    if run in self.model:
                        raise Broken(
                            f"G1: read({run}) found nothing; it holds {_show(self.model[run])}"
                        ) from e
                    return
                raise Broken(f"G1: read({run}) raised {type(e).__name__}: {e}") from e
            if run in self.damaged:
                raise Broken(
                    f"integrity: read({run}) of a damaged artifact returned {_show(got)}, not an IntegrityError"
                )
            if run not in self.model:
                raise Broken(f"G4/G5: read({run}) returned {_show(got)}, but {run} is not committed")
            if got != self.model[run]:
                raise Broken(
                    f"G1: read({run}) returned {_show(got)}, the committed bytes are {_show(self.model[run])}"
                )

        @invariant()
        def reads_match(self) -> None:
            for run in RUNS:
                self._check_read(run)

        @invariant()
        def exists_matches(self) -> None:
            for run in RUNS:
                if bool(self.fm.exists(ADDR, run_id=run)) != (run in self.model):
                    committed = run in self.model
                    raise Broken(f"G1/G4: exists({run}) is {not committed}; the model says {committed}")

        @invariant()
        def latest_and_runs_match(self) -> None:
            newest = self.order[-1] if self.order else None
            indexed = [r for r in self.order if r not in self.unindexed]
            allowed = {newest}
            if newest in self.unindexed:
                # Its entry gone, latest() names the newest run an entry confirms, or falls back
                # to runs(), which may order an unindexed run by a dangling entry of its own.
                allowed |= set(self.unindexed) | set(indexed[-1:])
            with self._hint_errors("latest"):
                latest = self.fm.latest(ADDR)
                if latest not in allowed:
                    raise Broken(
                        f"G3: latest() is {latest!r}; the newest committed run is {newest!r} (runs {self.order})"
                    )
            with self._hint_errors("runs"):
                runs = [str(r) for r in self.fm.runs(ADDR)]
                # A run whose newest index entry was deleted may be ordered by an older, dangling
                # entry of its own (a failed or killed write's): it is listed, maybe misplaced.
                same = [r for r in runs if r not in self.unindexed] == [
                    r for r in self.order if r not in self.unindexed
                ]
                if sorted(runs) != sorted(self.order) or not same:
                    raise Broken(f"G3: runs() is {runs}; committed, oldest first: {self.order}")

        @contextlib.contextmanager
        def _hint_errors(self, what: str) -> Iterator[None]:
            from fsmirror import StorageError

            try:
                yield
            except Broken:
                raise
            except StorageError as e:
                if not self.hints_tampered:
                    raise Broken(f"G3: {what}() raised {type(e).__name__}: {e}") from e
                counts.degraded[f"{what}:{type(e).__name__}"] = (
                    counts.degraded.get(f"{what}:{type(e).__name__}", 0) + 1
                )

        def teardown(self) -> None:
            tenants.discard(self.storage)

    StoreMachine.__name__ = f"StoreMachine_{tenants.provider}"
    return StoreMachine


def _alias_config(cfg: dict[str, Any], n: int) -> dict[str, Any]:
    """``cfg`` with the tenant spelled otherwise: local alternates a symlink to it and a relative
    path; other providers get a second ``FSMirror`` of the same config (another worker)."""
    storage = dict(cfg["storage"])
    if storage["provider"] == "local":
        tenant = str(storage["tenant"])
        if n % 2:
            link = tenant + "-link"
            os.makedirs(tenant, exist_ok=True)
            if not os.path.islink(link):
                os.symlink(tenant, link)
            storage["tenant"] = link
        else:
            storage["tenant"] = os.path.relpath(tenant)
    return {**cfg, "storage": storage}


def _read(fm: Any, run: str) -> bytes | None:
    from fsmirror import ArtifactNotFoundError

    try:
        return bytes(fm.read(ADDR, run_id=run))
    except ArtifactNotFoundError:
        return None


def _show(v: bytes | None) -> str:
    if v is None:
        return "nothing"
    return f"{bytes(v[:12])!r}{'...' if len(v) > 12 else ''}[{len(v)}]"


def steps_wanted(default: int) -> tuple[int, int]:
    """(examples, steps per example) from FSMIRROR_STATEFUL_STEPS / FSMIRROR_STATEFUL_STEP_COUNT."""
    total = int(os.environ.get("FSMIRROR_STATEFUL_STEPS") or default)
    per = int(os.environ.get("FSMIRROR_STATEFUL_STEP_COUNT") or 60)
    return max(1, math.ceil(total / per)), per


def run_machine(
    tenants: Tenants,
    *,
    default_steps: int,
    make: Callable[[dict[str, Any]], Any] | None = None,
    tamper: bool = True,
    label: str = "",
    shrink: bool | None = None,
    derandomize: bool = False,
) -> Stats:
    """Run the machine (prints what ran, also when it fails); raises what the machine found."""
    stats = Stats()
    machine = make_machine(tenants, make=make, tamper=tamper, stats=stats)
    examples, per = steps_wanted(default_steps)
    if shrink is None:
        shrink = os.environ.get("FSMIRROR_STATEFUL_SHRINK", "1") != "0"
    phases = [Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if shrink else [])]
    t0 = time.monotonic()
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=examples,
                stateful_step_count=per,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                print_blob=True,
                report_multiple_bugs=False,
                phases=phases,
                derandomize=derandomize,
                database=None if derandomize else settings.default.database,
            ),
        )
    finally:
        disarm_watchdog()
        print("\n" + stats.line(label or tenants.provider, time.monotonic() - t0))
    return stats
