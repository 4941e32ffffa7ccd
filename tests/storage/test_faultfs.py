"""The fault-injection machinery itself: proxy, kill/fail/pause, the scheduler, enumeration."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from explore import SCENARIOS, Budget, Explorer
from faultfs import (
    KILL,
    Aborted,
    Controller,
    FaultProxy,
    Hung,
    Killed,
    Pause,
    Scheduler,
    _Actor,
    acting,
    crash_points,
    format_trace,
    injected_error,
    install,
    interleavings,
    raw_target,
    sample_product,
)
from store_model import Tenants


class Target:
    """A fake store: counts the calls that reach it."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.value = 7

    def get(self, key: str) -> str:
        self.calls.append(f"get {key}")
        return key

    def put(self, key: str) -> None:
        self.calls.append(f"put {key}")

    def _private(self) -> str:
        self.calls.append("private")
        return "p"


def steps(proxy: Any, name: str, n: int, locked: tuple[int, ...] = ()) -> Callable[[], str]:
    """An actor that makes ``n`` calls; calls at ``locked`` indexes hold a shared lock across two calls."""

    def run() -> str:
        for i in range(n):
            if i in locked:
                with raw_target(proxy).lock:
                    proxy.put(f"{name}{i}")
                    proxy.put(f"{name}{i}+")
            else:
                proxy.get(f"{name}{i}")
        return name

    return run


# -- the proxy -------------------------------------------------------------------------------


def test_proxy_makes_public_calls_steps_and_passes_the_rest_through() -> None:
    t, c = Target(), Controller()
    p = FaultProxy(t, c)
    assert p.get("x") == "x" and c.steps == {}  # no actor: not a step
    with acting("A"):
        assert p.get("y") == "y"
        assert p._private() == "p"  # private: passes through, not a step
        assert p.value == 7  # attributes pass through
        p.put("z")
    assert c.steps == {"A": 2} and t.calls == ["get x", "get y", "private", "put z"]


def test_proxy_wraps_open_files_so_their_calls_are_steps_too() -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe_file("/faultfs-files/f", b"abc")
    c = Controller()
    p = FaultProxy(fs, c)
    with acting("A"), p.open("/faultfs-files/f", "rb") as f:
        assert f.read() == b"abc"
    assert [m for _, _, m in c.history] == ["open", "open().read", "open().close"]
    fs.rm("/faultfs-files", recursive=True)


def test_kill_raises_and_every_later_call_of_that_actor_raises_without_reaching_the_store() -> None:
    t = Target()
    c = Controller({"A": {(1, "before"): KILL}})
    p = FaultProxy(t, c)
    with acting("A"):
        p.get("a")
        with pytest.raises(Killed):
            p.get("b")
        with pytest.raises(Killed):
            p.put("cleanup")  # like SIGKILL: no cleanup request
    with acting("B"):
        p.get("other actors go on")
    assert t.calls == ["get a", "get other actors go on"]
    assert ("A", -1, "put", "suppressed") in c.log


def test_kill_after_a_call_lets_the_call_land() -> None:
    t = Target()
    p = FaultProxy(t, Controller({"A": {(0, "after"): KILL}}))
    with acting("A"), pytest.raises(Killed):
        p.put("landed")
    assert t.calls == ["put landed"]


def test_fail_before_and_after() -> None:
    t = Target()
    c = Controller({"A": {(0, "before"): injected_error(), (1, "after"): injected_error("connection")}})
    p = FaultProxy(t, c)
    with acting("A"):
        with pytest.raises(OSError, match="injected"):
            p.put("never")
        with pytest.raises(ConnectionError):
            p.put("landed, answer lost")
        p.put("alive")
    assert t.calls == ["put landed, answer lost", "put alive"] and c.failed == {"A"}


def test_pause_blocks_until_released_and_a_forgotten_pause_aborts() -> None:
    release, reached = threading.Event(), threading.Event()
    t = Target()
    p = FaultProxy(
        t,
        Controller(
            {
                "A": {(0, "before"): Pause(release, 5, reached)},
                "B": {(0, "before"): Pause(threading.Event(), 0.2)},
            }
        ),
    )
    out: list[str] = []

    def a() -> None:
        with acting("A"):
            out.append(p.get("late"))

    th = threading.Thread(target=a)
    th.start()
    assert reached.wait(5) and t.calls == []
    release.set()
    th.join(5)
    assert out == ["late"]
    with acting("B"), pytest.raises(Aborted):
        p.get("never")


def test_install_prefers_the_v2_backend_and_never_stacks() -> None:
    from types import SimpleNamespace

    backend = Target()
    fm = SimpleNamespace(_proto=SimpleNamespace(backend=backend))
    fm._protocol = lambda: fm._proto
    c1, c2 = Controller(), Controller()
    install(fm, c1)
    proxy = install(fm, c2)
    assert raw_target(fm._proto.backend) is backend and proxy is fm._proto.backend
    with acting("A"):
        fm._proto.backend.get("k")
    assert c2.steps == {"A": 1} and c1.steps == {}


def test_install_falls_back_to_the_filesystem_of_todays_store() -> None:
    from fsmirror import FSMirror

    fm = FSMirror(
        {
            "storage": {"provider": "memory", "tenant": "faultfs-install"},
            "mirrors": {"p": {"root": "project"}},
        }
    )
    if callable(getattr(fm, "_protocol", None)):
        pytest.skip("store v2: install() wraps fm._protocol().backend")
    fs = fm._artifacts().fs
    proxy = install(fm, Controller())
    assert fm._artifacts().fs is proxy and raw_target(proxy) is fs


# -- the scheduler ---------------------------------------------------------------------------


def test_a_schedule_is_followed_step_by_step() -> None:
    s = Scheduler(["A", "B", "B", "A", "B"])
    p = FaultProxy(Target(), s)
    r = s.run({"A": steps(p, "A", 2), "B": steps(p, "B", 3)})
    assert format_trace(r.trace) == "A0:get B0:get B1:get A1:get A=ok('A') B2:get B=ok('B')"
    assert r.actors["A"].status == "ok" and r.actors["B"].steps == 3


def test_kill_in_a_schedule_and_the_rest_are_driven_round_robin() -> None:
    s = Scheduler(["A"], {("A", 1, "after"): KILL})
    t = Target()
    p = FaultProxy(t, s)
    r = s.run({"A": steps(p, "A", 3), "B": steps(p, "B", 2)})
    assert format_trace(r.trace) == "A0:get A1:get KILL:A1(after get) A=killed B0:get B1:get B=ok('B')"
    assert "get A2" not in t.calls


def test_an_actor_blocked_on_a_lock_is_passed_over_and_the_trace_replays() -> None:
    """A holds a lock across two calls; B, wanting it, is blocked (not at a step) until A lets go."""
    traces = set()
    for _ in range(10):
        s = Scheduler(["A", "A", "B", "B", "A", "B", "A", "B"])
        p = FaultProxy(Target(), s)
        r = s.run({"A": steps(p, "A", 3, locked=(1,)), "B": steps(p, "B", 3, locked=(1,))})
        traces.add(format_trace(r.trace))
    assert len(traces) == 1, traces
    trace = traces.pop()
    assert "B:blocked" in trace and trace.index("A1:put") < trace.index("B1:put"), trace


def test_replay_is_identical_on_a_real_store() -> None:
    tenants = Tenants("memory")
    ex = Explorer(tenants, SCENARIOS["write/write"][0], Budget(1, 1, 1, 0, 0))
    schedule = ["A", "B"] * 4 + ["B", "A"] * 5
    sigs = {ex.run_one(schedule, {("B", 3, "after"): KILL}).result.signature() for _ in range(5)}
    assert len(sigs) == 1


def test_a_hung_actor_is_reported_with_its_trace_and_does_not_hang_the_suite() -> None:
    never = threading.Event()
    s = Scheduler([], hang_timeout=1.0, block_timeout=0.5)
    p = FaultProxy(Target(), s)

    def stuck() -> None:
        p.get("first")
        never.wait(30)  # blocked outside any step, for good

    t0 = time.monotonic()
    with pytest.raises(Hung, match=r"A0:get"):
        s.run({"A": stuck, "B": steps(p, "B", 1)})
    assert time.monotonic() - t0 < 10
    never.set()


def test_an_actor_that_never_gets_its_turn_gives_up() -> None:
    s = Scheduler([], hang_timeout=0.3)
    p = FaultProxy(Target(), s)
    s._actors["A"] = _Actor("A", lambda: None)
    with acting("A"), pytest.raises(Aborted):
        p.get("x")  # nobody runs the schedule: the wait times out


# -- enumeration -----------------------------------------------------------------------------


def test_interleavings_are_all_of_them_under_the_budget_and_a_seeded_sample_over_it() -> None:
    every, total = interleavings({"A": 3, "B": 2}, 300)
    assert total == math.comb(5, 2) == len(every) == len(set(every))
    some, total = interleavings({"A": 9, "B": 9}, 50, seed=3)
    assert total == math.comb(18, 9) and len(some) == 50 == len(set(some))
    assert ("A",) * 9 + ("B",) * 9 in some and ("B",) * 9 + ("A",) * 9 in some
    assert some == interleavings({"A": 9, "B": 9}, 50, seed=3)[0]
    assert some != interleavings({"A": 9, "B": 9}, 50, seed=4)[0]
    assert all(s.count("A") == 9 and s.count("B") == 9 for s in some)


def test_crash_points_and_sampled_products() -> None:
    points = crash_points({"A": 2, "B": 1})
    assert points == [
        ("A", 0, "before"),
        ("A", 0, "after"),
        ("A", 1, "before"),
        ("A", 1, "after"),
        ("B", 0, "before"),
        ("B", 0, "after"),
    ]
    pairs, total = sample_product(list(range(10)), points, 20, seed=1)
    assert (
        total == 60
        and len(pairs) == 20 == len(set(pairs))
        and pairs == sample_product(list(range(10)), points, 20, seed=1)[0]
    )


def test_the_watchdog_ends_a_hung_process_with_its_stacks() -> None:
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).resolve().parents[1])
    code = f"import sys, time; sys.path.insert(0, {tests!r}); import faultfs; faultfs.watchdog(0.5); time.sleep(30)"
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and "Timeout" in p.stderr and "File" in p.stderr  # the stacks
    assert time.monotonic() - t0 < 10
