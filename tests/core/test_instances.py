"""``FSMirror.instances``: the committed instances of one code in one run, from one listing."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from fsmirror import FSMirror

ADDR = "proj/etl/daily.py::extract"


@pytest.fixture(params=["local", "memory"])
def fm(request: pytest.FixtureRequest, tmp_path: Path) -> FSMirror:
    tenant = str(tmp_path / "store") if request.param == "local" else f"t-{uuid.uuid4().hex[:12]}"
    cfg = tmp_path / "fsmirror.yml"
    cfg.write_text(
        f"storage: {{provider: {request.param}, tenant: '{tenant}'}}\n"
        "mirrors:\n  proj: {root: proj, output_name: out, output_format: json}\n"
    )
    return FSMirror(str(cfg), mirror="proj")


def test_instances_lists_committed_instances_of_one_run_only(fm: FSMirror) -> None:
    for inst in ("2026-11-02", "2026-11-01", ("eu", "2026-11-01"), "~x"):
        fm.write(ADDR, {"i": str(inst)}, run_id="luigi", partition=inst)
    fm.write(ADDR, {"i": None}, run_id="luigi")  # no instance: not listed
    fm.write(ADDR, {"i": "other run"}, run_id="r2", partition="2026-11-03")  # another run
    fm.write(ADDR, {"i": "other output"}, run_id="luigi", partition="2026-11-04", output_name="b")

    assert fm.instances(ADDR, run_id="luigi") == ["2026-11-01", "2026-11-02", ("eu", "2026-11-01"), "~x"]
    assert fm.instances(ADDR, run_id="luigi", output_name="b") == ["2026-11-04"]
    assert fm.instances(ADDR, run_id="r2") == ["2026-11-03"]
    assert fm.instances(ADDR, run_id="nothing") == []

    fm.delete(ADDR, run_id="luigi", partition="2026-11-02")
    assert fm.instances(ADDR, run_id="luigi") == ["2026-11-01", ("eu", "2026-11-01"), "~x"]
