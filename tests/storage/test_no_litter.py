"""Asking about what does not exist writes nothing: no pointer, no directory, on any provider."""

from __future__ import annotations

from typing import Any

import pytest

from fsmirror import ArtifactNotFoundError

ADDR = "project/etl/never_written.py::Nothing"


def _all_files(fm: Any) -> list[str]:
    fs = fm.filesystem
    base = fm.base
    try:
        return sorted(fs.find(base))
    except FileNotFoundError:
        return []


def test_reads_of_a_series_never_written_leave_nothing_behind(make_mirror: Any) -> None:
    fm = make_mirror(output_format="json")
    fm.write("project/etl/other.py::Something", 1, run_id="r1")
    before = _all_files(fm)
    with pytest.raises(ArtifactNotFoundError):
        fm.read(ADDR)
    assert fm.latest(ADDR) is None
    assert fm.runs(ADDR) == []
    assert fm.exists(ADDR, run_id="r1") is False
    assert fm.gc(ADDR, keep=0) == []
    assert _all_files(fm) == before
