"""gc (or delete) taking a run from under an overwrite, at the one moment that left it wedged.

The overwrite has swapped the cell to its pending record; gc reads that record, takes the
previous run (``docs/protocol.md``, "Delete"), deletes its bytes and cell; then the overwrite
stores its new bytes and its commit is fenced. Before the fix the overwrite said it "took
longer than storage.claim_ttl" after milliseconds, and its new bytes stayed with no cell, so
every later write and overwrite of the run was refused as "in progress" for ``claim_ttl``.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

from fsmirror import ArtifactExistsError, FSMirror
from fsmirror.store.backends import Backend

ADDR = "project/etl/mod.py::Task"


class GcDuringStore:
    """Delegates to a real backend; the first ``store`` of an artifact's bytes runs ``before`` first."""

    def __init__(self, target: Any, before: Any) -> None:
        self._target = target
        self._before = before

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def store(self, path: str, spool: Any, *, if_absent: bool) -> str:
        if self._before is not None and path.endswith("/out.bytes"):
            before, self._before = self._before, None
            before()
        return str(self._target.store(path, spool, if_absent=if_absent))


@pytest.mark.parametrize("provider", ["memory", "s3"])
def test_gc_during_an_overwrite_leaves_the_run_writable(make_mirror: Any) -> None:
    fm: FSMirror = make_mirror(output_format="bytes")
    other: FSMirror = make_mirror(output_format="bytes")
    fm.write(ADDR, b"old r1", run_id="r1", format="bytes")
    fm.write(ADDR, b"r2", run_id="r2", format="bytes")  # newer: gc(keep=1) takes r1
    deleted: list[Any] = []
    store = fm.store
    store.backend = cast(
        Backend, GcDuringStore(store.backend, lambda: deleted.extend(other.gc(ADDR, keep=1)))
    )

    with pytest.raises(ArtifactExistsError, match="was deleted .delete or gc. while this overwrite"):
        fm.write(ADDR, b"new r1", run_id="r1", format="bytes", overwrite=True)

    assert deleted == ["r1"]
    run_dir = fm.mirror_full(ADDR, run_id="r1")
    assert other.filesystem.find(run_dir) == [], "the fenced overwrite left its bytes behind"
    assert other.runs(ADDR) == ["r2"]
    # No writer is alive: the run takes a write at once, then an overwrite.
    other.write(ADDR, b"again", run_id="r1", format="bytes")
    assert other.read(ADDR, run_id="r1") == b"again"
    other.write(ADDR, b"again 2", run_id="r1", format="bytes", overwrite=True)
    assert other.read(ADDR, run_id="r1") == b"again 2"
    assert other.read(ADDR, run_id="r2") == b"r2"
