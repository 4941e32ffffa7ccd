"""The store's promises, issue #12: what a path names, and that nothing leaves the mirror.

A manifest's ``uri`` or a symlink must never steer a delete or a write outside the
tenant; glob characters in a path are just characters; two pieces of code that
resolve to one path must not overwrite each other silently; and ``latest`` is not a
run id anyone can write.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from fsmirror import ArtifactExistsError, FSMirror, ResolveError, StorageError
from fsmirror.paths.runid import encode_run_id
from storage.promises_support import (
    ADDR,
    all_of,
    attempt,
    ls_json,
    manifest_path,
    put_bytes,
    raw,
    stored,
)


def write_runs(fm, runs, addr=ADDR, **kw) -> None:
    for r in runs:
        fm.write(addr, {"run": r}, run_id=r, **kw)


def test_tampered_manifest_uri_never_makes_gc_delete_or_overwrite_remove_a_file_outside_the_mirror(
    make_mirror, provider: str, tmp_path: Path
) -> None:
    """Issue #12: "gc, delete and overwrite delete whatever path a manifest's `uri` field names,
    outside the tenant too ... gc/delete/overwrite must not delete that file."

    Each operation gets its own series and its own victim: a file outside the tenant (local) or
    an object in the bucket outside the mirror's prefix. The run whose manifest lies is still
    collected, deleted or overwritten by its own path, as a store moved elsewhere must be.
    """
    fm = make_mirror(output_format="json", prefix="mirrored")
    bucket_root = fm.base.removesuffix("/mirrored")

    def victim(name: str) -> str:
        path = str(tmp_path / name) if provider == "local" else f"{bucket_root}/{name}"
        put_bytes(fm, path, b"precious " + name.encode())
        return path

    def tamper(addr: str, target: str) -> None:
        where = manifest_path(fm, addr, "r1")
        manifest = json.loads(raw(fm, where))
        manifest["uri"] = target
        put_bytes(fm, where, json.dumps(manifest).encode())

    ops = {
        "gc": "project/etl/tampered.py::ByGc",
        "delete": "project/etl/tampered.py::ByDelete",
        "delete_uri": "project/etl/tampered.py::ByDeleteUri",
        "overwrite": "project/etl/tampered.py::ByOverwrite",
    }
    victims = {}
    for op, addr in ops.items():
        write_runs(fm, ["r1", "r2", "r3"], addr=addr)
        victims[op] = victim(f"{op}.txt")
        tamper(addr, victims[op])
    own = {op: fm.mirror_full_output(addr, run_id="r1", output_format="json") for op, addr in ops.items()}

    after = make_mirror(output_format="json", prefix="mirrored")
    outcomes = {
        "gc": attempt(after.gc, ops["gc"], keep=1),
        "delete": attempt(after.delete, ops["delete"], run_id="r1"),
        "delete_uri": attempt(after.delete_uri, own["delete_uri"]),
        "overwrite": attempt(after.write, ops["overwrite"], {"run": "new"}, run_id="r1", overwrite=True),
    }
    survivors = {op: attempt(raw, after, path) for op, path in victims.items()}
    assert survivors == {op: b"precious " + f"{op}.txt".encode() for op in ops}
    assert outcomes == {"gc": ["r1", "r2"], "delete": True, "delete_uri": True, "overwrite": own["overwrite"]}
    assert [after.filesystem.exists(own[op]) for op in ("gc", "delete", "delete_uri")] == [False] * 3
    assert after.runs(ops["gc"]) == ["r3"]
    assert after.runs(ops["delete"]) == after.runs(ops["delete_uri"]) == ["r2", "r3"]
    assert after.read(ops["overwrite"], run_id="r1") == {"run": "new"}


def test_delete_uri_with_the_wrong_extension_deletes_nothing(make_mirror) -> None:
    """Issue #12: "`delete_uri` with the wrong extension (e.g. .../out.json when the artifact is
    out.parquet) must delete nothing and return False; latest must still name that run and read
    works."
    """
    fm = make_mirror(prefix="mirrored")  # parquet; the prefix keeps scratch files out of the listing
    t1, t2 = pa.table({"a": [1, 2]}), pa.table({"a": [3, 4]})
    fm.write(ADDR, t1, run_id="r1")
    uri = fm.write(ADDR, t2, run_id="r2")
    assert uri.endswith("/out.parquet")
    before = {path: raw(fm, f"{fm.base}/{path}") for path in stored(fm)}
    assert fm.delete_uri(uri.removesuffix("parquet") + "json") is False
    assert {path: raw(fm, f"{fm.base}/{path}") for path in stored(fm)} == before
    after = make_mirror(prefix="mirrored")
    assert after.latest(ADDR) == "r2"
    assert after.read(ADDR).equals(t2)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_symlink_inside_a_local_tenant_is_not_followed_out_of_it(tmp_path: Path) -> None:
    """Issue #12: "A symlink inside a local tenant must not be followed out of it: make a run
    directory (or the series directory) a symlink to a directory outside the tenant; a write must
    not create files outside the tenant (raise StorageError), and gc/delete must not delete
    outside."

    Run ``r0``'s directory is moved out of the tenant and linked back (its files now live
    outside), and run ``r2``'s directory is a link to an empty directory outside, then written.
    A second series has its whole module directory (all its runs and its pointer) moved out and
    linked back, then collected. gc and delete may refuse (StorageError) or skip what lies
    behind a link; either way nothing outside changes.
    """
    store, outside = tmp_path / "store", tmp_path / "outside"
    outside.mkdir()
    mirrors = {"project": {"root": "project", "output_format": "json"}}
    cfg = {"storage": {"provider": "local", "tenant": str(store)}, "mirrors": mirrors}
    fm = FSMirror(cfg)
    write_runs(fm, ["r0", "r1"])
    r0_dir = os.path.dirname(fm.mirror_full(ADDR, run_id="r0"))  # .../my_etl_task/r0
    shutil.move(r0_dir, outside / "r0")
    os.symlink(outside / "r0", r0_dir)
    (outside / "r2").mkdir()
    os.symlink(outside / "r2", os.path.dirname(fm.mirror_full(ADDR, run_id="r2")))
    linked = "project/etl/linked.py::T"
    write_runs(fm, ["r0", "r1"], addr=linked)
    module_dir = f"{fm.base}/project/etl/linked"
    shutil.move(module_dir, outside / "linked")
    os.symlink(outside / "linked", module_dir)
    outside_before = _snapshot(outside)
    assert len(outside_before) == 2 + 5  # r0's two files; the linked series' 2 runs and pointer

    after = FSMirror(cfg)
    with pytest.raises(StorageError, match=r"(?i)symlink|symbolic link|outside the tenant"):
        after.write(ADDR, {"run": "r2"}, run_id="r2")
    assert _snapshot(outside) == outside_before
    with contextlib.suppress(StorageError):
        assert after.delete(ADDR, run_id="r0") is False
    with contextlib.suppress(StorageError):
        assert "r0" not in after.gc(ADDR, keep=0)
    with contextlib.suppress(StorageError):
        assert after.gc(linked, keep=0) == []
    with contextlib.suppress(StorageError):
        assert after.delete(linked, run_id="r1") is False
    assert _snapshot(outside) == outside_before
    assert (after.latest(ADDR), after.read(ADDR)) == ("r1", {"run": "r1"})


GLOB_ADDR = "project/g[1]/m*?.py::T"
GLOB_RUNS = ["c[1]*?", "b[2]", "a?"]  # commit order is not name order


def test_paths_with_glob_characters_list_read_and_gc_like_any_other(make_mirror, tmp_path: Path) -> None:
    """Issue #12: "Paths holding `[`, `]`, `*` or `?` (e.g. a run id "a[1]*?" or a partition "p[0]")
    are invisible to listing today (fsspec globs them): they must list (runs, ls), read and gc
    like any other."

    Run ids and partitions are escaped in the path (``~5B``...), so the code's own path carries
    the glob characters here (``project/g[1]/m*?.py``).
    """
    fm = make_mirror(output_format="json")
    write_runs(fm, GLOB_RUNS, addr=GLOB_ADDR, partition="p[0]")
    after = make_mirror(output_format="json")
    assert after.runs(GLOB_ADDR, partition="p[0]") == GLOB_RUNS
    assert after.latest(GLOB_ADDR, partition="p[0]") == "a?"
    reads = [after.read(GLOB_ADDR, run_id=r, partition="p[0]") for r in GLOB_RUNS]
    assert reads == [{"run": r} for r in GLOB_RUNS]
    listed = [(row["address"], row["segment"], row["partition"]) for row in ls_json(after, tmp_path)]
    assert listed == [(GLOB_ADDR, encode_run_id(r), "p[0]") for r in GLOB_RUNS]
    assert ls_json(after, tmp_path, GLOB_ADDR) == ls_json(after, tmp_path)
    assert after.gc(GLOB_ADDR, keep=1, partition="p[0]") == GLOB_RUNS[:2]
    assert after.runs(GLOB_ADDR, partition="p[0]") == ["a?"]
    assert [after.exists(GLOB_ADDR, run_id=r, partition="p[0]") for r in GLOB_RUNS] == [False, False, True]


def test_two_code_addresses_sharing_one_path_refuse_the_second_write_naming_both(make_mirror) -> None:
    """Issue #12: "`project/etl.py::T` (run `r1`, partition `p1`) and `project/etl/r1.py::p1` (run
    `T`) share one path: the second write must be refused with ArtifactExistsError whose message
    names both code addresses."
    """
    fm = make_mirror(output_format="json")
    first = fm.write("project/etl.py::T", {"by": "etl.py::T"}, run_id="r1", partition="p1")
    assert fm.mirror_full_output("project/etl/r1.py::p1", run_id="T", output_format="json") == first
    with pytest.raises(ArtifactExistsError, match=all_of("project/etl.py::T", "project/etl/r1.py::p1")):
        fm.write("project/etl/r1.py::p1", {"by": "etl/r1.py::p1"}, run_id="T")
    assert raw(fm, first) == b'{"by": "etl.py::T"}'
    assert fm.read("project/etl.py::T", run_id="r1", partition="p1") == {"by": "etl.py::T"}


def test_run_id_latest_is_refused_at_write_time(make_mirror) -> None:
    """Issue #12: "A run id `latest` must be refused at write time (fsmirror.ResolveError, message
    mentions 'latest')." (``read(run_id="latest")`` means the newest run, so such a run could be
    written but never read by its id.)
    """
    fm = make_mirror(output_format="json", prefix="mirrored")
    with pytest.raises(ResolveError, match="latest"):
        fm.write(ADDR, {"v": 1}, run_id="latest")
    with pytest.raises(ResolveError, match="latest"), fm.open_write(ADDR, run_id="latest") as f:
        f.write(b"{}")
    assert stored(fm) == set()
    assert (fm.runs(ADDR), fm.latest(ADDR)) == ([], None)


def test_tampered_pending_record_never_reads_or_deletes_the_backup_path_it_names(make_mirror) -> None:
    """G4: a pending overwrite record names its backup, but the store derives that path from the
    slot and the record's token: a record naming a file outside the mirror is neither read nor
    deleted, and the next overwrite recovers the slot."""
    fm = make_mirror(output_format="json")
    uri = fm.write(ADDR, {"v": 1}, run_id="r1")
    victim = fm.mirror_full("project/elsewhere/victim.py::Keep", run_id="x") + "/keep.json"
    put_bytes(fm, victim, b'{"keep": true}')
    previous = json.loads(raw(fm, manifest_path(fm, ADDR, "r1")))
    tampered = {
        "fsmirror_manifest": 2, "state": "pending", "kind": "overwrite", "token": "0" * 32,
        "at": 0.0, "holder": "attacker:1", "previous": previous, "backup": victim,
    }  # fmt: skip
    put_bytes(fm, manifest_path(fm, ADDR, "r1"), json.dumps(tampered).encode())
    after = make_mirror(output_format="json")
    assert after.read(ADDR, run_id="r1") == {"v": 1}  # no backup at the derived path: the data itself
    after.write(ADDR, {"v": 2}, run_id="r1", overwrite=True)  # recovers the stale record, then commits
    assert after.read(ADDR, run_id="r1") == {"v": 2}
    assert raw(fm, victim) == b'{"keep": true}'
    assert raw(fm, uri) == b'{"v": 2}'
