"""Core rows 1-8 of the benchmark table: fsmirror against fsmirror 0.4, yaml, pyarrow, Kedro and raw s3fs.

Each case is a pair of tests, one ``role="fsmirror"`` and one
``role="baseline"``, on the same filesystem, the same bytes and the same
warm-up; ``benchmarks/_merge.py`` turns each pair into a ratio. Run through
``python -m benchmarks`` (or ``tox -e bench``); ``FSMIRROR_BENCH_SMOKE=1``
shrinks every size so the file runs in seconds.
"""

from __future__ import annotations

import datetime as _dt
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks import _workers
from benchmarks._support import (
    LEGACY_VERSION,
    SIZES,
    WARMUP,
    Project,
    S3Server,
    config_dict,
    extra,
    legacy_module,
    project,
    random_table,
    s3,
    workdir,
)

__all__ = ["project", "s3", "workdir"]  # fixtures, re-exported so pytest finds them here

STORAGES = ["local", "s3"]


@pytest.fixture(scope="session")
def stores(workdir: Path, s3: S3Server) -> dict[str, dict[str, Any]]:
    """One config per storage: a fresh local directory, a fresh moto bucket."""
    return {
        "local": config_dict("local", str(workdir / "store")),
        "s3": config_dict("s3", s3.new_bucket(), s3.storage_options()),
    }


def _mirror(config: dict[str, Any]) -> Any:
    from fsmirror import FSMirror

    return FSMirror(config=config)


# -- row 1: path resolution against fsmirror 0.4 ---------------------------------------


@pytest.fixture(scope="session")
def legacy() -> Any:
    """fsmirror 0.4 as ``fsmirror_legacy``, or the reason it could not be had (a str)."""
    try:
        return legacy_module()
    except RuntimeError as e:
        return str(e)


def test_row1_resolve_fsmirror(benchmark: Any, project: Project, stores: dict[str, Any], legacy: Any) -> None:
    from fsmirror import FSMirror

    fm = FSMirror(config=stores["s3"], mirror="project")
    fn = project.module.lift_data
    for _ in range(1000):  # the same warm-up both sides get
        fm.mirror_full_output(fn)
    extra(
        benchmark,
        row=1,
        role="fsmirror",
        case="resolve",
        measurement="mirror_full_output(fn), repeated",
        baseline=f"fsmirror {LEGACY_VERSION} (PyPI), same call and config",
        target=">= 5x faster",
        example=fm.mirror_full_output(fn),
    )
    if isinstance(legacy, str):
        benchmark.extra_info["baseline_unavailable"] = legacy
    benchmark(fm.mirror_full_output, fn)


def test_row1_resolve_baseline(benchmark: Any, project: Project, stores: dict[str, Any], legacy: Any) -> None:
    if isinstance(legacy, str):
        pytest.skip(legacy)
    fm = legacy.FSMirror(config=stores["s3"], mirror="project")
    fn = project.module.lift_data
    for _ in range(1000):
        fm.mirror_full_output(fn)
    extra(
        benchmark,
        row=1,
        role="baseline",
        case="resolve",
        measurement="mirror_full_output(fn), repeated",
        baseline=f"fsmirror {LEGACY_VERSION} (PyPI), same call and config",
        target=">= 5x faster",
        example=fm.mirror_full_output(fn),
        legacy_file=legacy.__file__,
    )
    benchmark(fm.mirror_full_output, fn)


# -- row 2: import cost ------------------------------------------------------------------


@pytest.mark.parametrize(("role", "module"), [("fsmirror", "fsmirror"), ("baseline", "yaml")])
def test_row2_import(benchmark: Any, role: str, module: str) -> None:
    cmd = [sys.executable, "-c", f"import {module}"]
    # Both sides from bytecode, as `pip install` leaves them: with PYTHONDONTWRITEBYTECODE set
    # (and uv installing without compiling) a package would be compiled from source every run.
    import compileall
    import importlib.util

    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.submodule_search_locations
    for location in spec.submodule_search_locations:
        compileall.compile_dir(location, quiet=1)
    subprocess.run(cmd, check=True)  # fail loudly, not in the timing loop
    extra(
        benchmark,
        row=2,
        role=role,
        case="import",
        measurement=f'python -c "import {module}" wall time (fresh interpreter)',
        baseline='python -c "import yaml"',
        target="<= 1.5x",
    )
    benchmark.pedantic(
        subprocess.run,
        args=(cmd,),
        kwargs={"check": True},
        rounds=SIZES.import_rounds,
        warmup_rounds=WARMUP + 1,
    )


# -- rows 3 and 4: parquet write and read against pyarrow ----------------------------------


@pytest.fixture(scope="session")
def table() -> Any:
    """Random numbers (incompressible, so the bytes on disk match the table's size)."""
    return random_table(SIZES.table_mb)


class _Rounds:
    """Fresh paths per round, and the previous round's files removed outside the timing."""

    def __init__(self, fs: Any, where: Callable[[int], str]) -> None:
        self.fs, self.where, self.i = fs, where, 0

    def next(self) -> int:
        if self.i and self.fs.exists(self.where(self.i)):
            self.fs.rm(self.where(self.i), recursive=True)
        self.i += 1
        return self.i


def _io_extra(
    benchmark: Any, row: int, role: str, storage: str, what: str, baseline: str, target: str
) -> None:
    extra(
        benchmark,
        row=row,
        role=role,
        case=f"{what}-{storage}",
        measurement=f"{what} of a {SIZES.table_mb} MB parquet table ({storage})",
        baseline=baseline,
        target=target,
        size_mb=SIZES.table_mb,
    )


@pytest.mark.parametrize("storage", STORAGES)
def test_row3_write_fsmirror(
    benchmark: Any, storage: str, stores: dict[str, Any], project: Project, table: Any
) -> None:
    fm = _mirror(stores[storage])
    obj = project.module.LiftDataTask
    rounds = _Rounds(fm.filesystem, lambda i: fm.mirror_full(obj, run_id=f"w{i}"))
    fm.write(obj, table, run_id="warm", format="parquet")

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (obj, table), {"run_id": f"w{rounds.next()}", "format": "parquet"}

    _io_extra(
        benchmark,
        3,
        "fsmirror",
        storage,
        "write",
        "pyarrow.parquet.write_table, same fsspec filesystem",
        "<= 1.10x",
    )
    benchmark.pedantic(fm.write, setup=setup, rounds=SIZES.io_rounds, warmup_rounds=WARMUP)
    rounds.next()


@pytest.mark.parametrize("storage", STORAGES)
def test_row3_write_baseline(  # local: with the fsync fsmirror makes by default
    benchmark: Any, storage: str, stores: dict[str, Any], project: Project, table: Any
) -> None:
    import pyarrow.parquet as pq

    fm = _mirror(stores[storage])
    fs = fm.filesystem
    prefix = f"{fm.base}/raw-write"
    rounds = _Rounds(fs, lambda i: f"{prefix}/{i}")
    fs.makedirs(f"{prefix}/warm", exist_ok=True)
    pq.write_table(table, f"{prefix}/warm/out.parquet", filesystem=fs)

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        i = rounds.next()
        fs.makedirs(f"{prefix}/{i}", exist_ok=True)
        return (table, f"{prefix}/{i}/out.parquet"), {"filesystem": fs}

    _io_extra(
        benchmark,
        3,
        "baseline",
        storage,
        "write",
        "pyarrow.parquet.write_table, same fsspec filesystem",
        "<= 1.10x",
    )

    def write_durably(table: Any, path: str, filesystem: Any) -> None:
        """Local: plus the fsync fsmirror's default ``durability: fsync`` makes (file, then directory)."""
        pq.write_table(table, path, filesystem=filesystem)
        for target, flags in ((path, os.O_RDONLY), (os.path.dirname(path), os.O_RDONLY)):
            fd = os.open(target, flags)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    write = write_durably if storage == "local" else pq.write_table
    benchmark.pedantic(write, setup=setup, rounds=SIZES.io_rounds, warmup_rounds=WARMUP)
    rounds.next()


@pytest.fixture(scope="session")
def written(stores: dict[str, Any], project: Project, table: Any) -> Iterator[dict[str, str]]:
    """One committed parquet artifact per storage, read by both sides of row 4."""
    obj = project.module.LiftDataTask
    uris = {}
    for storage in STORAGES:
        fm = _mirror(stores[storage])
        uris[storage] = fm.write(obj, table, run_id="read-me", format="parquet", overwrite=True)
    yield uris


@pytest.mark.parametrize("storage", STORAGES)
def test_row4_read_fsmirror(
    benchmark: Any, storage: str, stores: dict[str, Any], project: Project, written: dict[str, str]
) -> None:
    fm = _mirror(stores[storage])
    obj = project.module.LiftDataTask
    assert fm.latest(obj) == "read-me"
    _io_extra(
        benchmark,
        4,
        "fsmirror",
        storage,
        "read",
        "pyarrow.parquet.read_table, same fsspec filesystem and file",
        "<= 1.05x",
    )
    fm.read(obj)
    benchmark.pedantic(fm.read, args=(obj,), rounds=SIZES.io_rounds, warmup_rounds=WARMUP)


@pytest.mark.parametrize("storage", STORAGES)
def test_row4_read_baseline(
    benchmark: Any, storage: str, stores: dict[str, Any], written: dict[str, str]
) -> None:
    import pyarrow.parquet as pq

    fm = _mirror(stores[storage])
    path = written[storage]
    _io_extra(
        benchmark,
        4,
        "baseline",
        storage,
        "read",
        "pyarrow.parquet.read_table, same fsspec filesystem and file",
        "<= 1.05x",
    )
    pq.read_table(path, filesystem=fm.filesystem)
    benchmark.pedantic(
        pq.read_table,
        args=(path,),
        kwargs={"filesystem": fm.filesystem},
        rounds=SIZES.io_rounds,
        warmup_rounds=WARMUP,
    )


# -- rows 5 and 6: latest() among many runs ------------------------------------------------


def _seed_runs(fm: Any, obj: Any, n: int) -> None:
    """``n`` committed runs of ``obj``: the first and last by ``write``, the rest copies of the first.

    Copies keep seeding 10,000 runs to seconds; each is the same two files
    (artifact + manifest, its run id rewritten) that ``write`` makes, and the
    last run is a real write, so the ``latest`` pointer is the real one.
    """
    first = "run-00000"
    fm.write(obj, b"x", run_id=first, format="bytes")
    template = json.dumps(fm.manifest(obj, run_id=first))
    files: dict[str, bytes] = {}
    first_dir = fm.mirror_full(obj, run_id=first)
    names = [p.rsplit("/", 1)[1] for p in fm.filesystem.ls(first_dir, detail=False)]
    for i in range(1, n - 1):
        rid = f"run-{i:05d}"
        d = fm.mirror_full(obj, run_id=rid)
        for name in names:
            files[f"{d}/{name}"] = template.replace(first, rid).encode() if name.endswith(".json") else b"x"
    if fm.config.storage.provider == "local":
        for path, data in files.items():
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
    else:
        _put_in_moto(files)
    fm.write(obj, b"x", run_id=f"run-{n - 1:05d}", format="bytes")
    fm.filesystem.invalidate_cache()


def _put_in_moto(files: dict[str, bytes]) -> None:
    """Store objects straight into the in-process moto backend the S3 server serves.

    10,000 runs are 20,000 PUTs; through HTTP on a busy 2-core machine that
    takes many minutes. The objects end up exactly as PUTs would leave them;
    only the seeding skips HTTP, never anything that is timed.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for uri, data in files.items():
        bucket, key = uri.split("://", 1)[1].split("/", 1)
        backend.put_object(bucket, key, data)


@pytest.fixture(scope="session")
def seeded(stores: dict[str, Any], project: Project) -> dict[str, Any]:
    """Per storage: a mirror whose ``many_runs`` has N runs and ``ten_runs`` has 10."""
    out = {}
    for storage in STORAGES:
        fm = _mirror(stores[storage])
        _seed_runs(fm, project.module.ten_runs, SIZES.runs_few)
        _seed_runs(fm, project.module.many_runs, SIZES.runs_many)
        assert fm.latest(project.module.many_runs) == f"run-{SIZES.runs_many - 1:05d}"
        out[storage] = fm
    return out


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("role", ["fsmirror", "baseline"])
def test_row5_latest(
    benchmark: Any, role: str, storage: str, seeded: dict[str, Any], project: Project
) -> None:
    fm = seeded[storage]
    obj = project.module.many_runs if role == "fsmirror" else project.module.ten_runs
    n = SIZES.runs_many if role == "fsmirror" else SIZES.runs_few
    extra(
        benchmark,
        row=5,
        role=role,
        case=f"latest-{storage}",
        measurement=f"latest() with {SIZES.runs_many:,} runs ({storage})",
        baseline=f"latest() with {SIZES.runs_few} runs",
        target="<= 1.2x",
        runs=n,
    )
    fm.latest(obj)
    benchmark.pedantic(fm.latest, args=(obj,), rounds=SIZES.lookup_rounds, warmup_rounds=WARMUP + 1)


def _kedro_versions(n: int) -> Iterator[str]:
    from kedro.io.core import VERSION_FORMAT

    start = _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)
    for i in range(n):
        ts = (start + _dt.timedelta(seconds=i)).strftime(VERSION_FORMAT)
        yield ts[:-4] + ts[-1:]  # what kedro.io.core.generate_timestamp makes


@pytest.fixture(scope="session")
def kedro_dataset(workdir: Path) -> Any:
    """A versioned Kedro ``TextDataset`` on local disk with N versions, as ``save`` lays them out."""
    text = pytest.importorskip("kedro_datasets.text")
    from kedro.io.core import Version

    path = workdir / "kedro" / "data.txt"
    for version in _kedro_versions(SIZES.runs_many):
        d = path / version
        d.mkdir(parents=True)
        (d / "data.txt").write_text("x")
    return text.TextDataset(filepath=str(path), version=Version(None, None))  # versioned: True in a catalog


@pytest.mark.parametrize("role", ["fsmirror", "baseline"])
def test_row6_latest_vs_kedro(
    benchmark: Any, role: str, seeded: dict[str, Any], project: Project, kedro_dataset: Any
) -> None:
    extra(
        benchmark,
        row=6,
        role=role,
        case="latest-vs-kedro",
        measurement=f"latest-version lookup among {SIZES.runs_many:,} versions (local disk)",
        baseline="Kedro versioned TextDataset.resolve_load_version() (glob + exists per version), cache cleared",
        target="faster",
    )
    if role == "fsmirror":
        fm, obj = seeded["local"], project.module.many_runs
        fn: Callable[[], Any] = lambda: fm.latest(obj)  # noqa: E731
        setup: Callable[[], None] = lambda: None  # noqa: E731
    else:
        ds = kedro_dataset
        fn = ds.resolve_load_version
        setup = ds._clear_version_cache  # each lookup pays, as in a fresh session
    setup()
    benchmark.extra_info["found"] = fn()
    # Kedro's lookup takes about a second at 10,000 versions: 30 rounds a side keeps the run short.
    benchmark.pedantic(fn, setup=setup, rounds=min(SIZES.lookup_rounds, 30), warmup_rounds=WARMUP + 1)


# -- row 7: peak memory writing a large bytes artifact -------------------------------------

_RSS_CHILD = """
import importlib, json, os, resource, sys, time
config, code_dir, n, role, dest = json.loads(sys.argv[1])
sys.path.insert(0, code_dir)
obj = importlib.import_module("project.etl.my_etl_task").lift_data
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork+exec, so a child of a big
# pytest process reports the parent's peak; VmHWM is this process image's own.
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
rss = lambda: int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
if role == "fsmirror":
    from fsmirror import FSMirror
    fm = FSMirror(config=config)
    fm.write(obj, b"warm", run_id="warm-" + str(os.getpid()), format="bytes")  # lazy imports, scratch dirs
    def write(payload):
        fm.write(obj, payload, run_id="big-" + str(os.getpid()), format="bytes")
else:
    import fsspec
    fs = fsspec.filesystem("file", auto_mkdir=True)
    fs.pipe_file(dest + ".warm", b"warm")
    def write(payload):
        fs.pipe_file(dest, payload)
before = rss()  # resident now, after imports and a warm write: the child's baseline
payload = b"\\x5a" * n  # touched pages: resident, unlike bytes(n)
with_payload = rss()
t = time.perf_counter()
write(payload)
seconds = time.perf_counter() - t
print(json.dumps({"before": before, "with_payload": with_payload, "peak": peak(), "seconds": seconds}))
"""


@pytest.mark.parametrize("role", ["fsmirror", "baseline"])
def test_row7_peak_rss(benchmark: Any, role: str, workdir: Path, project: Project) -> None:
    store = workdir / "rss"
    config = config_dict("local", str(store))
    n = SIZES.rss_mb * 1024 * 1024
    samples: list[dict[str, float]] = []

    def setup() -> None:
        shutil.rmtree(store, ignore_errors=True)

    def run() -> None:
        args = json.dumps([config, str(project.root), n, role, str(store / "raw.bytes")])
        out = subprocess.run(
            [sys.executable, "-c", _RSS_CHILD, args], check=True, capture_output=True, text=True
        )
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))

    mib = 1024 * 1024
    above: list[float] = []
    extra(
        benchmark,
        row=7,
        role=role,
        case="peak-rss",
        measurement=f"peak RSS above the child's RSS before the payload, writing a {SIZES.rss_mb} MB bytes artifact (local)",
        baseline="the payload size (+ raw fsspec pipe_file of the same payload, for reference)",
        target="<= payload + 100 MB",
        unit="MB",
        samples=above,
        payload_mb=n / mib,
        note="the timing is a whole child process (start, imports, payload, write); the RSS is the measurement",
    )
    benchmark.pedantic(run, setup=setup, rounds=SIZES.rss_rounds)
    setup()
    above.extend((s["peak"] - s["before"]) / mib for s in samples)
    benchmark.extra_info["value"] = max(above)
    benchmark.extra_info["write_seconds"] = [s["seconds"] for s in samples]
    benchmark.extra_info["rss_bytes"] = samples


# -- row 8: many processes writing small artifacts to S3 -------------------------------------


@pytest.mark.parametrize("role", ["fsmirror", "baseline"])
def test_row8_throughput(benchmark: Any, role: str, s3: S3Server, project: Project) -> None:
    config = config_dict("s3", s3.new_bucket(), s3.storage_options())
    procs, n, size = SIZES.procs, SIZES.artifacts_per_proc, SIZES.artifact_bytes
    ctx = multiprocessing.get_context(
        "spawn"
    )  # the moto server's threads live in this process: never fork it
    barrier = ctx.Barrier(procs)
    throughput: list[float] = []
    extra(
        benchmark,
        row=8,
        role=role,
        case="s3-many-writers",
        measurement=f"{procs} processes x {n} artifacts of {size} B to S3 (moto), artifacts/s",
        baseline="raw s3fs pipe_file of the same bytes",
        target=">= 0.9x throughput",
        unit="artifacts/s",
        higher_is_better=True,
        samples=throughput,
    )
    with ctx.Pool(procs, initializer=_workers.init, initargs=(role, config, barrier)) as pool:

        def once(tag: str) -> float:
            spans = pool.map(_workers.write_batch, [(tag, p, n, size) for p in range(procs)], chunksize=1)
            return procs * n / (max(e for _, e in spans) - min(s for s, _ in spans))

        once("warm")
        rounds = iter(range(1_000_000))
        benchmark.pedantic(
            lambda: throughput.append(once(f"r{next(rounds)}")), rounds=SIZES.throughput_rounds
        )
    benchmark.extra_info["value"] = statistics.median(throughput)
