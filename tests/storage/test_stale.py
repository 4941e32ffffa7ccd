"""``fsmirror stale`` on local disk and moto S3: the exact output for each way an artifact goes stale.

The code is real module files under a temp project, edited on disk between runs; the
artifacts are real writes (lineage through ``fm.run()`` and ``inputs=[...]``); the command
runs in-process through click with a config file, as a user runs it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fsmirror import FSMirror
from fsmirror.cli import cli
from fsmirror.services.staleness import staleness

EXTRACT = "def orders():\n    return [1, 2, 3]\n"
HELPERS = "def double(x):\n    return 2 * x\n"
LIFT = "from project.etl.helpers import double\n\n\ndef clean(rows):\n    return [double(r) for r in rows]\n"
REPORT = "def summary(rows):\n    return sum(rows)\n"

E, L, R = "project/etl/extract.py::orders", "project/etl/lift.py::clean", "project/etl/report.py::summary"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> Callable[..., Path]:
    return request.getfixturevalue(f"{request.param}_config")  # type: ignore[no-any-return]


class Project:
    """A code tree on disk, its mirror, and the ``fsmirror stale`` command over them."""

    def __init__(self, code: Path, config: Path) -> None:
        self.code = code
        self.config = config
        self.fm = FSMirror(str(config), mirror="project")
        self.write_src("extract.py", EXTRACT)
        self.write_src("helpers.py", HELPERS)
        self.write_src("lift.py", LIFT)
        self.write_src("report.py", REPORT)

    def path(self, address: str) -> str:
        """The address of code in this tree (its absolute file), as a running task resolves it."""
        file, _, name = address.partition("::")
        return f"{self.code}/{file}::{name}"

    def write_src(self, name: str, text: str) -> None:
        f = self.code / "project" / "etl" / name
        f.parent.mkdir(parents=True, exist_ok=True)
        old = f.stat().st_mtime_ns if f.exists() else 0
        f.write_text(text)
        st = f.stat()  # an editor's save moves the mtime on; make sure it did within this test's second
        os.utime(f, ns=(st.st_atime_ns, max(st.st_mtime_ns, old + 1_000_000_000)))

    def edit(self, name: str, old: str, new: str) -> None:
        f = self.code / "project" / "etl" / name
        text = f.read_text()
        assert old in text
        self.write_src(name, text.replace(old, new))

    def pipeline(self, run: str, partition: str | None = None) -> None:
        """extract -> lift (read inside fm.run) -> report (explicit inputs=[...])."""
        fm = self.fm
        a = fm.write(self.path(E), [1, 2, 3], run_id=run, partition=partition)
        with fm.run(run):
            rows = fm.read(self.path(E), partition=partition)
            b = fm.write(self.path(L), [2 * r for r in rows], partition=partition)
        fm.write(self.path(R), sum(rows), run_id=run, partition=partition, inputs=[b])
        assert [i.uri for i in b.manifest.inputs] == [str(a)]

    def stale(self, *args: str) -> tuple[int, str]:
        r = CliRunner().invoke(cli, ["--config", str(self.config), "stale", *args])
        assert r.stderr == ""
        return r.exit_code, r.stdout


@pytest.fixture
def project(tmp_path: Path, store: Callable[..., Path]) -> Project:
    config = store(mirrors={"project": {"root": "project", "output_name": "out", "output_format": "json"}})
    return Project(tmp_path / "code", config)


FRESH = "nothing stale: {n} latest artifact(s) made by today's code from their inputs' latest runs\n"


def test_fresh_pipeline_is_not_stale_text_and_json(project: Project) -> None:
    project.pipeline("r1")
    assert project.stale() == (0, FRESH.format(n=3))
    code, out = project.stale("--json")
    assert code == 0
    got = json.loads(out)
    base = project.fm.base
    assert [{k: v for k, v in g.items() if not k.startswith("fingerprint")} for g in got] == [
        {
            "address": addr,
            "partition": None,
            "output_name": "out",
            "run": "r1",
            "uri": f"{base}/project/etl/{mod}/r1/{name}/out.json",
            "stale": False,
            "reasons": [],
        }
        for addr, mod, name in [(E, "extract", "orders"), (L, "lift", "clean"), (R, "report", "summary")]
    ]
    for g in got:
        assert g["fingerprint_recorded"] == g["fingerprint_today"] and len(g["fingerprint_today"]) == 16
    # What the manifest records: the combined version, the definition's own, the project imports.
    code_rec = project.fm.manifest(project.path(L), run_id="r1")["code"]
    assert set(code_rec["imports"]) == {"project/etl/helpers.py"}
    assert code_rec["fingerprint"] == got[1]["fingerprint_recorded"]
    assert len(code_rec["fingerprint_self"]) == 16


def test_comment_and_docstring_edits_keep_everything_fresh(project: Project) -> None:
    project.pipeline("r1")
    project.edit("lift.py", "def clean(rows):\n", 'def clean(rows):\n    """Clean the rows."""  # doubled\n')
    project.edit("helpers.py", "return 2 * x", "return 2*x  # twice")
    assert project.stale() == (0, FRESH.format(n=3))


def test_code_changed_and_everything_downstream_is_stale(project: Project) -> None:
    project.pipeline("r1")
    project.edit("lift.py", "double(r) for r", "double(r) + 1 for r")
    assert project.stale() == (
        1,
        f"{L}  run r1: code changed\n{R}  run r1: input {L} is stale\n2 of 3 latest artifact(s) stale\n",
    )
    code, out = project.stale("--json")
    by = {g["address"]: g for g in json.loads(out)}
    assert code == 1
    assert (by[E]["stale"], by[L]["reasons"], by[R]["reasons"]) == (
        False,
        ["code changed"],
        [f"input {L} is stale"],
    )
    assert by[L]["fingerprint_recorded"] != by[L]["fingerprint_today"]
    # A target narrows the listing, not the lineage: report is judged through lift.
    assert project.stale(R) == (1, f"{R}  run r1: input {L} is stale\n1 of 1 latest artifact(s) stale\n")
    assert project.stale(E) == (0, FRESH.format(n=1))
    # A new run with today's code makes it fresh again.
    project.pipeline("r2")
    assert project.stale() == (0, FRESH.format(n=3))


def test_an_imported_project_module_edit_makes_its_dependants_stale(project: Project) -> None:
    project.pipeline("r1")
    project.edit("helpers.py", "2 * x", "3 * x")
    assert project.stale() == (
        1,
        f"{L}  run r1: code changed in project/etl/helpers.py\n"
        f"{R}  run r1: input {L} is stale\n"
        "2 of 3 latest artifact(s) stale\n",
    )


def test_an_input_with_a_newer_run_makes_what_was_made_from_the_older_one_stale(project: Project) -> None:
    project.pipeline("r1")
    project.fm.write(project.path(E), [4, 5], run_id="r2")  # extract ran again; lift did not
    assert project.stale() == (
        1,
        f"{L}  run r1: input {E} has a newer run r2 (made from r1)\n"
        f"{R}  run r1: input {L} is stale\n"
        "2 of 3 latest artifact(s) stale\n",
    )
    project.fm.write(project.path(E), [4, 5], run_id="r2", overwrite=True)  # rewritten in place
    project.pipeline("r3")
    project.fm.write(project.path(E), [6], run_id="r3", overwrite=True)
    assert project.stale() == (
        1,
        f"{L}  run r3: input {E} was overwritten since (run r3)\n"
        f"{R}  run r3: input {L} is stale\n"
        "2 of 3 latest artifact(s) stale\n",
    )


def test_an_input_run_deleted_since_is_named(project: Project) -> None:
    project.pipeline("r1")
    project.pipeline("r2")
    assert project.fm.delete(project.path(E), run_id="r2")  # extract's r2 removed: r1 is latest again
    assert project.stale(L) == (
        1,
        f"{L}  run r2: input {E} run r2 is gone (latest: r1)\n1 of 1 latest artifact(s) stale\n",
    )


def test_source_missing_and_no_recorded_fingerprint(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.pipeline("r1")
    (project.code / "project" / "etl" / "extract.py").unlink()
    assert project.stale() == (
        1,
        f"{E}  run r1: source missing (project/etl/extract.py not found)\n"
        f"{L}  run r1: input {E} is stale\n"
        f"{R}  run r1: input {L} is stale\n"
        "3 of 3 latest artifact(s) stale\n",
    )
    # Written while its file was absent (as by code from elsewhere): nothing recorded to compare.
    project.fm.write(project.path(E), [1], run_id="r2")
    project.write_src("extract.py", EXTRACT)
    monkeypatch.chdir(project.code)  # no file recorded: found from the current directory
    code, out = project.stale(E)
    assert (code, out) == (
        1,
        f"{E}  run r2: code version unknown (the manifest records no fingerprint)\n"
        "1 of 1 latest artifact(s) stale\n",
    )


def test_partitions_are_listed_and_judged_separately(project: Project) -> None:
    for p in ("2026-11-01", "2026-11-02"):
        project.pipeline("r1", partition=p)
    assert project.stale() == (0, FRESH.format(n=6))
    project.fm.write(project.path(E), [9], run_id="r2", partition="2026-11-02")
    assert project.stale() == (
        1,
        f"{L}  partition 2026-11-02  run r1: input {E} partition 2026-11-02 has a newer run r2 (made from r1)\n"
        f"{R}  partition 2026-11-02  run r1: input {L} partition 2026-11-02 is stale\n"
        "2 of 6 latest artifact(s) stale\n",
    )
    project.edit("report.py", "sum(rows)", "max(rows)")
    code, out = project.stale("--json")
    got = {(g["address"], g["partition"]): g["reasons"] for g in json.loads(out) if g["stale"]}
    assert code == 1
    assert got == {
        (L, "2026-11-02"): [f"input {E} partition 2026-11-02 has a newer run r2 (made from r1)"],
        (R, "2026-11-01"): ["code changed"],
        (R, "2026-11-02"): ["code changed", f"input {L} partition 2026-11-02 is stale"],
    }


def test_outputs_are_listed_and_judged_separately(project: Project) -> None:
    fm = project.fm
    left = fm.write(project.path(E), [1], run_id="r1", output_name="left")
    fm.write(project.path(E), [2], run_id="r1", output_name="right")
    fm.write(project.path(L), [2], run_id="r1", inputs=[left])
    assert project.stale() == (0, FRESH.format(n=3))
    fm.write(project.path(E), [3], run_id="r2", output_name="left")
    assert project.stale() == (
        1,
        f"{L}  run r1: input {E} output left has a newer run r2 (made from r1)\n1 of 3 latest artifact(s) stale\n",
    )
    project.edit("extract.py", "[1, 2, 3]", "[3, 2, 1]")
    assert project.stale(E) == (
        1,
        f"{E}  output left  run r2: code changed\n"
        f"{E}  output right  run r1: code changed\n"
        "2 of 2 latest artifact(s) stale\n",
    )


def test_source_root_finds_code_checked_out_elsewhere(project: Project, tmp_path: Path) -> None:
    project.pipeline("r1")
    moved = tmp_path / "checkout"
    (project.code).rename(moved)  # the recorded files are gone; the same tree lives elsewhere
    assert project.stale(E)[1].endswith(
        "source missing (project/etl/extract.py not found)\n1 of 1 latest artifact(s) stale\n"
    )
    assert project.stale("--source-root", str(moved)) == (0, FRESH.format(n=3))
    assert project.stale("--source-root", str(moved / "project")) == (0, FRESH.format(n=3))


def test_empty_store_and_the_python_call(project: Project) -> None:
    assert project.stale() == (0, f"no committed artifacts under {project.fm.base}\n")
    assert project.stale("--json") == (0, "[]\n")
    project.pipeline("r1")
    project.edit("extract.py", "[1, 2, 3]", "[1, 2]")
    got: list[Any] = staleness(project.fm)
    assert [(s.address, s.stale, s.reasons) for s in got] == [
        (E, True, ("code changed",)),
        (L, True, (f"input {E} is stale",)),
        (R, True, (f"input {L} is stale",)),
    ]
