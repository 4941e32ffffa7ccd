"""``FSMirrorSource() + INPUTS`` in real Prefect flows: a module-level edit the task depends on misses
the cache, where Prefect's ``TASK_SOURCE`` (the task's text only, prefect#23062) still hits.

The task's module is written into a temporary directory and imported like user code; after an
edit it is reloaded, so each run executes the code on disk. Each test passes its own input, so
no cache entry of another test (the result store is the session's) can make a first run hit.
"""

from __future__ import annotations

import importlib
import os
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from prefect.cache_policies import INPUTS, TASK_SOURCE

from fsmirror_prefect import FSMirrorSource
from prefect import flow, task

MODULE = '''
"""A task whose result depends on a module-level constant."""

FACTOR = {factor}


def scaled(x: str) -> str:
    # the task's own text never changes between the runs
    return x * FACTOR
'''


def _write(path: Path, factor: int, mtime_ns: int) -> None:
    path.write_text(MODULE.format(factor=factor))
    # a distinct mtime for each version: the fingerprint caches per (file, mtime, size)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def _run(module: ModuleType, policy: Any, x: str) -> tuple[str, str]:
    """One flow run calling the module's function as a task: (state name, result)."""
    step = task(module.scaled, cache_policy=policy, persist_result=True)

    @flow
    def pipeline(x: str) -> Any:
        return step(x, return_state=True)

    state = pipeline(x)
    return state.name, state.result()


@pytest.fixture
def task_module(tmp_path: Path, prefect_api: str) -> Any:
    """``(module, edit)``: a fresh module on sys.path; ``edit(factor)`` rewrites and reloads it."""
    name = f"cachemod_{uuid.uuid4().hex[:10]}"
    path = tmp_path / f"{name}.py"
    _write(path, 2, 1_700_000_000_000_000_000)
    sys.path.insert(0, str(tmp_path))
    module = importlib.import_module(name)

    def edit(factor: int) -> ModuleType:
        _write(path, factor, 1_700_000_100_000_000_000)
        return importlib.reload(module)

    yield module, edit
    sys.path.remove(str(tmp_path))
    sys.modules.pop(name, None)


@pytest.mark.parametrize(
    ("policy", "after_edit"),
    [
        # fsmirror's fingerprint covers FACTOR: the edit is a new key, the task runs again
        (FSMirrorSource() + INPUTS, ("Completed", 3)),
        # Prefect's TASK_SOURCE sees the same task text: the stale result comes back
        (TASK_SOURCE + INPUTS, ("Cached", 2)),
    ],
    ids=["fsmirror-source", "task-source"],
)
def test_module_constant_edit(task_module: Any, policy: Any, after_edit: tuple[str, int]) -> None:
    module, edit = task_module
    x = f"abc-{uuid.uuid4().hex[:6]}-"
    first = _run(module, policy, x)
    assert first == ("Completed", x * 2)
    assert _run(module, policy, x) == ("Cached", x * 2)  # unchanged module: a hit

    module = edit(3)
    expected_state, factor = after_edit
    assert _run(module, policy, x) == (expected_state, x * factor)
