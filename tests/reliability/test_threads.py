"""Threads of one process racing on one store: writers, overwriters, gc and readers at once.

The process-based races (``test_races.py``) cannot see what threads share: file descriptor
numbers, in-process locks, module-level caches. Here every actor is a thread of this process
(``ThreadPoolExecutor``), each with its own ``FSMirror`` over the same tenant, or all sharing one
(what a thread pool in one worker does), and every promise is checked while they run and after:

- one winner per run: of the writers racing on a run, exactly one ``write`` returns;
- a successful write reads back its own bytes exactly (nobody else writes that task);
- only fsmirror's typed errors escape (``FSMirrorError``): never a raw ``OSError``,
  ``PreconditionFailed`` or anything else;
- a reader gets the whole bytes of some write of that run, or a typed error, never a mix;
- another task's committed manifest and bytes are untouched;
- with no writer left, every run takes ``write(overwrite=True)`` (nothing stays "in progress").

``FSMIRROR_STRESS_SECONDS`` (default 2 per provider) sets how long the threads race.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fsmirror import ArtifactExistsError, ArtifactNotFoundError, FSMirror, FSMirrorError, IntegrityError

pytestmark = pytest.mark.reliability

RACE = "project/etl/race.py::Race"  # fresh writes only: one winner per run, read back exactly
CHURN = "project/etl/churn.py::Churn"  # overwrites, gc and reads
VICTIM = "project/etl/victim.py::Victim"  # committed before, never touched again
SECONDS = float(os.environ.get("FSMIRROR_STRESS_SECONDS") or 2)
CHURN_RUNS = [f"c{i}" for i in range(4)]


def _value(who: str, n: int) -> bytes:
    """Distinct bytes per write, a few KiB, so any mix of two writes is told apart."""
    seed = hashlib.sha256(f"{who}|{n}".encode()).digest()
    return seed * (64 + n % 64)


@pytest.fixture(params=["local", "memory", "s3"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "local":
        storage: dict[str, Any] = {"provider": "local", "tenant": str(tmp_path / "store")}
    elif request.param == "memory":
        storage = {"provider": "memory", "tenant": f"threads-{os.getpid()}-{time.time_ns()}"}
    else:
        server = request.getfixturevalue("s3_server")
        storage = {
            "provider": "s3",
            "tenant": server.new_bucket(),
            "storage_options": server.storage_options(),
        }
    return {"storage": storage, "mirrors": {"project": {"root": "project", "output_format": "bytes"}}}


class Tally:
    """What the threads did and every broken promise, shared under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ops: Counter[str] = Counter()
        self.problems: list[str] = []
        self.winners: dict[str, list[bytes]] = defaultdict(list)
        self.attempted: dict[str, set[bytes]] = defaultdict(set)  # churn run -> every value tried

    def op(self, what: str) -> None:
        with self.lock:
            self.ops[what] += 1

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)

    def guard(self, what: str, call: Callable[[], Any], allowed: tuple[type[BaseException], ...]) -> Any:
        """Run ``call``; an allowed typed error is counted, anything else is a problem."""
        try:
            return call()
        except allowed as e:
            self.op(f"{what}: {type(e).__name__}")
            return None
        except FSMirrorError as e:
            self.problem(f"{what}: unexpected {type(e).__name__}: {e}")
        except Exception as e:
            self.problem(f"{what}: raw {type(e).__module__}.{type(e).__name__}: {e}")
        return None


@pytest.mark.parametrize("sharing", ["own", "shared"])
def test_threads_keep_every_promise(config: dict[str, Any], sharing: str) -> None:
    setup = FSMirror(config)
    one = FSMirror(config)

    def make() -> FSMirror:
        """Each thread's facade: its own, or the one all threads share."""
        return one if sharing == "shared" else FSMirror(config)

    victim_bytes = _value("victim", 7)
    setup.write(VICTIM, victim_bytes, run_id="v1", format="bytes")
    victim_manifest = setup.manifest(VICTIM, run_id="v1")
    for r in CHURN_RUNS:
        setup.write(CHURN, _value(f"seed-{r}", 0), run_id=r, format="bytes")

    t = Tally()
    for r in CHURN_RUNS:
        t.attempted[r].add(_value(f"seed-{r}", 0))
    deadline = time.monotonic() + SECONDS
    next_race: list[int] = [0]  # the run the racers are at: each racer writes it, then moves on

    def racer(k: int) -> None:
        fm = make()
        rnd = random.Random(200 + k)
        n = 0
        while time.monotonic() < deadline:
            with t.lock:
                r = next_race[0]
            run = f"r{r}"
            value = _value(f"racer{k}", n)
            n += 1
            uri = t.guard(
                "race write",
                functools.partial(fm.write, RACE, value, run_id=run, format="bytes"),
                (ArtifactExistsError,),
            )
            t.op("race write")
            with t.lock:
                if next_race[0] == r and rnd.random() < 0.5:  # stay a while: later racers lose
                    next_race[0] = r + 1
            if uri is None:
                continue
            with t.lock:
                t.winners[run].append(value)
            try:
                back = fm.read(RACE, run_id=run)
            except Exception as e:
                t.problem(f"race run {run}: the winner's read back raised {type(e).__name__}: {e}")
            else:
                if back != value:
                    t.problem(f"race run {run}: the winner read back {len(back)} bytes that are not its own")
            t.op("race read back")

    def overwriter(k: int) -> None:
        fm = make()
        rnd = random.Random(k)
        n = 0
        while time.monotonic() < deadline:
            run = rnd.choice(CHURN_RUNS)
            value = _value(f"over{k}", n)
            n += 1
            with t.lock:
                t.attempted[run].add(value)
            t.guard(
                "overwrite",
                functools.partial(fm.write, CHURN, value, run_id=run, format="bytes", overwrite=True),
                (ArtifactExistsError,),
            )
            t.op("overwrite")

    def collector(k: int) -> None:
        fm = make()
        while time.monotonic() < deadline:
            t.guard("gc", lambda: fm.gc(CHURN, keep=2), (ArtifactExistsError,))
            t.op("gc")
            time.sleep(0.001)

    def reader(k: int) -> None:
        fm = make()
        rnd = random.Random(100 + k)
        while time.monotonic() < deadline:
            run = rnd.choice(CHURN_RUNS)
            got = t.guard(
                "read", functools.partial(fm.read, CHURN, run_id=run), (ArtifactNotFoundError, IntegrityError)
            )
            t.op("read")
            if got is not None:
                with t.lock:
                    known = got in t.attempted[run]
                if not known:
                    t.problem(f"read of churn run {run}: {len(got)} bytes that no write of it sent (a mix)")

    roles = [racer, racer, racer, overwriter, overwriter, collector, reader, reader]
    started = time.monotonic()
    with ThreadPoolExecutor(len(roles)) as pool:
        futures = [pool.submit(role, k) for k, role in enumerate(roles)]
        for f in futures:
            f.result()
    took = time.monotonic() - started

    # After: every promise on what landed.
    check = FSMirror(config)
    for run, values in sorted(t.winners.items()):
        if len(values) != 1:
            t.problem(f"race run {run}: {len(values)} writes returned success")
        elif check.read(RACE, run_id=run) != values[0]:
            t.problem(f"race run {run}: the committed bytes are not the winner's")
    raced = {f"r{i}" for i in range(next_race[0] + 1)}
    for run in sorted(raced - set(t.winners)):
        if check.exists(RACE, run_id=run):
            t.problem(f"race run {run}: committed, but no writer was told it won")
    if (
        check.read(VICTIM, run_id="v1") != victim_bytes
        or check.manifest(VICTIM, run_id="v1") != victim_manifest
    ):
        t.problem("the victim task's committed artifact changed")
    for run in CHURN_RUNS:
        if check.exists(CHURN, run_id=run):
            got = check.read(CHURN, run_id=run)
            if got not in t.attempted[run]:
                t.problem(f"churn run {run}: committed bytes no write of it sent")
        final = _value(f"final-{run}", 1)
        t.guard(
            "final overwrite",
            functools.partial(check.write, CHURN, final, run_id=run, format="bytes", overwrite=True),
            (),
        )
        if t.guard("final read", functools.partial(check.read, CHURN, run_id=run), ()) != final:
            t.problem(f"churn run {run}: with no writer left, overwrite=True did not land")

    total = sum(n for what, n in t.ops.items() if ":" not in what)
    print(
        f"\n[threads {config['storage']['provider']}, {sharing} FSMirror] {total} operations by {len(roles)} threads in "
        f"{took:.1f}s, {len(t.winners)} raced runs; {dict(sorted(t.ops.items()))}; "
        f"problems: {len(t.problems)}"
    )
    assert not t.problems, "\n".join(t.problems[:20]) + f"\n... {len(t.problems)} problems in all"
