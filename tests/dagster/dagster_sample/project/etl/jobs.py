"""Op jobs loaded by reconstructable(): multiprocess steps and re-execution from failure."""

from __future__ import annotations

import os
from typing import Any

from dagster import (
    DynamicOut,
    DynamicOutput,
    EnvVar,
    Out,
    in_process_executor,
    job,
    multiprocess_executor,
    op,
)
from fsmirror_dagster import FSMirrorIOManager

FAIL_FLAG = "FSMIRROR_DAGSTER_TEST_FAIL"  # path of a file: while it exists, ``transform`` fails


@op
def extract() -> dict[str, Any]:
    return {"values": [1, 2, 3], "pid": os.getpid()}


@op(out={"evens": Out(), "odds": Out()})
def fan_out(data: dict[str, Any]) -> tuple[list[int], list[int]]:
    return [v for v in data["values"] if v % 2 == 0], [v for v in data["values"] if v % 2]


@op
def transform(data: dict[str, Any]) -> dict[str, Any]:
    flag = os.environ.get(FAIL_FLAG)
    if flag and os.path.exists(flag):
        raise RuntimeError("transform failed on purpose (test flag set)")
    return {"total": sum(data["values"]), "pid": os.getpid(), "extract_pid": data["pid"]}


@op
def report(total: dict[str, Any], evens: list[int], odds: list[int]) -> dict[str, Any]:
    return {
        "total": total["total"],
        "evens": evens,
        "odds": odds,
        "pids": [total["pid"], total["extract_pid"], os.getpid()],
    }


def _graph() -> None:
    """The shared body: extract -> fan_out (two outputs) and transform -> report."""
    data = extract()
    evens, odds = fan_out(data)
    report(transform(data), evens, odds)


# EnvVar fields: resolved in every step process from the environment, so no path is baked into the job.
_io = FSMirrorIOManager(mirror=EnvVar("FSMIRROR_DAGSTER_MIRROR"), config_path=EnvVar("FSMIRROR_CONFIG_PATH"))


@job(executor_def=multiprocess_executor, resource_defs={"io_manager": _io})
def mp_job() -> None:
    """Two steps, two processes (each step process costs seconds of imports on a busy CI box)."""
    transform(extract())


@job(executor_def=in_process_executor, resource_defs={"io_manager": _io})
def inproc_job() -> None:
    _graph()


@op(out=DynamicOut())
def shards() -> Any:
    for key in ("a", "b"):
        yield DynamicOutput({"shard": key}, mapping_key=key)


@op
def process(shard: dict[str, Any]) -> str:
    return shard["shard"].upper()


@op
def gather(done: list[str]) -> list[str]:
    return sorted(done)


@job(executor_def=in_process_executor, resource_defs={"io_manager": _io})
def dynamic_job() -> None:
    gather(shards().map(process).collect())
