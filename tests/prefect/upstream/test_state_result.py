"""Port of Prefect's ``tests/results/test_state_result.py`` with ``result_storage=`` an FSMirrorStorage block.

Upstream: PrefectHQ/prefect ``tests/results/test_state_result.py`` (snapshot of 2026-08-21). One
test per upstream test, same names and parameters. What the port changes, and why:

- Result stores use an ``FSMirrorStorage`` block where upstream uses ``LocalFileSystem`` (or the
  default storage).
- The graceful-retry test runs Prefect's real retry loop (10 tries, 0.25 s apart) instead of
  patching its constants; the missing result surfaces as the block's error, an
  ``ArtifactNotFoundError`` (a ``FileNotFoundError``), where LocalFileSystem raises ValueError,
  with the same words ("does not exist").
- The two tests that replace ``LocalFileSystem.aread_path`` with a mock are skipped (docs/prefect.md).


Upstream's own docstring: "Generic tests for `State.result`".
"""

import time
from pathlib import Path

import prefect.states
import pytest
from prefect.filesystems import WritableFileSystem
from prefect.results import (
    ResultRecord,
    ResultStore,
)
from prefect.serializers import JSONSerializer
from prefect.states import State, StateType, to_state_create
from upstream_support import skip_mocks, skip_scope

from fsmirror_prefect import FSMirrorStorage

pytestmark = pytest.mark.anyio


@skip_scope("unfinished states")
@pytest.mark.parametrize(
    "state_type",
    [StateType.PENDING, StateType.RUNNING, StateType.SCHEDULED, StateType.CANCELLING],
)
@pytest.mark.parametrize("raise_on_failure", [True, False])
async def test_unfinished_states_raise_on_result_retrieval(state_type: StateType, raise_on_failure: bool):
    pass


@pytest.mark.parametrize(
    "state_type",
    [StateType.CRASHED, StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED],
)
async def test_finished_states_allow_result_retrieval(state_type: StateType, fsm):
    store = ResultStore(result_storage=fsm)
    state = State(type=state_type, data=store.create_result_record("test"))

    assert await state.result(raise_on_failure=False) == "test"


@pytest.fixture
def shorter_result_retries():
    """Upstream patches Prefect's retry constants to 3 tries 0.01 s apart; the port keeps the real ones."""


@pytest.fixture
async def storage_block(fsm_config):
    block = FSMirrorStorage(config_path=str(fsm_config))
    await block._save(is_anonymous=True)
    return block


@pytest.fixture
def store(storage_block: WritableFileSystem) -> ResultStore:
    return ResultStore(
        result_storage=storage_block,
        serializer=JSONSerializer(),
        storage_key_fn=lambda: "test-graceful-retry-path",
    )


@pytest.fixture
async def a_real_result(store: ResultStore) -> ResultRecord[str]:
    return store.create_result_record(
        "test-graceful-retry",
    )


@pytest.fixture
def completed_state(a_real_result: ResultRecord[str]) -> State[str]:
    return State(type=StateType.COMPLETED, data=a_real_result.metadata)


def test_to_state_create_drops_unpersisted_result_record_without_run_context(
    tmp_path: Path, fsm
) -> None:
    store = ResultStore(
        result_storage=fsm,
        serializer=JSONSerializer(),
    )
    record = store.create_result_record({"answer": 42}, key="flow-result")
    state = State(type=StateType.COMPLETED, data=record)

    assert record.is_persisted is False
    assert to_state_create(state).data is None


def test_to_state_create_preserves_persisted_result_record_without_run_context(
    tmp_path: Path, fsm
) -> None:
    store = ResultStore(
        result_storage=fsm,
        serializer=JSONSerializer(),
    )
    record = store.create_result_record({"answer": 42}, key="flow-result")

    store.persist_result_record(record)

    state = State(type=StateType.COMPLETED, data=record)
    assert record.is_persisted is True
    assert to_state_create(state).data == record.metadata


async def test_to_state_create_preserves_async_persisted_result_record_without_run_context(
    tmp_path: Path, fsm
) -> None:
    store = ResultStore(
        result_storage=fsm,
        serializer=JSONSerializer(),
    )
    record = store.create_result_record({"answer": 42}, key="flow-result")

    await store.apersist_result_record(record)

    state = State(type=StateType.COMPLETED, data=record)
    assert record.is_persisted is True
    assert to_state_create(state).data == record.metadata


async def test_graceful_retries_are_finite_while_retrieving_missing_results(
    shorter_result_retries: None,
    completed_state: State[str],
):
    now = time.monotonic()

    # it should raise if the result has not been written (the block's error: a FileNotFoundError)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        await completed_state.result()

    # it should have taken ~3 retries for this to raise
    expected_sleep = (
        prefect.states.RESULT_READ_MAXIMUM_ATTEMPTS - 1
    ) * prefect.states.RESULT_READ_RETRY_DELAY
    elapsed = time.monotonic() - now
    assert elapsed >= expected_sleep


@skip_mocks("it replaces LocalFileSystem.aread_path with a mock")
async def test_graceful_retries_reraise_last_error_while_retrieving_missing_results():
    pass


@skip_mocks("it replaces LocalFileSystem.aread_path with a mock")
async def test_graceful_retries_eventually_succeed_while():
    pass
