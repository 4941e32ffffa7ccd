"""``fsmirror ls / runs / show / gc / demo`` run as a user runs them, on local disk and on S3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fsmirror import FSMirror

ADDR = "project/etl/my_etl_task.py::LiftDataTask"


def fsm(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fsmirror.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, FSMirror]:
    """A config file and an FSMirror on it with three runs of ADDR and one of a sibling."""
    if request.param == "local":
        cfg = request.getfixturevalue("local_config")(
            mirrors={"project": {"root": "project", "output_format": "json"}}
        )
    else:
        cfg = request.getfixturevalue("s3_config")(
            mirrors={"project": {"root": "project", "output_format": "json"}}
        )
    fm = FSMirror(config=str(cfg))
    for r in ["r1", "r2", "r3"]:
        fm.write(ADDR, {"run": r, "token": "x" * 100}, run_id=r)
    fm.write("project/etl/other.py::Other", [1, 2], run_id="r1")
    return cfg, fm


def test_ls_shows_the_tree_and_json(store) -> None:
    cfg, fm = store
    out = fsm("--config", str(cfg), "ls")
    assert out.returncode == 0, out.stderr
    assert "project/etl/my_etl_task" in out.stdout and "LiftDataTask" in out.stdout
    assert "project/etl/other" in out.stdout and "latest" in out.stdout
    rows = json.loads(fsm("--config", str(cfg), "ls", "project/etl/my_etl_task.py", "--json").stdout)
    assert [r["segment"] for r in rows] == ["r1", "r2", "r3"]
    assert [r["latest"] for r in rows] == [False, False, True]
    assert rows[0]["size"] == len(fm.filesystem.cat_file(rows[0]["uri"]))
    assert json.loads(fsm("--config", str(cfg), "ls", "project/nothing", "--json").stdout) == []


def test_runs_and_show(store) -> None:
    cfg, fm = store
    out = fsm("--config", str(cfg), "runs", ADDR)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == ["r1", "r2", "r3"] and lines[-1].endswith("latest")
    shown = json.loads(fsm("--config", str(cfg), "show", ADDR, "--json").stdout)
    assert shown == fm.manifest(ADDR) and shown["run"]["id"] == "r3"
    older = fsm("--config", str(cfg), "show", ADDR, "--run-id", "r1")
    assert "r1" in older.stdout and "project/etl/my_etl_task.py::LiftDataTask" in older.stdout
    missing = fsm("--config", str(cfg), "show", ADDR, "--run-id", "nope")
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert "nope" in missing.stderr


def test_gc_dry_run_then_for_real(store) -> None:
    cfg, fm = store
    dry = json.loads(fsm("--config", str(cfg), "gc", ADDR, "--keep", "1", "--dry-run", "--json").stdout)
    assert [d["run_id"] for d in dry["deleted"]] == ["r1", "r2"] and dry["dry_run"] is True
    assert fm.runs(ADDR) == ["r1", "r2", "r3"]
    out = fsm("--config", str(cfg), "gc", "--all", "--keep", "1")
    assert out.returncode == 0, out.stderr
    assert "deleted 2 run(s)" in out.stdout
    assert fm.runs(ADDR) == ["r3"] and fm.runs("project/etl/other.py::Other") == ["r1"]


@pytest.mark.parametrize(
    "args",
    [
        ["gc", "--keep", "1"],
        ["gc", ADDR, "--all", "--keep", "1"],
        ["gc", ADDR],
        ["gc", ADDR, "--keep", "-1"],
        ["runs"],
    ],
)
def test_bad_arguments_exit_2(local_config, args: list[str]) -> None:
    cfg = local_config()
    out = fsm("--config", str(cfg), *args)
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr


def test_demo_then_ls_from_a_fresh_directory(tmp_path: Path) -> None:
    out = fsm("demo", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    store = tmp_path / "fsmirror-demo" / "store" / "project" / "etl" / "lift_data"
    (run,) = [d for d in os.listdir(store) if d[:14].isdigit()]  # the step dirs beside it hold the latest pointers
    table = pq.read_table(store / run / "extract" / "out.parquet")  # parquet that pyarrow reads alone
    assert table.num_rows == 6 and "rides" in table.column_names
    assert json.loads((store / run / "summarize" / "out.json").read_text())["rows"] == 6
    assert (store / run / "train" / "out.pkl").exists()
    assert json.loads((store / run / "extract" / "_out.manifest.json").read_text())["code"]["address"] == (
        "project/etl/lift_data.py::extract"
    )
    listing = fsm("--config", "fsmirror-demo/config.yml", "ls", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    for step in ("extract", "summarize", "train"):
        assert step in listing.stdout
    assert run in listing.stdout


LONG = "project/etl/a_module_with_a_rather_long_name_for_the_tree.py::AQualifiedNameThatIsLongToo"


def test_ls_in_a_pipe_prints_whole_lines_sorted_and_limited(store) -> None:
    cfg, fm = store
    for p in ["10", "2", "1"]:
        for r in ["a-run-id-long-enough-that-each-of-its-lines-passes-eighty-columns-0001", "a-run-id-long-enough-that-each-of-its-lines-passes-eighty-columns-0002"]:
            fm.write(LONG, {"p": p}, run_id=r, partition=p)
    out = fsm("ls", "project/etl/a_module_with_a_rather_long_name_for_the_tree.py", "--config", str(cfg))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(ln) for ln in lines) > 80  # not cropped to 80 columns in a pipe
    latest = [ln for ln in lines if ln.endswith("latest")]
    assert len(latest) == 3 and all("a-run-id-long-enough-that-each-of-its-lines-passes-eighty-columns-0002  out.json" in ln for ln in latest)
    parts = [ln.split("partition ")[1].split()[0] for ln in lines if "partition " in ln]
    assert parts == ["1", "2", "10"]  # by key, as numbers
    limited = fsm("--config", str(cfg), "ls", "--limit", "1", LONG.split("::")[0])
    runs = [ln for ln in limited.stdout.splitlines() if "out.json" in ln]
    assert len(runs) == 3 and all(ln.endswith("latest") for ln in runs)
    rows = json.loads(fsm("ls", ADDR, "--limit", "2", "--json", "--config", str(cfg)).stdout)
    assert [r["segment"] for r in rows] == ["r2", "r3"] and rows[-1]["latest"] is True


def test_global_options_after_each_store_command(store) -> None:
    cfg, _ = store
    env = {"FSMIRROR_CONFIG_PATH": "/nonexistent.yml"}  # only --config can make these work
    rows = json.loads(fsm("ls", "--config", str(cfg), "--json", env=env).stdout)
    assert {r["segment"] for r in rows} == {"r1", "r2", "r3"}
    rows = json.loads(fsm("--json", "runs", ADDR, "--config", str(cfg), env=env).stdout)
    assert [r["segment"] for r in rows] == ["r1", "r2", "r3"]
    dry = json.loads(fsm("gc", ADDR, "-k", "1", "-n", "--config", str(cfg), "--json", env=env).stdout)
    assert [d["run_id"] for d in dry["deleted"]] == ["r1", "r2"]
    checked = json.loads(fsm("--json", "verify", "--config", str(cfg), env=env).stdout)
    assert checked["checked"] == 4 and checked["ok"] is True
    # show takes any TARGET (an address, a URI, a path, a hash prefix): what is none is an error
    # naming the store --config points at, exit 1
    shown = fsm("show", "not-an-address", "--config", str(cfg), env=env)
    assert shown.returncode == 1, shown.stderr
    assert shown.stderr.startswith("fsmirror: error: nothing at ") and "no local file 'not-an-address'" in shown.stderr


def test_global_options_on_the_provenance_commands(store) -> None:
    """README: every command takes --config and --json, before or after its name (show, lineage and
    stale came after the store commands: the group's relocation covers them too)."""
    cfg, fm = store
    env = {"FSMIRROR_CONFIG_PATH": "/nonexistent.yml"}  # only --config can make these work
    latest = fm.artifact_uri(ADDR, run_id="latest")
    # stale exits 1: these artifacts' source files do not exist here ("source missing")
    for cmd, code in ((["show", ADDR], 0), (["lineage", ADDR], 0), (["stale", ADDR], 1)):
        after = fsm(*cmd, "--config", str(cfg), "--json", env=env)
        before = fsm("--json", "--config", str(cfg), *cmd, env=env)
        assert after.returncode == before.returncode == code, (cmd, after.stderr, before.stderr)
        assert json.loads(after.stdout) == json.loads(before.stdout), cmd
    assert json.loads(fsm("--json", "show", ADDR, "--config", str(cfg), env=env).stdout)["uri"] == latest
    assert json.loads(fsm("lineage", ADDR, "--json", "--config", str(cfg), env=env).stdout)["root"] == latest


def _tamper(fm, uri: str, data: bytes) -> None:
    fm.filesystem.pipe_file(uri, data)


def test_verify_finds_a_changed_artifact_and_exits_1(store) -> None:
    cfg, fm = store
    ok = fsm("--config", str(cfg), "verify")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("verified 4 artifact(s), ") and "blake3 hash matches" in ok.stdout
    assert ok.stderr == ""  # no progress bar in a pipe
    r2 = fm.artifact_uri(ADDR, run_id="r2")
    same_size = bytes(fm.filesystem.cat_file(r2)).replace(b'"r2"', b'"XX"')
    _tamper(fm, r2, same_size)  # same size, other bytes: only the hash can tell
    r1 = fm.artifact_uri(ADDR, run_id="r1")
    _tamper(fm, r1, b"short")
    bad = fsm("--config", str(cfg), "verify", "project/etl/my_etl_task.py")
    assert bad.returncode == 1
    mism = bad.stdout.splitlines()
    assert len(mism) == 2
    assert mism[0].startswith(f"MISMATCH {r1}: the manifest recorded ") and "found 5 at" in mism[0]
    assert mism[1].startswith(f"MISMATCH {r2}: the manifest recorded blake3 ")
    assert bad.stderr.startswith("fsmirror: error: 2 of 3 artifact(s) under ") and bad.stderr.count("\n") == 1
    only = fsm("--config", str(cfg), "verify", "project/etl/other.py::Other")
    assert only.returncode == 0 and only.stdout.startswith("verified 1 artifact(s)")
    j = fsm("--config", str(cfg), "verify", "--json")
    assert j.returncode == 1
    report = json.loads(j.stdout)
    assert (report["checked"], report["mismatches"], report["ok"]) == (4, 2, False)
    assert sorted(a["uri"] for a in report["artifacts"] if not a["ok"]) == sorted([r1, r2])
    from fsmirror.services.verify import verify

    assert {v.uri for v in verify(fm) if not v.ok} == {r1, r2}


def test_long_work_shows_progress_on_a_terminal_only(local_config) -> None:
    import pty
    import select

    cfg = local_config(mirrors={"project": {"root": "project", "output_format": "json"}})
    fm = FSMirror(config=str(cfg))
    for i in range(40):
        fm.write(ADDR, {"i": i}, run_id=f"r{i:03d}")
    piped = fsm("--config", str(cfg), "verify")
    assert piped.returncode == 0 and piped.stderr == ""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fsmirror.cli", "--config", str(cfg), "verify"],
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "100"},
        text=True,
    )
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    assert proc.returncode == 0 and out.startswith("verified 40 artifact(s)")
    assert b"verifying artifacts" in seen and b"/40" in seen  # the bar, drawn on the terminal


def test_two_demos_in_one_second_get_two_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the second demo failed with '.../<same second>/extract/out.parquet is committed already'."""
    import datetime as dt

    from fsmirror import runid
    from fsmirror.demo import run_demo

    frozen = dt.datetime(2026, 12, 1, 9, 24, 48, 483_000, tzinfo=dt.timezone.utc)

    monkeypatch.setattr(runid, "_utc_now", lambda: frozen)  # both demos start in the same millisecond
    first, _ = run_demo(tmp_path)
    second, uris = run_demo(tmp_path)
    assert first.run_id != second.run_id
    assert first.run_id.startswith("20261201092448.483-") and second.run_id.startswith("20261201092448.483-")
    assert all(f"/{second.run_id}/" in u for u in uris)
    listing = fsm("--config", "fsmirror-demo/config.yml", "runs", "project/etl/lift_data.py::extract", cwd=tmp_path)
    assert [ln.split()[0] for ln in listing.stdout.splitlines()] == [first.run_id, second.run_id]
