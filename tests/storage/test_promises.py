"""The store's promises, one test per defect of issue #12: commits, ``latest`` and ``gc``.

Each test is named after the property it proves and quotes the defect it pins. They
run on every provider (``make_mirror``) unless the property is about one of them.
Damage and crashes are simulated by tampering with the store through
``fm.filesystem`` (see ``promises_support``); a fresh ``FSMirror`` then reads the
store, as the next process would. The other themes are in ``test_promises_*.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from fsmirror import names
from storage.promises_support import (
    ADDR,
    attempt,
    bookkeeping,
    drop_bookkeeping,
    fine_switching,
    index_segments,
    listed_mtime,
    manifest_path,
    put_bytes,
    raw,
    stored,
)


def write_runs(fm, runs, addr=ADDR, **kw) -> None:
    for r in runs:
        fm.write(addr, {"run": r}, run_id=r, **kw)


def test_killed_between_manifest_and_pointer_keeps_latest_and_gc_keeps_runs(make_mirror) -> None:
    """Issue #12: "a writer killed between its manifest and its pointer leaves committed runs and no
    pointer (memory, S3): `latest()` is None, `read()` fails, and `gc(keep=0)` deletes every run."
    """
    fm = make_mirror(output_format="json")
    write_runs(fm, ["r1", "r2", "r3"])
    drop_bookkeeping(fm, ADDR)  # every manifest committed, no pointer / run index written
    after = make_mirror(output_format="json")
    assert after.latest(ADDR) == "r3"
    assert after.read(ADDR) == {"run": "r3"}
    assert after.gc(ADDR, keep=0) == ["r1", "r2"]
    assert after.runs(ADDR) == ["r3"]
    assert after.read(ADDR) == {"run": "r3"}


def test_overwrite_failing_on_a_bad_argument_keeps_the_old_artifact_committed(make_mirror) -> None:
    """Issue #12: "`overwrite=True` failing with a bad argument (a non-JSON `orchestrator` record)
    must leave the old artifact committed and readable with the old value (today it un-commits it)."
    """
    fm = make_mirror(output_format="json")
    uri = fm.write(ADDR, {"v": "old"}, run_id="r1")
    old_bytes, old_manifest = raw(fm, uri), fm.manifest(ADDR, run_id="r1")
    with pytest.raises(TypeError) as failed:
        fm.write(ADDR, {"v": "new"}, run_id="r1", overwrite=True, orchestrator={"x": object()})
    after = make_mirror(output_format="json")
    assert raw(after, uri) == old_bytes
    assert after.manifest(ADDR, run_id="r1") == old_manifest
    assert after.read(ADDR, run_id="r1") == {"v": "old"}
    assert after.latest(ADDR) == "r1"
    failed.match("orchestrator")  # the error names the bad argument
    # and the failed attempt left nothing behind that blocks a correct overwrite
    after.write(ADDR, {"v": "new"}, run_id="r1", overwrite=True, orchestrator={"x": 1})
    assert after.read(ADDR, run_id="r1") == {"v": "new"}


def test_runs_and_gc_follow_commit_order_not_file_mtimes(make_mirror, provider: str) -> None:
    """Issue #12: "`runs()`/`gc` order by file mtime: after copying/restoring ... gc must still delete
    the OLDEST runs and keep the newest; runs() must list in commit order (oldest first), which is
    defined by the manifest's created_at (tie-break: run segment)."
    """
    fm = make_mirror(output_format="json")
    write_runs(fm, ["r1", "r2", "r3"])
    r1_files = [fm.artifact_uri(ADDR, run_id="r1"), manifest_path(fm, ADDR, "r1")]
    if provider == "local":  # a restore from backup: the oldest run's files come back newest
        future = time.time() + 3600
        for path in r1_files:
            os.utime(path, (future, future))
    else:  # re-put the oldest run's objects (a bucket copy / restore): their LastModified is newest
        time.sleep(1.1)  # S3 and Azure list whole seconds
        for path in r1_files:
            put_bytes(fm, path, raw(fm, path))
    r3_manifest = manifest_path(fm, ADDR, "r3")
    assert listed_mtime(fm, r1_files[1]) > listed_mtime(fm, r3_manifest), "the tampering did not take"
    after = make_mirror(output_format="json")
    assert after.runs(ADDR) == ["r1", "r2", "r3"]
    assert after.latest(ADDR) == "r3"
    assert after.gc(ADDR, keep=1) == ["r1", "r2"]
    assert after.runs(ADDR) == ["r3"]
    assert after.read(ADDR) == {"run": "r3"}


WRITERS, ROUNDS = 8, 3


def test_concurrent_commits_of_distinct_runs_leave_latest_at_the_newest_created_at(
    make_mirror, provider: str
) -> None:
    """Issue #12: "Wrong latest: concurrent commits of different runs ... after all writes finish,
    `latest()` must equal the run whose manifest has the greatest created_at ... and must equal
    runs()[-1]."

    Eight writers (one ``FSMirror`` each, like eight workers) commit eight runs of one series at
    once; three rounds, each on its own series.
    """
    writers = [make_mirror(output_format="json") for _ in range(WRITERS)]
    run_ids = [f"run-{i}" for i in range(WRITERS)]
    seen, wanted = [], []
    for n in range(ROUNDS):
        addr = f"project/etl/concurrent.py::Round{n}"
        barrier = threading.Barrier(WRITERS)

        def write(i: int, addr: str = addr, barrier: threading.Barrier = barrier) -> str:
            barrier.wait()
            return writers[i].write(addr, {"writer": i}, run_id=run_ids[i])

        with fine_switching(provider), ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(write, range(WRITERS)))
        reader = make_mirror(output_format="json")
        created = {
            r: dt.datetime.fromisoformat(reader.manifest(addr, run_id=r)["created_at"]) for r in run_ids
        }
        in_commit_order = sorted(run_ids, key=lambda r: (created[r], r))
        seen.append((reader.latest(addr), reader.runs(addr)))
        wanted.append((in_commit_order[-1], in_commit_order))
    assert seen == wanted


def _far_future_us() -> int:
    return int(dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000


def test_tampered_pointer_naming_outside_or_uncommitted_run_is_not_trusted(make_mirror) -> None:
    """Issue #12: "A tampered pointer naming `../../etc` or a run that is not committed must not be
    trusted: latest() returns the newest committed run."

    Local stores keep a ``latest`` pointer; object stores a run index: whichever this store keeps
    is made to name, as newest, a run outside the series or one that was never committed.
    """
    fm = make_mirror(output_format="json")
    write_runs(fm, ["r1", "r2", "r3"])
    fs = fm.filesystem
    series = fm.mirror_full(ADDR, with_id=False)
    pointer = names.pointer_file(series, "out")
    real_manifest = manifest_path(fm, ADDR, "r1")  # a manifest that does exist, of an older run
    future = dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc).isoformat()
    outcomes = {}
    if fs.exists(pointer):
        lies = {
            "outside, a real manifest": {
                "run_id": "../../etc",
                "segment": "../../etc",
                "manifest": real_manifest,
                "uri": "/etc/passwd",
                "created_at": future,
            },
            "dot-dot segment": {
                "run_id": "..",
                "segment": "..",
                "manifest": f"{series}/../../_out.manifest.json",
                "uri": f"{series}/../../out.json",
                "created_at": future,
            },
            "uncommitted run, a real manifest": {
                "run_id": "r9",
                "segment": "r9",
                "manifest": real_manifest,
                "uri": fm.mirror_full_output(ADDR, run_id="r9", output_format="json"),
                "created_at": future,
            },
            "uncommitted run": {
                "run_id": "r9",
                "segment": "r9",
                "manifest": manifest_path(fm, ADDR, "r9"),
                "uri": fm.mirror_full_output(ADDR, run_id="r9", output_format="json"),
                "created_at": future,
            },
        }
        for case, lie in lies.items():
            put_bytes(fm, pointer, json.dumps(lie).encode())
            after = make_mirror(output_format="json")
            outcomes[case] = (attempt(after.latest, ADDR), attempt(after.read, ADDR))
    else:
        entries = bookkeeping(fm, ADDR)
        assert entries, "the store kept neither a latest pointer nor a run index"
        body = raw(fm, entries[0])  # what the newest real entry holds
        index = names.index_dir(series, "out")
        for case, segment in {"dot-dot": "..", "outside": "..~2F..~2Fetc", "uncommitted run": "r9"}.items():
            lie = f"{index}/{names.index_entry(_far_future_us(), segment)}"
            put_bytes(fm, lie, body)
            after = make_mirror(output_format="json")
            outcomes[case] = (attempt(after.latest, ADDR), attempt(after.read, ADDR))
            fs.rm_file(lie)
    assert outcomes == dict.fromkeys(outcomes, ("r3", {"run": "r3"}))


def test_a_run_ordered_by_a_dangling_newer_entry_does_not_make_gc_delete_the_newest(
    make_mirror, provider: str
) -> None:
    """gc never deletes the newest committed run, even when the run index lies about another run.

    What CI's state machine found (S3, seed 286041890517172308165022267337058879357): r1's
    true entry deleted behind fsmirror's back, then an overwrite of r1 killed after it wrote
    its entry (before its commit) leaves r1 a single entry *newer* than r3. Listing trusted
    it: ``runs()`` put r1 last, and ``gc(keep=0)`` deleted r3, the newest committed run.
    """
    fm = make_mirror(output_format="json")
    write_runs(fm, ["r1", "r2", "r3"])
    series = fm.mirror_full(ADDR, with_id=False)
    index = names.index_dir(series, "out")
    fs = fm.filesystem
    if not fs.exists(index):
        pytest.skip(f"{provider} keeps no run index")
    (r1_entry,) = [p for p in fs.find(index) if p.endswith(".r1")]
    fs.rm_file(r1_entry)  # tamper: r1's true entry is gone
    put_bytes(fm, f"{index}/{names.index_entry(_far_future_us(), 'r1')}", b"")  # the killed overwrite's
    after = make_mirror(output_format="json")
    # runs() may misplace r1 (docs/protocol.md, "Damage"); it lists every committed run.
    assert sorted(str(r) for r in after.runs(ADDR)) == ["r1", "r2", "r3"]
    assert str(after.latest(ADDR)) == "r3"
    assert [str(r) for r in after.gc(ADDR, keep=0)] == ["r1", "r2"]
    assert after.read(ADDR) == {"run": "r3"}
    assert [str(r) for r in after.runs(ADDR)] == ["r3"]


DAMAGED_POINTERS = {
    "empty": b"",
    "not-json": b"{not json",
    "a-list": b"[]",
    "segment-not-a-string": json.dumps({"segment": 5}).encode(),
    "no-segment": None,  # a pointer naming r2's real manifest but without 'segment'
}


@pytest.mark.parametrize("damage", list(DAMAGED_POINTERS))
def test_empty_or_damaged_pointer_does_not_wedge_latest_read_write_gc_and_is_repaired(
    make_mirror, damage: str
) -> None:
    """Issue #12: "An empty or damaged pointer (b"", b"{not json", b"[]", {"segment": 5}) must not
    wedge latest/read/write/gc: they work and the pointer is repaired." Also "a pointer without
    `segment`" (a raw KeyError today).

    Object stores keep no pointer but a run index: there the newest index entry is damaged the
    same way, and an entry whose name is not one is added.
    """
    fm = make_mirror(output_format="json")
    write_runs(fm, ["r1", "r2"])
    series = fm.mirror_full(ADDR, with_id=False)
    pointer = names.pointer_file(series, "out")
    r2_manifest = fm.manifest(ADDR, run_id="r2")
    body = DAMAGED_POINTERS[damage]
    if body is None:
        body = json.dumps(
            {
                "run_id": "r2",
                "manifest": manifest_path(fm, ADDR, "r2"),
                "uri": r2_manifest["uri"],
                "created_at": r2_manifest["created_at"],
            }
        ).encode()
    keeps_pointer = fm.filesystem.exists(pointer)
    if keeps_pointer:
        put_bytes(fm, pointer, body)
    else:
        entries = bookkeeping(fm, ADDR)
        assert entries, "the store kept neither a latest pointer nor a run index"
        put_bytes(fm, entries[0], body)
        put_bytes(fm, f"{names.index_dir(series, 'out')}/garbage", body)
    after = make_mirror(output_format="json")
    steps = [
        attempt(after.latest, ADDR),
        attempt(after.read, ADDR),
        attempt(after.write, ADDR, {"run": "r3"}, run_id="r3"),
        attempt(after.latest, ADDR),
        attempt(after.gc, ADDR, keep=1),
        attempt(after.runs, ADDR),
        attempt(after.read, ADDR),
    ]
    r3_uri = after.mirror_full_output(ADDR, run_id="r3", output_format="json")
    assert steps == ["r2", {"run": "r2"}, r3_uri, "r3", ["r1", "r2"], ["r3"], {"run": "r3"}]
    if keeps_pointer:
        repaired = json.loads(raw(after, pointer))
        assert isinstance(repaired, dict) and repaired.get("segment") == "r3", repaired
    else:
        assert index_segments(after, ADDR)[0] == "r3"


def test_gc_removes_every_file_fsmirror_wrote_for_a_run(make_mirror, provider: str) -> None:
    """Issue #12: "gc must remove everything fsmirror wrote for a run (the manifest, the artifact,
    sidecars `_<out>.<kind>.json` beside it such as `_out.prefect.json`, and empty directories):
    after gc(keep=1) of 3 runs, the store holds exactly the files of the kept run plus the series
    bookkeeping."

    The sidecar is written the way the Prefect adapter writes it (``fm.filesystem.pipe_file``).
    A prefix keeps the tenant's scratch space (``.fsmirror``/``_fsmirror``) outside the base.
    """
    fm = make_mirror(output_format="json", prefix="mirrored")
    for r in ["r1", "r2", "r3"]:
        fm.write(ADDR, {"run": r}, run_id=r)
        put_bytes(fm, names.sidecar_file(fm.mirror_full(ADDR, run_id=r), "out", "prefect"), b'{"k": 1}')
    assert fm.gc(ADDR, keep=1) == ["r1", "r2"]

    def rel(uri: str) -> str:
        return uri[len(fm.base) + 1 :]

    kept_dir = fm.mirror_full(ADDR, run_id="r3")
    kept = {
        rel(names.artifact_file(kept_dir, "out", "json")),
        rel(names.manifest_file(kept_dir, "out")),
        rel(names.sidecar_file(kept_dir, "out", "prefect")),
    }
    series = fm.mirror_full(ADDR, with_id=False)
    index = rel(names.index_dir(series, "out")) + "/"
    files = stored(fm)
    indexed = {f for f in files if f.startswith(index)}
    if provider == "local":  # local: a latest pointer, no run index
        assert files == kept | {rel(names.pointer_file(series, "out"))}
        left_dirs = {
            os.path.relpath(os.path.join(d, sub), fm.base) for d, subs, _ in os.walk(fm.base) for sub in subs
        }
        needed = {os.path.dirname(f) for f in files}
        needed |= {p for f in needed for p in _ancestors(f)}
        assert left_dirs == needed  # no empty directory of r1 or r2 is left behind
    else:  # object stores: a run index (one entry per commit, of the kept run only), no pointer
        assert files - indexed == kept
        assert index_segments(fm, ADDR) == ["r3"]


def _ancestors(path: str) -> set[str]:
    parts = path.split("/")
    return {"/".join(parts[:i]) for i in range(1, len(parts))}
