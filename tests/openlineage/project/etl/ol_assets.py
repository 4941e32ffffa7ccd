"""Dagster assets for the OpenLineage tests: ``doubled`` reads ``numbers``; ``flaky`` fails its first try."""

from __future__ import annotations

import os

from dagster import RetryPolicy, asset

FLAG = "FSMIRROR_OL_FLAKY_FLAG"


@asset
def numbers() -> list[int]:
    return [1, 2, 3]


@asset
def doubled(numbers: list[int]) -> list[int]:
    return [n * 2 for n in numbers]


@asset(retry_policy=RetryPolicy(max_retries=1))
def flaky(numbers: list[int]) -> int:
    """Fails once per flag file (its first try), then writes: a retry is a re-run of the same step."""
    flag = os.environ[FLAG]
    if not os.path.exists(flag):
        open(flag, "w").close()
        raise RuntimeError("first try fails on purpose")
    return sum(numbers)
