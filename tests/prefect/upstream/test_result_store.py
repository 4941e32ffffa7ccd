"""Port of Prefect's ``tests/results/test_result_store.py`` with ``result_storage=`` an FSMirrorStorage block.

Upstream: PrefectHQ/prefect ``tests/results/test_result_store.py`` (the repository snapshot of
2026-08-21; Prefect 3.9.1, installed here, ships no tests). One test per upstream test, same
names and parameters. What the port changes, and why:

- Where upstream configures result storage (a ``LocalFileSystem`` block, or the default storage
  a test persists into), the port gives ``fsm``, a saved ``FSMirrorStorage`` (the point of the
  port); assertions that the storage *is* that block compare with ``fsm``, and the block
  document id with ``fsm``'s (upstream's default storage is unsaved: id None).
- Tests about what Prefect does when no storage is configured (defaults and settings), that
  mock Prefect's internals, or that involve no result storage are skipped, citing the
  docs/prefect.md line that says so (``upstream_support``).
- Files: fsmirror stores a result at its mirrored path, not at ``<basepath>/<key>``; where
  upstream reads or removes that file, the port does so at the fsmirror path.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import prefect.results
import prefect.types._datetime
import pytest
from prefect.context import FlowRunContext, get_run_context
from prefect.filesystems import LocalFileSystem
from prefect.results import (
    ResultRecord,
    ResultStore,
    _get_default_persist_result,
    _result_storage_is_configured_for_remote_retrieval,
    should_persist_result,
)
from prefect.serializers import JSONSerializer, PickleSerializer
from prefect.settings import (
    PREFECT_DEFAULT_RESULT_STORAGE_BLOCK,
    PREFECT_RESULTS_PERSIST_BY_DEFAULT,
    temporary_settings,
)
from prefect.testing.utilities import assert_blocks_equal
from upstream_support import skip_defaults, skip_mocks, skip_scope

from fsmirror import FSMirror
from fsmirror_prefect import FSMirrorStorage
from fsmirror_prefect._records import record_file
from prefect import flow, task

pytestmark = pytest.mark.anyio

DEFAULT_SERIALIZER = PickleSerializer


@pytest.fixture
def default_persistence_off():
    """
    Many tests return result factories, which aren't serialiable.
    When we switched the default persistence setting to True, this caused tests to fail.
    """
    with temporary_settings({PREFECT_RESULTS_PERSIST_BY_DEFAULT: False}):
        yield


@pytest.fixture
async def store(prefect_client, fsm):
    return ResultStore(result_storage=fsm)


def _fallback_dir(config: Path, key: str) -> str:
    """Where fsmirror stores a result written outside any run (docs/prefect.md, "As a plain result_storage")."""
    return FSMirror(config).mirror_full("upstream/_prefect.py::result", run_id=key)


async def test_create_result_record(store):
    record = store.create_result_record({"foo": "bar"})
    assert isinstance(record, ResultRecord)
    assert record.metadata.serializer.type == store.serializer.type
    assert record.metadata.storage_block_id == store.result_storage_block_id
    assert record.result == {"foo": "bar"}


@skip_defaults("the root flow's default result store")
def test_root_flow_default_result_store():
    pass


@skip_defaults("the default serializer setting")
def test_root_flow_default_result_serializer_can_be_overriden_by_setting():
    pass


@skip_defaults("the persist-by-default setting")
def test_root_flow_default_persist_result_can_be_overriden_by_setting():
    pass


@skip_defaults("the persist-by-default setting")
def test_root_flow_can_opt_out_when_persist_result_default_is_overriden_by_setting():
    pass


@pytest.mark.parametrize("toggle", [True, False])
def test_root_flow_custom_persist_setting(toggle, fsm):
    @flow(persist_result=toggle, result_storage=fsm)
    def foo():
        return get_run_context().result_store, should_persist_result()

    result_store, persist_result = foo()
    assert persist_result is toggle
    assert result_store.serializer == DEFAULT_SERIALIZER()
    assert_blocks_equal(result_store.result_storage, fsm)


def test_root_flow_persists_results_when_flow_uses_feature(fsm):
    @flow(cache_result_in_memory=False, persist_result=True, result_storage=fsm)
    def foo():
        return get_run_context().result_store, should_persist_result()

    result_store, persist_result = foo()
    assert persist_result is True
    assert result_store.serializer == DEFAULT_SERIALIZER()
    assert_blocks_equal(result_store.result_storage, fsm)


def test_root_flow_can_opt_out_of_persistence_when_flow_uses_feature(fsm):
    result_store = None
    persist_result = None

    @flow(cache_result_in_memory=False, persist_result=False, result_storage=fsm)
    def foo():
        nonlocal result_store
        nonlocal persist_result
        persist_result = should_persist_result()
        result_store = get_run_context().result_store

    foo()
    assert persist_result is False
    assert result_store.serializer == DEFAULT_SERIALIZER()
    assert_blocks_equal(result_store.result_storage, fsm)
    assert result_store.result_storage_block_id == fsm._block_document_id


@pytest.mark.parametrize("toggle", [True, False])
def test_root_flow_custom_cache_setting(toggle, default_persistence_off, fsm):
    result_store = None

    @flow(cache_result_in_memory=toggle, result_storage=fsm)
    def foo():
        nonlocal result_store
        result_store = get_run_context().result_store

    foo()
    assert result_store.cache_result_in_memory is toggle
    assert result_store.serializer == DEFAULT_SERIALIZER()
    assert_blocks_equal(result_store.result_storage, fsm)


def test_root_flow_custom_serializer_by_type_string(fsm):
    @flow(result_serializer="json", persist_result=False, result_storage=fsm)
    def foo():
        return get_run_context().result_store, should_persist_result()

    result_store, persist_result = foo()
    assert persist_result is False
    assert result_store.serializer == JSONSerializer()
    assert_blocks_equal(result_store.result_storage, fsm)
    assert result_store.result_storage_block_id == fsm._block_document_id


def test_root_flow_custom_serializer_by_instance(default_persistence_off, fsm):
    @flow(persist_result=False, result_serializer=JSONSerializer(jsonlib="orjson"), result_storage=fsm)
    def foo():
        return get_run_context().result_store, should_persist_result()

    result_store, persist_result = foo()
    assert persist_result is False
    assert result_store.serializer == JSONSerializer(jsonlib="orjson")
    assert_blocks_equal(result_store.result_storage, fsm)
    assert result_store.result_storage_block_id == fsm._block_document_id


async def test_root_flow_custom_storage_by_slug(fsm_config, default_persistence_off):
    storage = FSMirrorStorage(config_path=str(fsm_config))
    block_name = f"test-{uuid.uuid4()}"
    storage_id = await storage.save(block_name)

    @flow(result_storage=f"fsmirror-storage/{block_name}")
    def foo():
        return get_run_context().result_store, should_persist_result()

    result_store, persist_result = foo()
    assert persist_result is True  # inferred from the storage
    assert result_store.serializer == DEFAULT_SERIALIZER()
    assert_blocks_equal(result_store.result_storage, storage)
    assert result_store.result_storage_block_id == storage_id


async def test_root_flow_custom_storage_by_instance_presaved(fsm_config, default_persistence_off):
    storage = FSMirrorStorage(config_path=str(fsm_config))
    block_name = f"test-{uuid.uuid4()}"
    storage_id = await storage.save(block_name)

    @flow(result_storage=storage)
    def foo():
        return get_run_context().result_store, should_persist_result()

    result_store, persist_result = foo()
    assert persist_result is True  # inferred from the storage
    assert result_store.serializer == DEFAULT_SERIALIZER()
    assert result_store.result_storage == storage
    assert result_store.result_storage._is_anonymous is False
    assert result_store.result_storage_block_id == storage_id


@skip_defaults("a child flow inheriting the default result settings")
def test_child_flow_inherits_default_result_settings():
    pass


@skip_defaults("the default serializer setting")
def test_child_flow_default_result_serializer_can_be_overriden_by_setting():
    pass


@skip_defaults("the persist-by-default setting")
def test_child_flow_default_persist_result_can_be_overriden_by_setting():
    pass


@skip_defaults("the persist-by-default setting")
def test_child_flow_can_opt_out_when_persist_result_default_is_overriden_by_setting():
    pass


def test_child_flow_custom_persist_setting(default_persistence_off, fsm):
    @flow
    def foo():
        child_store, persist_result = bar()
        return (
            get_run_context().result_store,
            should_persist_result(),
            child_store,
            persist_result,
        )

    @flow(persist_result=True, result_storage=fsm)
    def bar():
        return get_run_context().result_store, should_persist_result()

    parent_store, parent_persist_result, child_store, child_persist_result = foo()
    assert parent_persist_result is False
    assert child_persist_result is True
    assert child_store.serializer == DEFAULT_SERIALIZER()
    assert_blocks_equal(child_store.result_storage, fsm)


@pytest.mark.parametrize("toggle", [True, False])
def test_child_flow_custom_cache_setting(toggle, default_persistence_off, fsm):
    child_store = None

    @flow
    def foo():
        bar(return_state=True)
        return get_run_context().result_store

    @flow(cache_result_in_memory=toggle, result_storage=fsm)
    def bar():
        nonlocal child_store
        child_store = get_run_context().result_store

    parent_store = foo()
    assert parent_store.cache_result_in_memory is True
    assert child_store.cache_result_in_memory is toggle
    assert child_store.serializer == DEFAULT_SERIALIZER()
    assert_blocks_equal(child_store.result_storage, fsm)


def test_child_flow_can_opt_out_of_result_persistence_when_parent_uses_feature(default_persistence_off, fsm):
    @flow(retries=3)
    def foo():
        child_store, child_persist_result = bar()
        return (
            get_run_context().result_store,
            should_persist_result(),
            child_persist_result,
            child_store,
        )

    @flow(persist_result=False, result_storage=fsm)
    def bar():
        return get_run_context().result_store, should_persist_result()

    parent_store, parent_persist_result, child_persist_result, child_store = foo()
    assert parent_persist_result is False
    assert child_persist_result is False
    assert child_store.serializer == DEFAULT_SERIALIZER()
    assert_blocks_equal(child_store.result_storage, fsm)
    assert child_store.result_storage_block_id == fsm._block_document_id


def test_child_flow_inherits_custom_serializer(default_persistence_off, fsm):
    @flow(persist_result=False, result_serializer="json", result_storage=fsm)
    def foo():
        child_store, child_persist_result = bar()
        return get_run_context().result_store, child_persist_result, child_store

    @flow(persist_result=False, result_serializer="json")
    def bar():
        return get_run_context().result_store, should_persist_result()

    parent_store, child_persist_result, child_store = foo()
    assert child_persist_result is False
    assert child_store.serializer == parent_store.serializer
    assert_blocks_equal(child_store.result_storage, fsm)
    assert child_store.result_storage_block_id == fsm._block_document_id


async def test_child_flow_inherits_custom_storage(fsm_config, default_persistence_off):
    storage = FSMirrorStorage(config_path=str(fsm_config))
    block_name = f"test-{uuid.uuid4()}"
    storage_id = await storage.save(block_name)

    @flow(result_storage=f"fsmirror-storage/{block_name}")
    def foo():
        child_store, child_persist_result = bar()
        return get_run_context().result_store, child_persist_result, child_store

    @flow
    def bar():
        return get_run_context().result_store, should_persist_result()

    parent_store, child_persist_result, child_store = foo()
    assert child_persist_result is True
    assert child_store.serializer == DEFAULT_SERIALIZER()
    assert child_store.result_storage == parent_store.result_storage
    assert child_store.result_storage_block_id == storage_id


async def test_child_flow_custom_storage(fsm_config, default_persistence_off):
    storage = FSMirrorStorage(config_path=str(fsm_config))
    block_name = f"test-{uuid.uuid4()}"
    storage_id = await storage.save(block_name)

    @flow()
    def foo():
        child_store, child_persist_result = bar()
        return get_run_context().result_store, child_persist_result, child_store

    @flow(result_storage=f"fsmirror-storage/{block_name}")
    def bar():
        return get_run_context().result_store, should_persist_result()

    parent_store, child_persist_result, child_store = foo()
    # the parent's storage is Prefect's default (it has none of its own): a LocalFileSystem
    assert isinstance(parent_store.result_storage, LocalFileSystem)
    assert child_persist_result is True  # inferred from the storage
    assert child_store.serializer == DEFAULT_SERIALIZER()
    assert_blocks_equal(child_store.result_storage, storage)
    assert child_store.result_storage_block_id == storage_id


@skip_defaults("a task inheriting the default result settings")
def test_task_inherits_default_result_settings():
    pass


@skip_defaults("the default serializer setting")
def test_task_default_result_serializer_can_be_overriden_by_setting():
    pass


@skip_defaults("the persist-by-default settings")
def test_task_default_persist_result_can_be_overriden_by_setting():
    pass


@skip_defaults("the task persistence setting")
async def test_task_can_opt_out_of_result_persistence_with_setting():
    pass


@skip_defaults("the task persistence setting")
async def test_can_opt_out_of_result_persistence_with_setting_when_flow_uses_feature():
    pass


def test_nested_flow_custom_persist_setting(fsm):
    @flow(persist_result=True)
    def foo():
        child_store, child_persist_result = bar()
        return should_persist_result(), child_persist_result, child_store

    @flow(persist_result=False, result_storage=fsm)
    def bar():
        return get_run_context().result_store, should_persist_result()

    flow_persist_result, task_persist_result, task_store = foo()
    assert flow_persist_result is True
    assert task_persist_result is False
    assert task_store.serializer == DEFAULT_SERIALIZER()
    assert_blocks_equal(task_store.result_storage, fsm)
    assert task_store.result_storage_block_id == fsm._block_document_id


@pytest.mark.parametrize("toggle", [True, False])
def test_task_custom_cache_setting(toggle, fsm):
    task_store = None

    @flow
    def foo():
        bar()
        return get_run_context().result_store

    @task(cache_result_in_memory=toggle, result_storage=fsm)
    def bar():
        nonlocal task_store
        task_store = get_run_context().result_store

    flow_store = foo()
    assert flow_store.cache_result_in_memory is True
    assert task_store.cache_result_in_memory is toggle
    assert task_store.serializer == DEFAULT_SERIALIZER()
    assert_blocks_equal(task_store.result_storage, fsm)


def test_task_can_opt_out_of_result_persistence_when_flow_uses_feature(default_persistence_off, fsm):
    @flow(retries=3)
    def foo():
        child_store, child_persist_result = bar()
        return should_persist_result(), child_persist_result, child_store

    @flow(persist_result=False, result_storage=fsm)
    def bar():
        return get_run_context().result_store, should_persist_result()

    flow_persist_result, task_persist_result, task_store = foo()
    assert flow_persist_result is False
    assert task_persist_result is False
    assert task_store.serializer == DEFAULT_SERIALIZER()
    assert_blocks_equal(task_store.result_storage, fsm)
    assert task_store.result_storage_block_id == fsm._block_document_id


@skip_defaults("the persist-by-default setting")
def test_task_can_opt_out_when_persist_result_default_is_overriden_by_setting():
    pass


def test_task_inherits_custom_serializer(default_persistence_off, fsm):
    @flow(result_serializer="json", persist_result=False, result_storage=fsm)
    def foo():
        child_store, child_persist_result = bar()
        return get_run_context().result_store, child_persist_result, child_store

    @flow()
    def bar():
        return get_run_context().result_store, should_persist_result()

    flow_store, task_persist_result, task_store = foo()
    assert task_persist_result is False
    assert task_store.serializer == flow_store.serializer
    assert_blocks_equal(task_store.result_storage, fsm)
    assert task_store.result_storage_block_id == fsm._block_document_id


async def test_task_inherits_custom_storage(fsm_config):
    storage = FSMirrorStorage(config_path=str(fsm_config))
    block_name = f"test-{uuid.uuid4()}"
    storage_id = await storage.save(block_name)

    @flow(result_storage=f"fsmirror-storage/{block_name}", persist_result=True)
    def foo():
        child_store, child_persist_result = bar()
        return get_run_context().result_store, child_persist_result, child_store

    @task(persist_result=True)
    def bar():
        return get_run_context().result_store, should_persist_result()

    flow_store, task_persist_result, task_store = foo()
    assert task_persist_result is True
    assert task_store.serializer == DEFAULT_SERIALIZER()
    assert task_store.result_storage == flow_store.result_storage
    assert task_store.result_storage_block_id == storage_id


def test_task_custom_serializer(default_persistence_off, fsm):
    @flow
    def foo():
        child_store, child_persist_result = bar()
        return get_run_context().result_store, child_persist_result, child_store

    @flow(result_serializer="json", persist_result=False, result_storage=fsm)
    def bar():
        return get_run_context().result_store, should_persist_result()

    parent_store, child_persist_result, child_store = foo()
    assert parent_store.serializer == DEFAULT_SERIALIZER()
    assert child_persist_result is False
    assert child_store.serializer == JSONSerializer()
    assert_blocks_equal(child_store.result_storage, fsm)
    assert child_store.result_storage_block_id == fsm._block_document_id


async def test_nested_flow_custom_storage(fsm_config):
    storage = FSMirrorStorage(config_path=str(fsm_config))
    block_name = f"test-{uuid.uuid4()}"
    storage_id = await storage.save(block_name)

    @flow(persist_result=True)
    def foo():
        child_store, child_persist_result = bar()
        return get_run_context().result_store, child_persist_result, child_store

    @flow(result_storage=f"fsmirror-storage/{block_name}", persist_result=True)
    def bar():
        return get_run_context().result_store, should_persist_result()

    parent_store, child_persist_result, child_store = foo()
    assert isinstance(parent_store.result_storage, LocalFileSystem)  # Prefect's default: none of its own
    assert_blocks_equal(child_store.result_storage, storage)
    assert child_persist_result is True
    assert child_store.serializer == DEFAULT_SERIALIZER()
    assert child_store.result_storage_block_id == storage_id


@skip_defaults("the creation of Prefect's default storage")
async def test_default_storage_creation_for_flow_with_persistence_features():
    pass


@skip_defaults("the creation of Prefect's default storage")
async def test_default_storage_creation_for_flow_without_persistence_features():
    pass


@skip_defaults("the creation of Prefect's default storage")
async def test_default_storage_creation_for_task_with_persistence_features():
    pass


@skip_defaults("the creation of Prefect's default storage")
async def test_default_storage_creation_for_task_without_persistence_features():
    pass


@pytest.mark.parametrize(
    "options,expected",
    [
        (
            {
                "persist_result": True,
                "cache_result_in_memory": False,
                "result_serializer": "json",
            },
            {
                "persist_result": True,
                "cache_result_in_memory": False,
                "serializer": JSONSerializer(),
            },
        ),
        (
            {
                "persist_result": False,
                "cache_result_in_memory": True,
                "result_serializer": "json",
            },
            {
                "persist_result": False,
                "cache_result_in_memory": True,
                "serializer": JSONSerializer(),
            },
        ),
    ],
)
async def test_result_store_from_task_with_no_flow_run_context(options, expected, fsm):
    @task(**options, result_storage=fsm)
    def my_task():
        pass

    assert FlowRunContext.get() is None

    result_store = await ResultStore().update_for_task(task=my_task)

    assert result_store.cache_result_in_memory == expected["cache_result_in_memory"]
    assert result_store.serializer == expected["serializer"]
    assert_blocks_equal(result_store.result_storage, fsm)


@pytest.mark.parametrize("persist_result", [True, False])
async def test_result_store_from_task_loads_persist_result_from_flow_store(persist_result, fsm):
    @task
    def my_task():
        return should_persist_result()

    @flow(persist_result=persist_result, result_storage=fsm)
    def foo():
        return my_task()

    persist_result = foo()

    assert persist_result is persist_result


@pytest.mark.parametrize("persist_result", [True, False])
async def test_result_store_from_task_takes_precedence_from_task(persist_result, fsm):
    @task(persist_result=persist_result, result_storage=fsm)
    def my_task():
        return should_persist_result()

    @flow(persist_result=not persist_result, result_storage=fsm)
    def foo():
        return my_task()

    persist_result = foo()

    assert persist_result is persist_result


async def test_result_store_read_and_write_with_metadata_storage(fsm, fsm_config):
    metadata_storage = fsm.as_metadata_storage()
    result_storage = fsm
    result_store = ResultStore(metadata_storage=metadata_storage, result_storage=result_storage)

    key = "test"
    value = "test"
    await result_store.awrite(key=key, obj=value)
    read_value = await result_store.aread(key=key)
    assert read_value.result == value

    # Check that the result is written to the result storage: outside a run, at fsmirror's
    # fallback slot (the key as its run id); the serializer's bytes as they came, since no run
    # says which serializer made them
    directory = _fallback_dir(fsm_config, key)
    assert result_store.serializer.loads(Path(f"{directory}/out.bytes").read_bytes()) == value

    # Check that the metadata is written to the metadata storage: the key's record beside it
    assert Path(record_file(directory, "out", key)).read_text() == read_value.metadata.model_dump_json(
        serialize_as_any=True
    )


async def test_result_store_exists_with_metadata_storage(fsm, fsm_config):
    metadata_storage = fsm.as_metadata_storage()
    result_storage = fsm
    result_store = ResultStore(metadata_storage=metadata_storage, result_storage=result_storage)

    key = "test"
    value = "test"
    await result_store.awrite(key=key, obj=value)

    assert await result_store.aexists(key=key)
    assert not await result_store.aexists(key="nonexistent")
    assert result_store.exists(key=key)
    assert not result_store.exists(key="nonexistent")

    # Remove the metadata file and check that the result is not found
    Path(record_file(_fallback_dir(fsm_config, key), "out", key)).unlink()
    assert not await result_store.aexists(key=key)
    assert not result_store.exists(key=key)


@skip_defaults("Prefect's default storage resolved by exists()")
async def test_default_result_store_exists_resolves_default_storage():
    pass


async def test_result_store_exists_with_no_metadata_storage(fsm, fsm_config):
    result_storage = fsm
    result_store = ResultStore(result_storage=result_storage)

    key = "test"
    value = "test"
    await result_store.awrite(key=key, obj=value)
    assert await result_store.aexists(key=key)
    assert result_store.exists(key=key)

    # Remove the result file and check that the result is not found
    Path(f"{_fallback_dir(fsm_config, key)}/out.json").unlink()
    assert not await result_store.aexists(key=key)
    assert not result_store.exists(key=key)


@skip_scope("lock manager isolation levels")
async def test_supports_isolation_level():
    pass


class TestInMemoryCacheExpiration:
    """Tests for in-memory cache expiration in ResultStore._read and _aread."""

    async def test_read_returns_cached_result_before_expiration(self, fsm):
        result_storage = fsm
        store = ResultStore(result_storage=result_storage, cache_result_in_memory=True)

        key = "test-not-expired"
        expiration = prefect.types._datetime.now("UTC") + timedelta(seconds=60)
        record = store.create_result_record("cached_value", key=key, expiration=expiration)
        store.persist_result_record(record)

        # Warm the in-memory cache
        first_read = store.read(key=key)
        assert first_read.result == "cached_value"

        # Second read should still return from cache (not expired)
        second_read = store.read(key=key)
        assert second_read.result == "cached_value"

    async def test_read_evicts_expired_result_from_cache(self, fsm, advance_time):
        result_storage = fsm
        store = ResultStore(result_storage=result_storage, cache_result_in_memory=True)

        key = "test-expired"
        expiration = prefect.types._datetime.now("UTC") + timedelta(seconds=1)
        record = store.create_result_record("old_value", key=key, expiration=expiration)
        store.persist_result_record(record)

        # Warm the in-memory cache
        first_read = store.read(key=key)
        assert first_read.result == "old_value"

        resolved_key = store._resolved_key_path(key)
        assert resolved_key in store.cache

        # Advance time past expiration (real time: the port patches no clock)
        advance_time(timedelta(seconds=2))

        # Write a new value to storage to simulate re-execution
        new_record = store.create_result_record("new_value", key=key)
        store.persist_result_record(new_record)

        # Read should evict expired entry and return from storage
        result = store.read(key=key)
        assert result.result == "new_value"

        # The expired entry should have been evicted from cache
        # and the new value should now be cached
        assert resolved_key in store.cache
        assert store.cache[resolved_key].result == "new_value"

    async def test_aread_evicts_expired_result_from_cache(self, fsm, advance_time):
        result_storage = fsm
        store = ResultStore(result_storage=result_storage, cache_result_in_memory=True)

        key = "test-expired-async"
        expiration = prefect.types._datetime.now("UTC") + timedelta(seconds=1)
        record = store.create_result_record("old_value", key=key, expiration=expiration)
        await store.apersist_result_record(record)

        # Warm the in-memory cache
        first_read = await store.aread(key=key)
        assert first_read.result == "old_value"

        resolved_key = store._resolved_key_path(key)
        assert resolved_key in store.cache

        # Advance time past expiration (real time)
        advance_time(timedelta(seconds=2))

        # Write a new value to storage
        new_record = store.create_result_record("new_value", key=key)
        await store.apersist_result_record(new_record)

        # Async read should evict expired entry and return from storage
        result = await store.aread(key=key)
        assert result.result == "new_value"

    async def test_read_returns_result_with_no_expiration(self, fsm):
        """Results without expiration should always be returned from cache."""
        result_storage = fsm
        store = ResultStore(result_storage=result_storage, cache_result_in_memory=True)

        key = "test-no-expiration"
        record = store.create_result_record("permanent_value", key=key)
        store.persist_result_record(record)

        # Warm the in-memory cache
        first_read = store.read(key=key)
        assert first_read.result == "permanent_value"
        assert first_read.metadata.expiration is None

        # Should still return from cache (no expiration means never expires)
        second_read = store.read(key=key)
        assert second_read.result == "permanent_value"


class TestAsyncDispatch:
    """Tests for async_dispatch behavior of ResultStore methods."""

    @skip_scope("ResultStore.update_for_flow's sync/async dispatch")
    async def test_update_for_flow_dispatches_to_async_in_async_context(self):
        pass

    @skip_scope("ResultStore.update_for_task's sync/async dispatch")
    async def test_update_for_task_dispatches_to_async_in_async_context(self):
        pass

    @skip_scope("ResultStore.update_for_flow's sync/async dispatch")
    def test_update_for_flow_returns_sync_in_sync_context(self):
        pass

    @skip_scope("ResultStore.update_for_task's sync/async dispatch")
    def test_update_for_task_returns_sync_in_sync_context(self):
        pass


class TestDefaultResultStorageResolution:
    @pytest.fixture(autouse=True)
    def clear_default_storage_cache(self):
        prefect.results._default_storages.clear()
        yield
        prefect.results._default_storages.clear()

    @skip_mocks("it mocks the Prefect client and resolve_result_storage")
    @pytest.mark.parametrize("server_type", ["SERVER", "CLOUD"])
    def test_uses_server_default_result_storage_sync(self, server_type):
        pass

    @skip_mocks("it patches prefect.results._read_server_default_result_storage_block_id")
    def test_should_persist_result_does_not_read_server_default_storage(self):
        pass

    def test_configured_default_result_storage_enables_default_persistence(self, fsm):
        slug = f"fsmirror-storage/{fsm._block_document_name}"
        with temporary_settings({PREFECT_DEFAULT_RESULT_STORAGE_BLOCK: slug}):
            assert _get_default_persist_result() is True

    def test_block_backed_storage_does_not_enable_default_persistence_by_itself(self, fsm_config):
        storage = FSMirrorStorage(config_path=str(fsm_config))
        storage._block_document_id = uuid.uuid4()
        result_store = ResultStore(result_storage=storage)

        assert result_store.result_storage_block_id == storage._block_document_id
        assert _get_default_persist_result() is False

    async def test_configured_default_result_storage_does_not_override_parent_opt_out(self, fsm_config):
        block_name = f"parent-result-storage-{uuid.uuid4()}"
        await FSMirrorStorage(config_path=str(fsm_config)).save(block_name)

        @task
        def my_task():
            return should_persist_result()

        @flow(
            persist_result=False,
            result_storage=f"fsmirror-storage/{block_name}",
        )
        def my_flow():
            return my_task()

        with temporary_settings({PREFECT_DEFAULT_RESULT_STORAGE_BLOCK: f"fsmirror-storage/{block_name}"}):
            assert my_flow() is False

    @skip_mocks("it patches prefect.results._read_server_default_result_storage_block_id")
    def test_local_persist_setting_does_not_need_default_result_storage(self):
        pass

    @skip_mocks("it patches prefect.results._read_server_default_result_storage_block_id")
    def test_task_default_persistence_does_not_read_default_result_storage(self):
        pass

    @skip_mocks("it patches prefect.results._read_server_default_result_storage_block_id")
    def test_explicit_task_persistence_setting_overrides_default_persistence(self):
        pass

    @skip_mocks("it patches prefect.results._read_server_default_result_storage_block_id")
    def test_local_default_result_storage_is_resolved_before_enabling_persistence(self):
        pass

    @skip_mocks("it mocks the Prefect client and aresolve_result_storage")
    @pytest.mark.parametrize("server_type", ["SERVER", "CLOUD"])
    async def test_uses_server_default_result_storage_async(self, server_type):
        pass

    @skip_mocks("it patches prefect.client.orchestration.get_client")
    def test_falls_back_to_local_storage_when_server_default_cannot_be_read_sync(self):
        pass

    @skip_mocks("it patches prefect.client.orchestration.get_client")
    async def test_falls_back_to_local_storage_when_server_default_cannot_be_read_async(self):
        pass


class TestRemoteResultStorageConfiguration:
    def test_returns_true_for_explicit_flow_storage(self, tmp_path: Path, fsm):
        explicit_storage = fsm
        current_storage = LocalFileSystem(basepath=tmp_path / "current")

        is_configured = _result_storage_is_configured_for_remote_retrieval(
            explicit_storage,
            current_storage,
        )

        assert is_configured is True

    def test_returns_true_for_non_local_current_result_store_storage(self, fsm):
        current_storage = fsm  # upstream: MagicMock(spec=WritableFileSystem)

        is_configured = _result_storage_is_configured_for_remote_retrieval(
            None,
            current_storage,
        )

        assert is_configured is True

    @skip_scope("how Prefect judges its own LocalFileSystem")
    def test_returns_false_for_local_current_result_store_storage(self):
        pass

    @skip_scope("no storage at all")
    def test_returns_false_when_no_result_storage_is_configured(self):
        pass
