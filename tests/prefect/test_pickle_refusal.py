"""``allow_pickle: false`` holds for Prefect too (issue #22): the block never hands Prefect a pickle.

A failed run's exception is kept as a pickle (Prefect's record of it); reading it back on a mirror
that sets ``allow_pickle: false`` raises :class:`fsmirror_prefect.storage.PickleRefusedError`, and a
record tampered with in the store is never unpickled. Real flows on the session's Prefect server.
"""

from __future__ import annotations

import base64
import json
import pathlib
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from etl import everyday as e
from prefect_support import MIRRORS

from fsmirror.errors import FormatError
from fsmirror_prefect import FSMirrorStorage
from fsmirror_prefect._records import record_file
from fsmirror_prefect.storage import PickleRefusedError
from prefect import flow, task


class Touch:
    """Unpickling this creates a file: the proof that a payload was (or was not) unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def _failed_run(block: FSMirrorStorage) -> tuple[Any, str]:
    """A plain task that fails on this block: Prefect persists its exception. (task state, record path)"""
    fails = task(result_storage=block, persist_result=True)(e.fails)

    @flow
    def failing() -> int:
        return fails(3)  # type: ignore[no-any-return]

    state = failing(return_state=True)
    assert state.is_failed()
    from prefect_support import task_runs

    run = task_runs(state.state_details.flow_run_id)["fails"]
    assert run.state.is_failed()
    fm = block.fsmirror()
    directory = fm.mirror_full(e.fails, run_id=str(state.state_details.flow_run_id), partition="3")
    return run.state, record_file(directory, "out", run.state.data.storage_key)


@pytest.fixture
def no_pickle(local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]) -> FSMirrorStorage:
    mirror = {"etl": {**MIRRORS["parquet"]["etl"], "allow_pickle": False}}
    return save_block(local_config(mirrors=mirror))


def test_a_failed_runs_exception_is_not_read_back_without_pickle(no_pickle: FSMirrorStorage) -> None:
    state, path = _failed_run(no_pickle)
    assert Path(path).exists()  # Prefect's record of the exception is kept beside the slot
    key = state.data.storage_key
    with pytest.raises(PickleRefusedError, match="failed run's exception, kept as a pickle, and this mirror"):
        no_pickle.read_path(key)
    assert issubclass(PickleRefusedError, FormatError)
    with pytest.raises(PickleRefusedError):  # what Prefect itself gets, in place of the exception
        state.result()


def test_a_tampered_record_is_never_unpickled(no_pickle: FSMirrorStorage, tmp_path: Path) -> None:
    state, path = _failed_run(no_pickle)
    marker = tmp_path / "unpickled"
    doc = json.loads(Path(path).read_bytes())
    # Prefect's record of the failure: a result record whose result is a base64 pickle. Swap it.
    record = json.loads(base64.b64decode(doc["fsmirror"]["failed"]))
    record["result"] = base64.b64encode(pickle.dumps(Touch(marker))).decode()
    doc["fsmirror"]["failed"] = base64.b64encode(json.dumps(record).encode()).decode()
    Path(path).write_text(json.dumps(doc))
    with pytest.raises(PickleRefusedError):
        state.result()
    assert not marker.exists()
