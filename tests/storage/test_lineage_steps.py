"""The per-step scope registry (``lineage.step`` / ``get`` / ``finish``) and ``enter`` / ``leave``.

Adapters whose orchestrator calls them from places that share no call stack (Dagster's IO manager,
Airflow's XCom backend and listener, Luigi's events) keep a step's scope here. On local disk and
moto S3: what one step read through separate calls lands in what it wrote.
"""

from __future__ import annotations

from typing import Any

import pytest

from fsmirror import lineage
from fsmirror.model.record import Input

MirrorFactory = Any
ADDR_A = "project/etl/extract.py::orders"
ADDR_B = "project/etl/lift.py::clean"


@pytest.fixture(params=["local", "s3"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_one_step_across_separate_calls(make_mirror: MirrorFactory, ear: Any) -> None:
    fm = make_mirror(output_format="json")
    a = fm.write(ADDR_A, [1, 2], run_id="r1")
    s = lineage.step("orch:run1:step", job=ADDR_B, run_id="r2", orchestrator={"name": "orch"})
    assert lineage.step("orch:run1:step", orchestrator={"name": "other", "extra": 1}) is s  # get, not create
    assert s.orchestrator == {"name": "orch", "extra": 1}  # the first caller's fields stand
    with lineage.entered(s):  # a load, in one call
        got = fm.read(ADDR_A)
    assert lineage.current() is None
    with lineage.entered(lineage.get("orch:run1:step")):  # type: ignore[arg-type]  # the output, in another
        b = fm.write(ADDR_B, got)
    assert lineage.open_steps() == (s,)
    assert lineage.finish("orch:run1:step") is s
    assert lineage.finish("orch:run1:step") is None and lineage.get("orch:run1:step") is None
    assert b.manifest.inputs == (Input.of(a.manifest),) and b.manifest.run_id == "r2"
    assert ear.heard() == [("start", "orch:run1:step", None), ("end", "orch:run1:step", None)]


def test_a_failed_step_ends_with_its_error_once(ear: Any) -> None:
    lineage.step("k1")
    err = ValueError("boom")
    s = lineage.finish("k1", err)
    assert s is not None and s.error is err and s.ended_at is not None
    lineage.end(s, RuntimeError("again"))  # ending twice changes nothing
    assert s.error is err
    assert ear.heard() == [("start", "k1", None), ("end", "k1", "ValueError")]


def test_enter_and_leave(make_mirror: MirrorFactory) -> None:
    fm = make_mirror(output_format="json")
    a = fm.write(ADDR_A, 1, run_id="r1")
    outer = lineage.Scope(key="outer")
    inner = lineage.Scope(key="inner")
    t1 = lineage.enter(outer)
    t2 = lineage.enter(inner)
    fm.read(ADDR_A)
    lineage.leave(t2)
    assert lineage.current() is outer
    lineage.leave(t1)
    assert lineage.current() is None
    lineage.leave(t1)  # a used token: the current scope is cleared, nothing raised
    assert lineage.current() is None
    assert inner.inputs == (Input.of(a.manifest),) and outer.inputs == ()


def test_job_of_is_the_address_manifests_record(make_mirror: MirrorFactory) -> None:
    fm = make_mirror(output_format="json")
    assert lineage.job_of(fm, ADDR_A) == ADDR_A == fm.write(ADDR_A, 1, run_id="r").manifest.address
