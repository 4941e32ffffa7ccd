"""Reverse lookup (issue 15, item 1): the code from an artifact, on local disk and on moto S3.

Every form a person holds (address, URI, local path, base- or tenant-relative path, hash
prefix, a local copy) finds the committed artifact; everything that is not one is named
for what it is. ``fsmirror show`` is the same lookup, driven as a user drives it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fsmirror import FSMirror, NotAnArtifactError, ResolveError
from fsmirror.cli import cli
from fsmirror.model.record import Pending
from fsmirror.paths.names import manifest_file, sidecar_file

ADDR = "project/etl/lift.py::Lift"
DAILY = "project/etl/daily.py::Daily"
MULTI = "project/etl/multi.py::Multi"
MIRRORS = {
    "project": {"root": "project", "prefix": "main", "output_format": "json"},
    "other": {"root": "project", "prefix": "other", "output_format": "json"},
}


def fsm(cfg: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(cfg), *args], prog_name="fsmirror")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> tuple[Path, FSMirror, dict[str, Any]]:
    """Two runs of ADDR, a partitioned and a multi-output task, and one artifact of another mirror."""
    factory = request.getfixturevalue("local_config" if request.param == "local" else "s3_config")
    cfg = factory(mirrors=MIRRORS)
    fm = FSMirror(config=str(cfg), mirror="project")
    w: dict[str, Any] = {
        "r1": fm.write(ADDR, {"run": 1}, run_id="r1"),
        "r2": fm.write(ADDR, {"run": 2}, run_id="r2"),
        "day1": fm.write(DAILY, [1], run_id="r1", partition="2026-11-01"),
        "day2": fm.write(DAILY, [2], run_id="r1", partition="2026-11-02"),
        "left": fm.write(MULTI, "l", run_id="r1", output_name="left"),
        "right": fm.write(MULTI, "r", run_id="r1", output_name="right"),
        "other": FSMirror(config=str(cfg), mirror="other").write(ADDR, {"run": "o"}, run_id="r1"),
    }
    return cfg, fm, w


def _tenant(fm: FSMirror) -> str:
    return fm.base.rsplit("/", 1)[0]


def _kind(fm: FSMirror, target: str, **kw: Any) -> NotAnArtifactError:
    with pytest.raises(NotAnArtifactError) as e:
        fm.lookup(target, **kw)
    return e.value


# -- every form finds the artifact --------------------------------------------------------------------


def test_each_form_finds_the_committed_artifact(store, tmp_path: Path, monkeypatch) -> None:
    _cfg, fm, w = store
    r1, r2 = w["r1"], w["r2"]
    rel_base = r1[len(fm.base) + 1 :]
    rel_tenant = r1[len(_tenant(fm)) + 1 :]
    assert rel_base.startswith("project/") and rel_tenant.startswith("main/project/")
    forms = {
        ADDR: ("address", r2),
        r1: ("uri" if "://" in r1 else "path", r1),
        rel_base: ("relative", r1),
        rel_tenant: ("relative", r1),
        r1.manifest.hash.digest[:8]: ("hash", r1),
        r1.manifest.hash.digest[:6].upper(): ("hash", r1),
        "blake3:" + r2.manifest.hash.digest[:10]: ("hash", r2),
    }
    if "://" not in r1:  # local disk: file:// URIs and paths as a shell spells them
        forms["file://" + r1] = ("uri", r1)
        monkeypatch.chdir(Path(r1).parent.parent)
        forms["./" + os.path.relpath(r1)] = ("path", r1)
    for target, (form, uri) in forms.items():
        found = fm.lookup(target)
        assert (found.form, found.uri) == (form, uri), target
        assert found.manifest == uri.manifest and found.manifest_uri == manifest_file(
            uri.rsplit("/", 1)[0], "out"
        )
    assert fm.lookup(ADDR, run_id="r1").uri == r1
    with pytest.raises(ResolveError, match="applies to a code address 'pkg/mod.py::Name' only"):
        fm.lookup(r2, run_id="r1")
    assert fm.lookup(DAILY, partition="2026-11-02").uri == w["day2"]
    assert fm.lookup(MULTI, output_name="right").uri == w["right"]


def test_a_local_copy_outside_the_store_is_found_by_its_content(store, tmp_path: Path) -> None:
    _cfg, fm, w = store
    copy = tmp_path / "elsewhere" / "download.json"
    copy.parent.mkdir()
    copy.write_bytes(fm.filesystem.cat_file(w["r1"]))
    found = fm.lookup(str(copy))
    assert (found.form, found.uri, found.manifest.segment) == ("content", w["r1"], "r1")
    copy.write_bytes(b'{"run": 99}')
    e = _kind(fm, str(copy))
    assert e.kind == "outside" and "no committed artifact there has its content" in str(e)


def test_hash_prefixes_ambiguous_and_too_short(store) -> None:
    """Two artifacts whose digests share 6 hex digits (found by trying) need more digits; the
    same bytes twice cannot be told apart by any prefix, and the error says so."""
    from blake3 import blake3

    _cfg, fm, _w = store
    seen: dict[str, bytes] = {}
    for i in range(200_000):
        data = b"value %d" % i
        prefix = blake3(data).hexdigest()[:6]
        if prefix in seen:
            break
        seen[prefix] = data
    a = fm.write("project/etl/coll.py::A", seen[prefix], format="bytes", run_id="r1")
    b = fm.write("project/etl/coll.py::B", data, format="bytes", run_id="r1")
    e = _kind(fm, prefix)
    assert e.kind == "ambiguous" and set(e.choices) == {a, b} and "give more digits" in str(e)
    longer = a.manifest.hash.digest[:7] if a.manifest.hash.digest[6] != b.manifest.hash.digest[6] else None
    if longer is not None:  # the 7th digit differs 15 times in 16
        assert fm.lookup(longer).uri == a
    assert fm.lookup(a.manifest.hash.digest).uri == a
    twin = fm.write("project/etl/coll.py::Twin", seen[prefix], format="bytes", run_id="r1")
    e = _kind(fm, a.manifest.hash.digest)
    assert e.kind == "ambiguous" and set(e.choices) == {a, twin} and "same bytes" in str(e)
    assert _kind(fm, "0" * 40).kind == "missing"
    with pytest.raises(ResolveError, match="at least 6 hex digits"):
        fm.lookup("abc12")


# -- what is not an artifact says what it is ----------------------------------------------------------


def test_fsmirrors_own_files_are_named_for_what_they_are(store) -> None:
    _cfg, fm, w = store
    r1 = w["r1"]
    run_dir = r1.rsplit("/", 1)[0]
    e = _kind(fm, manifest_file(run_dir, "out"))
    assert e.kind == "manifest" and e.choices == (r1,) and "is the manifest of" in str(e)
    fm.filesystem.pipe_file(sidecar_file(run_dir, "out", "prefect"), b"{}")
    assert _kind(fm, sidecar_file(run_dir, "out", "prefect")).kind == "sidecar"
    listing = [s.path for s in fm._protocol().backend.listing(fm.base)]
    if "://" not in r1:
        pointer = next(p for p in listing if p.endswith("lift/Lift/_latest.out.json"))
        e = _kind(fm, pointer)
        assert e.kind == "pointer" and "naming run 'r2'" in str(e)
        scratch = f"{_tenant(fm)}/.fsmirror/tmp/x.part"
    else:
        entry = next(p for p in listing if "/_runs.out/" in p and p.endswith(".r2"))
        e = _kind(fm, entry)
        assert e.kind == "run-index" and "naming run 'r2'" in str(e)
        scratch = f"{_tenant(fm)}/_fsmirror/backup/x"
    fm.filesystem.pipe_file(scratch, b"x")
    assert _kind(fm, scratch).kind == "scratch"
    assert _kind(fm, run_dir).kind == "directory"


def test_uncommitted_pending_damaged_and_foreign_files(store) -> None:
    _cfg, fm, w = store
    fs = fm.filesystem
    # the data of a write that never committed: no manifest beside it
    dead = fm.mirror_full_output(ADDR, run_id="r9", output_format="json")
    fs.pipe_file(dead, b"{}")
    e = _kind(fm, dead)
    assert e.kind == "uncommitted" and "project/etl/lift.py::Lift (run 'r9')" in str(e)
    # a writer that took the slot and died (its pending record is the slot's state cell)
    taken = fm.mirror_full_output(ADDR, run_id="r8", output_format="json")
    fs.pipe_file(taken, b"{}")
    cell = manifest_file(taken.rsplit("/", 1)[0], "out")
    fs.pipe_file(cell, Pending(token="ab" * 16, kind="write", at=time.time(), holder="h:1").dump())
    assert _kind(fm, taken).kind == "pending"
    assert _kind(fm, cell).kind == "pending"
    # damage: garbage where the manifest goes, and a manifest copied into another run's slot
    broken = fm.mirror_full_output(ADDR, run_id="r7", output_format="json")
    fs.pipe_file(broken, b"{}")
    fs.pipe_file(manifest_file(broken.rsplit("/", 1)[0], "out"), b"{not json")
    assert _kind(fm, broken).kind == "damaged"
    copied = fm.mirror_full_output(ADDR, run_id="r6", output_format="json")
    fs.pipe_file(copied, fs.cat_file(w["r1"]))
    fs.pipe_file(
        manifest_file(copied.rsplit("/", 1)[0], "out"),
        fs.cat_file(manifest_file(w["r1"].rsplit("/", 1)[0], "out")),
    )
    e = _kind(fm, copied)
    assert e.kind == "damaged" and "copied or tampered" in str(e)
    # the committed slot holds out.json; an out.csv beside it is not what it commits
    stray = w["r1"][: -len("json")] + "csv"
    fs.pipe_file(stray, b"a,b")
    e = _kind(fm, stray)
    assert e.kind == "uncommitted" and e.choices == (w["r1"],)
    # foreign: a file whose path fits no artifact, an underscore name, a file outside the mirror
    for path in (
        f"{fm.base}/project/notes.txt",
        f"{fm.base}/project/etl/_mine.txt",
        f"{_tenant(fm)}/readme.md",
    ):
        fs.pipe_file(path, b"hello")
        assert _kind(fm, path).kind == "foreign", path
    e = _kind(fm, w["other"])
    assert e.kind == "other-mirror" and e.choices == ("other",)
    assert _kind(fm, fm.mirror_full_output(ADDR, run_id="r5", output_format="json")).kind == "missing"


def test_paths_outside_the_store(store, tmp_path: Path) -> None:
    _cfg, fm, _w = store
    if "://" in fm.base:
        bucket = fm.base.split("://", 1)[1].split("/", 1)[0]
        assert _kind(fm, f"s3://not-{bucket}/main/x.json").kind == "outside"
        assert _kind(fm, f"gs://{bucket}/main/x.json").kind == "outside"
    else:
        assert _kind(fm, "s3://bucket/main/x.json").kind == "outside"
        assert _kind(fm, "file:///nonexistent/x.json").kind == "outside"
    assert _kind(fm, str(tmp_path / "no-such-file.json")).kind == "outside"


def test_an_address_says_which_partitions_outputs_and_runs_exist(store) -> None:
    _cfg, fm, _w = store
    e = _kind(fm, DAILY)
    assert e.kind == "partitions" and e.choices == ("2026-11-01", "2026-11-02")
    assert "is partitioned: '2026-11-01', '2026-11-02'" in str(e)
    e = _kind(fm, DAILY, partition="2026-12-31")
    assert e.kind == "partitions" and "no partition '2026-12-31'" in str(e)
    e = _kind(fm, MULTI)
    assert e.kind == "outputs" and e.choices == ("left", "right")
    e = _kind(fm, ADDR, run_id="nope")
    assert e.kind == "runs" and e.choices == ("r2", "r1")
    e = _kind(fm, "project/etl/lift.py::Lfit")
    assert e.kind == "unknown-code" and e.choices == ("project/etl/lift.py::Lift",)
    assert "did you mean 'project/etl/lift.py::Lift'?" in str(e)
    e = _kind(fm, "project/etl/lift.py::Completely")
    assert e.kind == "missing" and "artifacts of 'Lift'" in str(e)
    # a miss leaves nothing behind (no pointer or index entry for a code that never ran)
    assert not [
        s.path for s in fm._protocol().backend.listing(fm.base) if "Lfit" in s.path or "Completely" in s.path
    ]


# -- the source's git blob id -------------------------------------------------------------------------


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


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_manifest_records_the_blob_id_git_computes(store, tmp_path: Path) -> None:
    cfg, fm, _w = store
    repo = tmp_path / "repo"
    module = repo / "project" / "etl" / "job.py"
    module.parent.mkdir(parents=True)
    module.write_text("def job():\n    return 'unicode: é'\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "job")
    head = _git(repo, "rev-parse", "HEAD")
    uri = fm.write(f"{module}::job", {"x": 1}, run_id="g1")
    code = fm.lookup(uri).manifest.code
    blob = _git(repo, "hash-object", str(module))
    assert code["source_git_blob"] == blob and code["source_file"] == str(module)
    assert _git(repo, "log", "--all", "--format=%H", f"--find-object={blob}") == head
    out = fsm(cfg, "show", uri, "-m", "project")
    assert out.exit_code == 0, out.output
    assert f"source blob    {blob}  (git log --all --find-object={blob})" in out.output
    assert f"commit         {head}" in out.output


# -- fsmirror show --------------------------------------------------------------------------------------


def test_show_takes_every_form_and_keeps_json(store) -> None:
    cfg, fm, w = store
    r1 = w["r1"]
    for target in (r1, r1[len(fm.base) + 1 :], r1.manifest.hash.digest[:8]):
        out = fsm(cfg, "show", target, "-m", "project")
        assert out.exit_code == 0, out.output
        lines = dict(ln.split(None, 1) for ln in out.output.splitlines() if ln and not ln.startswith(" "))
        assert lines["artifact"] == r1 and lines["code"] == ADDR and lines["run"] == "r1 (from argument)"
    shown = json.loads(fsm(cfg, "show", r1, "-m", "project", "--json").output)
    assert shown == r1.manifest.to_json()


def test_show_lists_inputs_and_orchestrator_ids(store) -> None:
    cfg, fm, w = store
    with fm.run("r3"):
        fm.read(ADDR, run_id="r1")
        uri = fm.write("project/etl/use.py::Use", 1, orchestrator={"name": "dagster", "run_id": "abc-123"})
    out = fsm(cfg, "show", uri, "-m", "project")
    assert out.exit_code == 0, out.output
    assert "orchestrator   name=dagster  run_id=abc-123\nformat" in out.output  # no UI base: no link
    out = CliRunner().invoke(
        cli,
        ["--config", str(cfg), "show", uri, "-m", "project"],
        env={"FSMIRROR_DAGSTER_URL": "http://127.0.0.1:3000/"},
    )
    assert (
        "orchestrator   name=dagster  run_id=abc-123\nlink           http://127.0.0.1:3000/runs/abc-123\n"
        in out.output
    )
    assert "inputs         1\n" in out.output
    digest = w["r1"].manifest.hash.digest[:12]
    assert f"    {ADDR} run r1  blake3:{digest}" in out.output


def test_show_errors_are_one_line_with_cli_hints(store) -> None:
    cfg, _fm, w = store
    cases = {
        (DAILY,): "is partitioned: '2026-11-01', '2026-11-02'; name one (--partition/-p)",
        (MULTI,): "has several outputs: 'left', 'right'; name one (--output-name/-o)",
        ("project/etl/lift.py::Lfit",): "did you mean 'project/etl/lift.py::Lift'?",
        (ADDR, "-r", "nope"): "(pass one with --run-id/-r)",
        (w["other"],): "belongs to mirror 'other', not 'project': pass --mirror other",
        (manifest_file(w["r1"].rsplit("/", 1)[0], "out"),): "is the manifest of " + w["r1"],
    }
    for args, message in cases.items():
        out = fsm(cfg, "show", *args, "-m", "project")
        assert out.exit_code == 1, args
        assert out.stderr.startswith("fsmirror: error: ") and message in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    assert fsm(cfg, "show", DAILY, "-m", "project", "-p", "2026-11-01").exit_code == 0
