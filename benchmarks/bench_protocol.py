"""Rows 13-16, 18 and 19: the store's commit protocol, for issue #12 (store v2). Row 17 is in
``orchestrators/bench_dagster.py``.

- Row 13 counts the S3 requests of each store operation (botocore event hook,
  ``benchmarks/_requests.py``), broken down by S3 operation, and times them
  through the latency proxy; the merger renders them as the table
  "Requests per operation (S3, moto)".
- Rows 14-16 put a latency-injecting proxy (``benchmarks/_proxy.py``, 15 ms
  each way) in front of moto, so sequential round trips cost what they cost
  against S3, and compare fsmirror's writes with raw s3fs ``pipe_file``.
- Rows 18 and 19 price the content hash: sha256 against blake3 in memory, and
  a read of a 100 MB parquet artifact with and without re-hashing its bytes
  (to choose the default of a ``verify`` setting).

Only the public API is used (``FSMirror(config=...)``, ``write``, ``read``,
``latest``, ``runs``, ``exists``, ``delete``, ``gc``, ``manifest``,
``filesystem``). Set-up that is not measured (seeding runs) goes straight to
moto; what is timed or counted goes through the proxy. Tests never assert on
time; ``FSMIRROR_BENCH_SMOKE=1`` shrinks every size and the proxy's delay.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from benchmarks import _workers
from benchmarks._proxy import DELAY, ProxyProcess
from benchmarks._requests import count_requests
from benchmarks._support import (
    SMOKE,
    WARMUP,
    Project,
    S3Server,
    config_dict,
    extra,
    project,
    random_table,
    s3,
    workdir,
)

__all__ = ["project", "s3", "workdir"]  # fixtures, re-exported so pytest finds them here


@dataclass(frozen=True)
class Sizes:
    """Workload sizes of the protocol rows; smoke mode shrinks them so the file runs in seconds."""

    delay: float  # proxy delay, each way (seconds)
    op_rounds: int  # row 13, cheap operations
    slow_rounds: int  # row 13: runs(), delete, gc
    runs_listed: int  # row 13: runs() over this many runs
    gc_runs: int  # row 13: gc(keep=1) over this many runs
    write_rounds: int  # row 14
    procs: int  # rows 15, 16
    per_proc_proxy: int  # row 15: runs per process
    per_proc_direct: int  # row 16
    artifact_bytes: int
    throughput_rounds: int
    hash_mb: int  # row 18
    hash_rounds: int
    table_mb: int  # row 19
    read_rounds: int


SIZES = (
    Sizes(0.001, 1, 1, 10, 3, 2, 2, 2, 3, 4096, 1, 2, 2, 2, 1)
    if SMOKE
    else Sizes(DELAY, 10, 3, 100, 10, 30, 8, 25, 50, 4096, 5, 100, 15, 100, 15)
)
PROXY_NOTE = f"through a latency proxy, {SIZES.delay * 1000:g} ms each way, in front of moto"
SMALL = {"rows": [{"id": i, "name": f"row{i}", "score": i * 0.5} for i in range(20)]}
SMALL_BYTES = json.dumps(SMALL, ensure_ascii=False).encode()  # what fsmirror's json format writes


def _opts(endpoint: str) -> dict[str, Any]:
    return {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint}}


@pytest.fixture(scope="session")
def proxy(s3: S3Server) -> Iterator[ProxyProcess]:
    """One latency proxy (its own process) in front of the session's moto server."""
    with ProxyProcess(s3.port, delay=SIZES.delay) as p:
        yield p


@dataclass
class Pair:
    """Two mirrors of one bucket: ``fast`` straight to moto (set-up), ``slow`` through the proxy (measured)."""

    fast: Any
    slow: Any
    bucket: str


def _pair(s3: S3Server, proxy: ProxyProcess) -> Pair:
    from fsmirror import FSMirror

    bucket = s3.new_bucket()
    return Pair(
        FSMirror(config=config_dict("s3", bucket, s3.storage_options())),
        FSMirror(config=config_dict("s3", bucket, _opts(proxy.endpoint_url))),
        bucket,
    )


_ids = itertools.count()


def _fresh(prefix: str) -> str:
    return f"{prefix}{next(_ids):05d}"


# -- row 13: requests per operation ------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One store operation: how to set it up (untimed, straight to moto) and what is counted and timed."""

    case: str
    what: str
    prepare: Callable[[Pair], Callable[[], Any]]  # set-up; returns the call to count / time
    max_total: int | None = None  # the target for the number of requests
    max_put_depth: int | None = None  # ... and for PUTs in sequence
    slow: bool = False

    @property
    def target(self) -> str:
        if self.max_total is None:
            return "count only (no target in #12)"
        t = f"<= {self.max_total} request{'s' if self.max_total != 1 else ''}"
        if self.max_put_depth is not None:
            t += f", <= {self.max_put_depth} PUTs in sequence"
        return t


def _obj(name: str) -> str:
    return f"project/etl/job.py::{name}"


def _prep_write(p: Pair) -> Callable[[], Any]:
    rid = _fresh("w")
    return lambda: p.slow.write(_obj("small_write"), SMALL, run_id=rid, format="json")


def _prep_overwrite(p: Pair) -> Callable[[], Any]:
    rid = _fresh("o")
    p.fast.write(_obj("overwritten"), SMALL, run_id=rid, format="json")
    return lambda: p.slow.write(_obj("overwritten"), SMALL, run_id=rid, format="json", overwrite=True)


def _committed(p: Pair, name: str, runs: int = 1) -> list[str]:
    """``runs`` runs of ``name`` (once per pair), written straight to moto."""
    key = (p.bucket, name)
    if key not in _seeded:
        rids = [f"r{i:04d}" for i in range(runs)]
        for rid in rids:
            p.fast.write(_obj(name), SMALL, run_id=rid, format="json")
        _seeded[key] = rids
    return _seeded[key]


_seeded: dict[tuple[str, str], list[str]] = {}


def _prep_read(p: Pair) -> Callable[[], Any]:
    _committed(p, "read_me")
    return lambda: p.slow.read(_obj("read_me"))


def _prep_latest(p: Pair) -> Callable[[], Any]:
    _committed(p, "read_me")
    return lambda: p.slow.latest(_obj("read_me"))


def _prep_exists(p: Pair) -> Callable[[], Any]:
    rid = _committed(p, "read_me")[-1]
    return lambda: p.slow.exists(_obj("read_me"), run_id=rid)


def _prep_exists_missing(p: Pair) -> Callable[[], Any]:
    _committed(p, "read_me")
    return lambda: p.slow.exists(_obj("read_me"), run_id="never-written")


def _prep_runs(p: Pair) -> Callable[[], Any]:
    _committed(p, "listed", SIZES.runs_listed)
    return lambda: p.slow.runs(_obj("listed"))


def _prep_delete(p: Pair) -> Callable[[], Any]:
    name = _fresh("deleted_")
    p.fast.write(_obj(name), SMALL, run_id="old", format="json")
    p.fast.write(_obj(name), SMALL, run_id="new", format="json")
    return lambda: p.slow.delete(_obj(name), run_id="old")


def _prep_delete_latest(p: Pair) -> Callable[[], Any]:
    name = _fresh("deleted_latest_")
    p.fast.write(_obj(name), SMALL, run_id="old", format="json")
    p.fast.write(_obj(name), SMALL, run_id="new", format="json")
    return lambda: p.slow.delete(_obj(name), run_id="new")


def _prep_gc(p: Pair) -> Callable[[], Any]:
    name = _fresh("collected_")
    for i in range(SIZES.gc_runs):
        p.fast.write(_obj(name), SMALL, run_id=f"g{i:02d}", format="json")
    return lambda: p.slow.gc(_obj(name), keep=1)


OPS = [
    Op("write-small", "write() of a small dict as json, new run", _prep_write, 3, 2),
    Op("read-latest", "read() of the latest run (small json)", _prep_read, 3),
    Op(
        "runs",
        f"runs() over {SIZES.runs_listed} runs",
        _prep_runs,
        2,  # its listing pages: store v2 lists the cells and the run index, one page each for 100 runs
        slow=True,
    ),
    Op("latest", "latest()", _prep_latest),
    Op("exists", "exists() of a committed run", _prep_exists),
    Op("exists-missing", "exists() of a run never written", _prep_exists_missing),
    Op("delete", "delete() of a run that is not the latest", _prep_delete, slow=True),
    Op(
        "delete-latest", "delete() of the latest run (the pointer moves back)", _prep_delete_latest, slow=True
    ),
    Op("gc", f"gc(keep=1) over {SIZES.gc_runs} runs", _prep_gc, slow=True),
    Op("write-overwrite", "write(overwrite=True) over a committed run", _prep_overwrite),
]


@pytest.fixture(scope="module")
def pair13(s3: S3Server, proxy: ProxyProcess) -> Pair:
    return _pair(s3, proxy)


@pytest.mark.parametrize("op", OPS, ids=[o.case for o in OPS])
def test_row13_requests(benchmark: Any, op: Op, pair13: Pair) -> None:
    p = pair13
    call = op.prepare(p)
    with count_requests(p.slow.filesystem) as seen:
        call()
    counted = seen.as_dict()
    extra(
        benchmark,
        row=13,
        role="fsmirror",
        case=f"requests-{op.case}",
        measurement=op.what,
        baseline="",
        target=op.target,
        requests=counted,
        requests_target={"total": op.max_total, "put_depth": op.max_put_depth},
        order=OPS.index(op),
        timing=PROXY_NOTE,
    )
    benchmark.pedantic(
        lambda fn: fn(),
        setup=lambda: ((op.prepare(p),), {}),
        rounds=SIZES.slow_rounds if op.slow else SIZES.op_rounds,
        warmup_rounds=0,
    )


# -- row 14: a small write through the latency proxy ---------------------------------------


@pytest.fixture(scope="module")
def pair14(s3: S3Server, proxy: ProxyProcess) -> Pair:
    return _pair(s3, proxy)


@pytest.mark.parametrize("role", ["fsmirror", "baseline"])
def test_row14_small_write(benchmark: Any, role: str, pair14: Pair) -> None:
    p = pair14
    fs = p.slow.filesystem
    if role == "fsmirror":
        obj = _obj("latency_write")

        def write(rid: str) -> Any:
            return p.slow.write(obj, SMALL, run_id=rid, format="json")
    else:

        def write(rid: str) -> Any:
            return fs.pipe_file(f"{p.bucket}/raw/{rid}/out.json", SMALL_BYTES)

    write(_fresh("warm"))  # connections open, lazy imports done, on both sides
    extra(
        benchmark,
        row=14,
        role=role,
        case="small-write-latency",
        measurement=f"write of a small dict as json ({len(SMALL_BYTES)} B) {PROXY_NOTE}",
        baseline="raw s3fs pipe_file of the same bytes, same filesystem",
        target="<= 2.2x",
        delay_s=SIZES.delay,
        payload_bytes=len(SMALL_BYTES),
    )
    benchmark.pedantic(
        write, setup=lambda: ((_fresh("t"),), {}), rounds=SIZES.write_rounds, warmup_rounds=WARMUP
    )


# -- rows 15 and 16: 8 writer processes, each writing distinct runs ------------------------


def _many_writers(
    benchmark: Any, row: int, role: str, config: dict[str, Any], per_proc: int, target: str, where: str
) -> None:
    procs, size = SIZES.procs, SIZES.artifact_bytes
    ctx = multiprocessing.get_context("spawn")  # the moto server's threads live in this process
    barrier = ctx.Barrier(procs)
    throughput: list[float] = []
    extra(
        benchmark,
        row=row,
        role=role,
        case="many-writers-" + ("latency" if row == 15 else "direct"),
        measurement=f"{procs} processes x {per_proc} runs of {size} B each to S3 {where}, runs/s",
        baseline="raw s3fs pipe_file of the same bytes, one key per run",
        target=target,
        unit="runs/s",
        higher_is_better=True,
        samples=throughput,
    )
    with ctx.Pool(procs, initializer=_workers.init, initargs=(role, config, barrier)) as pool:

        def once(tag: str) -> float:
            spans = pool.map(
                _workers.write_runs, [(tag, i, per_proc, size) for i in range(procs)], chunksize=1
            )
            return procs * per_proc / (max(e for _, e in spans) - min(s for s, _ in spans))

        once("warm")
        rounds = iter(range(1_000_000))
        benchmark.pedantic(
            lambda: throughput.append(once(f"r{next(rounds)}")), rounds=SIZES.throughput_rounds
        )
    benchmark.extra_info["value"] = statistics.median(throughput)


@pytest.mark.parametrize("role", ["fsmirror", "baseline"])
def test_row15_many_writers_latency(
    benchmark: Any, role: str, s3: S3Server, proxy: ProxyProcess, project: Project
) -> None:
    config = config_dict("s3", s3.new_bucket(), _opts(proxy.endpoint_url))
    _many_writers(benchmark, 15, role, config, SIZES.per_proc_proxy, ">= 0.45x throughput", PROXY_NOTE)


@pytest.mark.parametrize("role", ["fsmirror", "baseline"])
def test_row16_many_writers_direct(benchmark: Any, role: str, s3: S3Server, project: Project) -> None:
    config = config_dict("s3", s3.new_bucket(), s3.storage_options())
    where = "(moto directly: one server process serving every request)"
    _many_writers(benchmark, 16, role, config, SIZES.per_proc_direct, ">= 0.33x throughput", where)


# -- row 18: the content hash, sha256 against blake3 ---------------------------------------


def _hasher(algo: str) -> Any:
    if algo == "sha256":
        return hashlib.sha256()
    blake3 = pytest.importorskip("blake3")
    if algo == "blake3-threads":
        return blake3.blake3(max_threads=blake3.blake3.AUTO)
    return blake3.blake3()


@pytest.fixture(scope="module")
def hash_payload() -> bytes:
    import os

    return os.urandom(SIZES.hash_mb * 1024 * 1024)


@pytest.mark.parametrize(
    ("case", "role", "algo"),
    [
        ("blake3", "fsmirror", "blake3"),
        ("blake3", "baseline", "sha256"),
        ("blake3-threads", "fsmirror", "blake3-threads"),
        ("blake3-threads", "baseline", "sha256"),
    ],
)
def test_row18_hash(benchmark: Any, case: str, role: str, algo: str, hash_payload: bytes) -> None:
    def digest() -> str:
        h = _hasher(algo)
        h.update(hash_payload)
        return str(h.hexdigest())

    digest()
    extra(
        benchmark,
        row=18,
        role=role,
        case=f"hash-{case}",
        measurement=f"{algo} of {SIZES.hash_mb} MB in memory (one update, hex digest)",
        baseline="hashlib.sha256, same bytes",
        target="faster",
        algorithm=algo,
        size_mb=SIZES.hash_mb,
    )
    benchmark.pedantic(digest, rounds=SIZES.hash_rounds, warmup_rounds=WARMUP)


# -- row 19: read with and without re-hashing the bytes ------------------------------------


@pytest.fixture(scope="module")
def verify_stores(workdir: Path, s3: S3Server) -> dict[tuple[str, str], tuple[Any, Any]]:
    """Per (hash, storage): a mirror with ``verify: true`` and one without, on one store holding
    one committed 100 MB parquet artifact hashed with that algorithm."""
    from fsmirror import FSMirror

    table = random_table(SIZES.table_mb)
    out = {}
    for algo in ("sha256", "blake3"):
        for storage, config in (
            ("local", config_dict("local", str(workdir / f"verify-{algo}"))),
            ("s3", config_dict("s3", s3.new_bucket(), s3.storage_options())),
        ):
            config["storage"]["hash"] = algo
            plain = FSMirror(config=config)
            plain.write(_obj("verified_read"), table, run_id="read-me", format="parquet", overwrite=True)
            checked = {**config, "mirrors": {k: {**v, "verify": True} for k, v in config["mirrors"].items()}}
            out[(algo, storage)] = (FSMirror(config=checked), plain)
    return out


VERIFY = [(a, s, r) for a in ("sha256", "blake3") for s in ("local", "s3") for r in ("fsmirror", "baseline")]


@pytest.mark.parametrize(("algo", "storage", "role"), VERIFY, ids=["-".join(v) for v in VERIFY])
def test_row19_verified_read(
    benchmark: Any, algo: str, storage: str, role: str, verify_stores: dict[tuple[str, str], tuple[Any, Any]]
) -> None:
    checked, plain = verify_stores[(algo, storage)]
    fm = checked if role == "fsmirror" else plain

    def read() -> Any:
        return fm.read(_obj("verified_read"))

    assert read().num_rows == random_table_rows()
    extra(
        benchmark,
        row=19,
        role=role,
        case=f"verify-{algo}-{storage}",
        measurement=f"read() of a {SIZES.table_mb} MB parquet table with verify: true, {algo} ({storage})",
        baseline="read() with verify: false (the size is still checked)",
        target="<= 1.10x",
        size_mb=SIZES.table_mb,
        algorithm=algo,
        strategy="the hash runs on a thread while the format parses the same bytes"
        if storage == "local"
        else "one download; the hash runs on a thread while pyarrow parses the buffer",
    )
    benchmark.pedantic(read, rounds=SIZES.read_rounds, warmup_rounds=WARMUP)


def random_table_rows() -> int:
    return SIZES.table_mb * 1024 * 1024 // 32
