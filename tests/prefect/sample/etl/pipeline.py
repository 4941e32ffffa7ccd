"""A small ETL pipeline the Prefect tests run: plain functions, decorated by each test.

Tests decorate these at run time (a result storage block must be saved before
``@mirrored_task`` runs, and the session's Prefect server starts after import);
``pipeline`` calls whatever tasks ``build`` installed last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from fsmirror_prefect import mirrored_flow, mirrored_task
from prefect import flow

TASKS: dict[str, Any] = {}
FAIL_FLOW_ONCE: list[bool] = []


class Summary:
    """Not JSON-able and not a table: a parquet mirror falls back to a plain pickle."""

    def __init__(self, rows: int, total: int) -> None:
        self.rows, self.total = rows, total

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Summary) and (self.rows, self.total) == (other.rows, other.total)


def lift_data(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": list(range(n)), "value": [i * 10 for i in range(n)]})


def summarize(df: pd.DataFrame) -> Summary:
    return Summary(len(df), int(df["value"].sum()))


def count_rows(df: pd.DataFrame) -> dict[str, int]:
    return {"rows": len(df)}


async def lift_async(n: int) -> pd.DataFrame:
    return lift_data(n)


def pipeline(n: int = 3) -> dict[str, Any]:
    df = TASKS["lift"](n)
    summary = TASKS["summarize"](df)
    if FAIL_FLOW_ONCE:
        FAIL_FLOW_ONCE.pop()
        raise RuntimeError("flow fails after its tasks finished (the retry must hit the cache)")
    return {"rows": summary.rows, "total": summary.total}


async def pipeline_async(n: int = 3) -> int:
    df = await TASKS["lift_async"](n)
    return len(df)


def build(storage: Any, *, flow_result: bool = False, **task_options: Any) -> Callable[..., Any]:
    """Decorate the tasks with ``storage`` and return the flow (its own result mirrored if asked)."""
    TASKS["lift"] = mirrored_task(storage=storage, **task_options)(lift_data)
    TASKS["summarize"] = mirrored_task(storage=storage, **task_options)(summarize)
    if flow_result:
        return mirrored_flow(storage=storage, retries=1)(pipeline)
    return flow(pipeline, retries=1)


def build_async(storage: Any) -> Callable[..., Any]:
    TASKS["lift_async"] = mirrored_task(storage=storage)(lift_async)
    return flow(pipeline_async)


def report(n: int) -> dict[str, int]:
    """A flow with no tasks: its own return value is the only result."""
    return {"n": n}


CALLS: dict[str, int] = {}
"""How many times each flaky function ran (tests reset it)."""


def flaky_lift(n: int) -> pd.DataFrame:
    """Fails on its first call, then works: a retry (of the task or of the flow) must succeed."""
    CALLS["flaky_lift"] = CALLS.get("flaky_lift", 0) + 1
    if CALLS["flaky_lift"] == 1:
        raise ValueError("first attempt fails on purpose")
    return lift_data(n)


def always_fails(n: int) -> int:
    raise ValueError(f"cannot lift {n}")


def count_calls(n: int) -> dict[str, int]:
    """Counts its runs: a cache hit does not run it."""
    CALLS["count_calls"] = CALLS.get("count_calls", 0) + 1
    return {"n": n}


def broken_summarize(df: pd.DataFrame) -> Summary:
    raise ValueError(f"broken on purpose after receiving {len(df)} rows")


def lineage_pipeline(n: int = 3) -> dict[str, Any]:
    """``summarize`` gets ``lift``'s result directly; ``count`` gets it through a future."""
    df = TASKS["lift"](n)
    summary = TASKS["summarize"](df)
    counted = TASKS["count"].submit(TASKS["lift"].submit(n + 1)).result()
    return {"rows": summary.rows, "counted": counted["rows"]}


def broken_pipeline(n: int = 3) -> int:
    df = TASKS["lift"](n)
    TASKS["broken"](df)
    return len(df)
