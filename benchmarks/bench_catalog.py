"""Row 21: ``fsmirror ls`` over 1,000 artifacts on S3, against the fastest listing raw s3fs can do.

Issue #15 asks for ``ls`` within 2x of raw s3fs through a latency proxy
(``benchmarks/_proxy.py``, 15 ms each way in front of moto: a round trip costs
what a small request to real S3 costs). What ``ls`` must learn is every
committed artifact and its manifest (run, size, created-at, ``latest``), so the
fair baseline is raw s3fs doing the least that learns the same: one recursive
``fs.find`` of the mirror, then one ``asyncio.gather`` of GetObject of every
manifest on s3fs's own event loop and client (case ``ls-vs-find-gather``, the
target). Two more cases are recorded: s3fs's own ``fs.cat`` of the manifests
(it sends a HeadObject before each GetObject) and ``fs.find`` alone, the floor
no listing that reads manifests can reach.

The fsmirror side is the command itself, run in-process: ``fsmirror --config X
ls`` (listing, concurrent manifest reads, the tree rendered to a string). The
artifacts are seeded straight to moto (untimed); both sides use one s3fs
filesystem through the proxy. Request counts (one untimed call each, botocore
hook) go beside the timings. Tests never assert on time; ``FSMIRROR_BENCH_SMOKE=1``
shrinks the store to 40 artifacts.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks._proxy import DELAY, ProxyProcess
from benchmarks._requests import count_requests
from benchmarks._support import SMOKE, WARMUP, S3Server, config_dict, extra, s3, workdir

__all__ = ["s3", "workdir"]  # fixtures, re-exported so pytest finds them here

ARTIFACTS = 40 if SMOKE else 1000
TASKS = 4 if SMOKE else 20  # ARTIFACTS / TASKS runs of each task
ROUNDS = 2 if SMOKE else 5
PROXY_DELAY = 0.001 if SMOKE else DELAY
PROXY_NOTE = f"through a latency proxy, {PROXY_DELAY * 1000:g} ms each way, in front of moto"


def _opts(endpoint: str) -> dict[str, Any]:
    return {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint}}


@pytest.fixture(scope="module")
def proxy(s3: S3Server) -> Iterator[ProxyProcess]:
    with ProxyProcess(s3.port, delay=PROXY_DELAY) as p:
        yield p


@pytest.fixture(scope="module")
def store(s3: S3Server, proxy: ProxyProcess, workdir: Path) -> dict[str, Any]:
    """ARTIFACTS small json artifacts written straight to moto; a config file pointing through the proxy."""
    from fsmirror import FSMirror

    bucket = s3.new_bucket()
    fast_cfg = config_dict("s3", bucket, s3.storage_options())
    fast_cfg["mirrors"]["project"]["output_format"] = "json"
    fast = FSMirror(config=fast_cfg)
    runs = ARTIFACTS // TASKS

    def seed(t: int) -> None:
        for r in range(runs):
            fast.write(f"project/etl/task_{t:02d}.py::step", {"task": t, "run": r}, run_id=f"run{r:04d}")

    fast._protocol().backend.parallel(*[(lambda t=t: seed(t)) for t in range(TASKS)])
    slow_cfg = config_dict("s3", bucket, _opts(proxy.endpoint_url))
    slow_cfg["mirrors"]["project"]["output_format"] = "json"
    path = workdir / f"ls-{bucket}.yml"
    path.write_text(json.dumps(slow_cfg))  # JSON is YAML
    slow = FSMirror(config=str(path))
    return {"config": str(path), "fs": slow.filesystem, "base": slow.base, "bucket": bucket}


def _ls(config: str) -> Callable[[], str]:
    from fsmirror.cli import cli

    def run() -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(["--config", config, "ls"], prog_name="fsmirror", standalone_mode=False)
        assert code in (None, 0)
        return out.getvalue()

    return run


def _raw_find_cat(fs: Any, base: str) -> Callable[[], Any]:
    def run() -> Any:
        manifests = [p for p in fs.find(base) if p.rsplit("/", 1)[-1].endswith(".manifest.json")]
        return fs.cat(manifests)

    return run


def _raw_find_gather(fs: Any, base: str) -> Callable[[], Any]:
    """The fastest raw read of every manifest: one ``asyncio.gather`` of GetObject on s3fs's own loop."""
    import asyncio

    from fsspec.asyn import sync

    async def get(path: str) -> bytes:
        bucket, key, _ = fs.split_path(path)
        resp = await fs._call_s3("get_object", Bucket=bucket, Key=key)
        try:
            return bytes(await resp["Body"].read())
        finally:
            resp["Body"].close()

    def run() -> Any:
        manifests = [p for p in fs.find(base) if p.rsplit("/", 1)[-1].endswith(".manifest.json")]

        async def all_of() -> list[bytes]:
            return list(await asyncio.gather(*[get(p) for p in manifests]))

        return sync(fs.loop, all_of)

    return run


def _raw_find(fs: Any, base: str) -> Callable[[], Any]:
    return lambda: fs.find(base)


CASES = {
    "ls-vs-find-gather": (
        "raw s3fs: fs.find of the mirror, then one asyncio.gather of GetObject of every manifest on "
        "s3fs's loop (the fastest raw listing that reads them), same filesystem",
        "<= 2x",
    ),
    "ls-vs-find-cat": (
        "raw s3fs fs.find of the mirror + fs.cat of every manifest (s3fs's own concurrent cat), same filesystem",
        "recorded",
    ),
    "ls-vs-find": ("raw s3fs fs.find of the mirror alone (the floor: no manifest read)", "recorded (the floor)"),
}


@pytest.mark.parametrize("role", ["fsmirror", "baseline"])
@pytest.mark.parametrize("case", list(CASES))
def test_row21_ls(benchmark: Any, case: str, role: str, store: dict[str, Any]) -> None:
    fs, base = store["fs"], store["base"]
    if role == "fsmirror":
        call = _ls(store["config"])
        out = call()  # warm: connections open, lazy imports done
        assert out.count("latest") == TASKS and out.count(" out.json ") == ARTIFACTS
    else:
        call = {"ls-vs-find-gather": _raw_find_gather, "ls-vs-find-cat": _raw_find_cat, "ls-vs-find": _raw_find}[
            case
        ](fs, base)
        found = call()
        assert case == "ls-vs-find" or len(found) == ARTIFACTS
    fs.invalidate_cache()
    with count_requests(fs) as seen:
        call()
    fs.invalidate_cache()
    counted = seen.as_dict()
    by_op = ", ".join(f"{k} {v}" for k, v in counted["by_operation"].items())
    baseline, target = CASES[case]
    extra(
        benchmark,
        row=21,
        role=role,
        case=case,
        measurement=f"`fsmirror ls` over {ARTIFACTS:,} artifacts on S3 {PROXY_NOTE}",
        baseline=baseline,
        target=target,
        requests={**counted, "sequence": []},
        requests_summary=f"{counted['total']} requests ({by_op}), {seen.depth()} in sequence",
        artifacts=ARTIFACTS,
    )

    def once() -> Any:
        fs.invalidate_cache()  # no listing cache on either side: each round asks the store
        return call()

    benchmark.pedantic(once, rounds=ROUNDS, warmup_rounds=WARMUP)
