"""Worker processes for rows 8, 15 and 16 (many processes writing small artifacts to S3 at once).

A module of its own so ``spawn``-ed children import it by name; each worker
builds its client once, in the initializer, so only the writes are timed.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["init", "write_batch", "write_runs"]

_state: dict[str, Any] = {}


def init(kind: str, config: dict[str, Any], barrier: Any) -> None:
    """Build this process's client: fsmirror's ``FSMirror`` or a raw ``s3fs`` filesystem."""
    _state["kind"] = kind
    _state["barrier"] = barrier
    _state["bucket"] = config["storage"]["tenant"]
    if kind == "fsmirror":
        import importlib

        from fsmirror import FSMirror

        _state["fm"] = FSMirror(config=config)
        _state["obj"] = importlib.import_module("project.etl.my_etl_task").lift_data
    else:
        import s3fs

        _state["fs"] = s3fs.S3FileSystem(**config["storage"]["storage_options"])


def write_batch(args: tuple[str, int, int, int]) -> tuple[float, float]:
    """Write ``n`` artifacts of ``size`` bytes; returns (start, end) on the system-wide monotonic clock.

    Every worker waits at one barrier first, so the timed window starts when
    all of them are ready and no worker can take two batches.
    """
    tag, proc, n, size = args
    payload = bytes([proc % 251]) * size
    _state["barrier"].wait()
    start = time.perf_counter()
    if _state["kind"] == "fsmirror":
        fm, obj = _state["fm"], _state["obj"]
        for i in range(n):
            fm.write(obj, payload, run_id=f"{tag}-p{proc}", output_name=f"part{i}", format="bytes")
    else:
        fs, bucket = _state["fs"], _state["bucket"]
        for i in range(n):
            fs.pipe_file(f"{bucket}/raw/{tag}-p{proc}/part{i}.bytes", payload)
    return start, time.perf_counter()


def write_runs(args: tuple[str, int, int, int]) -> tuple[float, float]:
    """Like :func:`write_batch`, but every artifact is a run of its own (rows 15 and 16).

    Each write is a new run of the same object, so each one also moves that
    object's ``latest`` pointer: the commit protocol's full cost per run.
    """
    tag, proc, n, size = args
    payload = bytes([proc % 251]) * size
    _state["barrier"].wait()
    start = time.perf_counter()
    if _state["kind"] == "fsmirror":
        fm, obj = _state["fm"], _state["obj"]
        for i in range(n):
            fm.write(obj, payload, run_id=f"{tag}-p{proc}-{i}", format="bytes")
    else:
        fs, bucket = _state["fs"], _state["bucket"]
        for i in range(n):
            fs.pipe_file(f"{bucket}/raw/{tag}-p{proc}-{i}/out.bytes", payload)
    return start, time.perf_counter()
