"""Retries, failures, caching across flow runs, gc and storage keys: real flows, asserted on the store.

Issue #14: after a flow-level retry a task that failed in the first attempt must
succeed; a failed task's exception is no artifact; manifests record the real
type; cache hits cross flow runs as with Prefect's own storage; gc removes every
file fsmirror wrote for a run; keys and records name code addresses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from etl import pipeline as p
from prefect.cache_policies import INPUTS
from prefect_support import MIRRORS, run_python

from fsmirror import ArtifactNotFoundError
from fsmirror.cli import cli
from fsmirror_prefect import FSMirrorStorage, mirrored_task
from fsmirror_prefect._records import kind_of, record_file
from prefect import flow, task

SAMPLE = Path(__file__).parent / "sample"
LIFT = "etl/pipeline.py::lift_data"


@pytest.fixture(params=["local", "s3"])
def store_config(request: pytest.FixtureRequest) -> Callable[..., Path]:
    factory = request.getfixturevalue("local_config" if request.param == "local" else "s3_config")
    return lambda fmt="parquet", **kw: factory(mirrors=MIRRORS.get(fmt) or _mirror(fmt), **kw)


def _mirror(fmt: str) -> dict[str, Any]:
    return {"etl": {"root": "etl", "prefix": "MIRROR", "output_name": "out", "output_format": fmt}}


def all_task_runs(flow_run_id: Any) -> list[Any]:
    """Every task run of a flow run, oldest first, as Prefect recorded them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    with get_client(sync_client=True) as client:
        return list(
            client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
            )
        )


def files_under(fm: Any, directory: str) -> set[str]:
    fs = fm.filesystem
    root = fs._strip_protocol(directory).rstrip("/")
    try:
        return {path[len(root) + 1 :] for path in fs.find(directory)}
    except FileNotFoundError:
        return set()


def _cli(block: FSMirrorStorage, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--config", str(block.config_path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_a_task_that_failed_before_a_flow_retry_succeeds(
    store_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    p.CALLS.clear()
    block = save_block(store_config())
    fm = block.fsmirror()
    lift = mirrored_task(storage=block)(p.flaky_lift)

    @flow(retries=1)
    def retried() -> int:
        return len(lift(3))

    state = retried(return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == 3
    fr = str(state.state_details.flow_run_id)
    first, second = all_task_runs(fr)
    assert first.state.is_failed() and second.state.is_completed()

    # The second attempt's result is the artifact; the first attempt's exception is not.
    assert fm.runs(p.flaky_lift) == [fr]
    assert fm.latest(p.flaky_lift) == fr
    pd.testing.assert_frame_equal(fm.read(p.flaky_lift), p.lift_data(3))
    man = fm.manifest(p.flaky_lift)
    assert man["orchestrator"]["task_run_id"] == str(second.id)
    assert man["python_type"].startswith("pandas") and man["python_type"].endswith("DataFrame")
    # Prefect still has the exception (its record beside the artifact), as it needs it.
    with pytest.raises(ValueError, match="first attempt fails on purpose"):
        first.state.result()
    run_dir = fm.mirror_full(p.flaky_lift, run_id=fr)
    assert files_under(fm, run_dir) == {
        "out.parquet",
        "_out.manifest.json",
        record_file("", "out", first.state.data.storage_key)[1:],
        record_file("", "out", second.state.data.storage_key)[1:],
    }


def test_a_task_retry_succeeds(
    local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    p.CALLS.clear()
    block = save_block(local_config(mirrors=MIRRORS["parquet"]))
    lift = mirrored_task(storage=block, retries=1)(p.flaky_lift)

    @flow
    def once() -> int:
        return len(lift(2))

    state = once(return_state=True)
    assert state.is_completed(), state.message
    assert p.CALLS["flaky_lift"] == 2
    fr = str(state.state_details.flow_run_id)
    assert block.fsmirror().runs(p.flaky_lift) == [fr]


def test_a_failed_task_leaves_no_artifact(
    store_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage], prefect_api: str
) -> None:
    block = save_block(store_config())
    fm = block.fsmirror()
    doomed_task = mirrored_task(storage=block)(p.always_fails)

    @flow
    def doomed() -> int:
        return doomed_task(3)

    state = doomed(return_state=True)
    assert state.is_failed()
    fr = str(state.state_details.flow_run_id)
    (tr,) = all_task_runs(fr)

    assert fm.runs(p.always_fails) == []
    assert fm.latest(p.always_fails) is None
    assert not fm.exists(p.always_fails, run_id=fr)
    with pytest.raises(ArtifactNotFoundError):
        fm.read(p.always_fails)
    assert json.loads(_cli(block, "ls", "--json").output) == []
    # only Prefect's record of the exception, in the run's directory (gc'd with it once a retry commits)
    run_dir = fm.mirror_full(p.always_fails, run_id=fr)
    assert files_under(fm, run_dir) == {record_file("", "out", tr.state.data.storage_key)[1:]}

    # Prefect reads the exception back, in another process, from the key alone
    code = f"""
import fsmirror_prefect
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    try:
        client.read_task_run({str(tr.id)!r}).state.result()
    except ValueError as e:
        print("raised", type(e).__name__, e)
"""
    assert run_python(code, prefect_api).strip().splitlines()[-1] == "raised ValueError cannot lift 3"


def test_the_manifest_records_the_real_type_so_a_csv_frame_reads_back_as_a_frame(
    local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage], prefect_api: str
) -> None:
    block = save_block(local_config(mirrors=_mirror("csv")))
    fm = block.fsmirror()
    lift = mirrored_task(storage=block)(p.lift_data)

    @flow
    def as_csv() -> int:
        return len(lift(3))

    state = as_csv(return_state=True)
    assert state.is_completed(), state.message
    fr = str(state.state_details.flow_run_id)
    man = fm.manifest(p.lift_data, run_id=fr)
    assert man["format"] == "csv" and man["uri"].endswith("/lift_data/out.csv")
    assert man["python_type"].startswith("pandas") and man["python_type"].endswith("DataFrame")
    pd.testing.assert_frame_equal(fm.read(p.lift_data), p.lift_data(3))  # not a list of rows
    (tr,) = all_task_runs(fr)
    code = f"""
import fsmirror_prefect
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    df = client.read_task_run({str(tr.id)!r}).state.result()
print(type(df).__name__, df["value"].tolist())
"""
    assert run_python(code, prefect_api).strip().splitlines()[-1] == "DataFrame [0, 10, 20]"


def by_id(n: int) -> str:
    """A cache key function: one cache entry per input, whatever the flow run."""
    return f"count-{n}"


@pytest.mark.parametrize("caching", ["cache_policy=INPUTS", "cache_key_fn"])
def test_cache_hits_cross_flow_runs_reading_the_earlier_artifact_in_place(
    caching: str,
    store_config: Callable[..., Path],
    save_block: Callable[..., FSMirrorStorage],
    prefect_api: str,
) -> None:
    p.CALLS.clear()
    block = save_block(store_config())
    fm = block.fsmirror()
    options: dict[str, Any] = (
        {"cache_policy": INPUTS}
        if caching == "cache_policy=INPUTS"
        else {"cache_key_fn": lambda ctx, params: by_id(params["n"])}
    )
    counted = mirrored_task(storage=block, cache_result_in_memory=False, **options)(p.count_calls)

    @flow
    def counting(n: int) -> dict[str, int]:
        return counted(n)

    states = [counting(n, return_state=True) for n in (2, 2, 3)]
    assert [s.result() for s in states] == [{"n": 2}, {"n": 2}, {"n": 3}]
    assert p.CALLS["count_calls"] == 2  # the second flow run did not run the task
    frs = [str(s.state_details.flow_run_id) for s in states]
    trs = [all_task_runs(fr)[0] for fr in frs]
    assert [tr.state.name for tr in trs] == ["Completed", "Cached", "Completed"]
    assert trs[1].state.data.storage_key == trs[0].state.data.storage_key
    assert trs[1].state.data.storage_key.startswith("fsmirror:*:")  # a cache entry of any run
    # no copy: the second run has no artifact of its own, the first run's answers it
    assert fm.runs(p.count_calls) == [frs[0], frs[2]]
    assert files_under(fm, fm.mirror_full(p.count_calls, run_id=frs[1])) == set()
    code = f"""
import json
import fsmirror_prefect
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    print(json.dumps(client.read_task_run({str(trs[1].id)!r}).state.result()))
"""
    assert json.loads(run_python(code, prefect_api).strip().splitlines()[-1]) == {"n": 2}


def test_the_default_policy_keeps_each_flow_runs_own_artifact(
    local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    p.CALLS.clear()
    block = save_block(local_config(mirrors=MIRRORS["parquet"]))
    counted = mirrored_task(storage=block)(p.count_calls)

    @flow
    def counting(n: int) -> dict[str, int]:
        return counted(n)

    frs = [str(counting(2, return_state=True).state_details.flow_run_id) for _ in range(2)]
    assert p.CALLS["count_calls"] == 2  # Prefect's DEFAULT policy includes the flow run
    assert block.fsmirror().runs(p.count_calls) == frs


def test_gc_removes_every_file_fsmirror_wrote_for_a_deleted_run(
    store_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    block = save_block(store_config())
    fm = block.fsmirror()
    frs = []
    for n in (2, 3, 4):
        p.CALLS.clear()
        lift = mirrored_task(storage=block)(p.flaky_lift)  # each run: a failed attempt, then a flow retry

        @flow(retries=1)
        def retried(n: int = n, lift: Any = lift) -> int:
            return len(lift(n))

        state = retried(return_state=True)
        assert state.is_completed(), state.message
        frs.append(str(state.state_details.flow_run_id))
    for fr in frs:  # artifact, manifest, and the records of both attempts' keys
        assert len(files_under(fm, fm.mirror_full(p.flaky_lift, run_id=fr))) == 4

    gone = json.loads(_cli(block, "gc", "etl/pipeline.py::flaky_lift", "--keep", "1", "--json").output)
    assert sorted(d["run_id"] for d in gone["deleted"]) == sorted(frs[:2])
    for fr in frs[:2]:
        assert files_under(fm, fm.mirror_full(p.flaky_lift, run_id=fr)) == set()
    assert len(files_under(fm, fm.mirror_full(p.flaky_lift, run_id=frs[2]))) == 4
    # nothing kept elsewhere: no index of keys outside the runs' directories
    assert not fm.filesystem.exists(f"{fm.base}/_prefect")


def test_keys_and_records_hold_code_addresses_never_host_paths(
    local_config: Callable[..., Path], tmp_path: Path, save_block: Callable[..., FSMirrorStorage]
) -> None:
    block = save_block(local_config(mirrors=MIRRORS["parquet"]))
    state = p.build(block, flow_result=True)(3, return_state=True)
    assert state.is_completed(), state.message
    fr = str(state.state_details.flow_run_id)
    host = str(SAMPLE).strip("/")  # what the old keys held: the project dir without its leading slash
    for tr in all_task_runs(fr):
        key = tr.state.data.storage_key
        name = tr.task_key.rsplit("-", 1)[0]
        assert key.startswith(f"fsmirror:{fr}:") and key.endswith(f"::etl/pipeline.py::{name}")
        assert host not in key
    store = tmp_path / "store"
    records = list(store.rglob("_out.prefect_*.json"))
    assert records and not any(host in r.read_text() for r in records)
    manifests = [json.loads(m.read_text()) for m in store.rglob("_out.manifest.json")]
    assert {m["code"]["address"] for m in manifests} == {
        LIFT,
        "etl/pipeline.py::summarize",
        "etl/pipeline.py::pipeline",
    }
    assert all(
        m["orchestrator"]["result_key"].startswith("fsmirror:")
        and host not in m["orchestrator"]["result_key"]
        for m in manifests
    )


def test_a_plain_result_storage_task_caches_across_flow_runs_and_gc_cleans_up(
    local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    """Prefect's own keys (a static result_storage_key): found by their record, removed with their run."""
    p.CALLS.clear()
    block = save_block(local_config(mirrors=MIRRORS["parquet"]))
    fm = block.fsmirror()
    plain = task(p.count_calls, result_storage=block, persist_result=True, cache_key_fn=lambda *_: "count")

    @flow
    def counting() -> dict[str, int]:
        return plain(7)

    frs = [str(counting(return_state=True).state_details.flow_run_id) for _ in range(2)]
    assert p.CALLS["count_calls"] == 1
    assert [all_task_runs(fr)[0].state.name for fr in frs] == ["Completed", "Cached"]
    # a plain task's instance is its call's inputs: count_calls(7) -> .../count_calls/7/
    assert fm.runs(p.count_calls, partition="7") == [frs[0]]
    assert fm.read(p.count_calls, partition="7") == {"n": 7}  # a real JSON artifact, not Prefect's envelope
    run_dir = fm.mirror_full(p.count_calls, run_id=frs[0], partition="7")
    assert files_under(fm, run_dir) == {"out.json", "_out.manifest.json", f"_out.{kind_of('count')}.json"}
    assert fm.delete(p.count_calls, run_id=frs[0], partition="7")
    assert files_under(fm, run_dir) == set()
