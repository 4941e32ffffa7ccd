"""The lineage scope (``fm.run``): reads inside it are recorded in the manifests of writes inside it.

On local disk and moto S3: what landed in each manifest's ``inputs`` is asserted field by field.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from fsmirror import lineage
from fsmirror.model.record import Input, Manifest

MirrorFactory = Any

ADDR_A = "project/etl/extract.py::orders"
ADDR_B = "project/etl/lift.py::clean"
ADDR_C = "project/etl/report.py::summary"


@pytest.fixture(params=["local", "s3"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _manifest(fm: object, addr: str, run: str) -> Manifest:
    return Manifest.from_json(fm.manifest(addr, run_id=run))  # type: ignore[attr-defined]


def test_reads_in_a_run_scope_become_the_inputs_of_its_writes(make_mirror: MirrorFactory) -> None:
    fm = make_mirror(output_format="json")
    a = fm.write(ADDR_A, [1, 2, 3], run_id="r1")
    with fm.run("r2") as run:
        got = fm.read(ADDR_A)
        b = fm.write(ADDR_B, [x * 2 for x in got])  # run id from the scope
    assert got == [1, 2, 3]
    mb = _manifest(fm, ADDR_B, "r2")
    assert mb.run_id == "r2" and mb.run_source == "scope"
    assert mb.inputs == (Input.of(a.manifest),)
    i = mb.inputs[0]
    assert (i.uri, i.address, i.run, i.output_name) == (str(a), ADDR_A, "r1", "out")
    assert i.hash == a.manifest.hash and i.created_at == a.manifest.created_at
    assert run.inputs == (Input.of(a.manifest),)
    assert [m.uri for m in run.outputs] == [str(b)]
    assert _manifest(fm, ADDR_A, "r1").inputs == ()  # written outside any scope


def test_no_scope_no_inputs_and_explicit_inputs_are_recorded(make_mirror: MirrorFactory) -> None:
    fm = make_mirror(output_format="json")
    a = fm.write(ADDR_A, {"n": 1}, run_id="r1")
    fm.read(ADDR_A)  # no scope: noted nowhere
    b = fm.write(ADDR_B, 1, run_id="r1")
    assert b.manifest.inputs == ()
    c = fm.write(ADDR_C, 2, run_id="r1", inputs=[str(a), b.manifest])  # a URI and a manifest
    assert [i.uri for i in c.manifest.inputs] == [str(a), str(b)]
    assert _manifest(fm, ADDR_C, "r1").inputs == c.manifest.inputs


def test_an_artifact_the_step_wrote_itself_is_not_its_input(make_mirror: MirrorFactory) -> None:
    fm = make_mirror(output_format="json")
    with fm.run("r1"):
        a = fm.write(ADDR_A, 1)
        assert fm.read(ADDR_A) == 1
        b = fm.write(ADDR_B, 2)
    assert b.manifest.inputs == ()
    assert str(a).endswith("/r1/orders/out.json")


def test_scopes_do_not_leak_between_threads(make_mirror: MirrorFactory) -> None:
    fm = make_mirror(output_format="json")
    fm.write(ADDR_A, 1, run_id="r1")
    seen: list[object] = []
    with fm.run("r2"):
        fm.read(ADDR_A)
        t = threading.Thread(target=lambda: seen.append(lineage.current()))
        t.start()
        t.join()
    assert seen == [None]  # a plain thread starts with an empty context
    assert lineage.current() is None


def test_a_failing_step_ends_its_scope_with_the_error_and_listeners_hear_it(
    make_mirror: MirrorFactory, ear: Any
) -> None:
    fm = make_mirror(output_format="json")
    with pytest.raises(ZeroDivisionError), fm.run("r1", job="job-x"):
        fm.write(ADDR_A, 1)
        1 / 0  # noqa: B018
    with fm.run("r2", job="job-y"):
        pass
    assert ear.heard(by="job") == [
        ("start", "job-x", None),
        ("end", "job-x", "ZeroDivisionError"),
        ("start", "job-y", None),
        ("end", "job-y", None),
    ]
    assert fm.read(ADDR_A, run_id="r1") == 1  # committed before the step failed: it stands


def test_a_1_0_manifest_without_inputs_still_parses() -> None:
    d = {
        "uri": "file:///t/x/out.json", "code": {"address": ADDR_A}, "run": {"id": "r", "segment": "r"},
        "format": "json", "size": 1, "sha256": "00", "created_at": "2026-01-01T00:00:00+00:00",
    }  # fmt: skip
    assert Manifest.from_json(d).inputs == ()
