"""The harness stops what it starts: whole process trees, and it finds a child that left its group."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from harness import Postgres, Processes, Redis, wait_for


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_stop_kills_the_children_too(tmp_path: Path) -> None:
    procs = Processes(tmp_path / "logs")
    pidfile = tmp_path / "child.pid"
    # a parent that ignores SIGTERM (as `prefect worker` does) with a grandchild in its group
    code = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
        f"open({str(pidfile)!r}, 'w').write(str(c.pid)); time.sleep(600)"
    )
    parent = procs.start("tree", [sys.executable, "-c", code], env=procs.env(), cwd=tmp_path)
    child = int(wait_for("the child's pid", lambda: pidfile.exists() and pidfile.read_text(), 20, 0.05))
    assert _alive(parent.pid) and _alive(child)
    assert {pid for pid, _ in procs.leftovers()} == {parent.pid, child}
    procs.stop(parent, grace=0.5)
    assert not _alive(parent.pid) and not _alive(child)
    assert procs.leftovers() == []


def test_a_child_that_left_its_group_is_found_and_killed(tmp_path: Path) -> None:
    procs = Processes(tmp_path / "logs")
    pidfile = tmp_path / "daemon.pid"
    code = (
        "import subprocess, sys; "
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True); "
        f"open({str(pidfile)!r}, 'w').write(str(c.pid))"
    )
    procs.run("daemonizer", [sys.executable, "-c", code], env=procs.env(), cwd=tmp_path)
    daemon = int(pidfile.read_text())
    assert _alive(daemon)
    escaped = procs.stop_all()
    assert [pid for pid, _ in escaped] == [daemon]
    wait_for("the escaped daemon to die", lambda: not _alive(daemon), 10, 0.05)
    assert procs.leftovers() == []


def test_redis_and_postgres_start_and_stop_clean(tmp_path: Path) -> None:
    procs = Processes(tmp_path / "logs")
    t0 = time.monotonic()
    redis = Redis(procs, tmp_path / "redis").start()
    pg = Postgres(procs).start()
    url = pg.database("probe")
    started = time.monotonic() - t0
    out = (
        subprocess.run(
            ["redis-cli", "-p", str(redis.port), "ping"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if __import__("shutil").which("redis-cli")
        else "PONG"
    )
    assert out == "PONG"
    host_port, db = url.split("@", 1)[1].split("/")
    psql = __import__("harness").pg_bin("psql")
    got = subprocess.run(
        [
            psql,
            "-h",
            "127.0.0.1",
            "-p",
            host_port.split(":")[1],
            "-U",
            "postgres",
            "-d",
            db,
            "-tAc",
            "select current_database()",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert got == "probe"
    pids = [p.pid for p in procs.procs]
    redis.stop()
    pg.stop()
    assert procs.stop_all() == [] and procs.leftovers() == []
    assert not any(_alive(p) for p in pids)
    print(f"[distributed:servers] redis + postgres (initdb included) up in {started:.1f} s")
