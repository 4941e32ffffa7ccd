"""Row 9: one Dagster materialization through FSMirrorIOManager vs Dagster's FilesystemIOManager.

Both sides run the same ``materialize()`` of the same asset returning the same
object, on the same kind of instance, and both pickle it (the mirror's format is
``pkl``), so the ratio is the adapter's cost per materialization: resolving the
path, the manifest and its metadata, the atomic no-clobber write, against a plain
``pickle.dump`` to ``<base_dir>/<asset key>``. Storage is emptied between rounds
(untimed) on both sides so the 100 MB case never fills the disk.

Set ``FSMIRROR_BENCH_SMOKE=1`` for a run of seconds (tiny object, two rounds).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dagster import DagsterInstance, FilesystemIOManager, asset, materialize
from fsmirror_dagster import FSMirrorIOManager

SMOKE = os.environ.get("FSMIRROR_BENCH_SMOKE", "") not in ("", "0", "false", "no")
MB = 1 << 20
CASES = {
    # case: (payload builder, timed rounds)
    "small": (
        lambda: {"rows": [{"id": i, "name": f"row{i}", "score": i * 0.5} for i in range(100)]},
        2 if SMOKE else 30,
    ),
    "100mb": (lambda: os.urandom((1 if SMOKE else 100) * MB), 2 if SMOKE else 7),
}
WARMUP = 0 if SMOKE else 1

_payload: Any = None  # what the asset returns; set per case, the same object for both sides


@asset
def payload() -> Any:
    return _payload


@pytest.fixture
def case(request: pytest.FixtureRequest) -> Iterator[str]:
    """The case of the test's parameters; builds its payload (the same object for both roles)."""
    global _payload
    name = str(request.node.callspec.params["case_name"])
    _payload = CASES[name][0]()
    yield name
    _payload = None


# The two roles of a case run back to back, so a busy machine's drifting load hits both alike.
ORDER = pytest.mark.parametrize(
    "case_name, role", [(c, r) for c in CASES for r in ("fsmirror", "baseline")], ids=lambda v: str(v)
)


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as inst:
        yield inst


def _meta(benchmark: Any, role: str, case: str) -> None:
    benchmark.group = f"row9-{case}"
    benchmark.extra_info.update(
        {
            "row": 9,
            "role": role,
            "case": case,
            "measurement": f"one materialize() of an asset returning a pickled {case} object (in-process executor)",
            "baseline": "dagster FilesystemIOManager",
            "target": "<= 1.3x" if case == "small" else "<= 1.1x",
            "payload_bytes": len(_payload) if isinstance(_payload, bytes) else None,
            "python": sys.version.split()[0],
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
    )


def _run(resources: dict[str, Any], instance: DagsterInstance) -> None:
    result = materialize([payload], instance=instance, resources=resources)
    assert result.success


def _empty(store: Path) -> None:
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)


def _fsmirror_resources(tmp_path: Path, store: Path) -> dict[str, Any]:
    config = tmp_path / "fsmirror.yml"
    config.write_text(
        yaml.safe_dump(
            {
                # FilesystemIOManager does not fsync: neither does this side (row 3 prices the fsync)
                "storage": {
                    "provider": "local",
                    "tenant": str(store),
                    "namespace": "MIRROR",
                    "durability": "none",
                },
                "mirrors": {"bench": {"root": "benchmarks", "output_name": "out", "output_format": "pkl"}},
            }
        )
    )
    return {"io_manager": FSMirrorIOManager(mirror="bench", config_path=str(config))}


@ORDER
def test_row9(
    benchmark: Any, case_name: str, role: str, case: str, instance: DagsterInstance, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    if role == "fsmirror":
        resources = _fsmirror_resources(tmp_path, store)
    else:
        resources = {"io_manager": FilesystemIOManager(base_dir=str(store))}
    _meta(benchmark, role, case)
    _empty(store)
    _run(resources, instance)  # fail loudly outside the timing, and check what landed where
    if role == "fsmirror":
        landed = list(store.rglob("out.pkl"))
        assert len(landed) == 1 and "orchestrators/bench_dagster" in landed[0].as_posix()
    else:
        assert (store / "payload").is_file()
    benchmark.pedantic(
        _run,
        args=(resources, instance),
        setup=lambda: _empty(store),
        rounds=CASES[case][1],
        warmup_rounds=WARMUP,
    )


# -- row 17: handle_output of a small value to S3 through a latency proxy ------------------------

DELAY_17 = 0.001 if SMOKE else 0.015  # each way; the proxy makes moto cost what S3 round trips cost
ROUNDS_17 = 2 if SMOKE else 30
_handle_times: list[tuple[str, float]] = []  # (run id, seconds) per handle_output call, in call order

# Two independent assets, one run: the first output of a run pays for whatever the IO manager sets
# up per run (dagster-aws builds its boto3 client and lists the prefix in the first handle_output);
# the second shows the steady cost of one more output.
CASES_17 = {"first": 0, "second": 1}


@asset
def small_a() -> Any:
    return _payload


@asset
def small_b() -> Any:
    return _payload


@pytest.fixture(scope="module")
def s3_behind_proxy() -> Iterator[tuple[Any, Any]]:
    """moto's S3 server on 127.0.0.1 and a latency proxy (its own process) in front of it."""
    from benchmarks._proxy import ProxyProcess
    from benchmarks._support import S3Server

    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    server = S3Server().start()
    try:
        with ProxyProcess(server.port, delay=DELAY_17) as proxy:
            yield server, proxy
    finally:
        server.stop()


def _versions(*dists: str) -> dict[str, str]:
    import importlib.metadata

    out = {}
    for dist in dists:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def _timed(cls: type) -> type:
    """``cls`` with its handle_output timed into ``_handle_times`` (the rest of materialize() is not)."""
    import time

    def handle_output(self: Any, context: Any, obj: Any) -> None:
        start = time.perf_counter()
        cls.handle_output(self, context, obj)
        _handle_times.append((context.run_id, time.perf_counter() - start))

    return type(f"Timed{cls.__name__}", (cls,), {"handle_output": handle_output})


@pytest.fixture(scope="module")
def dagster_s3() -> Any:
    """dagster-aws's S3 module (bench-dagster installs it; the dagster test env skips row 17)."""
    return pytest.importorskip("dagster_aws.s3")


def _s3_io_manager(role: str, dagster_s3: Any, bucket: str, endpoint: str, tmp_path: Path) -> Any:
    if role == "fsmirror":
        config = tmp_path / "fsmirror.yml"
        options = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint}}
        config.write_text(
            yaml.safe_dump(
                {
                    "storage": {
                        "provider": "s3",
                        "tenant": bucket,
                        "namespace": "MIRROR",
                        "storage_options": options,
                    },
                    "mirrors": {
                        "bench": {"root": "benchmarks", "output_name": "out", "output_format": "pkl"}
                    },
                }
            )
        )
        return _timed(FSMirrorIOManager)(mirror="bench", config_path=str(config))
    resource = dagster_s3.S3Resource(
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    return _timed(dagster_s3.S3PickleIOManager)(s3_resource=resource, s3_bucket=bucket, s3_prefix="dagster")


ORDER_17 = pytest.mark.parametrize(
    "case_17, role", [(c, r) for c in CASES_17 for r in ("fsmirror", "baseline")], ids=lambda v: str(v)
)


def _count_fsmirror_run(run: Any, config_path: str) -> dict[str, Any]:
    """S3 requests of one run of two outputs through FSMirrorIOManager (not timed).

    fsspec hands out one cached filesystem per set of options: a mirror built
    from the same config file gets the very instance the IO manager writes through.
    """
    from benchmarks._requests import count_requests
    from fsmirror import FSMirror

    with count_requests(FSMirror(config=config_path, mirror="bench").filesystem) as seen:
        run()
    if not seen.total():
        raise AssertionError("counted no S3 request: not the filesystem the IO manager writes through")
    return {**seen.as_dict(), "outputs": 2}


@ORDER_17
def test_row17_handle_output_s3(
    benchmark: Any,
    case_17: str,
    role: str,
    dagster_s3: Any,
    s3_behind_proxy: tuple[Any, Any],
    instance: DagsterInstance,
    tmp_path: Path,
) -> None:
    global _payload
    server, proxy = s3_behind_proxy
    resources = {
        "io_manager": _s3_io_manager(role, dagster_s3, server.new_bucket(), proxy.endpoint_url, tmp_path)
    }
    _payload = CASES["small"][0]()
    samples: list[float] = []
    which = (
        "first output of each run (per-run set-up included)"
        if case_17 == "first"
        else "second output of the same run"
    )
    benchmark.group = f"row17-handle-output-s3-{case_17}"
    benchmark.extra_info.update(
        {
            "row": 17,
            "role": role,
            "case": f"handle-output-s3-{case_17}",
            "measurement": (
                f"handle_output of a small pickled value, {which}, in materialize() of two assets "
                f"(in-process executor), S3 through a latency proxy, {DELAY_17 * 1000:g} ms each way, in front of moto"
            ),
            "baseline": "dagster-aws S3PickleIOManager, same bucket, proxy and value",
            "target": "<= 2.2x",
            "unit": "s",
            "samples": samples,
            "note": "samples: handle_output alone; the pytest-benchmark timing is the whole materialize()",
            "python": sys.version.split()[0],
            "versions": _versions("dagster", "dagster-aws", "boto3", "s3fs", "moto", "fsmirror"),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
    )

    def run() -> None:
        result = materialize([small_a, small_b], instance=instance, resources=resources)
        assert result.success

    try:
        run()  # connects, imports, and fails loudly outside the timing
        if role == "fsmirror" and case_17 == "first":
            config_path = resources["io_manager"].config_path
            benchmark.extra_info["requests_per_run"] = _count_fsmirror_run(run, config_path)
        _handle_times.clear()
        benchmark.pedantic(run, rounds=ROUNDS_17, warmup_rounds=WARMUP)
        by_run: dict[str, list[float]] = {}
        for run_id, seconds in _handle_times:
            by_run.setdefault(run_id, []).append(seconds)
        timed = list(by_run.values())[-ROUNDS_17:]  # the warm-up rounds' runs come first
        samples.extend(calls[CASES_17[case_17]] for calls in timed)
    finally:
        _payload = None
        _handle_times.clear()
