"""The ``fsmirror`` command, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import os
import re
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


def test_config_check_ok_and_bad(tmp_path: Path) -> None:
    cfg = tmp_path / "local.yml"
    cfg.write_text(f"storage: {{provider: local, tenant: {json.dumps(str(tmp_path / 'store'))}}}\nmirrors: {{m: {{root: r}}}}\n")
    ok = run("config", "check", str(cfg))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == f"{cfg}: ok (local, mirrors: m)\n"
    bad = tmp_path / "bad.yml"
    bad.write_text("storage: {provider: ftp, tenant: x}\nmirrors: {m: {root: r}}\n")
    r = run("config", "check", str(bad))
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "storage.provider" in r.stderr and "Traceback" not in r.stderr


def test_config_schema_is_json_schema() -> None:
    r = run("config", "schema")
    schema = json.loads(r.stdout)
    assert set(schema["properties"]) == {"storage", "mirrors", "openlineage"}
    assert set(schema["required"]) == {"storage", "mirrors"}  # openlineage is optional
    assert "provider" in schema["$defs"]["Storage"]["properties"]
    assert set(schema["$defs"]["OpenLineage"]["properties"]) == {"enabled", "namespace", "sender"}
    assert schema["$defs"]["OpenLineage"]["properties"]["sender"]["enum"] == ["inline", "thread", "process"]


def test_resolve_errors_are_one_line(cfg: Path) -> None:
    r = run("--config", str(cfg), "resolve", "elsewhere/x.py::f", "-m", "fsmirror")
    assert r.returncode == 1
    assert r.stderr.startswith("fsmirror: error:") and "outside the mirror's root" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["resolve"],
        ["nope"],
        ["resolve", "a::b", "--bogus"],
        ["resolve", "no-colons", "-m", "fsmirror"],  # a malformed ADDRESS is a usage error: 2, like runs
        ["resolve", "a.py::not a name", "-m", "fsmirror"],
        ["runs", "no-colons", "-m", "fsmirror"],
        ["gc", "no-colons", "--keep", "1", "-m", "fsmirror"],
        ["ls", "a/../b", "-m", "fsmirror"],
        ["ls", "--limit", "0"],
    ],
)
def test_bad_arguments_exit_2(args: list[str], cfg: Path) -> None:
    r = run("--config", str(cfg), *args)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert r.stderr.startswith("fsmirror: error: ") and "--help')" in r.stderr


BLOCK_S3FS = "import sys; sys.modules['s3fs'] = None; from fsmirror.cli import main; sys.argv[0] = 'fsmirror'; main()"


def run_without_s3fs(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in an interpreter where ``import s3fs`` fails, as on a machine without the extra."""
    return subprocess.run(
        [sys.executable, "-c", BLOCK_S3FS, *args], capture_output=True, text=True, timeout=60
    )


def test_config_check_refuses_an_unknown_format_and_a_missing_driver(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "storage: {provider: s3, tenant: test.bucket}\n"
        "mirrors:\n  a: {root: r, output_format: parqet}\n  b: {root: r, output_format: pkl, allow_pickle: false}\n"
    )
    r = run_without_s3fs("config", "check", str(bad))
    assert r.returncode == 1 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "mirrors.a.output_format: unknown format 'parqet' (did you mean 'parquet'?); " in r.stderr
    assert "known: bytes, csv, json, parquet, pkl, txt" in r.stderr
    assert "mirrors.b.output_format: 'pkl' with allow_pickle: false" in r.stderr
    assert "provider 's3' needs s3fs, which is not installed: pip install 'fsmirror[s3]'" in r.stderr
    j = run_without_s3fs("config", "check", "--json", str(bad))
    assert j.returncode == 1, j.stderr
    report = json.loads(j.stdout)
    assert report["ok"] is False and report["provider"] == "s3" and report["mirrors"] == ["a", "b"]
    failed = {c["check"] for c in report["checks"] if not c["ok"]}
    assert failed == {"mirrors.a.output_format", "mirrors.b.output_format", "storage.provider"}
    passed = {c["check"] for c in report["checks"] if c["ok"]}
    assert passed == {"file", "schema"}


def test_config_check_a_local_tenant_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    cfg = tmp_path / "c.yml"
    cfg.write_text(f"storage: {{provider: local, tenant: {json.dumps(str(tmp_path / 'afile'))}}}\nmirrors: {{m: {{root: r}}}}\n")
    r = run("--json", "config", "check", str(cfg))  # --json before the subcommand
    assert r.returncode == 1
    (tenant,) = [c for c in json.loads(r.stdout)["checks"] if c["check"] == "storage.tenant"]
    assert tenant["ok"] is False and "exists and is not a directory" in tenant["detail"]


@pytest.mark.parametrize(
    "args",
    [
        ["--json", "--config", "{cfg}", "resolve", "aipipeline/m.py::T", "-m", "aipipeline", "-r", "r1"],
        ["resolve", "aipipeline/m.py::T", "-m", "aipipeline", "-r", "r1", "--config", "{cfg}", "--json"],
        ["--config={cfg}", "resolve", "--json", "aipipeline/m.py::T", "-m", "aipipeline", "-r", "r1"],
        ["resolve", "aipipeline/m.py::T", "--json", "-m", "aipipeline", "--config={cfg}", "-r", "r1"],
    ],
)
def test_json_and_config_before_or_after_the_subcommand(cfg: Path, args: list[str]) -> None:
    r = run(*[a.replace("{cfg}", str(cfg)) for a in args], env={"FSMIRROR_CONFIG_PATH": "/nonexistent.yml"})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["full_output"] == "s3://test.bucket/aipipeline/m/r1/T/out.pkl"


def test_every_command_takes_json_and_config_anywhere(tmp_path: Path) -> None:
    """Each subcommand accepts both global options after its name (none says 'No such option')."""
    from fsmirror.cli import cli

    cfg = tmp_path / "c.yml"
    cfg.write_text(f"storage: {{provider: local, tenant: {json.dumps(str(tmp_path / 'store'))}}}\nmirrors: {{m: {{root: r}}}}\n")
    leaves: list[list[str]] = []
    for name, cmd in cli.commands.items():
        sub = getattr(cmd, "commands", None)
        leaves += [[name, s] for s in sub] if sub else [[name]]
    assert ["ls"] in leaves and ["config", "check"] in leaves and ["verify"] in leaves
    for leaf in leaves:
        r = run(*leaf, "--help", "--json", "--config", str(cfg))
        assert r.returncode == 0, (leaf, r.stderr)
        assert "No such option" not in r.stderr


def test_hints_speak_the_cli_not_the_python_api(cfg: Path) -> None:
    r = run("--config", str(cfg), "ls")  # two mirrors, none chosen
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "pass -m/--mirror NAME or set $FSMIRROR_MIRROR" in r.stderr and "mirror=..." not in r.stderr
    from fsmirror.cli._app import cli_message

    assert cli_message("no committed run of x under y: write one first, or pass run_id=...") == (
        "no committed run of x under y: write one first, or pass --run-id RUN (as `fsmirror runs` prints it)"
    )
    assert "--run-id latest means the newest run" in cli_message(
        "run id 'latest' is reserved: read(run_id='latest') means the newest run"
    )
    nocfg = run("ls", env={"FSMIRROR_CONFIG_PATH": ""})
    assert nocfg.returncode == 1 and "pass --config PATH" in nocfg.stderr and "load_config(path)" not in nocfg.stderr


def test_python_callers_keep_the_python_hints(cfg: Path) -> None:
    from fsmirror import ConfigError, FSMirror

    with pytest.raises(ConfigError, match=r"pass mirror=\.\.\. or set \$FSMIRROR_MIRROR"):
        FSMirror(str(cfg))
