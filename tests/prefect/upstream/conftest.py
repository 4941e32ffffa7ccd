"""Fixtures for the port of Prefect's ``tests/results/`` (see README in each test module).

Prefect's own suite runs against an in-process test database with its services
off, and processes events with a test-only pipeline. This port runs against the
session's real Prefect server (``prefect_test_harness``), so:

- ``prefect_client`` is a real client of that server;
- ``events_pipeline.process_events()`` waits until the server has recorded the
  final state of every task run started since the test began (Prefect records
  task run states from events, asynchronously);
- ``advance_time`` waits for real instead of moving a patched clock;
- ``fsm_config`` is an fsmirror config on a fresh local directory whose mirror
  root is this folder (``upstream``), where the tests' flows and tasks live, and
  ``fsm`` a saved ``FSMirrorStorage`` on it: the ``result_storage=`` of the port.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from fsmirror_prefect import FSMirrorStorage

MIRROR = {
    "upstream": {"root": "upstream", "prefix": "MIRROR", "output_name": "out", "output_format": "parquet"}
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fsm_config(local_config: Callable[..., Path], prefect_api: str) -> Path:
    return local_config(mirrors=MIRROR)


@pytest.fixture
def fsm(fsm_config: Path) -> FSMirrorStorage:
    """A saved FSMirrorStorage block on a fresh local store (what upstream's LocalFileSystem blocks become)."""
    block = FSMirrorStorage(config_path=str(fsm_config))
    block.save(f"upstream-{uuid.uuid4().hex[:12]}")
    return block


@pytest.fixture
async def prefect_client(prefect_api: str) -> AsyncIterator[Any]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        yield client


class _Events:
    """Stands in for upstream's ``events_pipeline``: waits for the real server to record task runs."""

    def __init__(self, since: dt.datetime) -> None:
        self.since = since

    async def process_events(self, timeout: float = 30.0) -> None:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterStartTime

        deadline = time.monotonic() + timeout
        async with get_client() as client:
            while True:
                runs = await client.read_task_runs(
                    task_run_filter=TaskRunFilter(start_time=TaskRunFilterStartTime(after_=self.since))
                )
                if all(r.state is not None and r.state.is_final() for r in runs):
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the server did not record {len(runs)} task runs' final states in {timeout}s"
                    )
                await asyncio.sleep(0.1)


@pytest.fixture
def events_pipeline(prefect_api: str) -> _Events:
    return _Events(dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))


@pytest.fixture
def advance_time() -> Callable[[dt.timedelta], None]:
    return lambda delta: time.sleep(delta.total_seconds())
