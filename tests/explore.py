"""Every interleaving of two actors on one slot, with a crash or a store failure at each point.

For a scenario (a setup of committed runs, and one operation per actor A and B) on one
provider: run each actor alone and both serial orders to learn its step count; enumerate
the interleavings of those steps (all of them, or a deterministic sample when there are
more than the budget); for interleavings x crash points (each actor, before and after each
of its steps) kill the actor there, and fail the call there with an OSError; for racing
writers, stall one past ``claim_ttl`` while the other writes. Every schedule runs from a
fresh tenant, and afterwards :func:`store_model.check` judges what each actor returned and
what the store holds against G1-G5. A few schedules are run twice to prove they replay.

``FSMIRROR_SCHEDULE_SCALE`` (float) scales every budget; ``FSMIRROR_SCHEDULE_SEED`` the sampling;
``FSMIRROR_SCHEDULE_REPORT`` (a path) appends one JSON line per exploration.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from faultfs import (
    KILL,
    Action,
    Hung,
    RunResult,
    Scheduler,
    Sleep,
    crash_points,
    disarm_watchdog,
    injected_error,
    install,
    interleavings,
    sample_product,
    watchdog,
)
from store_model import (
    ADDR,
    Done,
    Observed,
    OpSpec,
    Tally,
    Tenants,
    Violation,
    check,
    mirror_config,
    observe,
    render,
)

__all__ = [
    "Scenario",
    "SCENARIOS",
    "PAIRS",
    "Budget",
    "BUDGETS",
    "Explorer",
    "budget_for",
    "data",
    "EXCLUSIVE_SKIP",
]

ACTORS = ("A", "B")
CLAIM_TTL = 120.0  # ordinary schedules: no claim goes stale by itself
STALL_TTL = 0.3  # stall schedules: a claim is stale after this
STALL = 0.45  # ... and the stalled actor waits this long


def data(tag: str, run: str, size: int) -> bytes:
    """Bytes unique to (tag, run) and of a given size: a torn or mixed artifact shows."""
    seed = hashlib.sha256(f"{tag}|{run}".encode()).digest()
    return (f"{tag}:{run}:".encode() + seed * (size // 32 + 1))[:size]


def _setup(*runs: str) -> tuple[tuple[str, bytes], ...]:
    return tuple((r, data("setup", r, 40 + 7 * i)) for i, r in enumerate(runs))


@dataclass(frozen=True)
class Scenario:
    pair: str
    name: str
    setup: tuple[tuple[str, bytes], ...]
    ops: tuple[tuple[str, OpSpec], ...]
    stalls: bool = False  # stall one writer past claim_ttl while the other writes

    @property
    def universe(self) -> list[str]:
        runs = [r for r, _ in self.setup] + [op.run for _, op in self.ops if op.run]
        return list(dict.fromkeys(runs))


def _w(actor: str, run: str, size: int) -> OpSpec:
    return OpSpec("write", run, data(actor, run, size))


def _ow(actor: str, run: str, size: int) -> OpSpec:
    return OpSpec("overwrite", run, data(actor, run, size))


def _retry(actor: str, run: str, attempt: int, size: int) -> OpSpec:
    """A later attempt of a committed run: its bytes say which attempt wrote them (store_model.attempt_of)."""
    return OpSpec("retry", run, data(f"{actor}#{attempt}", run, size), attempt=attempt)


SCENARIOS: dict[str, list[Scenario]] = {
    "write/write": [
        Scenario(
            "write/write",
            "two writers of one new run",
            _setup("r0"),
            (("A", _w("A", "r1", 90)), ("B", _w("B", "r1", 130))),
            stalls=True,
        ),
    ],
    "write/overwrite": [
        Scenario(
            "write/overwrite",
            "a writer and an overwriter of one new run",
            _setup("r0"),
            (("A", _w("A", "r1", 90)), ("B", _ow("B", "r1", 130))),
            stalls=True,
        ),
        Scenario(
            "write/overwrite",
            "a writer and an overwriter of a committed run",
            _setup("r0", "r1"),
            (("A", _w("A", "r1", 90)), ("B", _ow("B", "r1", 130))),
        ),
    ],
    "overwrite/overwrite": [
        Scenario(
            "overwrite/overwrite",
            "two overwriters of a committed run",
            _setup("r0", "r1"),
            (("A", _ow("A", "r1", 90)), ("B", _ow("B", "r1", 130))),
        ),
    ],
    "write/delete": [
        Scenario(
            "write/delete",
            "delete of the run being written",
            _setup("r0"),
            (("A", _w("A", "r1", 90)), ("B", OpSpec("delete", "r1"))),
        ),
        Scenario(
            "write/delete",
            "delete of the newest run beside a new write",
            _setup("r0", "r1"),
            (("A", _w("A", "r2", 90)), ("B", OpSpec("delete", "r1"))),
        ),
    ],
    "write/gc": [
        Scenario(
            "write/gc",
            "gc(keep=0) beside a write of a new run",
            _setup("r0", "r1"),
            (("A", _w("A", "r2", 90)), ("B", OpSpec("gc", keep=0))),
        ),
        Scenario(
            "write/gc",
            "gc(keep=0) beside an overwrite that makes the oldest run the newest",
            _setup("r0", "r1"),
            (("A", _ow("A", "r0", 90)), ("B", OpSpec("gc", keep=0))),
        ),
    ],
    "write/read": [
        Scenario(
            "write/read",
            "read of the run being written",
            _setup("r0"),
            (("A", _w("A", "r1", 90)), ("B", OpSpec("read", "r1"))),
        ),
        Scenario(
            "write/read",
            "read of latest while it is overwritten",
            _setup("r0"),
            (("A", _ow("A", "r0", 90)), ("B", OpSpec("read_latest"))),
        ),
    ],
    "attempt/attempt": [
        Scenario(
            "attempt/attempt",
            "attempts 1 and 2 of a committed run",
            _setup("r0", "r1"),
            (("A", _retry("A", "r1", 1, 90)), ("B", _retry("B", "r1", 2, 130))),
        ),
        Scenario(
            "attempt/attempt",
            "two writers of attempt 1 of a committed run",
            _setup("r0", "r1"),
            (("A", _retry("A", "r1", 1, 90)), ("B", _retry("B", "r1", 1, 130))),
        ),
    ],
    "attempt/gc": [
        Scenario(
            "attempt/gc",
            "gc(keep=0) beside attempt 1 of the oldest run (which makes it the newest)",
            _setup("r0", "r1"),
            (("A", _retry("A", "r0", 1, 90)), ("B", OpSpec("gc", keep=0))),
        ),
    ],
    "attempt/read": [
        Scenario(
            "attempt/read",
            "read of a run while attempt 1 replaces it",
            _setup("r0"),
            (("A", _retry("A", "r0", 1, 90)), ("B", OpSpec("read", "r0"))),
        ),
    ],
    "gc/gc": [
        Scenario(
            "gc/gc",
            "gc(keep=0) beside gc(keep=1)",
            _setup("r0", "r1", "r2"),
            (("A", OpSpec("gc", keep=0)), ("B", OpSpec("gc", keep=1))),
        ),
    ],
}
PAIRS = list(SCENARIOS)


@dataclass(frozen=True)
class Budget:
    schedules: int  # interleavings without faults
    crashes: int  # (interleaving, crash point) with a kill
    failures: int  # (interleaving, point) with an injected OSError
    stalls: int  # stall schedules (racing writers only)
    replays: int  # schedules run twice to prove they replay

    def scaled(self, factor: float) -> Budget:
        def s(n: int) -> int:
            return max(1, math.ceil(n * factor)) if n else 0

        return Budget(s(self.schedules), s(self.crashes), s(self.failures), s(self.stalls), s(self.replays))


BUDGETS = {
    "memory": Budget(schedules=300, crashes=300, failures=100, stalls=4, replays=4),
    # local schedules are slow (each blocked-step check waits for the lock holder): a third of memory's
    "local": Budget(schedules=100, crashes=100, failures=40, stalls=4, replays=4),
    "s3": Budget(schedules=12, crashes=16, failures=6, stalls=2, replays=1),
    "gcs": Budget(schedules=4, crashes=6, failures=3, stalls=1, replays=1),
    "blob": Budget(schedules=6, crashes=8, failures=3, stalls=1, replays=1),
}
SCHEDULER = {
    "memory": {"detect_blocks": True, "block_timeout": 2.0, "hang_timeout": 20.0},
    "local": {"detect_blocks": True, "block_timeout": 2.0, "hang_timeout": 20.0},
    "remote": {"detect_blocks": False, "block_timeout": 10.0, "hang_timeout": 30.0},
}
EXCLUSIVE_SKIP = "gcp-storage-emulator ignores ifGenerationMatch"
WATCHDOG = 300.0  # seconds one schedule may take before the process dumps its stacks and exits


def budget_for(provider: str, scale: float | None = None) -> Budget:
    factor = float(os.environ.get("FSMIRROR_SCHEDULE_SCALE") or 1.0) if scale is None else scale
    return BUDGETS[provider].scaled(factor)


Planned = tuple[str, Sequence["str | Sleep"], dict[tuple[str, int, str], Action], float]


@dataclass(frozen=True)
class PlanInfo:
    """How many of each kind of schedule a plan holds, and how many exist."""

    inter: int
    total: int
    points: int
    crashes: int
    crash_total: int
    fails: int
    fail_total: int
    stalls: int


def _plan_key(p: Planned) -> tuple[str, str, tuple[tuple[str, int, str], ...]]:
    kind, schedule, faults, _ = p
    return kind, repr(list(schedule)), tuple(sorted(faults))


@dataclass
class Run:
    """One schedule's outcome."""

    result: RunResult
    done: list[Done]
    observed: Observed
    violations: list[Violation]
    relaxed: bool


@dataclass
class Explorer:
    """Explore one scenario on one provider."""

    tenants: Tenants
    scenario: Scenario
    budget: Budget
    seed: int = field(default_factory=lambda: int(os.environ.get("FSMIRROR_SCHEDULE_SEED") or 0))
    exclusive: bool = True  # False: the store's no-clobber create is not honoured (GCS emulator)
    make: Callable[[dict[str, Any]], Any] | None = None  # config -> facade (default: fsmirror.FSMirror)
    beyond: Budget | None = None  # skip the schedules this budget's plan holds (tried elsewhere)

    @property
    def provider(self) -> str:
        return self.tenants.provider

    def _sched_kw(self) -> dict[str, Any]:
        return SCHEDULER.get(self.provider, SCHEDULER["remote"])

    def run_one(
        self,
        schedule: Sequence[str | Sleep],
        faults: Mapping[tuple[str, int, str], Action],
        *,
        ttl: float = CLAIM_TTL,
        actors: Sequence[str] = ACTORS,
    ) -> Run:
        from fsmirror import FSMirror

        make = self.make or FSMirror
        storage = self.tenants.fresh(claim_ttl=ttl)
        watchdog(WATCHDOG)  # setup and the look afterwards run outside the scheduler's timeouts
        try:
            cfg = mirror_config(storage)
            setup_fm = make(cfg)
            for run, blob in self.scenario.setup:
                setup_fm.write(ADDR, blob, run_id=run, format="bytes")
            sched = Scheduler(schedule, faults, **self._sched_kw())
            ops = dict(self.scenario.ops)
            fns = {}
            for actor in actors:
                fm = make(cfg)  # one FSMirror per actor, as separate workers have
                install(fm, sched)
                fns[actor] = _bind(ops[actor], fm)
            try:
                result = sched.run(fns)
            except Hung as h:
                result = h.result
            done = []
            sleeps = [i for i, e in enumerate(result.trace) if e.what == "sleep"]
            for actor in actors:
                r = result.actors[actor]
                stalled = ttl < CLAIM_TTL and any(
                    r.start is not None and r.end is not None and r.start < i < r.end for i in sleeps
                )
                lost = any(e.actor == actor and e.what == "fail-after" for e in result.trace)
                done.append(Done(actor, ops[actor], r, stalled, lost))
            observed = observe(make(cfg), self.scenario.universe)
            found, relaxed = check(dict(self.scenario.setup), done, observed, exclusive=self.exclusive)
            if result.hung:
                found.append(
                    (
                        "harness",
                        "the schedule hung: "
                        + ", ".join(f"{a}={r.status}" for a, r in result.actors.items()),
                    )
                )
            violations = render(
                found, schedule=schedule, faults=faults, result=result, done=done, observed=observed
            )
            return Run(result, done, observed, violations, relaxed)
        finally:
            disarm_watchdog()
            self.tenants.discard(storage)

    def counts(self) -> dict[str, int]:
        """Each actor's step count: the most it took alone or in either serial order."""
        counts = dict.fromkeys(ACTORS, 0)
        for actor in ACTORS:
            r = self.run_one([], {}, actors=[actor]).result
            counts[actor] = max(counts[actor], r.actors[actor].steps)
        for first, second in (ACTORS, ACTORS[::-1]):
            r = self.run_one([first] * 200 + [second] * 200, {}).result
            for actor in ACTORS:
                counts[actor] = max(counts[actor], r.actors[actor].steps)
        return counts

    def _plan(self, counts: Mapping[str, int], b: Budget) -> tuple[list[Planned], PlanInfo]:
        """The schedules ``b`` buys: interleavings, then crashes and failures at sampled points, then stalls."""
        inter, total = interleavings(counts, b.schedules, self.seed)
        points = crash_points(counts)
        crashes, crash_total = sample_product(inter, points, b.crashes, self.seed + 1)
        fails, fail_total = sample_product(inter, points, b.failures, self.seed + 2)
        stalls = self._stalls(counts, b) if self.scenario.stalls else []
        plan: list[Planned] = []
        plan += [("interleaving", s, {}, CLAIM_TTL) for s in inter]
        plan += [("crash", s, {p: KILL}, CLAIM_TTL) for s, p in crashes]
        plan += [("failure", s, {p: injected_error()}, CLAIM_TTL) for s, p in fails]
        plan += [("stall", s, {}, STALL_TTL) for s in stalls]
        info = PlanInfo(len(inter), total, len(points), len(crashes), crash_total, len(fails), fail_total, len(stalls))
        return plan, info

    def explore(self) -> tuple[Tally, str]:
        t0 = time.monotonic()
        tally = Tally()
        counts = self.counts()
        b = self.budget
        plan, info = self._plan(counts, b)
        skipped = 0
        if self.beyond is not None:
            # Only what a run with the ``beyond`` budget (same seed) did not already try: the deep
            # run adds schedules to the CI run's instead of repeating them.
            covered = {_plan_key(p) for p in self._plan(counts, self.beyond)[0]}
            kept = [p for p in plan if _plan_key(p) not in covered]
            skipped = len(plan) - len(kept)
            plan = kept
        replay_at = _spread(len(plan), b.replays)
        for k, (kind, schedule, faults, ttl) in enumerate(plan):
            run = self.run_one(schedule, faults, ttl=ttl)
            tally.add(kind)
            if faults and not any(e.what.startswith(("kill", "fail")) for e in run.result.trace):
                tally.not_reached += 1
            if run.relaxed:
                tally.relaxed += 1
            tally.record(run.violations)
            if k in replay_at:
                again = self.run_one(schedule, faults, ttl=ttl)
                tally.replays += 1
                who, diff = replay_diff(run.result, again.result)
                if who == "harness":
                    tally.harness.append(
                        f"schedule {''.join(map(str, schedule))} with {faults} did not replay: {diff}"
                    )
                elif who == "store":
                    tally.store_paths.append(f"schedule {''.join(map(str, schedule))}: {diff}")
        elapsed = time.monotonic() - t0
        line = (
            f"{self.provider} {self.scenario.pair} ({self.scenario.name}): steps A={counts['A']} B={counts['B']}; "
            f"{info.inter} of {info.total} interleavings{f' (sampled, seed {self.seed})' if info.inter < info.total else ''}, "
            f"{info.crashes} of {info.crash_total} crash schedules ({info.points} crash points), "
            f"{info.fails} of {info.fail_total} failure schedules, {info.stalls} stall schedules "
            + (f"less {skipped} the CI run tries " if self.beyond is not None else "")
            + f"= {tally.schedules} schedules ({tally.not_reached} fault points not reached), "
            f"{tally.replays} replayed {'identically' if not tally.harness else 'DIFFERENTLY'}"
        )
        line += f"; {elapsed:.1f}s; broken: " + (
            ", ".join(f"{g} in {n}" for g, n in sorted(tally.broken.items())) or "none"
        )
        if tally.store_paths:
            line += f"; the store itself took another path on {len(tally.store_paths)} replay(s): {tally.store_paths[0]}"
        if tally.relaxed:
            line += f"; exclusivity assertions skipped in {tally.relaxed} ({EXCLUSIVE_SKIP})"
        _report(self, counts, tally, info.total, info.crash_total, info.fail_total, elapsed)
        return tally, line

    def _stalls(self, counts: Mapping[str, int], budget: Budget) -> list[list[str | Sleep]]:
        """One writer takes k steps, stalls past claim_ttl while the other writes, then goes on."""
        out: list[list[str | Sleep]] = []
        per = max(1, budget.stalls // 2)
        for slow, fast in (ACTORS, ACTORS[::-1]):
            n = counts[slow]
            ks = (
                sorted({max(1, min(n - 1, round(n * (j + 1) / (per + 1)))) for j in range(per)})
                if n > 1
                else [0]
            )
            for k in ks:
                out.append([slow] * k + [Sleep(STALL)] + [fast] * counts[fast] + [slow] * (n - k))
        return out[: self.budget.stalls]


def replay_diff(a: RunResult, b: RunResult) -> tuple[str, str]:
    """("", "") if two runs of one schedule agree; else who differs and where.

    "store": at the first difference the same actor made another call (or ended, or returned
    something else): the store's own path depends on something outside the schedule, such as
    the wall clock (e.g. listing times that tie within S3's one-second resolution). "harness":
    the turns themselves differ (another actor moved, or an actor counted as blocked once).
    """
    if a.signature() == b.signature():
        return "", ""
    for i, (x, y) in enumerate(zip(a.trace, b.trace)):
        if x != y:
            where = f"entry {i}: {x} vs {y}"
            if "blocked" in (x.what, y.what) or x.actor != y.actor:
                return "harness", where
            return "store", where
    if len(a.trace) != len(b.trace):
        return "harness", f"one trace is longer ({len(a.trace)} vs {len(b.trace)} entries)"
    return "store", f"same steps, other outcomes: {a.signature()[1]} vs {b.signature()[1]}"


def _bind(op: OpSpec, fm: Any) -> Any:
    return lambda: op(fm)


def _spread(n: int, k: int) -> set[int]:
    if n == 0 or k <= 0:
        return set()
    return {round(i * (n - 1) / max(1, k - 1)) for i in range(k)} if k > 1 else {0}


def _report(
    ex: Explorer,
    counts: Mapping[str, int],
    tally: Tally,
    total: int,
    crash_total: int,
    fail_total: int,
    elapsed: float,
) -> None:
    path = os.environ.get("FSMIRROR_SCHEDULE_REPORT")
    if not path:
        return
    rec = {
        "provider": ex.provider,
        "pair": ex.scenario.pair,
        "scenario": ex.scenario.name,
        "steps": dict(counts),
        "interleavings_total": total,
        "crash_total": crash_total,
        "failure_total": fail_total,
        "schedules": tally.by_kind,
        "not_reached": tally.not_reached,
        "replays": tally.replays,
        "replay_mismatch": len(tally.harness),
        "store_paths": tally.store_paths,
        "relaxed": tally.relaxed,
        "broken": tally.broken,
        "bad_schedules": tally.bad_schedules,
        "seconds": round(elapsed, 2),
        "examples": {g: v.render() for g, v in tally.examples.items()},
    }
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")
