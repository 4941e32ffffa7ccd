"""Core v3 identity for Prefect: which call of a task a task run is (instance), and its try (attempt).

Prefect 3.9 gives every task run in a flow a random ``dynamic_key`` (a uuid4: the
engine creates task runs with ``dynamic_key_for_task_run(..., stable=False)``), so
a task run's instance is its inputs: ``triple.map([1, 2, 3])`` lands in
``.../<flow run>/triple/1``, ``/2`` and ``/3``, each a series of its own across flow
runs. A task retry is the same task run with ``run_count`` one higher: attempt
``run_count - 1``, which replaces what the earlier attempt committed.

Every test runs real flows on the session's Prefect server and asserts on the store.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from etl import calls as c
from prefect.cache_policies import INPUTS
from prefect_support import MIRRORS, run_python

from fsmirror.cli import cli
from fsmirror_prefect import FSMirrorStorage, mirrored_task
from prefect import flow, task

CALLS_MODULE = "etl/calls.py"


def all_task_runs(flow_run_id: Any) -> list[Any]:
    """Every task run of a flow run, as Prefect recorded them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return list(
            client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        )


@contextmanager
def prefect_errors() -> Iterator[list[str]]:
    """The ERROR records Prefect logs meanwhile (a failing result write is only logged)."""
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(f"{record.name}: {record.getMessage()} {record.exc_text or ''}")

    handler = Keep(level=logging.ERROR)
    root = logging.getLogger("prefect")
    root.addHandler(handler)
    try:
        yield seen
    finally:
        root.removeHandler(handler)


def _cli(block: FSMirrorStorage, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(block.config_path), *args], catch_exceptions=False)


def test_a_mapped_plain_task_stores_every_call_and_a_later_flow_run_loads_them(
    local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage], prefect_api: str
) -> None:
    c.CALLS.clear()
    block = save_block(local_config(mirrors=MIRRORS["pkl"]))
    fm = block.fsmirror()
    # INPUTS: the cache key does not name the flow run, so a second flow run may load these results
    c.TASKS["triple"] = task(c.triple, result_storage=block, persist_result=True, cache_policy=INPUTS)
    tripled = flow(c.tripled, result_storage=block, persist_result=True)

    with prefect_errors() as errors:
        state = tripled([1, 2, 3], return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == [3, 6, 9]
    assert errors == []  # no ArtifactExistsError (nor any other failed write) logged
    fr = str(state.state_details.flow_run_id)
    assert fm.read(c.tripled, run_id=fr) == [3, 6, 9]  # the flow's own result: one per flow run

    # one slot per call: the instance is the call's input, one path segment after the task's name
    assert {i: fm.read(c.triple, run_id=fr, partition=i) for i in ("1", "2", "3")} == {"1": 3, "2": 6, "3": 9}
    assert not fm.exists(c.triple, run_id=fr)  # nothing in the task's bare slot
    runs = {tr.id: tr for tr in all_task_runs(fr) if tr.name.startswith("triple")}
    assert len(runs) == 3 and all(tr.state.is_completed() for tr in runs.values())
    for i in ("1", "2", "3"):
        man = fm.manifest(c.triple, run_id=fr, partition=i)
        assert man["partition"] == i and man["attempt"] == 0
        assert man["run"]["id"] == fr
        assert man["orchestrator"]["task_run_id"] in {str(k) for k in runs}
    assert {fm.manifest(c.triple, run_id=fr, partition=i)["orchestrator"]["task_run_id"] for i in "123"} == {
        str(k) for k in runs
    }

    # Prefect reads each task run's result back from a fresh process (no memory of this one)
    ids = sorted(str(k) for k in runs)
    out = run_python(
        "import json, fsmirror_prefect\n"
        "from prefect.client.orchestration import get_client\n"
        f"ids = {ids!r}\n"
        "with get_client(sync_client=True) as client:\n"
        "    print(json.dumps({i: client.read_task_run(i).state.result() for i in ids}))\n",
        prefect_api,
    )
    by_id = json.loads(out.strip().splitlines()[-1])
    assert sorted(by_id.values()) == [3, 6, 9]
    instance_of = {
        fm.manifest(c.triple, run_id=fr, partition=i)["orchestrator"]["task_run_id"]: i for i in "123"
    }
    assert {k: 3 * int(instance_of[k]) for k in by_id} == by_id  # each task run's own value

    # a second flow run with the same inputs: every call is Cached on the first run's artifact
    with prefect_errors() as errors:
        again = tripled([1, 2, 3], return_state=True)
    assert again.result() == [3, 6, 9]
    assert errors == []
    assert c.CALLS["triple"] == 3  # nothing ran again
    fr2 = str(again.state_details.flow_run_id)
    assert (
        sorted(tr.state.name for tr in all_task_runs(fr2) if tr.name.startswith("triple")) == ["Cached"] * 3
    )
    for i in ("1", "2", "3"):
        assert fm.runs(c.triple, partition=i) == [fr]  # read in place, no copy


def test_the_same_plain_task_twice_in_one_flow_run_keeps_both_results(
    local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    block = save_block(local_config(mirrors=MIRRORS["pkl"]))
    fm = block.fsmirror()
    triple = task(c.triple, result_storage=block, persist_result=True)

    @flow(result_storage=block, persist_result=True)
    def twice() -> int:
        return triple(4) + triple.with_options(name="triple again")(5)  # another name, the same code

    with prefect_errors() as errors:
        state = twice(return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == 27
    assert errors == []
    fr = str(state.state_details.flow_run_id)
    assert fm.read(c.triple, run_id=fr, partition="4") == 12
    assert fm.read(c.triple, run_id=fr, partition="5") == 15
    trs = {tr.state.result(): tr for tr in all_task_runs(fr) if tr.name.startswith("triple")}
    assert sorted(trs) == [12, 15]
    assert trs[15].name.startswith("triple again")
    assert fm.manifest(c.triple, run_id=fr, partition="4")["orchestrator"]["task_run_id"] == str(trs[12].id)
    assert fm.manifest(c.triple, run_id=fr, partition="5")["orchestrator"]["task_run_id"] == str(trs[15].id)


@pytest.mark.parametrize("kind", ["plain", "mirrored"])
def test_a_task_retry_replaces_what_its_failed_attempt_stored(
    kind: str, local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    block = save_block(local_config(mirrors=MIRRORS["pkl"]))
    fm = block.fsmirror()
    if kind == "plain":
        step = task(
            c.checkpoint_then_fail, result_storage=block, persist_result=True, retries=1, refresh_cache=True
        )
        instance: str | None = "7"  # a plain task's call is its inputs
    else:
        step = mirrored_task(storage=block, retries=1, refresh_cache=True)(c.checkpoint_then_fail)
        instance = None  # a mirrored_task without partition= has one slot per flow run

    # refresh_cache: the retry runs again instead of hitting the key its first attempt stored
    @flow
    def once() -> dict[str, int]:
        return step(7)  # type: ignore[no-any-return]

    with prefect_errors() as errors:
        state = once(return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == {"n": 7, "try": 2}
    assert not [e for e in errors if "ArtifactExistsError" in e]
    fr = str(state.state_details.flow_run_id)
    (tr,) = all_task_runs(fr)
    assert tr.run_count == 2 and tr.state.is_completed()
    # the retry (attempt 1) replaced the first attempt's commit: one run, the second try's value
    assert fm.read(c.checkpoint_then_fail, run_id=fr, partition=instance) == {"n": 7, "try": 2}
    man = fm.manifest(c.checkpoint_then_fail, run_id=fr, partition=instance)
    assert man["attempt"] == 1
    assert man["orchestrator"]["task_run_id"] == str(tr.id)
    assert fm.runs(c.checkpoint_then_fail, partition=instance) == [fr]


def test_gc_and_stale_do_not_count_the_calls_of_a_mapped_task_as_runs(
    local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    block = save_block(local_config(mirrors=MIRRORS["pkl"]))
    fm = block.fsmirror()
    c.TASKS["triple"] = task(c.triple, result_storage=block, persist_result=True)
    tripled = flow(c.tripled, result_storage=block, persist_result=True)

    first = str(tripled([1, 2, 3], return_state=True).state_details.flow_run_id)
    address = f"{CALLS_MODULE}::triple"

    # one flow run: three series of one run each; keep 1 deletes nothing
    gc = _cli(block, "gc", address, "--keep", "1", "--json")
    assert gc.exit_code == 0, gc.output
    assert json.loads(gc.output)["deleted"] == []
    stale = _cli(block, "stale", address)
    assert stale.exit_code == 0, stale.output
    assert stale.output.startswith("nothing stale: 3 latest artifact(s)")
    assert {i: fm.read(c.triple, run_id=first, partition=i) for i in ("1", "2", "3")} == {
        "1": 3,
        "2": 6,
        "3": 9,
    }

    # a second flow run over [2, 3, 4]: per call, the older run of calls 2 and 3 goes; call 1 stays
    second = str(tripled([2, 3, 4], return_state=True).state_details.flow_run_id)
    assert fm.runs(c.triple, partition="2") == [first, second]
    gc = _cli(block, "gc", address, "--keep", "1", "--json")
    assert gc.exit_code == 0, gc.output
    deleted = json.loads(gc.output)["deleted"]
    assert sorted((d["run_id"], d["partition"]) for d in deleted) == [(first, "2"), (first, "3")]
    assert {i: fm.runs(c.triple, partition=i) for i in ("1", "2", "3", "4")} == {
        "1": [first],
        "2": [second],
        "3": [second],
        "4": [second],
    }


def test_two_calls_whose_inputs_read_the_same_are_both_stored(
    local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    """The int 1 and the str "1" are both instance "1": the second call goes beside, named by its task run."""
    block = save_block(local_config(mirrors=MIRRORS["pkl"]))
    fm = block.fsmirror()
    triple = task(c.triple, result_storage=block, persist_result=True)

    @flow
    def both() -> list[Any]:
        return [triple(1), triple("1")]

    with prefect_errors() as errors:
        state = both(return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == [3, "111"]
    assert errors == []
    fr = str(state.state_details.flow_run_id)
    trs = {str(tr.id): tr for tr in all_task_runs(fr)}
    assert sorted(map(str, (tr.state.result() for tr in trs.values()))) == ["111", "3"]
    first = fm.manifest(c.triple, run_id=fr, partition="1")["orchestrator"]["task_run_id"]
    (other,) = set(trs) - {first}
    assert fm.read(c.triple, run_id=fr, partition="1") == trs[first].state.result()
    assert fm.read(c.triple, run_id=fr, partition=("1", f"tr-{other}")) == trs[other].state.result()
    assert {
        fm.read(c.triple, run_id=fr, partition="1"),
        fm.read(c.triple, run_id=fr, partition=("1", f"tr-{other}")),
    } == {3, "111"}


def test_the_instance_of_a_call_whose_inputs_have_no_short_text(
    local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    """Several short inputs: their texts joined by @; a list: Prefect's INPUTS hash; a lock: the task run."""
    import threading

    block = save_block(local_config(mirrors=MIRRORS["pkl"]))
    fm = block.fsmirror()
    total = task(c.total, result_storage=block, persist_result=True)
    scaled = task(c.scaled, result_storage=block, persist_result=True)
    # a lock cannot be hashed: a cache_key_fn that skips it lets Prefect persist the result at all
    guarded = task(
        c.guarded, result_storage=block, persist_result=True, cache_key_fn=lambda _ctx, p: f"n{p['n']}"
    )
    lock = threading.Lock()

    @flow
    def mixed() -> list[Any]:
        return [total([1, 2]), scaled("2026-11-05"), guarded(lock, 4)]

    state = mixed(return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == [3, "2026-11-05x3", 5]
    fr = str(state.state_details.flow_run_id)
    digest = INPUTS.compute_key(task_ctx=None, inputs={"xs": [1, 2]}, flow_parameters={})  # type: ignore[arg-type]
    assert digest
    assert fm.read(c.total, run_id=fr, partition=f"h-{digest[:16]}") == 3
    # the default of n is part of the call: ("2026-11-05", "3"), one segment on disk
    assert fm.read(c.scaled, run_id=fr, partition=("2026-11-05", "3")) == "2026-11-05x3"
    assert fm.mirror_full(c.scaled, run_id=fr, partition=("2026-11-05", "3")).endswith(
        f"/etl/calls/{fr}/scaled/2026-11-05@3"
    )
    (tr,) = [t for t in all_task_runs(fr) if t.name.startswith("guarded")]
    assert fm.read(c.guarded, run_id=fr, partition=f"tr-{tr.id}") == 5


def test_a_call_stored_by_fsmirror_2_without_an_instance_still_loads(
    local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    """2.0 stored ``triple(2)`` at ``.../triple/`` (no instance): a later flow run is Cached on it."""
    c.CALLS.clear()
    block = save_block(local_config(mirrors=MIRRORS["pkl"]))
    fm = block.fsmirror()
    fs = fm.filesystem
    c.TASKS["triple"] = task(c.triple, result_storage=block, persist_result=True, cache_policy=INPUTS)
    tripled = flow(c.tripled, result_storage=block, persist_result=True)
    old = str(tripled([2], return_state=True).state_details.flow_run_id)

    # Put it where 2.0 put it: the call's files one level up, a manifest without instance or attempt.
    call_dir = fm.mirror_full(c.triple, run_id=old, partition="2")
    task_dir = fm.mirror_full(c.triple, run_id=old)
    for path in fs.ls(call_dir, detail=False):
        name = str(path).rsplit("/", 1)[1]
        if name == "_out.manifest.json":
            man = json.loads(fs.cat_file(path))
            man["uri"] = man["uri"].replace("/triple/2/", "/triple/")
            man["partition"] = None
            man.pop("attempt", None)
            fs.pipe_file(f"{task_dir}/{name}", json.dumps(man).encode())
            fs.rm(path)
        else:
            fs.mv(path, f"{task_dir}/{name}")
    assert not fm.exists(c.triple, run_id=old, partition="2")
    assert fm.read(c.triple, run_id=old) == 6  # fm.read without partition= reads what 2.0 wrote

    again = tripled([2], return_state=True)
    assert again.result() == [6]
    assert c.CALLS["triple"] == 1  # Prefect found the old result by its key: Cached, nothing ran
    (tr,) = [t for t in all_task_runs(str(again.state_details.flow_run_id)) if t.name.startswith("triple")]
    assert tr.state.name == "Cached"
    assert fm.runs(c.triple, partition="2") == []  # nothing new written for the call
