"""Prefect tasks for the OpenLineage tests (root ``etl``): ``double`` reads ``extract``; ``flaky`` retries once."""

from __future__ import annotations

import os
from typing import Any

TASKS: dict[str, Any] = {}
FLAG = "FSMIRROR_OL_PREFECT_FLAG"


def extract(n: int) -> list[int]:
    return list(range(n))


def double(xs: list[int]) -> list[int]:
    return [x * 2 for x in xs]


def flaky(xs: list[int]) -> int:
    """Fails on its first try (one flag file per test), then returns: its retry is the same task run."""
    flag = os.environ[FLAG]
    if not os.path.exists(flag):
        open(flag, "w").close()
        raise RuntimeError("first try fails on purpose")
    return sum(xs)


def pipeline(n: int) -> int:
    xs = TASKS["extract"](n)
    return TASKS["flaky"](TASKS["double"](xs))
