"""gc and the catalog behind ``fsmirror ls``, on every provider."""

from __future__ import annotations

import pytest

from fsmirror.services.catalog import scan

ADDR = "project/etl/my_etl_task.py::LiftDataTask"
OTHER = "project/etl/my_etl_task.py::Other"


def write_runs(fm, runs, addr=ADDR) -> None:
    for r in runs:
        fm.write(addr, {"run": r}, run_id=r)


def test_gc_keeps_the_newest_and_never_the_latest(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    write_runs(fm, ["r1", "r2", "r3", "r4"])
    assert fm.gc(ADDR, keep=2, dry_run=True) == ["r1", "r2"]
    assert fm.runs(ADDR) == ["r1", "r2", "r3", "r4"]  # a dry run deletes nothing
    assert fm.gc(ADDR, keep=2) == ["r1", "r2"]
    assert fm.runs(ADDR) == ["r3", "r4"]
    assert not fm.filesystem.exists(fm.mirror_full_output(ADDR, run_id="r1", output_format="json"))
    assert fm.gc(ADDR, keep=0) == ["r3"]  # keep=0 still keeps the latest
    assert fm.runs(ADDR) == ["r4"] and fm.latest(ADDR) == "r4" and fm.read(ADDR) == {"run": "r4"}


def test_gc_keeps_the_latest_even_when_it_is_not_the_newest_listed(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    write_runs(fm, ["r1", "r2", "r3"])
    fm.write(ADDR, {"run": "r1 again"}, run_id="r1", overwrite=True)  # r1 is now the latest
    assert fm.latest(ADDR) == "r1"
    fm.gc(ADDR, keep=0)
    assert fm.latest(ADDR) == "r1" and fm.read(ADDR) == {"run": "r1 again"}


def test_gc_leaves_a_run_being_written_alone(make_mirror, provider) -> None:
    if provider == "gcs":
        pytest.skip(
            "gcp-storage-emulator ignores ifGenerationMatch=0, so its claims are not exclusive "
            "(gcsfs sends it and real GCS honours it)"
        )
    fm = make_mirror(output_format="json")
    write_runs(fm, ["r1", "r2", "r3"])
    with fm.open_write(ADDR, run_id="r1", overwrite=True, format="json") as f:
        f.write(b'{"run": "r1 rewritten"}')
        # The bytes are still being spooled (no request made yet): gc may take r1's old version ...
        assert fm.gc(ADDR, keep=0) == ["r1", "r2"]
    # ... and the overwrite then commits r1 afresh, as the newest run.
    assert fm.runs(ADDR) == ["r3", "r1"]
    assert fm.read(ADDR, run_id="r1") == {"run": "r1 rewritten"}


def test_catalog_lists_committed_artifacts_by_code(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    write_runs(fm, ["r1", "r2"])
    write_runs(fm, ["r1"], addr=OTHER)
    fm.write(ADDR, 7, run_id="r1", partition="2026-01-01")
    with pytest.raises(RuntimeError), fm.open_write(ADDR, run_id="r9") as f:
        f.write(b"never committed")
        raise RuntimeError
    everything = scan(fm)
    assert sorted((a.qualname, a.segment, a.partition or "") for a in everything) == [
        ("LiftDataTask", "r1", ""),
        ("LiftDataTask", "r1", "2026-01-01"),
        ("LiftDataTask", "r2", ""),
        ("Other", "r1", ""),
    ]
    mine = scan(fm, ADDR)
    assert {a.qualname for a in mine} == {"LiftDataTask"}
    latest = [a.segment for a in mine if a.latest and a.partition is None]
    assert latest == ["r2"]
    assert {a.address for a in scan(fm, "project/etl")} == {ADDR, OTHER}
    assert scan(fm, "project/other") == []
    a = next(a for a in mine if a.segment == "r2" and a.partition is None)
    assert a.size == len(fm.filesystem.cat_file(a.uri)) and a.uri == fm.artifact_uri(ADDR, run_id="r2")
