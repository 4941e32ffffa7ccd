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
    (run,) = [d for d in os.listdir(store) if d.isdigit()]  # the step dirs beside it hold the latest pointers
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
