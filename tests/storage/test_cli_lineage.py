"""``fsmirror lineage`` over ``fm.run`` scopes, on local disk and moto S3: exact output of every form.

The store: ``orders`` and ``prices`` (run r1) -> ``clean`` (r2) -> ``summary`` (r3), which also reads
``orders``: a diamond, so the tree shows a node twice and expands it once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fsmirror import FSMirror
from fsmirror.cli import cli
from fsmirror.model.record import Manifest
from fsmirror.services.graph import walk

ORDERS = "project/etl/extract.py::orders"
PRICES = "project/etl/extract.py::prices"
CLEAN = "project/etl/lift.py::clean"
SUMMARY = "project/etl/report.py::summary"
REPORT_X = "project/etl/report.py::from_elsewhere"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> tuple[Path, FSMirror]:
    make = request.getfixturevalue("local_config" if request.param == "local" else "s3_config")
    cfg = Path(make(mirrors={"project": {"root": "project", "output_name": "out", "output_format": "json"}}))
    fm = FSMirror(config=str(cfg))
    fm.write(ORDERS, [1, 2, 3], run_id="r1")
    fm.write(PRICES, {"a": 1}, run_id="r1")
    with fm.run("r2"):
        orders = fm.read(ORDERS)
        fm.read(PRICES)
        fm.write(CLEAN, [x * 2 for x in orders])
    with fm.run("r3"):
        clean = fm.read(CLEAN)
        fm.read(ORDERS)
        fm.write(SUMMARY, {"n": len(clean)})
    return cfg, fm


def fsm(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), "lineage", *args], catch_exceptions=False)


def _uri(fm: FSMirror, addr: str, run: str) -> str:
    return fm.mirror_full_output(addr, run_id=run, output_format="json")


def test_upstream_tree(store: tuple[Path, FSMirror]) -> None:
    cfg, fm = store
    o, p, c, s = (_uri(fm, a, r) for a, r in [(ORDERS, "r1"), (PRICES, "r1"), (CLEAN, "r2"), (SUMMARY, "r3")])
    got = fsm(cfg, SUMMARY)
    assert got.exit_code == 0, got.output
    assert got.output == (
        f"{SUMMARY} [r3]  {s}\n"
        f"├── {CLEAN} [r2]  {c}\n"
        f"│   ├── {ORDERS} [r1]  {o}\n"
        f"│   └── {PRICES} [r1]  {p}\n"
        f"└── {ORDERS} [r1]  {o}  (shown above)\n"
    )
    assert fsm(cfg, s, "--upstream").output == got.output  # by URI, and --upstream is the default


def test_downstream_tree_and_depth(store: tuple[Path, FSMirror]) -> None:
    cfg, fm = store
    o, c, s = (_uri(fm, a, r) for a, r in [(ORDERS, "r1"), (CLEAN, "r2"), (SUMMARY, "r3")])
    assert fsm(cfg, ORDERS, "--downstream").output == (
        f"{ORDERS} [r1]  {o}\n"
        f"├── {CLEAN} [r2]  {c}\n"
        f"│   └── {SUMMARY} [r3]  {s}\n"
        f"└── {SUMMARY} [r3]  {s}  (shown above)\n"
    )
    assert fsm(cfg, PRICES, "--downstream", "--depth", "1").output == (
        f"{PRICES} [r1]  {_uri(fm, PRICES, 'r1')}\n└── {CLEAN} [r2]  {c}\n"
    )
    assert fsm(cfg, SUMMARY, "--depth", "1").output == (
        f"{SUMMARY} [r3]  {s}\n├── {CLEAN} [r2]  {c}\n└── {ORDERS} [r1]  {o}\n"
    )
    assert fsm(cfg, SUMMARY, "--depth", "0").output == f"{SUMMARY} [r3]  {s}\n"


def test_json_nodes_and_edges(store: tuple[Path, FSMirror]) -> None:
    cfg, fm = store
    got = fsm(cfg, CLEAN, "--json")
    assert got.exit_code == 0, got.output
    mans = {a: Manifest.from_json(fm.manifest(a)) for a in (ORDERS, PRICES, CLEAN)}

    def node(a: str, run: str) -> dict[str, Any]:
        m = mans[a]
        return {
            "uri": m.uri, "address": a, "run": run, "output_name": "out", "partition": None,
            "hash": {"algorithm": m.hash.algorithm, "digest": m.hash.digest}, "created_at": m.created_at,
            "state": "committed",
        }  # fmt: skip

    assert json.loads(got.output) == {
        "root": mans[CLEAN].uri,
        "direction": "upstream",
        "depth": None,
        "nodes": [node(CLEAN, "r2"), node(ORDERS, "r1"), node(PRICES, "r1")],
        "edges": [
            {"from": mans[ORDERS].uri, "to": mans[CLEAN].uri},
            {"from": mans[PRICES].uri, "to": mans[CLEAN].uri},
        ],
    }


def test_mermaid(store: tuple[Path, FSMirror]) -> None:
    cfg, _ = store
    got = fsm(cfg, SUMMARY, "--mermaid")
    assert got.exit_code == 0, got.output
    assert got.output == (
        "graph LR\n"
        f'  n0["{SUMMARY}<br/>r3"]\n'
        f'  n1["{CLEAN}<br/>r2"]\n'
        f'  n2["{ORDERS}<br/>r1"]\n'
        f'  n3["{PRICES}<br/>r1"]\n'
        "  n1 --> n0\n"
        "  n2 --> n0\n"
        "  n2 --> n1\n"
        "  n3 --> n1\n"
        "  style n0 stroke-width:3px\n"
    )


def test_inputs_deleted_or_overwritten_since_are_shown_and_not_walked_through(
    store: tuple[Path, FSMirror],
) -> None:
    cfg, fm = store
    c, s = _uri(fm, CLEAN, "r2"), _uri(fm, SUMMARY, "r3")
    assert fm.delete(PRICES, run_id="r1")
    fm.write(ORDERS, [9, 9], run_id="r1", overwrite=True)  # other bytes at the same URI
    o, p = _uri(fm, ORDERS, "r1"), _uri(fm, PRICES, "r1")
    assert fsm(cfg, SUMMARY).output == (
        f"{SUMMARY} [r3]  {s}\n"
        f"├── {CLEAN} [r2]  {c}\n"
        f"│   ├── {ORDERS} [r1]  {o}  (replaced: other bytes are committed there now)\n"
        f"│   └── {PRICES} [r1]  {p}  (gone: no committed artifact there now)\n"
        f"└── {ORDERS} [r1]  {o}  (replaced: other bytes are committed there now; shown above)\n"
    )
    # the new bytes at orders' URI made nothing yet
    assert fsm(cfg, ORDERS, "--downstream").output == f"{ORDERS} [r1]  {o}\n"


def test_errors_are_one_line(store: tuple[Path, FSMirror]) -> None:
    cfg, fm = store
    missing = _uri(fm, CLEAN, "r9")
    got = fsm(cfg, missing)
    assert got.exit_code == 1
    assert got.output == (
        f"fsmirror: error: {missing} is not a committed artifact of mirror 'project' (give its URI as "
        "`fsmirror ls` prints it, or a code address 'pkg/mod.py::Name')\n"
    )
    both = fsm(cfg, CLEAN, "--json", "--mermaid")
    assert both.exit_code == 2 and both.output.startswith(
        "fsmirror: error: give --json or --mermaid, not both"
    )
    assert fsm(cfg, _uri(fm, CLEAN, "r2"), "--partition", "x").exit_code == 2
    assert fsm(cfg, CLEAN, "--depth", "-1").exit_code == 2


def test_walk_is_the_api_under_the_command(store: tuple[Path, FSMirror]) -> None:
    _, fm = store
    start = Manifest.from_json(fm.manifest(SUMMARY))
    up = walk(fm, start)
    assert [n.address for n in up.nodes] == [SUMMARY, CLEAN, ORDERS, PRICES]
    assert len(up.edges) == 4
    down = walk(fm, Manifest.from_json(fm.manifest(PRICES)), direction="downstream")
    assert [n.address for n in down.nodes] == [PRICES, CLEAN, SUMMARY]
    with pytest.raises(ValueError, match="depth must be 0 or more"):
        walk(fm, start, depth=-1)


def test_an_input_uri_outside_the_tenant_is_never_read(store: tuple[Path, FSMirror], tmp_path: Path) -> None:
    """SECURITY.md: no path leaves the tenant. A manifest's input URIs are store content (they may be
    tampered with): the walk treats one outside the tenant as gone and reads nothing there."""
    from fsmirror.model.record import Input

    _, fm = store
    other = FSMirror(
        {
            "storage": {"provider": "local", "tenant": str(tmp_path / "elsewhere")},
            "mirrors": {"p": {"root": "project"}},
        }
    )
    foreign = other.write(ORDERS, [1], run_id="r1", format="json")  # a real manifest, outside fm's tenant
    fm.write(REPORT_X, 1, run_id="r9", format="json", inputs=[Input.of(foreign.manifest)])
    man = Manifest.from_json(fm.manifest(REPORT_X, run_id="r9"))
    nodes = walk(fm, man).to_json()["nodes"]
    outside = [n for n in nodes if n["uri"] == str(foreign)]
    assert len(outside) == 1 and outside[0]["state"] == "gone", nodes
