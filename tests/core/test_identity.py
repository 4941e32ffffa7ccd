"""The identity model's path grammar (``fsmirror.identity``): golden, forward and back, pure.

An artifact is code x instance x run x attempt x output; the instance sits in the one
segment after the code's name where a partition always sat, so a partition is a one-part
instance and every store of fsmirror 1.0 and 2.0 keeps its paths.
"""

from __future__ import annotations

import pytest

from fsmirror import FSMirror, ResolveError
from fsmirror.paths.identity import (
    Identity,
    SeriesKey,
    check_attempt,
    check_instance,
    instance_from_json,
    instance_json,
    instance_label,
    instance_segment,
    instance_sort_key,
    parse_instance_segment,
)

# instance as given -> (canonical instance, path segment, label, manifest JSON)
GOLDEN = [
    (None, None, None, None, None),
    ("2026-11-05", "2026-11-05", "2026-11-05", "2026-11-05", "2026-11-05"),
    (("2026-11-05",), "2026-11-05", "2026-11-05", "2026-11-05", "2026-11-05"),
    ((), None, None, None, None),
    (("add_1_2",), "add_1_2", "add_1_2", "add_1_2", "add_1_2"),
    (("add_1_2", "2026-11-05"), ("add_1_2", "2026-11-05"), "add_1_2@2026-11-05", "add_1_2@2026-11-05",
     ["add_1_2", "2026-11-05"]),
    (("etl_dag", "3"), ("etl_dag", "3"), "etl_dag@3", "etl_dag@3", ["etl_dag", "3"]),
    (("four.add_1", "eu/west"), ("four.add_1", "eu/west"), "four.add_1@eu~2Fwest", "four.add_1@eu/west",
     ["four.add_1", "eu/west"]),
    # a one-part instance holding '@' stays one part: escaped, so it is never two
    ("user@example.com", "user@example.com", "user~40example.com", "user@example.com", "user@example.com"),
]  # fmt: skip


@pytest.mark.parametrize(("given", "canonical", "segment", "label", "as_json"), GOLDEN)
def test_instance_grammar_golden(given, canonical, segment, label, as_json) -> None:
    assert check_instance(given) == canonical
    assert instance_segment(given) == segment
    assert instance_label(canonical) == label
    assert instance_json(canonical) == as_json
    assert instance_from_json(as_json) == canonical
    if segment is not None:
        assert parse_instance_segment(segment) == canonical


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (7, r"partition 7 is a int; give a string"),
        (("node", 3), r"partition part 3 is a int"),
        ("", r"partition is empty"),
        (("a", ""), r"run id is empty"),
        (b"x", r"is a bytes"),
        (1.5, r"is a float"),
    ],
)
def test_malformed_instances_are_refused_with_the_fix(bad, match) -> None:
    with pytest.raises(ResolveError, match=match):
        check_instance(bad)


def test_instances_sort_as_people_read_them() -> None:
    got = sorted([("n", "10"), None, "b", ("n", "2"), "a10", "a9"], key=instance_sort_key)
    assert got == [None, "a9", "a10", "b", ("n", "2"), ("n", "10")]


@pytest.mark.parametrize("bad", [-1, True, "1", 1.0, None])
def test_attempt_is_a_whole_number(bad) -> None:
    with pytest.raises(ResolveError, match="attempt"):
        check_attempt(bad)
    assert check_attempt(0) == 0 and check_attempt(4) == 4


def test_paths_put_the_instance_after_the_name_and_partitions_keep_their_path(tmp_path) -> None:
    fm = FSMirror({"storage": {"provider": "local", "tenant": str(tmp_path)}, "mirrors": {"m": {"root": "project"}}})
    addr = "project/etl/job.py::add_1"
    base = f"{tmp_path}/project/etl/job"
    assert fm.mirror_full(addr, run_id="R") == f"{base}/R/add_1"
    assert fm.mirror_full(addr, run_id="R", partition="p1") == f"{base}/R/add_1/p1"
    assert fm.mirror_full(addr, run_id="R", partition=("p1",)) == f"{base}/R/add_1/p1"
    assert fm.mirror_full(addr, run_id="R", partition=("add_1_2", "p1")) == f"{base}/R/add_1/add_1_2@p1"
    assert fm.mirror_full(addr, with_id=False, partition=("add_1_2", "p1")) == f"{base}/add_1/add_1_2@p1"
    with pytest.raises(ResolveError, match="is a int"):
        fm.mirror_full(addr, run_id="R", partition=7)  # type: ignore[arg-type]


def test_identity_names_its_series() -> None:
    ident = Identity("etl/job.py::add_1", ("add_1_2",), "R", 1, "out")
    assert ident.series == SeriesKey("etl/job.py::add_1", ("add_1_2",), "out")
    assert ident.run_segment == "R" and ident.instance_segment == "add_1_2"
    assert SeriesKey("etl/job.py::add_1", ("add_1_2", "p"), "out").label() == "etl/job.py::add_1 [add_1_2@p] (out)"


# identity -> data path -> identity, through a mirror's layout (fsmirror.resolver), golden
ROUNDTRIP = [
    # (layout, address, instance, run id, output) -> the data path under the base
    ("{module}/{run_id}/{name}", "project/etl/job.py::add_1", None, "R1", "out", "project/etl/job/R1/add_1/out.json"),
    ("{module}/{run_id}/{name}", "project/etl/job.py::add_1", "add_1_2", "R1", "out",
     "project/etl/job/R1/add_1/add_1_2/out.json"),
    ("{module}/{run_id}/{name}", "project/etl/job.py::add_1", ("add_1_2", "2026-11-05"), "R1", "stats",
     "project/etl/job/R1/add_1/add_1_2@2026-11-05/stats.json"),
    ("{module}/{run_id}/{name}", "project/dags/etl.py::load-orders", ("etl", "3"), ("etl", "manual__1"), "out",
     "project/dags/etl/etl@manual__1/load-orders/etl@3/out.json"),
    ("{module}/{name}/{run_id}", "project/etl/tasks.py::Extract", "2026-11-05", "luigi", "out",
     "project/etl/tasks/Extract/luigi/2026-11-05/out.json"),
    ("{module}/{run_id}/{name}", "project/a/b.py::C", "user@x", "r:1", "out",
     "project/a/b/r~3A1/C/user~40x/out.json"),
]  # fmt: skip


@pytest.mark.parametrize(("layout", "address", "instance", "run_id", "output", "path"), ROUNDTRIP)
def test_identity_to_path_and_back(tmp_path, layout, address, instance, run_id, output, path) -> None:
    fm = FSMirror(
        {"storage": {"provider": "local", "tenant": str(tmp_path)}, "mirrors": {"m": {"root": "project", "layout": layout}}}
    )
    slot = fm.resolver.slot(address, run_id, instance, output)
    assert slot.data("json") == f"{tmp_path}/{path}"
    want = Identity(address, check_instance(instance), run_id, 0, output)
    located = fm.resolver.locate(f"{tmp_path}/{path}")
    assert want in [loc.identity for loc in located] and {loc.format for loc in located} == {"json"}
    for loc in located:  # every candidate derives exactly this path back
        assert fm.resolver.slot_of(_manifest_like(loc.identity)).data("json") == slot.data("json")
    assert fm.resolver.slot_of(_manifest_like(want)) == slot


def _manifest_like(ident: Identity):
    from types import SimpleNamespace

    return SimpleNamespace(address=ident.address, run_id=ident.run_id, partition=ident.instance, output_name=ident.output_name)


@pytest.mark.parametrize(
    "path",
    [
        "project/etl/job/R1/add_1/_out.manifest.json",  # fsmirror's own file, not data
        "project/etl/job/R1/add_1/out",  # no format
        "elsewhere/etl/job/R1/add_1/out.json",  # outside the root
        "project/etl/job/R1/add_1/add_1_2@/out.json",  # an empty instance part
    ],
)
def test_paths_that_are_no_identity_locate_nothing(tmp_path, path) -> None:
    fm = FSMirror({"storage": {"provider": "local", "tenant": str(tmp_path)}, "mirrors": {"m": {"root": "project"}}})
    assert fm.resolver.locate(f"{tmp_path}/{path}") == ()
