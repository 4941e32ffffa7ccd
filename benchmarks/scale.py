"""Issue #23 item 5 ("what breaks on the way there"): before/after figures at small sizes.

Run from the repository root with the code to measure importable (an env with the storage extras)::

    python -m benchmarks.scale [N]          # this checkout's fsmirror
    PYTHONPATH=<old checkout>/fsmirror_core python -m benchmarks.scale [N]   # another's

Cases (N artifacts, default 1,000), printed as one JSON object:

- ``s3_ls``: ``catalog.scan`` (what ``fsmirror ls`` reads) of N manifests on moto S3 through the
  latency proxy (15 ms each way): wall seconds and the peak number of live client threads.
- ``s3_runs_among_siblings``: requests of ``catalog.scan(ADDR)`` (``fsmirror runs ADDR``) for an
  address with 3 runs in a module whose other addresses hold N runs.
- ``memory_scan``: wall seconds of ``catalog.scan`` of N artifacts in the memory store.
- ``local_lock_files``: lock files left in a local store after N/10 runs and ``gc(keep=1)``.

Wall times are on a shared 2-core machine: compare them within one run of this script.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks._proxy import DELAY, ProxyProcess
from benchmarks._requests import count_requests
from benchmarks._support import S3Server

MODULE = "project/etl/my_etl_task.py"
MIRRORS = {"project": {"root": "project", "output_format": "json"}}


def _fm(storage: dict[str, Any]) -> Any:
    from fsmirror import FSMirror

    return FSMirror({"storage": storage, "mirrors": MIRRORS})


def _seed(fm: Any, writes: list[tuple[str, str]]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda w: fm.write(w[0], {"run": w[1]}, run_id=w[1]), writes))


def _client_threads() -> int:
    return sum("process_request_thread" not in t.name for t in threading.enumerate())


def s3_cases(n: int) -> dict[str, Any]:
    import boto3

    from fsmirror.services.catalog import scan

    out: dict[str, Any] = {}
    server = S3Server().start()
    try:
        with ProxyProcess(server.port, delay=DELAY) as proxy:
            direct = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": server.endpoint_url}}
            slow = {**direct, "client_kwargs": {"endpoint_url": proxy.endpoint_url}}
            s3 = boto3.client(
                "s3",
                endpoint_url=server.endpoint_url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                region_name="us-east-1",
            )
            bucket = f"b-{uuid.uuid4().hex[:12]}"
            s3.create_bucket(Bucket=bucket)
            _seed(_fm({"provider": "s3", "tenant": bucket, "storage_options": direct}),
                  [(f"{MODULE}::T{i % 20}", f"r{i:05d}") for i in range(n)])  # fmt: skip
            fm = _fm({"provider": "s3", "tenant": bucket, "storage_options": slow})
            peak = [_client_threads()]
            base = peak[0]
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], _client_threads())
                    time.sleep(0.001)

            sampler = threading.Thread(target=sample)
            sampler.start()
            t0 = time.perf_counter()
            found = scan(fm)
            took = time.perf_counter() - t0
            stop.set()
            sampler.join()
            out["s3_ls"] = {"artifacts": len(found), "seconds": round(took, 2), "peak_threads": peak[0] - base - 1}
            address = f"{MODULE}::Lone"
            for i in range(3):
                fm.write(address, {"run": i}, run_id=f"x{i}")
            with count_requests(fm.filesystem) as seen:
                got = scan(fm, address)
            out["s3_runs_among_siblings"] = {"siblings_runs": n, "runs": len(got), "requests": dict(seen)}
    finally:
        server.stop()
    return out


def memory_case(n: int) -> dict[str, Any]:
    from fsmirror.services.catalog import scan

    fm = _fm({"provider": "memory", "tenant": f"bench-{uuid.uuid4().hex[:8]}"})
    for i in range(n):
        fm.write(f"{MODULE}::T{i % 20}", i, run_id=f"r{i:05d}")
    t0 = time.perf_counter()
    found = scan(fm)
    return {"memory_scan": {"artifacts": len(found), "seconds": round(time.perf_counter() - t0, 3)}}


def local_case(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        fm = _fm({"provider": "local", "tenant": d, "durability": "none"})
        runs = max(n // 10, 2)
        for i in range(runs):
            fm.write(f"{MODULE}::T", i, run_id=f"r{i:05d}")
        fm.gc(f"{MODULE}::T", keep=1)
        left = len(os.listdir(os.path.join(d, ".fsmirror", "locks")))
    return {"local_lock_files": {"runs_written": runs, "kept": 1, "lock_files_left": left}}


def main() -> None:
    import fsmirror

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    out: dict[str, Any] = {"fsmirror": os.path.dirname(fsmirror.__file__), "n": n}
    out.update(local_case(n))
    out.update(memory_case(n))
    out.update(s3_cases(n))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
