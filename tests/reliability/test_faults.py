"""Faults: the S3 server goes away mid-run and comes back; a local directory is read-only or full.

Each failure must be a ``StorageError`` naming the artifact, commit nothing
half, and the same call must work once the fault is gone. The S3 server is a
dedicated moto server, really stopped and restarted on the same port; botocore's
retries are kept small through ``storage_options`` so a dead endpoint fails fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from fsmirror import FSMirror, StorageError
from reliability.workers import ADDR, expected, forkserver, limited_write, verify_slot
from servers import S3Server

pytestmark = pytest.mark.reliability

N, SIZE = 96, 64 * 1024  # 6 MiB: past the single-PUT size, so parts go up mid-stream


def _mirrors() -> dict[str, Any]:
    return {"project": {"root": "project", "output_format": "bytes"}}


class Outage:
    """A dedicated moto server that can really go away and come back on the same port."""

    def __init__(self) -> None:
        self.server = S3Server().start()
        self.port = self.server.port
        self.outages = 0

    def stop(self) -> None:
        self.server.stop()
        self.outages += 1

    def start(self) -> None:
        self.server = S3Server(port=self.port).start()


@pytest.fixture
def s3() -> Any:
    outage = Outage()
    yield outage
    outage.server.stop()


def _s3_config(server: S3Server) -> dict[str, Any]:
    opts = {
        **server.storage_options(),
        "default_block_size": 5 * 2**20,
        "config_kwargs": {"retries": {"max_attempts": 2}, "connect_timeout": 1, "read_timeout": 2},
    }
    return {
        "storage": {"provider": "s3", "tenant": server.new_bucket(), "storage_options": opts},
        "mirrors": _mirrors(),
    }


def _stream(fm: FSMirror, run_id: str, stop: Any = None, at: int = -1) -> str:
    with fm.open_write(ADDR, run_id=run_id, format="bytes") as f:
        for i in range(N):
            if i == at and stop is not None:
                stop()
            f.write(expected(run_id, 0, N, SIZE)[i * SIZE : (i + 1) * SIZE])
        if at == N and stop is not None:
            stop()
    return fm.artifact_uri(ADDR, run_id=run_id)


def test_s3_server_stops_mid_run_and_comes_back(s3: Outage) -> None:
    fm = FSMirror(_s3_config(s3.server))
    fm.write(ADDR, expected("r0", 0, N, SIZE), run_id="r0", format="bytes")
    wholes = {rid: {0: expected(rid, 0, N, SIZE)} for rid in ("r0", "r1", "r2", "r3")}
    series = fm.mirror_full(ADDR, with_id=False)
    phases: list[tuple[str, Any, str]] = [
        (
            "while parts go up",
            lambda stop: _stream(fm, "r1", stop, at=N // 2),
            fm.mirror_full(ADDR, run_id="r1"),
        ),
        ("at the commit", lambda stop: _stream(fm, "r2", stop, at=N), fm.mirror_full(ADDR, run_id="r2")),
        ("before the write", lambda stop: (stop(), _stream(fm, "r3")), fm.mirror_full(ADDR, run_id="r3")),
        ("read()", lambda stop: (stop(), fm.read(ADDR, run_id="r0")), fm.mirror_full(ADDR, run_id="r0")),
        ("latest()", lambda stop: (stop(), fm.latest(ADDR)), series),
        (
            "exists()",
            lambda stop: (stop(), fm.filesystem.invalidate_cache(), fm.exists(ADDR, run_id="r0")),
            fm.mirror_full(ADDR, run_id="r0"),
        ),
        ("runs()", lambda stop: (stop(), fm.runs(ADDR)), series.rsplit("/", 1)[0]),
    ]
    for what, call, where in phases:
        with pytest.raises(StorageError) as info:
            call(s3.stop)
        msg = str(info.value)
        assert where in msg, f"{what}: the error does not name {where}: {msg}"
        s3.start()  # back, on the same port: nothing committed half, and the same call works
        for rid, whole in wholes.items():
            assert verify_slot(fm, rid, whole) in (None, 0), what
        call(lambda: None)
    for rid, whole in wholes.items():
        assert verify_slot(fm, rid, whole) == 0
    assert s3.outages == len(phases)
    print(
        f"\ntried {len(phases)} S3 outages (mid-upload, commit, claim, read, latest, exists, runs): "
        "each a StorageError naming the artifact, then the same call worked"
    )


def _local(tenant: Path) -> dict[str, Any]:
    return {"storage": {"provider": "local", "tenant": str(tenant)}, "mirrors": _mirrors()}


def test_local_tenant_that_cannot_be_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    """A tenant under a regular file: a directory nobody (root included) can create or write."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    fm = FSMirror(_local(blocker / "store"))
    calls = [
        ("write", lambda: fm.write(ADDR, b"x", run_id="r1", format="bytes")),
        ("open_write", lambda: fm.open_write(ADDR, run_id="r1", format="bytes").__enter__()),
        ("read", lambda: fm.read(ADDR, run_id="r1")),
        ("latest", lambda: fm.latest(ADDR)),
    ]
    for what, call in calls:
        with pytest.raises(StorageError) as info:
            call()
        assert str(blocker) in str(info.value), f"{what}: {info.value}"
    print(f"\ntried {len(calls)} calls on a tenant under a regular file: each a StorageError naming the path")


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="root ignores directory permissions (the tenant-under-a-file test covers an unwritable tenant)",
)
def test_local_read_only_directory_is_a_clear_error_and_works_once_writable(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    fm = FSMirror(_local(store))
    store.chmod(0o555)
    try:
        with pytest.raises(StorageError, match="permission denied") as info:
            fm.write(ADDR, b"x", run_id="r1", format="bytes")
        assert str(store) in str(info.value)
    finally:
        store.chmod(0o755)
    fm.write(ADDR, b"x", run_id="r1", format="bytes")
    assert fm.read(ADDR, run_id="r1") == b"x"


def test_local_full_disk_is_a_clear_error_and_nothing_is_committed(tmp_path: Path) -> None:
    """RLIMIT_FSIZE in a real writer process: the kernel refuses bytes past 1 MiB with EFBIG."""
    cfg = _local(tmp_path / "store")
    ctx = forkserver()
    results = ctx.Queue()
    tried = 0
    for run_id, n in (("r1", 64), ("r2", 17)):  # 4 MiB streamed; just over 1 MiB
        p = ctx.Process(target=limited_write, args=(cfg, run_id, n, 64 * 1024, 2**20, results))
        p.start()
        outcome = results.get(timeout=120)
        p.join(60)
        tried += 1
        assert outcome[:2] == ("fsmirror", "StorageError"), outcome
        assert "too large" in outcome[2].lower() and run_id in outcome[2], outcome
        fm = FSMirror(cfg)
        whole = expected(run_id, 0, n, 64 * 1024)
        assert verify_slot(fm, run_id, {0: whole}) is None
        fm.write(ADDR, whole, run_id=run_id, format="bytes")  # room again: the same write works
        assert verify_slot(fm, run_id, {0: whole}) == 0
    print(f"\ntried {tried} writes into a full disk (EFBIG): each a StorageError, nothing committed")
