"""Writer processes for the crash and race tests: real processes, real SIGKILL.

Children come from a ``forkserver`` that has fsmirror and s3fs imported
already, so a trial costs a fork, not a 2 s interpreter start; the forkserver
itself holds no threads, so a fork never inherits a lock a moto thread held.

A stepwise writer reports each step over a pipe and waits for the parent, so the
parent chooses exactly where to strike: after the claim, after chunk ``k``, or
a random moment after it lets the writer run free into the commit. The bytes of
every chunk are derived from (run id, version, chunk number), so a reader can
tell a whole artifact from a torn or mixed one.

This module imports no pytest: the forkserver preloads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import random
import signal
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

__all__ = [
    "ADDR",
    "Strike",
    "chunk",
    "expected",
    "forkserver",
    "strike",
    "stepwise_writer",
    "race_writer",
    "run_racers",
    "seeded",
    "verify_slot",
    "verify_latest",
    "limited_write",
    "slow_writer",
]

ADDR = "project/etl/my_etl_task.py::LiftDataTask"
_PRELOAD = [
    "__main__",
    "fsmirror",
    "fsmirror.protocol",
    "fsmirror.formats",
    "fsmirror._schema",
    "s3fs",
    "reliability.workers",
]


def forkserver() -> Any:
    """The forkserver context, preloaded with fsmirror and s3fs (idempotent)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def chunk(run_id: str, version: int, i: int, size: int) -> bytes:
    """Chunk ``i`` of a run's artifact: distinct per run, version and position."""
    seed = hashlib.sha256(f"{run_id}|{version}|{i}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def expected(run_id: str, version: int, n: int, size: int) -> bytes:
    """The whole artifact a writer of (run id, version) commits."""
    return b"".join(chunk(run_id, version, i, size) for i in range(n))


def _send(conn: Connection, *msg: Any) -> None:
    conn.send(msg)


def stepwise_writer(
    conn: Connection,
    config: Mapping[str, Any],
    run_id: str,
    version: int,
    n: int,
    size: int,
    overwrite: bool,
    mode: str,
) -> None:
    """Write one artifact, pausing for the parent after the claim and after each chunk.

    ``mode="open_write"`` streams chunks; ``mode="write"`` hands the whole value
    to ``FSMirror.write`` (one serialization, one commit) after one pause.
    """
    from fsmirror import FSMirror

    try:
        fm = FSMirror(dict(config))
        if mode == "write":
            value = expected(run_id, version, n, size)
            _send(conn, "open", -1)
            conn.recv()
            uri = fm.write(ADDR, value, run_id=run_id, format="bytes", overwrite=overwrite)
            _send(conn, "committed", uri)
            return
        with fm.open_write(ADDR, run_id=run_id, format="bytes", overwrite=overwrite) as f:
            _send(conn, "open", -1)
            free = conn.recv() == "run"
            for i in range(n):
                f.write(chunk(run_id, version, i, size))
                if not free:
                    _send(conn, "chunk", i)
                    free = conn.recv() == "run"
        _send(conn, "committed", fm.artifact_uri(ADDR, run_id=run_id))
    except BaseException as e:  # reported to the parent, which fails the test with it
        _send(conn, "error", f"{type(e).__name__}: {e}", traceback.format_exc())


@dataclass
class Strike:
    """What happened to one writer the parent killed."""

    kill_at: int
    delay: float
    finished: bool  # the writer said "committed" before the kill landed
    exitcode: int | None


def strike(
    ctx: Any,
    config: Mapping[str, Any],
    run_id: str,
    *,
    version: int,
    n: int,
    size: int,
    kill_at: int,
    delay: float,
    overwrite: bool = False,
    mode: str = "open_write",
    timeout: float = 120.0,
) -> Strike:
    """Run a stepwise writer, let it reach step ``kill_at`` (-1: just claimed), then SIGKILL it
    ``delay`` seconds after letting it run free."""
    parent, child = ctx.Pipe()
    p = ctx.Process(
        target=stepwise_writer, args=(child, dict(config), run_id, version, n, size, overwrite, mode)
    )
    p.start()
    child.close()
    finished = False
    try:
        while True:
            if not parent.poll(timeout):
                raise RuntimeError(f"writer {run_id} said nothing for {timeout}s")
            msg = parent.recv()
            if msg[0] == "error":
                raise RuntimeError(f"writer {run_id} failed before the kill: {msg[1]}\n{msg[2]}")
            if msg[0] == "committed":
                finished = True
                break
            if msg[1] >= kill_at:
                parent.send("run")
                break
            parent.send("step")
        if delay:
            time.sleep(delay)
        if not finished and parent.poll(0):
            finished = parent.recv()[0] == "committed"
        with contextlib.suppress(ProcessLookupError):  # it finished and the forkserver reaped it
            os.kill(p.pid, signal.SIGKILL)
    finally:
        p.join(timeout)
        parent.close()
    return Strike(kill_at, delay, finished, p.exitcode)


def race_writer(
    config: Mapping[str, Any],
    run_id: str,
    version: int,
    n: int,
    size: int,
    overwrite: bool,
    start_at: float,
    results: Any,
) -> None:
    """One of several writers released at the same instant; reports "won", "exists" or the error."""
    from fsmirror import ArtifactExistsError, FSMirror

    try:
        fm = FSMirror(dict(config))
        _ = fm.filesystem  # connect before the start line, so the race is about the write
        while time.time() < start_at:
            time.sleep(0.001)
        with fm.open_write(ADDR, run_id=run_id, format="bytes", overwrite=overwrite) as f:
            for i in range(n):
                f.write(chunk(run_id, version, i, size))
        results.put((version, "won", ""))
    except ArtifactExistsError as e:
        results.put((version, "exists", str(e)))
    except BaseException as e:
        results.put((version, "error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))


def run_racers(
    ctx: Any,
    config: Mapping[str, Any],
    run_ids: list[str],
    *,
    n: int,
    size: int,
    overwrite: bool = False,
    lead: float = 1.5,
    timeout: float = 120.0,
) -> list[tuple[int, str, str]]:
    """Start one racer per run id (version = its index), all released at the same instant."""
    results = ctx.Queue()
    start_at = time.time() + lead
    procs = [
        ctx.Process(target=race_writer, args=(dict(config), rid, v, n, size, overwrite, start_at, results))
        for v, rid in enumerate(run_ids)
    ]
    for p in procs:
        p.start()
    out = [results.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join(timeout)
    return sorted(out)


def seeded(seed: int | None = None) -> tuple[int, random.Random]:
    """A seed (from ``$FSMIRROR_SEED`` or fresh) and its generator, to print and replay."""
    if seed is None:
        seed = int(os.environ.get("FSMIRROR_SEED") or random.SystemRandom().randrange(2**32))
    return seed, random.Random(seed)


def verify_slot(fm: Any, run_id: str, candidates: Mapping[int, bytes]) -> int | None:
    """Which whole version is committed at ``run_id`` (None: nothing), failing on anything torn.

    Committed means the manifest is there; then the bytes must be exactly one
    writer's whole artifact and agree with the manifest's size and hash. Beside
    the artifact only its data file and manifest may sit (no temp or lock files).
    """
    from fsmirror import ArtifactNotFoundError
    from fsmirror.model.hashing import hash_bytes

    run_dir = fm.mirror_full(ADDR, run_id=run_id)
    if fm.filesystem.exists(run_dir):
        names = {p.rstrip("/").rsplit("/", 1)[-1] for p in fm.filesystem.ls(run_dir, detail=False)}
        stray = names - {"out.bytes", "_out.manifest.json"}
        if stray:
            raise AssertionError(f"stray files beside the artifact at {run_dir}: {sorted(stray)}")
    if not fm.exists(ADDR, run_id=run_id):
        try:
            fm.read(ADDR, run_id=run_id)
        except ArtifactNotFoundError:
            return None
        raise AssertionError(f"exists() says no artifact at run {run_id!r} but read() returned one")
    man = fm.manifest(ADDR, run_id=run_id)
    with fm.open_read(ADDR, run_id=run_id) as f:
        data = f.read()
    if len(data) != man["size"] or hash_bytes(data, man["hash"]["algorithm"]) != man["hash"]["digest"]:
        raise AssertionError(
            f"torn commit at run {run_id!r}: {len(data)} bytes on storage, the manifest says {man['size']}"
            " with another hash"
        )
    for version, whole in candidates.items():
        if data == whole:
            return version
    raise AssertionError(f"committed bytes at run {run_id!r} ({len(data)}) are no writer's whole artifact")


def verify_latest(fm: Any, wholes: Mapping[str, Mapping[int, bytes]]) -> str | None:
    """``latest()`` is the newest committed run (greatest commit time, by the manifests) and whole.

    None only when nothing is committed. Returns it.
    """
    from fsmirror.model.record import order_key

    latest = fm.latest(ADDR)
    runs = fm.runs(ADDR)
    orders = {}
    for r in runs:
        man = fm.manifest(ADDR, run_id=r)
        orders[r] = order_key(man["created_at"], man["run"]["segment"])
    newest = min(runs, key=orders.__getitem__) if runs else None  # order keys sort newest first
    if latest != newest or (runs and runs[-1] != newest):
        raise AssertionError(f"latest() is {latest!r}, runs() ends with {runs[-1:]}, the newest commit is {newest!r}")
    if latest is None:
        return None
    if latest not in wholes:
        raise AssertionError(f"latest() is {latest!r}, a run no test wrote")
    if verify_slot(fm, latest, wholes[latest]) is None:
        raise AssertionError(f"latest() points at run {latest!r}, which has no committed artifact")
    return str(latest)


def limited_write(
    config: Mapping[str, Any], run_id: str, n: int, size: int, limit: int, results: Any
) -> None:
    """Write with ``RLIMIT_FSIZE`` at ``limit`` bytes: the disk is "full" (EFBIG) for this process."""
    import resource

    from fsmirror import FSMirror, FSMirrorError

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death by signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        FSMirror(dict(config)).write(ADDR, expected(run_id, 0, n, size), run_id=run_id, format="bytes")
        results.put(("committed", "", ""))
    except FSMirrorError as e:
        results.put(("fsmirror", type(e).__name__, str(e)))
    except BaseException as e:
        results.put(("raw", type(e).__name__, f"{e}\n{traceback.format_exc()}"))


def slow_writer(config: Mapping[str, Any], prefix: str, count: int, n: int, size: int, results: Any) -> None:
    """Write ``count`` runs one after another, each streamed slowly, so ``gc`` meets writes in flight."""
    from fsmirror import FSMirror

    fm = FSMirror(dict(config))
    for k in range(count):
        rid = f"{prefix}-{k:03d}"
        try:
            with fm.open_write(ADDR, run_id=rid, format="bytes") as f:
                for i in range(n):
                    f.write(chunk(rid, 0, i, size))
                    time.sleep(0.002)
            results.put((rid, "committed", ""))
        except BaseException as e:
            results.put((rid, "error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))
    results.put((prefix, "done", ""))


def crash_config(storage: dict[str, Any]) -> dict[str, Any]:
    """A config writing raw bytes under ``project/``: what every crash test writes through."""
    return {"storage": storage, "mirrors": {"project": {"root": "project", "output_format": "bytes"}}}


def s3_crash_config(s3_server: Any, claim_ttl: float) -> dict[str, Any]:
    """S3 with 5 MiB parts (a few MiB artifact is a real multipart upload) and a short claim_ttl,
    so a killed writer's claim goes stale within the test."""
    opts = {**s3_server.storage_options(), "default_block_size": 5 * 2**20}
    return crash_config(
        {"provider": "s3", "tenant": s3_server.new_bucket(), "storage_options": opts, "claim_ttl": claim_ttl}
    )
