"""What broke on the way to large stores (issue #23, item 5), each pinned at a small size.

Counted on real requests (moto S3, botocore's event hook in ``benchmarks/_requests.py``) or on
the calls a store's own file system receives; the large sizes are benchmark rows
(``benchmarks/bench_catalog.py``, ``benchmarks/bench_protocol.py``), never tests.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks._requests import count_requests

from fsmirror import FSMirror
from fsmirror.services.catalog import scan
from fsmirror.store.backends import PARALLEL_MAX

MODULE = "project/etl/my_etl_task.py"
ADDR = f"{MODULE}::LiftDataTask"


def _s3_mirror(s3_server: Any) -> FSMirror:
    storage = {"provider": "s3", "tenant": s3_server.new_bucket(), "storage_options": s3_server.storage_options()}
    return FSMirror({"storage": storage, "mirrors": {"project": {"root": "project", "output_format": "json"}}})


def _write_many(fm: FSMirror, writes: list[tuple[str, str]]) -> None:
    """Set-up writes, a few at once (the store's own parallelism is not what is measured)."""
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda w: fm.write(w[0], {"run": w[1]}, run_id=w[1]), writes))


def test_an_s3_catalog_scan_keeps_its_threads_bounded(s3_server: Any) -> None:
    """A scan of 80 manifests ran 80 threads at once (one per manifest); now PARALLEL_MAX at most."""
    fm = _s3_mirror(s3_server)
    n = 80
    _write_many(fm, [(ADDR, f"r{i:03d}") for i in range(n)])

    def client_threads() -> int:
        """Live threads of this process but the in-process moto server's (one per connection)."""
        return sum("process_request_thread" not in t.name for t in threading.enumerate())

    before = client_threads()
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], client_threads())
            time.sleep(0.0005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        found = scan(fm)
    finally:
        stop.set()
        sampler.join()
    assert sorted(a.run_id for a in found) == [f"r{i:03d}" for i in range(n)]
    # the sampler itself, and at most PARALLEL_MAX readers (the caller's thread runs none)
    assert peak[0] - before <= 1 + PARALLEL_MAX, peak[0] - before


def test_a_scan_keeps_context_variables_in_every_read(s3_server: Any) -> None:
    """Each parallel call runs in a copy of the caller's context (the lineage scope rides on it)."""
    import contextvars

    fm = _s3_mirror(s3_server)
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller")
    seen = fm.store.backend.parallel(*[var.get for _ in range(PARALLEL_MAX * 2 + 1)])
    assert seen == ["caller"] * (PARALLEL_MAX * 2 + 1)


def test_runs_of_one_address_reads_its_own_manifests_only(s3_server: Any) -> None:
    """``fsmirror runs ADDR`` / ``ls ADDR`` (catalog.scan of an address): one listing of the
    address's own directory, one GET per run of it, whatever its module's siblings hold."""
    fm = _s3_mirror(s3_server)
    for i in range(3):
        fm.write(ADDR, {"run": i}, run_id=f"r{i}")
    with count_requests(fm.filesystem) as alone:
        assert [a.run_id for a in scan(fm, ADDR)] == ["r0", "r1", "r2"]
    # siblings in the same module, one of them a prefix of the address's name
    siblings = [f"{MODULE}::LiftDataTask{i}" for i in range(20)] + [f"{MODULE}::Lift"]
    _write_many(fm, [(s, f"r{i}") for s in siblings for i in range(2)])
    with count_requests(fm.filesystem) as among:
        found = scan(fm, ADDR)
    assert [a.run_id for a in found] == ["r0", "r1", "r2"] == fm.runs(ADDR)
    assert dict(alone) == dict(among) == {"ListObjectsV2": 1, "GetObject": 3}, among.sequence


def _memory_mirror(tenant: str) -> FSMirror:
    storage = {"provider": "memory", "tenant": tenant}
    return FSMirror({"storage": storage, "mirrors": {"project": {"root": "project", "output_format": "json"}}})


def test_a_memory_read_does_not_scan_the_store(monkeypatch: Any) -> None:
    """fsspec's memory ``info`` walks every key of the process's store (O(N)); a read called it
    before every GET, so a scan reading N manifests was O(N^2). Reads of one run, and the
    manifests of a whole scan, now make no ``info``/``ls`` call: their cost is one dict lookup."""
    from fsspec.implementations.memory import MemoryFileSystem

    fm = _memory_mirror(f"scale-{time.time_ns()}")
    for i in range(30):
        fm.write(f"{MODULE}::T{i}", {"v": i}, run_id="r1")
    walks: list[str] = []
    for name in ("info", "ls"):
        real = getattr(MemoryFileSystem, name)

        def spy(self: Any, path: str, *a: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            walks.append(f"{_name} {path}")
            return _real(self, path, *a, **kw)

        monkeypatch.setattr(MemoryFileSystem, name, spy)
    assert fm.read(f"{MODULE}::T7", run_id="r1") == {"v": 7}
    assert walks == []
    assert len(scan(fm)) == 30
    # the one recursive listing walks directories; no read walks the store
    assert not [w for w in walks if w.startswith("info")], walks


def _local_mirror(tenant: Any) -> FSMirror:
    storage = {"provider": "local", "tenant": str(tenant)}
    return FSMirror({"storage": storage, "mirrors": {"project": {"root": "project", "output_format": "json"}}})


def test_gc_and_delete_remove_their_slots_lock_files(tmp_path: Any) -> None:
    """A local store kept one lock file per slot ever written (100,083 for 100,011 artifacts):
    after gc(keep=1) and a delete, only the kept slots' lock files are left."""
    import hashlib
    import os

    fm = _local_mirror(tmp_path)
    for i in range(6):
        fm.write(ADDR, {"v": i}, run_id=f"r{i}")
    fm.write(f"{MODULE}::Other", 1, run_id="a")
    fm.write(f"{MODULE}::Other", 2, run_id="b")
    locks = tmp_path / ".fsmirror" / "locks"
    assert len(os.listdir(locks)) == 8
    assert fm.gc(ADDR, keep=1) == [f"r{i}" for i in range(5)]
    assert fm.delete(f"{MODULE}::Other", run_id="a")

    def lock_of(address: str, run: str) -> str:
        manifest = fm.resolver.slot(address, run, None, None).manifest
        key = os.path.join(os.path.realpath(tmp_path), os.path.relpath(manifest, str(tmp_path)))
        return hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock"

    assert sorted(os.listdir(locks)) == sorted([lock_of(ADDR, "r5"), lock_of(f"{MODULE}::Other", "b")])
    assert fm.runs(ADDR) == ["r5"] and fm.read(ADDR) == {"v": 5}


def test_two_holders_of_a_slot_lock_exclude_each_other_while_its_file_is_unlinked(tmp_path: Any) -> None:
    """Writers wait on the lock file a deleter unlinks as it lets go: one that opened the unlinked
    file must find it gone and lock the new one, never hold the slot beside the new file's holder."""
    from fsmirror.store.backends import LocalBackend

    backend = LocalBackend(str(tmp_path), durability="none")
    key = str(tmp_path / "slot")
    inside = [0]
    overlaps: list[int] = []
    guard = threading.Lock()

    inodes: set[int] = set()
    errors: list[BaseException] = []
    locks = tmp_path / ".fsmirror" / "locks"

    def hold(drop: bool, rounds: int) -> None:
        try:
            for _ in range(rounds):
                with backend.slot_lock(key, drop=drop):
                    with guard:
                        inside[0] += 1
                        if inside[0] > 1:
                            overlaps.append(inside[0])
                        inodes.update(p.stat().st_ino for p in locks.iterdir())
                    time.sleep(0.0002)
                    with guard:
                        inside[0] -= 1
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=hold, args=(drop, 300)) for drop in (False, False, True, True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and overlaps == [] and inside == [0]
    assert len(inodes) > 1  # the file was unlinked and made anew while the others waited on it
