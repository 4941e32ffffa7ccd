"""Retention (issue #24 item 1): gc keeps pinned runs, inputs of kept runs, young runs; pin/gc race.

A real gc over a small lineage graph, on local disk and on the moto S3 server, asserting the
exact runs that survive; ``fsmirror gc --dry-run`` asserted line by line; and the pin/gc
race of docs/protocol.md ("Pins") driven deterministically at its two critical points
through ``faultfs`` (memory and S3: the stores where a delete is a pending record; local
disk serialises pin and delete under the slot lock).
"""

from __future__ import annotations

import datetime as _dt
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from faultfs import PROCEED, Call, Controller, Pause, acting, install
from fsmirror import ArtifactNotFoundError, FSMirror
from fsmirror.model.record import parse_cell
from fsmirror.paths import names
from fsmirror.services.retention import Policy, apply, pins, plan, retain

RAW = "project/etl/raw.py::Raw"
CLEAN = "project/etl/clean.py::Clean"
REPORT = "project/report.py::Report"
LONE = "project/lone.py::Lone"


def fsm(*args: str) -> Any:
    """The ``fsmirror`` command in this process (the real command; a process start costs ~1 s of CI)."""
    from click.testing import CliRunner

    from fsmirror.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def fsm_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed entry point, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "fsmirror.cli", *args], capture_output=True, text=True, timeout=120
    )


def lineage_graph(fm: FSMirror) -> None:
    """raw r1..r5 -> clean r1..r4 -> report r1..r3 (each reads the same run upstream); lone r1..r3."""
    raw = {r: fm.write(RAW, {"raw": r}, run_id=r) for r in ["r1", "r2", "r3", "r4", "r5"]}
    clean = {r: fm.write(CLEAN, {"clean": r}, run_id=r, inputs=[raw[r]]) for r in ["r1", "r2", "r3", "r4"]}
    for r in ["r1", "r2", "r3"]:
        fm.write(REPORT, {"report": r}, run_id=r, inputs=[clean[r]])
    for r in ["r1", "r2", "r3"]:
        fm.write(LONE, {"lone": r}, run_id=r)


def survivors(fm: FSMirror) -> dict[str, list[str]]:
    return {a.rsplit("::")[-1]: fm.runs(a) for a in (RAW, CLEAN, REPORT, LONE)}


@pytest.fixture(params=["local", "s3"])
def mirror(request: pytest.FixtureRequest, tmp_path: Path) -> FSMirror:
    if request.param == "local":
        storage: dict[str, Any] = {"provider": "local", "tenant": str(tmp_path / "store")}
    else:
        server = request.getfixturevalue("s3_server")
        storage = {
            "provider": "s3",
            "tenant": server.new_bucket(),
            "storage_options": server.storage_options(),
        }
    return FSMirror(
        {"storage": storage, "mirrors": {"project": {"root": "project", "output_format": "json"}}}
    )


def test_gc_keeps_pins_and_the_inputs_of_what_it_keeps(mirror: FSMirror) -> None:
    fm = mirror
    lineage_graph(fm)
    fm.pin(REPORT, run_id="r1", reason="audit 2026")
    fm.pin(LONE, run_id="r2")
    assert pins(fm) == {
        fm.mirror_full_output(REPORT, run_id="r1"): "audit 2026",
        fm.mirror_full_output(LONE, run_id="r2"): None,
    }
    decisions = retain(fm, keep=1)
    assert survivors(fm) == {
        "Raw": ["r1", "r3", "r4", "r5"],  # r1 through clean r1 through the pinned report r1
        "Clean": ["r1", "r3", "r4"],
        "Report": ["r1", "r3"],
        "Lone": ["r2", "r3"],
    }
    assert sorted((d.artifact.qualname, d.artifact.segment) for d in decisions if d.deleted) == [
        ("Clean", "r2"), ("Lone", "r1"), ("Raw", "r2"), ("Report", "r2"),
    ]  # fmt: skip
    fs = fm.filesystem
    assert not fs.exists(fm.mirror_full_output(RAW, run_id="r2"))  # the bytes went, not only the manifest
    assert fs.exists(names.pin_file(fm.mirror_full(LONE, run_id="r2"), "out"))  # the pin stays with its run
    # Unpinned, the pinned chain goes at the next gc; nothing else changes.
    pin = fm.pinned(REPORT, run_id="r1")
    assert pin is not None and pin.reason == "audit 2026" and fm.pinned(REPORT, run_id="r3") is None
    assert fm.unpin(REPORT, run_id="r1") is True and fm.unpin(REPORT, run_id="r1") is False
    assert fm.pinned(REPORT, run_id="r1") is None
    retain(fm, keep=1)
    assert survivors(fm) == {
        "Raw": ["r3", "r4", "r5"], "Clean": ["r3", "r4"], "Report": ["r3"], "Lone": ["r2", "r3"],
    }  # fmt: skip


def test_without_keep_inputs_only_pins_and_the_newest_stay(tmp_path: Path) -> None:
    fm = FSMirror(
        {
            "storage": {"provider": "local", "tenant": str(tmp_path / "store")},
            "mirrors": {"project": {"root": "project", "output_format": "json"}},
        }
    )
    lineage_graph(fm)
    fm.pin(REPORT, run_id="r1")
    retain(fm, keep=1, keep_inputs=False)
    assert survivors(fm) == {"Raw": ["r5"], "Clean": ["r4"], "Report": ["r1", "r3"], "Lone": ["r3"]}


def test_min_age_keeps_runs_younger_than_it(tmp_path: Path) -> None:
    fm = FSMirror(
        {
            "storage": {"provider": "memory", "tenant": f"mem-{os.getpid()}-{id(tmp_path)}"},
            "mirrors": {"project": {"root": "project", "output_format": "json"}},
        }
    )
    for r in ["r1", "r2", "r3"]:
        fm.write(LONE, r, run_id=r)
    written = _dt.datetime.fromisoformat(fm.manifest(LONE, run_id="r1")["created_at"])
    young = plan(fm, LONE, Policy(keep=1, min_age="7d"), now=written + _dt.timedelta(days=6, hours=23))
    assert [(d.artifact.segment, d.reasons) for d in young] == [
        ("r1", ["younger than 7d"]), ("r2", ["younger than 7d"]), ("r3", ["newest 1", "younger than 7d"]),
    ]  # fmt: skip
    old = plan(fm, LONE, Policy(keep=1, min_age="7d"), now=written + _dt.timedelta(days=7, seconds=1))
    assert [(d.artifact.segment, d.reasons) for d in old] == [("r1", []), ("r2", []), ("r3", ["newest 1"])]
    with pytest.raises(ValueError, match="is not an age"):
        retain(fm, keep=1, min_age="7 days")
    assert fm.pin(LONE) == fm.mirror_full_output(LONE, run_id="r3")  # no run id: the latest
    assert pins(fm) == {fm.mirror_full_output(LONE, run_id="r3"): None}
    with pytest.raises(ValueError, match="other than 'manifest' and 'pin'"):
        names.sidecar_file("d", "out", "pin")  # fsmirror's own: no adapter writes a pin by accident


def test_cli_pin_then_gc_dry_run_says_why_each_run_stays(tmp_path: Path) -> None:
    store = tmp_path / "store"
    cfg = tmp_path / "fsmirror.yml"
    project = {
        "root": "project",
        "output_format": "json",
        "retention": {
            "keep": 1,
            "min_age": "12h",
            "by_prefix": {"project/lone": {"keep": 2, "min_age": "0s"}},
        },
    }
    cfg.write_text(
        yaml.safe_dump(
            {"storage": {"provider": "local", "tenant": str(store)}, "mirrors": {"project": project}}
        )
    )
    fm = FSMirror(str(cfg))
    lineage_graph(fm)
    out = fsm_process("--config", str(cfg), "pin", REPORT, "-r", "r1", "--reason", "audit\x1b[2J")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"pinned {fm.mirror_full_output(REPORT, run_id='r1')}: audit\\x1b[2J\n"
    dry = fsm("--config", str(cfg), "gc", "--all", "--dry-run", "--min-age", "0s")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == [
        "keep project/etl/clean.py::Clean run r1: input of project/report.py::Report run r1",
        "would delete project/etl/clean.py::Clean run r2",
        "keep project/etl/clean.py::Clean run r3: input of project/report.py::Report run r3",
        "keep project/etl/clean.py::Clean run r4: newest 1",
        "keep project/etl/raw.py::Raw run r1: input of project/etl/clean.py::Clean run r1",
        "would delete project/etl/raw.py::Raw run r2",
        "keep project/etl/raw.py::Raw run r3: input of project/etl/clean.py::Clean run r3",
        "keep project/etl/raw.py::Raw run r4: input of project/etl/clean.py::Clean run r4",
        "keep project/etl/raw.py::Raw run r5: newest 1",
        "would delete project/lone.py::Lone run r1",
        "keep project/lone.py::Lone run r2: newest 2",
        "keep project/lone.py::Lone run r3: newest 2",
        "keep project/report.py::Report run r1: pinned: audit\\x1b[2J",
        "would delete project/report.py::Report run r2",
        "keep project/report.py::Report run r3: newest 1",
        "would delete 4 run(s) of 4 series",
    ]
    # The config's min_age (12h) keeps every run, all written a moment ago.
    young = fsm("--config", str(cfg), "gc", RAW, "--dry-run")
    assert young.stdout.splitlines() == [
        "keep project/etl/raw.py::Raw run r1: younger than 12h; input of project/etl/clean.py::Clean run r1",
        "keep project/etl/raw.py::Raw run r2: younger than 12h; input of project/etl/clean.py::Clean run r2",
        "keep project/etl/raw.py::Raw run r3: younger than 12h; input of project/etl/clean.py::Clean run r3",
        "keep project/etl/raw.py::Raw run r4: younger than 12h; input of project/etl/clean.py::Clean run r4",
        "keep project/etl/raw.py::Raw run r5: newest 1; younger than 12h",
        "would delete 0 run(s) of 1 series",
    ]
    real = fsm("--config", str(cfg), "gc", "--all", "--min-age", "0s")
    assert real.exit_code == 0, real.output
    assert real.stdout.splitlines()[-1] == "deleted 4 run(s) of 4 series"
    assert survivors(fm)["Report"] == ["r1", "r3"] and survivors(fm)["Lone"] == ["r2", "r3"]
    shown = fsm("--config", str(cfg), "show", REPORT, "-r", "r1")
    (row,) = [ln for ln in shown.stdout.splitlines() if ln.startswith("pinned ")]
    assert row.split(None, 1)[1].split("  (since ")[0] == "audit\\x1b[2J"
    listed = fsm("--config", str(cfg), "ls", "project/report.py")
    runs = [ln.split("── ", 1)[1] for ln in listed.stdout.splitlines()[-2:]]
    assert [r.split("  ")[0] for r in runs] == ["r1", "r3"]
    assert runs[0].endswith("  pinned: audit\\x1b[2J") and runs[1].endswith("  latest")
    unpinned = fsm("--config", str(cfg), "unpin", fm.mirror_full_output(REPORT, run_id="r1"))
    assert unpinned.stdout == "unpinned\n" and pins(fm) == {}


# -- the pin/gc race (docs/protocol.md, "Pins") ---------------------------------------------------


@dataclass
class _Gate:
    when: Callable[[Call], bool]
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    fired: bool = False


class Gates(Controller):
    """Park an actor at its first request that a predicate matches (before or after it) until released."""

    def __init__(self) -> None:
        super().__init__()
        self.gates: dict[tuple[str, str], _Gate] = {}

    def add(self, actor: str, phase: str, when: Callable[[Call], bool]) -> _Gate:
        gate = self.gates[(actor, phase)] = _Gate(when)
        return gate

    def before(self, call: Call) -> Any:
        return self._gate(call, "before")

    def after(self, call: Call) -> Any:
        return self._gate(call, "after")

    def _gate(self, call: Call, phase: str) -> Any:
        g = self.gates.get((call.actor, phase))
        if g is None or g.fired or call.error is not None or not g.when(call):
            return PROCEED
        g.fired = True
        return Pause(g.release, 20.0, g.reached)


def start(results: dict[str, Any], actor: str, fn: Callable[[], Any]) -> threading.Thread:
    def go() -> None:
        with acting(actor):
            try:
                results[actor] = fn()
            except Exception as e:
                results[actor] = e

    t = threading.Thread(target=go, name=actor, daemon=True)
    t.start()
    return t


@pytest.fixture(params=["memory", "s3"])
def racing(request: pytest.FixtureRequest) -> FSMirror:
    if request.param == "memory":
        storage: dict[str, Any] = {"provider": "memory", "tenant": f"mem-race-{os.getpid()}-{id(request)}"}
    else:
        server = request.getfixturevalue("s3_server")
        storage = {
            "provider": "s3",
            "tenant": server.new_bucket(),
            "storage_options": server.storage_options(),
        }
    fm = FSMirror({"storage": storage, "mirrors": {"project": {"root": "project", "output_format": "json"}}})
    for r in ["r1", "r2"]:
        fm.write(LONE, r, run_id=r)
    return fm


def _pending_delete(call: Call) -> bool:
    if call.method != "put" or not str(call.args[0]).endswith(names.MANIFEST_SUFFIX):
        return False
    cell = parse_cell(bytes(call.args[1]), "x")
    return getattr(cell, "kind", None) == "delete"


def _puts(path: str) -> Callable[[Call], bool]:
    return lambda c: c.method == "put" and c.args[0] == path


def test_a_pin_landing_before_gcs_pending_record_holds(racing: FSMirror) -> None:
    """gc planned r1 doomed before the pin; the pin's sidecar lands before gc's pending record.

    gc re-reads the pin after its pending record, sees it, puts the manifest back and skips
    r1; the pin then reads a committed cell and returns: the pinned run survives.
    """
    fm = racing
    doomed = plan(fm, LONE, Policy(keep=1))
    assert [d.doomed for d in doomed] == [True, False]
    ctl = Gates()
    pin_gate = ctl.add("pin", "after", _puts(names.pin_file(fm.mirror_full(LONE, run_id="r1"), "out")))
    install(fm, ctl)
    results: dict[str, Any] = {}
    pinning = start(results, "pin", lambda: fm.pin(LONE, run_id="r1", reason="keep me"))
    assert pin_gate.reached.wait(20)  # the sidecar is down; the pin has not read the cell back yet
    start(results, "gc", lambda: apply(fm, doomed)).join(20)
    pin_gate.release.set()
    pinning.join(20)
    assert results["gc"] == [] and results["pin"] == doomed[0].artifact.uri
    assert [op for _, _, op in ctl.history if op == "put"] == [
        "put",
        "put",
        "put",
    ]  # sidecar, pending, restore
    assert fm.runs(LONE) == ["r1", "r2"] and fm.read(LONE, run_id="r1") == "r1"
    assert pins(fm) == {doomed[0].artifact.uri: "keep me"}
    assert [(d.artifact.segment, d.reasons) for d in plan(fm, LONE, Policy(keep=1))] == [
        ("r1", ["pinned: keep me"]), ("r2", ["newest 1"]),
    ]  # fmt: skip


def test_a_pin_that_finds_gcs_pending_record_fails_typed(racing: FSMirror) -> None:
    """The pin found r1 committed, but gc's pending record lands before the pin's sidecar.

    The pin reads the cell back, finds the delete under way, removes its sidecar and fails
    with kind ``being-deleted``; gc's re-read finds no pin and deletes r1.
    """
    fm = racing
    ctl = Gates()
    pin_gate = ctl.add("pin", "before", _puts(names.pin_file(fm.mirror_full(LONE, run_id="r1"), "out")))
    gc_gate = ctl.add("gc", "after", _pending_delete)
    install(fm, ctl)
    results: dict[str, Any] = {}
    pinning = start(results, "pin", lambda: fm.pin(LONE, run_id="r1", reason="too late"))
    assert pin_gate.reached.wait(20)  # the pin found r1 committed and is about to write its sidecar
    collecting = start(results, "gc", lambda: retain(fm, keep=1))
    assert gc_gate.reached.wait(20)  # gc's pending record is down; it has not re-read the pin yet
    pin_gate.release.set()
    pinning.join(20)
    gc_gate.release.set()
    collecting.join(20)
    err = results["pin"]
    assert isinstance(err, ArtifactNotFoundError) and err.kind == "being-deleted", err
    assert [d.artifact.segment for d in results["gc"] if d.deleted] == ["r1"]
    assert fm.runs(LONE) == ["r2"] and pins(fm) == {}
    assert not fm.filesystem.exists(names.pin_file(fm.mirror_full(LONE, run_id="r1"), "out"))


def test_readme_example_and_what_else_the_docs_say(tmp_path: Path) -> None:
    """README's gc example, line by line; FSMirror.gc skips a pin; a delete takes the pin; an overwritten input."""
    store = tmp_path / "store"
    cfg = tmp_path / "fsmirror.yml"
    project = {"root": "project", "output_format": "json"}
    cfg.write_text(
        yaml.safe_dump(
            {"storage": {"provider": "local", "tenant": str(store)}, "mirrors": {"project": project}}
        )
    )
    fm = FSMirror(str(cfg))
    raw = {r: fm.write(RAW, {"raw": r}, run_id=r) for r in ["r1", "r2", "r3"]}
    clean = {r: fm.write(CLEAN, {"clean": r}, run_id=r, inputs=[raw[r]]) for r in ["r1", "r2", "r3"]}
    for r in ["r1", "r2", "r3"]:
        fm.write(REPORT, {"report": r}, run_id=r, inputs=[clean[r]])
    out = fsm("--config", str(cfg), "pin", REPORT, "-r", "r1", "--reason", "audit 2026")
    assert out.stdout == f"pinned {store}/project/report/r1/Report/out.json: audit 2026\n"
    dry = fsm("--config", str(cfg), "gc", "--all", "--keep", "1", "--dry-run")
    readme = Path(__file__).parents[2].joinpath("README.md").read_text()
    block = readme.split("$ fsmirror gc --all --keep 1 --dry-run\n", 1)[1].split("```", 1)[0]
    assert dry.stdout == block
    # FSMirror.gc (one series, by count) skips the pinned run.
    assert fm.gc(REPORT, keep=0) == ["r2"] and fm.runs(REPORT) == ["r1", "r3"]
    # An explicit delete takes the pin with the run.
    pin_file = names.pin_file(fm.mirror_full(REPORT, run_id="r1"), "out")
    assert os.path.exists(pin_file)
    assert fm.delete(REPORT, run_id="r1") and not os.path.exists(pin_file)
    # clean r1 read raw r1's first bytes; raw r1 rewritten since is no longer what it read.
    fm.write(RAW, {"raw": "r1 again"}, run_id="r1", overwrite=True)  # now raw's newest, too
    fm.pin(CLEAN, run_id="r1")
    decided = {(d.artifact.qualname, d.artifact.segment): d.reasons for d in plan(fm, RAW, Policy(keep=1))}
    assert decided == {
        ("Raw", "r2"): ["input of project/etl/clean.py::Clean run r2"],
        ("Raw", "r3"): ["input of project/etl/clean.py::Clean run r3"],
        ("Raw", "r1"): ["newest 1"],
    }
