"""Tasks called several times in one flow run: plain functions the identity tests decorate.

A task's instance (which call of it a task run is) comes from its inputs, so each
call of ``triple`` in one flow run has its own slot; ``checkpoint_then_fail``
stores its result through its own transaction, then fails, as a task that dies
after its result was written would: the retry's result must replace it.
"""

from __future__ import annotations

from typing import Any

CALLS: dict[str, int] = {}


def triple(x: int) -> int:
    CALLS["triple"] = CALLS.get("triple", 0) + 1
    return 3 * x


def checkpoint_then_fail(n: int) -> dict[str, int]:
    """First attempt: persist ``{"n": n, "try": 1}`` through the task run's transaction, then fail."""
    from prefect.context import TaskRunContext
    from prefect.transactions import get_transaction

    ctx = TaskRunContext.get()
    assert ctx is not None
    if ctx.task_run.run_count == 1:
        txn = get_transaction()
        assert txn is not None and txn.store is not None and txn.key
        store: Any = txn.store
        store.persist_result_record(store.create_result_record({"n": n, "try": 1}, key=txn.key))
        raise RuntimeError("fails after its result was stored")
    return {"n": n, "try": ctx.task_run.run_count}


def total(xs: list[int]) -> int:
    return sum(xs)


def scaled(day: str, n: int = 3) -> str:
    return f"{day}x{n}"


def guarded(lock: Any, n: int) -> int:
    """Takes an input Prefect cannot hash (a lock)."""
    with lock:
        return n + 1


TASKS: dict[str, Any] = {}
"""The decorated ``triple`` the flows below call (tests decorate it with their block)."""


def tripled(xs: list[int]) -> list[int]:
    """A flow body under the mirror's root, so its own result is stored too (``calls/<run>/tripled/``)."""
    return [f.result() for f in TASKS["triple"].map(xs)]
