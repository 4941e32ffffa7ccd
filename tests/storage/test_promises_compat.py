"""The store's promises, issue #12: a store written by fsmirror 1.0 stays usable.

``fixtures/store-v1/`` was written by fsmirror 1.0.0 (``fixtures/make_store_v1.py``):
3 runs of a JSON artifact (the mirror's parquet fell back to JSON) and 2 runs of a
parquet artifact in a partition, with 1.0's ``latest`` pointers and lock files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fsmirror import FSMirror
from storage.fixtures.make_store_v1 import (
    CONFIG,
    JSON_ADDR,
    JSON_RUNS,
    PARQUET_ADDR,
    PARQUET_RUNS,
    PARTITION,
    STORE,
    WRITTEN,
)
from storage.promises_support import ls_json

FIXTURE = Path(__file__).parent / "fixtures" / STORE
ONE_MTIME = 1_767_225_600  # 2026-01-01T00:00:00Z


def files(root: Path) -> set[str]:
    """Every file of the store, relative to it, but fsmirror's scratch space (locks, temp files)."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".fsmirror" not in p.parts}


def test_store_written_by_fsmirror_1_0_stays_readable_listable_and_collectable(
    tmp_path: Path, monkeypatch
) -> None:
    """Issue #12: "1.0 compatibility: stores written by fsmirror 1.0 stay readable, listable and
    collectable: ... runs() lists the 3 runs oldest first, latest() is the newest, read() returns
    the values, gc(keep=1) deletes the two older runs and their files, fsmirror ls lists them."

    The copy's files all get one modification time (a checkout or a restore says nothing about
    commit order; ordering by mtime has its own test), and the store is used from the directory
    holding it, as its relative tenant was written.
    """
    store = tmp_path / STORE
    shutil.copytree(FIXTURE, store)
    for path in store.rglob("*"):
        os.utime(path, (ONE_MTIME, ONE_MTIME))
    monkeypatch.chdir(tmp_path)
    fm = FSMirror(CONFIG)

    assert fm.runs(JSON_ADDR) == ["r1", "r2", "r3"]
    assert fm.latest(JSON_ADDR) == "r3"
    assert [fm.read(JSON_ADDR, run_id=r) for r in JSON_RUNS] == list(JSON_RUNS.values())
    assert fm.read(JSON_ADDR) == JSON_RUNS["r3"]
    assert fm.runs(PARQUET_ADDR, partition=PARTITION) == ["r1", "r2"]
    assert fm.latest(PARQUET_ADDR, partition=PARTITION) == "r2"
    tables = [fm.read(PARQUET_ADDR, run_id=r, partition=PARTITION).to_pydict() for r in PARQUET_RUNS]
    assert tables == list(PARQUET_RUNS.values())

    listed = [
        (row["qualname"], row["segment"], row["partition"], row["latest"]) for row in ls_json(fm, tmp_path)
    ]
    newest = {("Summarize", None): "r3", ("Extract", PARTITION): "r2"}
    assert listed == [(q, r, p, newest[(q, p)] == r) for q, r, p in WRITTEN]

    before = files(store)
    assert fm.gc(JSON_ADDR, keep=1) == ["r1", "r2"]
    gone = {
        f"project/etl/lift/{r}/Summarize/{name}"
        for r in ("r1", "r2")
        for name in ("out.json", "_out.manifest.json")
    }
    assert gone <= before
    assert files(store) == before - gone
    assert (fm.runs(JSON_ADDR), fm.latest(JSON_ADDR), fm.read(JSON_ADDR)) == (["r3"], "r3", JSON_RUNS["r3"])
    assert fm.runs(PARQUET_ADDR, partition=PARTITION) == ["r1", "r2"]
