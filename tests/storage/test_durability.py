"""G7: with ``durability: fsync`` a local commit orders its fsyncs so a power loss cannot leave a
manifest vouching for bytes that are not on disk; ``durability: none`` makes no fsync at all.

A power cut cannot be staged in a test, so this records the real system calls in the order the
store makes them (each call still goes to the OS) and checks the order docs/protocol.md states:
data file fsync -> rename into place -> directory fsync -> manifest fsync -> link into place ->
directory fsync.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from fsmirror import FSMirror

ADDR = "project/etl/my_etl_task.py::LiftDataTask"


def _mirror(tmp_path: Path, durability: str) -> FSMirror:
    return FSMirror(
        {
            "storage": {"provider": "local", "tenant": str(tmp_path / "store"), "durability": durability},
            "mirrors": {"project": {"root": "project", "output_format": "bytes"}},
        }
    )


@pytest.fixture
def syscalls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every fsync / replace / link the store makes, as (call, what it named), in order."""
    seen: list[tuple[str, str]] = []
    real_fsync, real_replace, real_link = os.fsync, os.replace, os.link

    def fsync(fd: int) -> None:
        seen.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: Any, dst: Any, **kw: Any) -> None:
        seen.append(("replace", os.fspath(dst)))
        real_replace(src, dst, **kw)

    def link(src: Any, dst: Any, **kw: Any) -> None:
        seen.append(("link", os.fspath(dst)))
        real_link(src, dst, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "link", link)
    return seen


def test_fsync_orders_data_then_directory_then_manifest(tmp_path: Path, syscalls: list[tuple[str, str]]) -> None:
    fm = _mirror(tmp_path, "fsync")
    uri = fm.write(ADDR, b"payload", run_id="r1")
    run_dir = os.path.dirname(uri)
    manifest = os.path.join(run_dir, "_out.manifest.json")
    steps = [(call, what) for call, what in syscalls if "_latest." not in what]  # the pointer is a hint
    data_rename = steps.index(("replace", uri))
    manifest_link = steps.index(("link", manifest))
    before_data = [c for c in steps[:data_rename] if c[0] == "fsync"]
    assert before_data and before_data[-1][1].startswith(str(tmp_path / "store" / ".fsmirror" / "tmp"))
    assert ("fsync", run_dir) in steps[data_rename:manifest_link]  # the data's directory entry is durable
    between = [c for c in steps[data_rename:manifest_link] if c[0] == "fsync"]
    assert between[-1][1] != run_dir, "the manifest's own bytes are fsynced before it is linked in"
    assert ("fsync", run_dir) in steps[manifest_link:]
    assert fm.read(ADDR, run_id="r1") == b"payload"


def test_durability_none_makes_no_fsync(tmp_path: Path, syscalls: list[tuple[str, str]]) -> None:
    fm = _mirror(tmp_path, "none")
    fm.write(ADDR, b"payload", run_id="r1")
    fm.write(ADDR, b"again", run_id="r1", overwrite=True)
    assert [c for c in syscalls if c[0] == "fsync"] == []
    assert fm.read(ADDR, run_id="r1") == b"again"
