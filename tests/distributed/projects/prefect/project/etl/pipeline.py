"""Prefect flows for the distributed test: a deployment run by process workers, and a Dask flow.

``pipeline`` is deployed from S3 (the worker pulls it into a temporary directory) and
run several times: ``extract`` is cached on its inputs (``INPUTS``), so the runs that
follow the first read the first run's artifacts instead of extracting again; each day
is a partition. ``dask_pipeline`` maps ``square`` over a dask.distributed cluster of
worker processes. Every result lands through ``FSMirrorStorage`` ("fsmirror-storage/dist").
"""

from __future__ import annotations

import os
import sys
import time

from prefect.cache_policies import INPUTS

from fsmirror_prefect import mirrored_flow, mirrored_task
from prefect import flow

STORAGE = "fsmirror-storage/dist"


@mirrored_task(storage=STORAGE, cache_policy=INPUTS, partition="{parameters[day]}")
def extract(day: int) -> dict[str, object]:
    time.sleep(0.2)
    return {"day": day, "rows": [day * 10 + i for i in range(3)], "pid": os.getpid()}


@mirrored_task(storage=STORAGE, partition="{parameters[data][day]}")
def transform(data: dict[str, object], scale: int) -> dict[str, int]:
    rows = data["rows"]
    assert isinstance(rows, list)
    return {"day": int(data["day"]), "total": sum(rows) * scale}  # type: ignore[call-overload]


@mirrored_flow(storage=STORAGE, log_prints=True)
def pipeline(days: list[int], scale: int = 1) -> dict[str, int]:
    totals = {str(t["day"]): t["total"] for t in (transform(extract(d), scale) for d in days)}
    return totals


@mirrored_task(storage=STORAGE, partition="{parameters[n]}")
def square(n: int) -> dict[str, int]:
    time.sleep(0.5)
    return {"n": n, "square": n * n, "pid": os.getpid()}


def dask_flow(address: str):  # type: ignore[no-untyped-def]
    from prefect_dask import DaskTaskRunner

    @flow(name="dask-pipeline", task_runner=DaskTaskRunner(address=address))
    def dask_pipeline(ns: list[int]) -> list[dict[str, int]]:
        return [f.result() for f in square.map(ns)]

    return dask_pipeline


if __name__ == "__main__":
    # run as a script: the tasks are __main__'s, so Dask ships them by value (their file is lost)
    state = dask_flow(sys.argv[1])(list(range(6)), return_state=True)
    print("FLOW_RUN_ID", state.state_details.flow_run_id)
    print("RESULT", state.result())
