"""``fsmirror query`` (issue 15, item 4): SQL over every committed manifest, on local disk and moto S3."""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import fsmirror.model.manifest
import fsmirror.store.protocol
from fsmirror import FSMirror, QueryError, StoreWarning
from fsmirror.cli import cli
from fsmirror.model.record import Pending
from fsmirror.paths.names import manifest_file
from fsmirror.services.query import COLUMNS, query

pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parents[2]
# The README's examples, as given there (with the threshold a parameter: a test writes kilobytes).
BIG_BEFORE_MONDAY = (
    "SELECT uri, size, created_at FROM artifacts "
    "WHERE size > {size} AND created_at < date_trunc('week', current_date) ORDER BY created_at"
)
RUNS_BY_COMMIT = (
    "SELECT git_commit, list(segment ORDER BY created_at) AS runs FROM artifacts "
    "WHERE address = '{address}' GROUP BY git_commit ORDER BY min(created_at)"
)


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


@pytest.fixture(params=["local", "s3"])
def cfg(request: pytest.FixtureRequest) -> Path:
    factory = request.getfixturevalue("local_config" if request.param == "local" else "s3_config")
    return factory(mirrors={"project": {"root": "project", "output_format": "json"}})  # type: ignore[no-any-return]


def _at(monkeypatch: pytest.MonkeyPatch, when: _dt.datetime) -> None:
    """Commit times are the writer's clock: set it, as a writer on another day would have."""
    monkeypatch.setattr(fsmirror.store.protocol, "utcnow", lambda: when.isoformat(timespec="microseconds"))


def test_big_artifacts_made_before_monday(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fm = FSMirror(config=str(cfg))
    now = _dt.datetime.now(_dt.timezone.utc)
    monday = (now - _dt.timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    _at(monkeypatch, monday - _dt.timedelta(days=3))
    old_big = fm.write("project/etl/a.py::Big", b"x" * 5000, format="bytes", run_id="r1")
    _at(monkeypatch, monday - _dt.timedelta(days=2))
    fm.write("project/etl/a.py::Small", b"x" * 10, format="bytes", run_id="r1")
    _at(monkeypatch, monday + _dt.timedelta(minutes=1))
    fm.write("project/etl/a.py::Big", b"y" * 6000, format="bytes", run_id="r2")
    got = query(fm, BIG_BEFORE_MONDAY.format(size=1000))
    assert got.columns == ["uri", "size", "created_at"] and got.types[2] == "TIMESTAMP"
    assert got.rows == [(old_big, 5000, (monday - _dt.timedelta(days=3)).replace(tzinfo=None))]
    assert query(fm, BIG_BEFORE_MONDAY.format(size="1e9")).rows == []  # the README's, verbatim
    latest = query(fm, "SELECT segment, latest FROM artifacts WHERE qualname = 'Big' ORDER BY segment")
    assert latest.rows == [("r1", False), ("r2", True)]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_runs_of_a_task_by_commit(cfg: Path, tmp_path: Path) -> None:
    fm = FSMirror(config=str(cfg))
    repo = tmp_path / "repo"
    module = repo / "project" / "etl" / "job.py"
    module.parent.mkdir(parents=True)
    _git(repo, "init", "-q")
    commits, blobs = [], []
    for version, runs in ((1, ["r1"]), (2, ["r2", "r3"])):
        module.write_text(f"def job():\n    return {version}\n")
        _git(repo, "add", ".")
        _git(repo, "commit", "-qm", f"v{version}")
        commits.append(_git(repo, "rev-parse", "HEAD"))
        blobs.append(_git(repo, "hash-object", str(module)))
        fsmirror.model.manifest._git_for_dir.cache_clear()  # a new process would see the new commit
        for r in runs:
            fm.write(f"{module}::job", {"v": version}, run_id=r)
            time.sleep(0.002)
    fm.write("project/etl/other.py::other", 1, run_id="r1")
    got = query(fm, RUNS_BY_COMMIT.format(address="project/etl/job.py::job"))
    assert got.rows == [(commits[0], ["r1"]), (commits[1], ["r2", "r3"])]
    by_blob = query(
        fm, "SELECT source_git_blob, count(*) FROM artifacts WHERE qualname = 'job' GROUP BY 1 ORDER BY 2"
    )
    assert by_blob.rows == [(blobs[0], 1), (blobs[1], 2)]


def test_json_columns_inputs_and_orchestrator(cfg: Path) -> None:
    fm = FSMirror(config=str(cfg))
    src = fm.write("project/etl/a.py::src", [1, 2], run_id="r1", partition="2026-11-01")
    with fm.run("r2"):
        fm.read("project/etl/a.py::src", partition="2026-11-01")
        out = fm.write("project/etl/a.py::use", 3, orchestrator={"name": "dagster", "run_id": "d-1"})
    got = query(
        fm,
        "SELECT address, run_id, orchestrator->>'run_id', n_inputs, inputs->0->>'uri', partition "
        "FROM artifacts ORDER BY address",
    )
    assert got.rows == [
        ("project/etl/a.py::src", "r1", None, 0, None, "2026-11-01"),
        ("project/etl/a.py::use", "r2", "d-1", 1, src, None),
    ]
    rec = {r["uri"]: r for r in query(fm, "SELECT * FROM artifacts").records()}
    assert [c for c in rec[out]] == [c.name for c in COLUMNS]
    assert rec[out]["manifest"] == out.manifest.to_json() and rec[out]["orchestrator"]["name"] == "dagster"
    assert rec[out]["inputs"] == [i.to_json() for i in out.manifest.inputs]
    assert rec[out]["digest"] == out.manifest.hash.digest and rec[out]["size"] == out.manifest.size
    assert (
        rec[out]["created_at"]
        == _dt.datetime.fromisoformat(out.manifest.created_at).replace(tzinfo=None).isoformat()
    )


def test_only_committed_manifests_and_damage_is_skipped_with_a_warning(cfg: Path) -> None:
    fm = FSMirror(config=str(cfg))
    good = fm.write("project/etl/a.py::A", 1, run_id="r1")
    fs = fm.filesystem
    pending = fm.mirror_full_output("project/etl/a.py::A", run_id="r2", output_format="json")
    fs.pipe_file(pending, b"1")
    fs.pipe_file(
        manifest_file(pending.rsplit("/", 1)[0], "out"),
        Pending(token="cd" * 16, kind="write", at=time.time(), holder="h:1").dump(),
    )
    damaged = fm.mirror_full_output("project/etl/a.py::A", run_id="r3", output_format="json")
    fs.pipe_file(damaged, b"1")
    fs.pipe_file(manifest_file(damaged.rsplit("/", 1)[0], "out"), b"[1, 2")
    with pytest.warns(StoreWarning, match=re.escape(manifest_file(damaged.rsplit("/", 1)[0], "out"))):
        got = query(fm, "SELECT uri FROM artifacts")
    assert got.rows == [(good,)]


def test_an_empty_store_has_the_table_and_bad_sql_is_a_query_error(cfg: Path) -> None:
    fm = FSMirror(config=str(cfg))
    got = query(fm, "SELECT count(*) AS n, count(created_at) FROM artifacts")
    assert got.rows == [(0, 0)]
    cols = query(
        fm, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'artifacts'"
    )
    assert [r[0] for r in cols.rows] == [c.name for c in COLUMNS]
    assert [r[1] for r in cols.rows] == [c.type for c in COLUMNS]
    with pytest.raises(
        QueryError, match='the query failed: Binder Error: Referenced column "nope" not found'
    ):
        query(fm, "SELECT nope FROM artifacts")


def test_the_cli_prints_a_table_or_json(cfg: Path) -> None:
    fm = FSMirror(config=str(cfg))
    a = fm.write("project/etl/a.py::A", {"k": 1}, run_id="r1")
    run = CliRunner().invoke
    out = run(cli, ["--config", str(cfg), "query", "SELECT address, segment, size FROM artifacts", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == [
        {"address": "project/etl/a.py::A", "segment": "r1", "size": a.manifest.size}
    ]
    out = run(cli, ["--config", str(cfg), "query", "SELECT uri, created_at FROM artifacts"])
    assert out.exit_code == 0 and a in out.output and "1 row(s)" in out.output  # whole, uncut in a pipe
    bad = run(cli, ["--config", str(cfg), "query", "SELEKT 1"], prog_name="fsmirror")
    assert bad.exit_code == 1 and bad.stderr.startswith("fsmirror: error: the query failed: Parser Error")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_without_duckdb_the_error_names_the_extra(cfg: Path) -> None:
    code = (
        "import sys; sys.modules['duckdb'] = None\n"
        "from fsmirror import FSMirror, QueryError\nfrom fsmirror.query import query\n"
        f"try:\n    query(FSMirror(config={str(cfg)!r}), 'SELECT 1')\n"
        "except QueryError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "fsmirror query needs DuckDB: pip install 'fsmirror[query]'" in out.stdout, out.stderr


def test_docs_list_every_column() -> None:
    doc = (ROOT / "docs" / "query.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \|", doc, re.M)
    assert rows == [(c.name, c.type) for c in COLUMNS]
    assert "import duckdb" not in (ROOT / "fsmirror_core" / "fsmirror" / "__init__.py").read_text()


def test_import_fsmirror_stays_light() -> None:
    code = "import sys, fsmirror, fsmirror.cli; print(sorted(m for m in ('duckdb', 'pyarrow', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_a_store_fsmirror_1_wrote_is_queryable_and_found_by_hash(tmp_path: Path, monkeypatch) -> None:
    """1.0 manifests (sha256, no blob id, a relative tenant) are rows like any other."""
    from storage.fixtures.make_store_v1 import CONFIG, JSON_ADDR, STORE

    shutil.copytree(Path(__file__).parent / "fixtures" / STORE, tmp_path / STORE)
    monkeypatch.chdir(tmp_path)
    fm = FSMirror(CONFIG)
    got = query(
        fm,
        "SELECT qualname, segment, partition, hash_algorithm, latest, source_git_blob "
        "FROM artifacts ORDER BY qualname, segment",
    )
    assert got.rows == [
        ("Extract", "r1", "2026-01-01", "sha256", False, None),
        ("Extract", "r2", "2026-01-01", "sha256", True, None),
        ("Summarize", "r1", None, "sha256", False, None),
        ("Summarize", "r2", None, "sha256", False, None),
        ("Summarize", "r3", None, "sha256", True, None),
    ]
    newest = fm.lookup(JSON_ADDR)
    assert (
        fm.lookup("sha256:" + newest.manifest.hash.digest[:8]).uri
        == newest.uri
        == f"{STORE}/project/etl/lift/r3/Summarize/out.json"
    )


# -- hostile content and hostile SQL (issue 22) ------------------------------------------------------


def _run_cli(cfg: Path, *args: str) -> tuple[int, str, str]:
    """The CLI with rich's terminal forced and click keeping escapes: what a real terminal gets."""
    res = CliRunner().invoke(
        cli,
        ["--config", str(cfg), *args],
        prog_name="fsmirror",
        color=True,
        env={"FORCE_COLOR": "1", "COLUMNS": "200", "NO_COLOR": None},
    )
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise AssertionError(f"fsmirror {' '.join(args)} raised {res.exception!r}")
    return res.exit_code, res.stdout, res.stderr


def test_cell_values_are_printed_as_data_not_markup_or_escapes(local_config) -> None:  # type: ignore[no-untyped-def]
    cfg = local_config(mirrors={"project": {"root": "project", "output_format": "json"}})
    fm = FSMirror(config=str(cfg))
    fm.write("project/etl/a.py::A", {"x": 1}, run_id="manual__[/x]")  # a closing tag rich cannot match
    fm.write("project/etl/a.py::B", {"x": 1}, run_id="[bold][link=https://evil.example/]x")
    fm.write("project/etl/a.py::C", {"x": 1}, run_id="r\x1b]52;c;SGVsbG8=\x07\x9b2K")
    code, out, err = _run_cli(cfg, "query", "SELECT qualname, run_id FROM artifacts ORDER BY qualname")
    assert code == 0 and err == "", err
    assert "\x1b]" not in out and "\x9b" not in out and "MarkupError" not in out
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)  # rich's own styling of the table
    cells = [
        [c.strip() for c in line.split("│")[1:-1]] for line in plain.splitlines() if line.startswith("│")
    ]
    assert cells == [
        ["A", "manual__[/x]"],
        ["B", "[bold][link=https://evil.example/]x"],
        ["C", "r\\x1b]52;c;SGVsbG8=\\x07\\x9b2K"],
    ], plain


def test_sql_cannot_read_or_write_files_outside_the_table(local_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = local_config(mirrors={"project": {"root": "project", "output_format": "json"}})
    fm = FSMirror(config=str(cfg))
    fm.write("project/etl/a.py::A", {"x": 1}, run_id="r1")
    outside = tmp_path / "outside.txt"
    outside.write_text("private\n")
    target = tmp_path / "written.csv"
    attempts = [
        f"SELECT content FROM read_text('{outside}')",
        f"SELECT * FROM read_csv('{outside}')",
        f"COPY (SELECT uri FROM artifacts) TO '{target}'",
        f"COPY artifacts TO '{target}' (FORMAT csv)",
        f"ATTACH '{tmp_path / 'other.db'}' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET enable_external_access",
    ]
    for sql in attempts:
        with pytest.raises(QueryError) as info:
            query(fm, sql)
        assert "private" not in str(info.value), sql
        code, out, err = _run_cli(cfg, "query", sql)
        assert code == 1 and out == "" and err.startswith("fsmirror: error: the query failed: "), (sql, err)
        assert "private" not in err
    assert not target.exists() and not (tmp_path / "other.db").exists()
    # the table itself, and DuckDB's JSON operators over it, still answer
    got = query(fm, "SELECT qualname, manifest->>'$.run.id' AS run FROM artifacts")
    assert got.rows == [("A", "r1")]
