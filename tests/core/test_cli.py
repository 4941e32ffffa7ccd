"""The ``fsmirror`` command, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest

SEED = """\
storage: {provider: s3, tenant: test.bucket, namespace: MIRROR}
mirrors:
  fsmirror:   {root: fsmirror,   prefix: MIRROR, output_name: out, output_format: parquet}
  aipipeline: {root: aipipeline, prefix: MIRROR, output_name: out, output_format: pkl}
"""


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = [sys.executable, "-m", "fsmirror.cli"]
    return subprocess.run(
        [*exe, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=60
    )


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    p = tmp_path / "config.yml"
    p.write_text(SEED)
    return p


def test_resolve_prints_full_output(cfg: Path) -> None:
    r = run(
        "resolve",
        "fsmirror/tests/test_mirror.py::some_task",
        "--mirror",
        "fsmirror",
        env={"FSMIRROR_CONFIG_PATH": str(cfg)},
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    assert out.startswith("s3://test.bucket/fsmirror/tests/test_mirror/") and out.endswith(
        "/some_task/out.parquet"
    )
    assert re.fullmatch(r"\d{14}\.\d{3}-[0-9A-HJKMNP-TV-Z]{5}", out.split("/")[-3])


def test_resolve_json_and_run_id(cfg: Path) -> None:
    r = run(
        "--config",
        str(cfg),
        "resolve",
        "aipipeline/m.py::Train",
        "-m",
        "aipipeline",
        "-r",
        "manual__1+2",
        "--json",
    )
    data = json.loads(r.stdout)
    assert data["full_output"] == "s3://test.bucket/aipipeline/m/manual__1~2B2/Train/out.pkl"
    assert data["relative"] == "aipipeline/m/manual__1~2B2/Train"


def test_resolve_speaks_a_scoped_run_slot_and_a_partition(cfg: Path) -> None:
    """Airflow's run slot ``<dag_id>@<run_id>`` (-r twice) and a map index / partition segment."""
    from fsmirror import FSMirror

    airflow_run = "manual__2026-11-24T18:31:09.484415+00:00"
    args = ["--config", str(cfg), "resolve", "fsmirror/dags/etl.py::export", "-m", "fsmirror"]
    r = run(*args, "-r", "daily_etl", "-r", airflow_run, "--partition", "3", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    fm = FSMirror(str(cfg), mirror="fsmirror")
    expected = fm.mirror_full_output("fsmirror/dags/etl.py::export", run_id=("daily_etl", airflow_run), partition="3")
    assert data["full_output"] == expected == (
        "s3://test.bucket/fsmirror/dags/etl/daily_etl@manual__2026-11-24T18~3A31~3A09.484415~2B00~3A00"
        "/export/3/out.parquet"
    )
    assert data["run_id"] == ["daily_etl", airflow_run] and data["partition"] == "3"
    assert data["run_segment"] == "daily_etl@manual__2026-11-24T18~3A31~3A09.484415~2B00~3A00"
    one = run(*args, "-r", "daily_etl@x")  # one -r is one plain run id: its '@' is escaped
    assert one.stdout.strip().endswith("/daily_etl~40x/export/out.parquet"), one.stderr


def test_config_check_ok_and_bad(cfg: Path, tmp_path: Path) -> None:
    ok = run("config", "check", str(cfg))
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text("storage: {provider: ftp, tenant: x}\nmirrors: {m: {root: r}}\n")
    r = run("config", "check", str(bad))
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "storage.provider" in r.stderr and "Traceback" not in r.stderr


def test_config_schema_is_json_schema() -> None:
    r = run("config", "schema")
    schema = json.loads(r.stdout)
    assert set(schema["properties"]) == {"storage", "mirrors"}
    assert "provider" in schema["$defs"]["Storage"]["properties"]


def test_resolve_errors_are_one_line(cfg: Path) -> None:
    r = run("--config", str(cfg), "resolve", "elsewhere/x.py::f", "-m", "fsmirror")
    assert r.returncode == 1
    assert r.stderr.startswith("fsmirror: error:") and "outside the mirror's root" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args", [["resolve"], ["nope"], ["resolve", "a::b", "--bogus"]])
def test_bad_arguments_exit_2(args: list[str], cfg: Path) -> None:
    r = run("--config", str(cfg), *args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
