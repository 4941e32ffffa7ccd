"""What users do every day with Prefect works as with its own result storage (issue #21).

Transactions: a ``mirrored_task`` in ``with transaction():`` is stored when the transaction
commits, and a rollback leaves nothing (the next run runs the task again). A cached value comes
back exact (a tuple inside a dict). A ``mirrored_flow`` result records the task results it came
from, so lineage reaches through it. Real flows on the session's Prefect server, local disk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from etl import everyday as e
from etl import pipeline as p
from prefect.cache_policies import INPUTS
from prefect.context import FlowRunContext
from prefect.exceptions import SerializationError
from prefect.transactions import transaction
from prefect_support import MIRRORS, task_runs

from fsmirror.cli import cli
from fsmirror.errors import FormatError
from fsmirror.model.record import Input, Manifest
from fsmirror_prefect import FSMirrorStorage, mirrored_task
from fsmirror_prefect._records import record_file
from prefect import flow

STAGE = "etl/everyday.py::stage"


@pytest.fixture
def block(local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]) -> FSMirrorStorage:
    e.reset()
    return save_block(local_config(mirrors=MIRRORS["parquet"]))


def _files(fm: Any, directory: str) -> set[str]:
    fs = fm.filesystem
    root = fs._strip_protocol(directory).rstrip("/")
    return {path[len(root) + 1 :] for path in fs.find(directory)}


def test_a_rolled_back_transaction_stores_nothing_and_the_next_run_runs_the_task_again(
    block: FSMirrorStorage,
) -> None:
    fm = block.fsmirror()
    stage = mirrored_task(storage=block, cache_policy=INPUTS)(e.stage)
    stage.on_rollback(e.unstage)

    @flow
    def staged() -> int:
        with transaction():
            got = stage(5)
            e.validate(got)
        return got  # type: ignore[no-any-return]

    e.VALID[:] = [False]
    first = staged(return_state=True)
    assert first.is_failed()
    assert (e.RUNS, e.STAGED) == ({"stage": 1}, [])  # it ran, and its rollback hook undid it
    assert fm.runs(e.stage) == []  # no committed artifact from the rolled-back stage
    assert not fm.exists(e.stage, run_id=str(first.state_details.flow_run_id))

    e.VALID[:] = [True]
    second = staged(return_state=True)
    assert second.is_completed(), second.message
    assert second.result() == 5
    fr = str(second.state_details.flow_run_id)
    run = task_runs(fr)["stage"]
    assert run.state.name == "Completed"  # ran again, not "Cached" on the rolled-back value
    assert (e.RUNS, e.STAGED) == ({"stage": 2}, [5])
    # The transaction that succeeded committed exactly one artifact, the task run's.
    assert fm.runs(e.stage) == [fr]
    assert fm.read(e.stage) == 5
    man = fm.manifest(e.stage)
    assert (man["orchestrator"]["task_run_id"], man["attempt"]) == (str(run.id), 0)
    assert _files(fm, fm.mirror_full(e.stage, run_id=fr)) == {
        "out.json",
        "_out.manifest.json",
        record_file("", "out", run.state.data.storage_key)[1:],
    }


def test_a_transaction_stores_its_results_when_it_commits(block: FSMirrorStorage) -> None:
    fm = block.fsmirror()
    stage = mirrored_task(storage=block)(e.stage)
    double = mirrored_task(storage=block)(e.double)
    seen: dict[str, bool] = {}

    @flow
    def staged() -> int:
        fr = str(FlowRunContext.get().flow_run.id)  # type: ignore[union-attr]
        with transaction():
            got = double(stage(300))  # above 256: Prefect links a value to its task run by id
            seen["inside"] = fm.exists(e.stage, run_id=fr) or fm.exists(e.double, run_id=fr)
        seen["after"] = fm.exists(e.stage, run_id=fr) and fm.exists(e.double, run_id=fr)
        return got  # type: ignore[no-any-return]

    state = staged(return_state=True)
    assert state.is_completed(), state.message
    assert seen == {"inside": False, "after": True}  # staged with the transaction, stored at its commit
    fr = str(state.state_details.flow_run_id)
    runs = task_runs(fr)
    assert (fm.runs(e.stage), fm.runs(e.double)) == ([fr], [fr])
    assert (fm.read(e.stage), fm.read(e.double)) == (300, 600)
    stage_man, double_man = Manifest.from_json(fm.manifest(e.stage)), Manifest.from_json(fm.manifest(e.double))
    # written at the commit, yet as the task runs' own: their ids, and the upstream as the input
    assert stage_man.orchestrator["task_run_id"] == str(runs["stage"].id)
    assert double_man.orchestrator["task_run_id"] == str(runs["double"].id)
    assert (stage_man.inputs, double_man.inputs) == ((), (Input.of(stage_man),))


def test_a_cache_hit_gives_back_a_tuple_inside_a_dict(block: FSMirrorStorage) -> None:
    fm = block.fsmirror()
    pairs = mirrored_task(storage=block, cache_policy=INPUTS)(e.pairs)

    @flow
    def twice() -> dict[str, Any]:
        return pairs(2)  # type: ignore[no-any-return]

    first = twice(return_state=True).result()
    second_state = twice(return_state=True)
    second = second_state.result()
    assert task_runs(second_state.state_details.flow_run_id)["pairs"].state.name == "Cached"
    assert e.RUNS == {"pairs": 1}
    assert first == second == {"a": (1, 2)}
    assert isinstance(second["a"], tuple)
    assert fm.manifest(e.pairs)["format"] == "pkl"  # JSON would give back a list: kept exactly


def test_a_cache_hit_on_a_mirror_without_pickle_refuses_what_json_would_change(
    local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    e.reset()
    mirror = {"etl": {**MIRRORS["parquet"]["etl"], "allow_pickle": False}}
    block = save_block(local_config(mirrors=mirror))
    pairs = mirrored_task(storage=block, cache_policy=INPUTS)(e.pairs)

    @flow
    def once() -> dict[str, Any]:
        return pairs(2)  # type: ignore[no-any-return]

    state = once(return_state=True)
    assert state.is_failed()
    with pytest.raises(SerializationError) as got:  # Prefect's wrapper of the serializer's error
        state.result()
    assert isinstance(got.value.__cause__, FormatError)
    assert str(got.value.__cause__) == (
        "a builtins.dict that neither 'parquet' nor JSON gives back exactly (JSON turns a tuple into a "
        "list) would be kept as a pickle, and this mirror sets allow_pickle: false; return lists "
        "instead of tuples, or allow pickle"
    )
    assert block.fsmirror().runs(e.pairs) == []

    @flow
    def in_transaction() -> dict[str, Any]:
        with transaction():
            return pairs(3)  # type: ignore[no-any-return]

    state = in_transaction(return_state=True)  # staged for the commit, yet checked as the task ends
    assert state.is_failed()
    with pytest.raises(FormatError, match="nor JSON gives back exactly"):
        state.result()
    assert task_runs(state.state_details.flow_run_id)["pairs"].state.is_failed()
    assert block.fsmirror().runs(e.pairs) == []


def test_lineage_of_a_flow_result_reaches_the_task_results(block: FSMirrorStorage) -> None:
    fm = block.fsmirror()
    pipeline = p.build(block, flow_result=True, cache_policy=INPUTS)
    state = pipeline(3, return_state=True)
    assert state.is_completed(), state.message
    fr = str(state.state_details.flow_run_id)
    lift = Manifest.from_json(fm.manifest(p.lift_data, run_id=fr))
    summary = Manifest.from_json(fm.manifest(p.summarize, run_id=fr))
    result = Manifest.from_json(fm.manifest(p.pipeline, run_id=fr))
    assert result.inputs == (Input.of(lift), Input.of(summary))
    got = CliRunner().invoke(
        cli, ["--config", str(block.config_path), "lineage", "etl/pipeline.py::pipeline"], catch_exceptions=False
    )
    assert got.exit_code == 0, got.output
    assert got.output == (
        f"etl/pipeline.py::pipeline [{fr}]  {result.uri}\n"
        f"├── etl/pipeline.py::lift_data [{fr}]  {lift.uri}\n"
        f"└── etl/pipeline.py::summarize [{fr}]  {summary.uri}\n"
        f"    └── etl/pipeline.py::lift_data [{fr}]  {lift.uri}  (shown above)\n"
    )
    # A second flow run is Cached on the first one's task results: those are its result's inputs.
    again = pipeline(3, return_state=True)
    assert again.is_completed(), again.message
    fr2 = str(again.state_details.flow_run_id)
    assert {r.state.name for r in task_runs(fr2).values()} == {"Cached"}
    assert Manifest.from_json(fm.manifest(p.pipeline, run_id=fr2)).inputs == (Input.of(lift), Input.of(summary))
