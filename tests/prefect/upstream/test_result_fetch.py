"""Port of Prefect's ``tests/results/test_result_fetch.py`` with ``result_storage=`` an FSMirrorStorage block.

Upstream: PrefectHQ/prefect ``tests/results/test_result_fetch.py`` (snapshot of 2026-08-21). One
test per upstream test, same names, the maintainers' assertions kept. The only change: every
flow and task gets ``result_storage=`` an ``FSMirrorStorage`` block (upstream persists into
Prefect's default storage). ``foo`` and ``bar`` share one cache key, so ``bar`` is Cached with
``foo``'s result (1): the total is 6, found by the key's record in this module's runs.
"""

import pytest

from prefect import flow, task

pytestmark = pytest.mark.anyio


async def test_async_result_warnings_are_not_raised_by_engine(fsm):
    # Since most of our tests are run with the opt-in globally enabled, this test
    # covers a bunch of features to cover remaining cases where we may internally
    # call `State.result` incorrectly.

    task_run_count = flow_run_count = subflow_run_count = 0

    @task(persist_result=True, result_storage=fsm, retries=3)
    async def my_task():
        nonlocal task_run_count
        task_run_count += 1
        if task_run_count < 3:
            raise ValueError()
        return 1

    @task(
        persist_result=True, result_storage=fsm,
        cache_key_fn=lambda *_: "test_async_result_warnings_are_not_raised_by_engine",
    )
    def foo():
        return 1

    @task(
        persist_result=True, result_storage=fsm,
        cache_key_fn=lambda *_: "test_async_result_warnings_are_not_raised_by_engine",
    )
    def bar():
        return 2

    @flow(persist_result=True, result_storage=fsm)
    def subflow():
        return 1

    @flow(persist_result=True, result_storage=fsm)
    async def async_subflow():
        return 1

    @flow(retries=3, persist_result=True, result_storage=fsm)
    async def retry_subflow():
        nonlocal subflow_run_count
        subflow_run_count += 1
        if subflow_run_count < 3:
            raise ValueError()
        return 1

    @flow(retries=3, persist_result=True, result_storage=fsm)
    async def my_flow():
        a = await my_task()

        b = foo()
        c = bar()
        d = subflow()
        e = await async_subflow()
        f = await retry_subflow()

        nonlocal flow_run_count
        flow_run_count += 1

        if flow_run_count < 3:
            raise ValueError()

        return a + b + c + d + e + f

    assert await my_flow() == 6


async def test_aresult(fsm):
    @flow(result_storage=fsm)
    async def foo():
        return 1

    state = await foo(return_state=True)
    assert await state.aresult() == 1


async def test_async_result_returns_coroutine_with_setting(fsm):
    @flow(result_storage=fsm)
    async def foo():
        return 1

    state = await foo(return_state=True)
    coro = state.result()

    assert await coro == 1


def test_sync_result_does_not_raise_warning(fsm):
    @flow(result_storage=fsm)
    def foo():
        return 1

    @flow(result_storage=fsm)
    def sync():
        state = foo(return_state=True)
        return state.result()

    assert sync() == 1
