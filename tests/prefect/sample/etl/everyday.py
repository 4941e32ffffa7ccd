"""Functions ``test_everyday.py`` and ``test_pickle_refusal.py`` decorate: what users do every day.

``stage`` has a side effect its rollback hook undoes, so a test can tell a task that ran
from one that was ``Cached``.
"""

from __future__ import annotations

from typing import Any

STAGED: list[int] = []
"""The side effect: what ``stage`` staged and no rollback undid."""
RUNS: dict[str, int] = {}
"""How many times each function ran (tests reset it)."""
VALID: list[bool] = [True]


def reset() -> None:
    STAGED.clear()
    RUNS.clear()
    VALID[:] = [True]


def stage(n: int) -> int:
    RUNS["stage"] = RUNS.get("stage", 0) + 1
    STAGED.append(n)
    return n


def unstage(txn: Any) -> None:
    """An ``on_rollback`` hook: undo ``stage``'s side effect."""
    STAGED.clear()


def double(n: int) -> int:
    return n * 2


def validate(n: int) -> None:
    if not VALID[0]:
        raise ValueError(f"{n} does not validate")


def pairs(n: int) -> dict[str, Any]:
    RUNS["pairs"] = RUNS.get("pairs", 0) + 1
    return {"a": (1, n)}


def fails(n: int) -> int:
    raise ValueError(f"fails on purpose with {n}")
