"""Real Prefect flows with FSMirrorStorage: what lands in storage, and what Prefect recorded.

Each test runs a two-task flow (``lift_data`` -> DataFrame, ``summarize`` ->
a plain object) from ``sample/etl/pipeline.py`` against the session's Prefect
server, on a local directory and on moto's S3 server, and reads the files back
without Prefect (pyarrow, pickle) and with Prefect from a fresh interpreter.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from etl import pipeline as p
from prefect_support import MIRRORS, block_slug, read_json, run_python, task_runs

from fsmirror import ArtifactExistsError, ConfigError, ResolveError
from fsmirror_prefect import FSMirrorStorage, mirrored_task
from fsmirror_prefect._records import record_file
from prefect import flow

BLOCK_SETS = ["local", "s3"]


@pytest.fixture(params=BLOCK_SETS)
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Path]:
    """``store_config(fmt)`` -> a config file for a fresh local dir or a fresh bucket on moto's S3."""
    factory = request.getfixturevalue("local_config" if request.param == "local" else "s3_config")
    return lambda fmt: factory(mirrors=MIRRORS[fmt])


def run_files(fs: Any, run_dir: str) -> set[str]:
    root = fs._strip_protocol(run_dir).rstrip("/")
    return {path[len(root) + 1 :] for path in fs.find(run_dir)}


def test_flow_writes_real_artifacts_at_mirrored_paths(
    store_config: Callable[[str], Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    block = save_block(store_config("parquet"))
    fm = block.fsmirror()
    fs = fm.filesystem
    state = p.build(block)(3, return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == {"rows": 3, "total": 30}
    fr = str(state.state_details.flow_run_id)

    run_dir = f"{fm.base}/etl/pipeline/{fr}"
    assert fm.mirror_full_output(p.lift_data, run_id=fr) == f"{run_dir}/lift_data/out.parquet"
    runs = task_runs(state.state_details.flow_run_id)
    # Prefect's record of each key sits beside the artifact: _out.prefect_<hash of the key>.json
    record = {name: record_file("", "out", runs[name].state.data.storage_key)[1:] for name in runs}
    assert run_files(fs, run_dir) == {
        "lift_data/out.parquet",
        "lift_data/_out.manifest.json",
        f"lift_data/{record['lift_data']}",
        "summarize/out.pkl",
        "summarize/_out.manifest.json",
        f"summarize/{record['summarize']}",
    }
    # Real artifacts: parquet that pyarrow reads, a plain pickle; no Prefect involved.
    with fs.open(f"{run_dir}/lift_data/out.parquet", "rb") as f:
        table = pq.read_table(f)
    assert table.column("value").to_pylist() == [0, 10, 20]
    assert pickle.loads(fs.cat_file(f"{run_dir}/summarize/out.pkl")) == p.Summary(3, 30)

    # The manifest records Prefect's ids, matching what Prefect itself recorded.
    assert set(runs) == {"lift_data", "summarize"}
    for name in ("lift_data", "summarize"):
        tr = runs[name]
        assert tr.state.is_completed()
        man = read_json(fs, f"{run_dir}/{name}/_out.manifest.json")
        assert man["run"]["id"] == fr
        assert man["run"]["source"] == "prefect"
        ids = man["orchestrator"]
        assert ids["flow_run_id"] == fr
        assert ids["task_run_id"] == str(tr.id)
        assert ids["task_name"] == name and ids["task_run_name"] == tr.name
        assert ids["flow_name"] == "pipeline"
        # Prefect's own metadata lives beside the artifact and points at it.
        meta = read_json(fs, f"{run_dir}/{name}/{record[name]}")
        assert meta["storage_key"] == tr.state.data.storage_key == ids["result_key"]
        assert meta["serializer"]["type"] == "fsmirror"
        assert str(tr.state.data.storage_block_id) == str(block._block_document_id)
    assert read_json(fs, f"{run_dir}/summarize/_out.manifest.json")["format"] == "pkl"

    # A second flow run lands in a new directory; the first is untouched.
    state2 = p.build(block)(4, return_state=True)
    fr2 = str(state2.state_details.flow_run_id)
    assert fr2 != fr
    with fs.open(f"{fm.base}/etl/pipeline/{fr2}/lift_data/out.parquet", "rb") as f:
        assert pq.read_table(f).num_rows == 4
    assert fm.runs(p.lift_data) == [fr, fr2]
    assert fm.latest(p.lift_data) == fr2
    assert len(fm.read(p.lift_data, run_id=fr)) == 3  # the manifest says a pandas DataFrame was stored


def test_pickle_mirror_holds_a_plain_pickle(
    local_config: Callable[..., Path], tmp_path: Path, save_block: Callable[..., FSMirrorStorage]
) -> None:
    block = save_block(local_config(mirrors=MIRRORS["pkl"]))
    state = p.build(block)(2, return_state=True)
    assert state.is_completed(), state.message
    fr = str(state.state_details.flow_run_id)
    path = tmp_path / "store" / "etl" / "pipeline" / fr / "lift_data" / "out.pkl"
    with path.open("rb") as f:
        df = pickle.load(f)
    assert df.equals(p.lift_data(2))


def test_cached_rerun_reads_back_from_storage(
    local_config: Callable[..., Path], tmp_path: Path, save_block: Callable[..., FSMirrorStorage]
) -> None:
    block = save_block(local_config(mirrors=MIRRORS["parquet"]))
    fm = block.fsmirror()
    p.FAIL_FLOW_ONCE.append(True)  # attempt 1 fails after both tasks; the flow's retry reruns them
    state = p.build(block, cache_result_in_memory=False)(3, return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == {"rows": 3, "total": 30}
    fr = str(state.state_details.flow_run_id)

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fr])))
    by_name: dict[str, list[str | None]] = {}
    for r in runs:
        by_name.setdefault(r.task_key.rsplit("-", 1)[0], []).append(r.state.name if r.state else None)
    assert sorted(by_name["lift_data"]) == ["Cached", "Completed"]
    assert sorted(by_name["summarize"]) == ["Cached", "Completed"]
    # The cached attempt did not write again: one committed artifact, from the first attempt.
    assert fm.runs(p.lift_data) == [fr]
    first = [
        r for r in runs if r.state and r.state.name == "Completed" and r.task_key.startswith("lift_data")
    ]
    assert fm.manifest(p.lift_data, run_id=fr)["orchestrator"]["task_run_id"] == str(first[0].id)


def test_result_from_a_fresh_process(
    store_config: Callable[[str], Path], save_block: Callable[..., FSMirrorStorage], prefect_api: str
) -> None:
    block = save_block(store_config("parquet"))
    state = p.build(block)(3, return_state=True)
    assert state.is_completed(), state.message
    runs = task_runs(state.state_details.flow_run_id)
    code = f"""
import json
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
import fsmirror_prefect  # registers the 'fsmirror' serializer that reads the result back
with get_client(sync_client=True) as client:
    df = client.read_task_run({str(runs["lift_data"].id)!r}).state.result()
    summary = client.read_task_run({str(runs["summarize"].id)!r}).state.result()
print(json.dumps({{"type": type(df).__name__, "values": df["value"].tolist(), "rows": summary.rows}}))
"""
    out = json.loads(run_python(code, prefect_api).strip().splitlines()[-1])
    assert out == {"type": "DataFrame", "values": [0, 10, 20], "rows": 3}


def test_block_slug_loads_in_a_process_that_only_imports_prefect(
    local_config: Callable[..., Path],
    tmp_path: Path,
    save_block: Callable[..., FSMirrorStorage],
    prefect_api: str,
) -> None:
    block = save_block(local_config(mirrors=MIRRORS["parquet"]))
    code = f"""
import sys
from prefect.blocks.core import Block
assert "fsmirror_prefect" not in sys.modules
block = Block.load({block_slug(block)!r})
print(type(block).__module__, block.mirror, block.fsmirror().base)
"""
    out = run_python(code, prefect_api).split()
    assert out == ["fsmirror_prefect.storage", "etl", str(tmp_path / "store")]


def test_slug_works_as_storage(
    local_config: Callable[..., Path], tmp_path: Path, save_block: Callable[..., FSMirrorStorage]
) -> None:
    block = save_block(local_config(mirrors=MIRRORS["parquet"]))
    state = p.build(block_slug(block))(2, return_state=True)
    assert state.is_completed(), state.message
    fr = str(state.state_details.flow_run_id)
    assert (tmp_path / "store" / "etl" / "pipeline" / fr / "lift_data" / "out.parquet").is_file()


def test_flow_result_is_mirrored_and_readable_elsewhere(
    local_config: Callable[..., Path],
    tmp_path: Path,
    save_block: Callable[..., FSMirrorStorage],
    prefect_api: str,
) -> None:
    block = save_block(local_config(mirrors=MIRRORS["parquet"]))
    state = p.build(block, flow_result=True)(3, return_state=True)
    assert state.is_completed(), state.message
    fr = str(state.state_details.flow_run_id)
    out = tmp_path / "store" / "etl" / "pipeline" / fr / "pipeline" / "out.json"
    assert json.loads(out.read_text()) == {"rows": 3, "total": 30}  # a dict falls back to json, visibly
    man = json.loads(out.with_name("_out.manifest.json").read_text())
    assert man["orchestrator"]["flow_run_id"] == fr and "task_run_id" not in man["orchestrator"]
    code = f"""
import json
import fsmirror_prefect
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    print(json.dumps(client.read_flow_run({fr!r}).state.result()))
"""
    assert json.loads(run_python(code, prefect_api).strip().splitlines()[-1]) == {"rows": 3, "total": 30}


def test_async_flow_and_async_block_methods(
    local_config: Callable[..., Path], tmp_path: Path, save_block: Callable[..., FSMirrorStorage]
) -> None:
    import asyncio

    block = save_block(local_config(mirrors=MIRRORS["parquet"]))
    state = asyncio.run(p.build_async(block)(5, return_state=True))
    assert state.is_completed(), state.message
    fr = str(state.state_details.flow_run_id)
    path = tmp_path / "store" / "etl" / "pipeline" / fr / "lift_async" / "out.parquet"
    assert pq.read_table(path).num_rows == 5

    from fsmirror_prefect.storage import make_key

    key = make_key("run-a", None, "/x/etl/pipeline.py::count_rows")
    uri = asyncio.run(block.awrite_path(key, b'{"rows": 1}'))
    assert uri == f"{tmp_path / 'store'}/etl/pipeline/run-a/count_rows/out.json"
    assert asyncio.run(block.aread_path(key)) == b'{"rows": 1}'
    assert block.read_path(key) == b'{"rows": 1}'


def test_failing_store_fails_the_task_run(
    local_config: Callable[..., Path], tmp_path: Path, save_block: Callable[..., FSMirrorStorage]
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store's directory should be")
    block = save_block(local_config(tenant=str(blocker / "store"), mirrors=MIRRORS["parquet"]))
    state = p.build(block)(3, return_state=True)
    assert state.is_failed()
    runs = task_runs(state.state_details.flow_run_id)
    assert runs["lift_data"].state.is_failed()
    assert "not-a-dir" in runs["lift_data"].state.message or "not-a-dir" in str(
        runs["lift_data"].state.result(raise_on_failure=False)
    )
    assert "summarize" not in runs or not runs["summarize"].state.is_completed()


def test_same_task_twice_in_one_flow_run_fails_loudly(
    local_config: Callable[..., Path], tmp_path: Path, save_block: Callable[..., FSMirrorStorage]
) -> None:
    block = save_block(local_config(mirrors=MIRRORS["parquet"]))
    lift = mirrored_task(storage=block)(p.lift_data)

    @flow
    def twice() -> None:
        lift(2)
        lift(3)  # other inputs, same mirrored path in this flow run: never overwritten silently

    state = twice(return_state=True)
    assert state.is_failed()
    with pytest.raises(ArtifactExistsError):
        state.result()


def test_bad_config_fails_at_decoration(
    local_config: Callable[..., Path], tmp_path: Path, save_block: Callable[..., FSMirrorStorage]
) -> None:
    with pytest.raises(ConfigError, match=r"mirrored_task 'lift_data'"):
        mirrored_task(storage=save_block(tmp_path / "missing.yml"))(p.lift_data)
    good = save_block(local_config(mirrors=MIRRORS["parquet"]))
    with pytest.raises(ConfigError, match=r"unknown mirror 'nope'"):
        mirrored_task(storage=save_block(tmp_path / "fsmirror.yml", mirror="nope"))(p.lift_data)
    with pytest.raises(ResolveError, match=r"outside|root|not under"):
        mirrored_task(storage=good)(json.dumps)
    with pytest.raises(TypeError, match=r"result_storage_key cannot be set"):
        mirrored_task(storage=good, result_storage_key="x")(p.lift_data)
    with pytest.raises(ValueError, match=r"not saved"):
        mirrored_task(storage=FSMirrorStorage(mirror="etl", config_path=str(tmp_path / "fsmirror.yml")))(
            p.lift_data
        )
    with pytest.raises(ValueError, match=r"cannot load block 'fsmirror-storage/never-saved'"):
        mirrored_task(storage="fsmirror-storage/never-saved")(p.lift_data)
    with pytest.raises(ValueError, match=r"is not a 'fsmirror-storage/<name>' block slug"):
        mirrored_task(storage="local-file-system/x")(p.lift_data)


def test_example_flow_runs(tmp_path: Path, prefect_api: str) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "prefect" / "run.py"
    code = f"import runpy; runpy.run_path({str(example)!r}, run_name='__main__')"
    out = run_python(code, prefect_api, FSMIRROR_EXAMPLE_STORE=str(tmp_path / "artifacts"))
    stored = list((tmp_path / "artifacts" / "etl" / "pipeline").glob("*/lift_data/out.parquet"))
    assert len(stored) == 1 and f"lift_data stored at {stored[0]}" in out
    assert pq.read_table(stored[0]).num_rows == 5
    summary = stored[0].parent.parent / "summarize" / "out.json"
    assert json.loads(summary.read_text()) == {"days": 5, "total_sales": 570.0}


def test_mapped_task_with_partition_template(
    local_config: Callable[..., Path], tmp_path: Path, save_block: Callable[..., FSMirrorStorage]
) -> None:
    block = save_block(local_config(mirrors=MIRRORS["parquet"]))
    lift = mirrored_task(storage=block, partition="day-{parameters[n]}")(p.lift_data)

    @flow
    def fan_out() -> list[int]:
        return [len(df) for df in lift.map([2, 3, 4]).result()]

    state = fan_out(return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == [2, 3, 4]
    fr = str(state.state_details.flow_run_id)
    run_dir = tmp_path / "store" / "etl" / "pipeline" / fr / "lift_data"
    for n in (2, 3, 4):
        assert pq.read_table(run_dir / f"day-{n}" / "out.parquet").num_rows == n
        man = json.loads((run_dir / f"day-{n}" / "_out.manifest.json").read_text())
        assert man["partition"] == f"day-{n}"
    assert len(block.fsmirror().read(p.lift_data, run_id=fr, partition="day-3")) == 3


def test_failing_store_fails_a_mirrored_flow(
    local_config: Callable[..., Path], tmp_path: Path, save_block: Callable[..., FSMirrorStorage]
) -> None:
    from fsmirror_prefect import mirrored_flow

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store's directory should be")
    block = save_block(local_config(tenant=str(blocker / "store"), mirrors=MIRRORS["parquet"]))
    state = mirrored_flow(storage=block)(p.report)(1, return_state=True)
    assert state.is_failed()  # Prefect alone would log the failed write and report Completed
    assert "not-a-dir" in str(state.result(raise_on_failure=False))


def test_rerun_of_a_flow_run_in_another_process_hits_the_cache(
    local_config: Callable[..., Path],
    tmp_path: Path,
    save_block: Callable[..., FSMirrorStorage],
    prefect_api: str,
) -> None:
    """A worker re-running a flow run (after a crash, say) finds its finished tasks in storage."""
    block = save_block(local_config(mirrors=MIRRORS["parquet"]))
    state = p.build(block)(3, return_state=True)
    assert state.is_completed(), state.message
    fr = str(state.state_details.flow_run_id)
    first = task_runs(fr)
    code = f"""
import json
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.flow_engine import run_flow
from prefect.states import Scheduled
from etl import pipeline as p

flow_obj = p.build(Block.load({block_slug(block)!r}), cache_result_in_memory=False)
with get_client(sync_client=True) as client:
    client.set_flow_run_state({fr!r}, Scheduled(), force=True)
    flow_run = client.read_flow_run({fr!r})
state = run_flow(flow_obj, flow_run=flow_run, parameters={{"n": 3}}, return_type="state")
print(json.dumps({{"state": state.name, "result": state.result()}}))
"""
    out = json.loads(run_python(code, prefect_api).strip().splitlines()[-1])
    assert out == {"state": "Completed", "result": {"rows": 3, "total": 30}}
    again = task_runs(fr)  # the last run of each task: the other process's
    for name in ("lift_data", "summarize"):
        assert again[name].id != first[name].id
        assert again[name].state.name == "Cached"
    fm = block.fsmirror()
    assert fm.runs(p.lift_data) == [fr]  # nothing rewritten: still the first process's artifact
    assert fm.manifest(p.lift_data, run_id=fr)["orchestrator"]["task_run_id"] == str(first["lift_data"].id)
