"""Lineage across orchestrators on one store, walked end to end by ``fsmirror lineage``.

Plain ``fm.run`` -> a Luigi task -> a Dagster asset -> a Luigi task, real runs on local disk and
moto S3; the CLI finds the whole chain upstream from the last artifact and downstream from the first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

luigi = pytest.importorskip("luigi")

from click.testing import CliRunner  # noqa: E402
from dagster_sample.project.etl import cross_lineage as X  # noqa: E402
from luigi.execution_summary import LuigiStatusCode  # noqa: E402
from luigi.task_register import Register  # noqa: E402

import fsmirror_luigi  # noqa: E402
from dagster import DagsterInstance, materialize  # noqa: E402
from fsmirror import FSMirror  # noqa: E402
from fsmirror.cli import cli  # noqa: E402
from fsmirror.model.record import Input, Manifest  # noqa: E402
from fsmirror_dagster import FSMirrorIOManager  # noqa: E402

SHIP = "project/etl/cross_lineage.py::ShipOrders"
COUNT = "project/etl/cross_lineage.py::shipped_count"
REPORT = "project/etl/cross_lineage.py::ReportShipped"


@pytest.fixture(params=["local", "s3"])
def config(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    make = request.getfixturevalue("local_config" if request.param == "local" else "s3_config")
    path = Path(make(mirrors={"project": {"root": "project", "output_name": "out", "output_format": "json"}}))
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(path))
    monkeypatch.delenv("LUIGI_CONFIG_PATH", raising=False)
    Register.clear_instance_cache()
    fsmirror_luigi.clear_cache()
    yield path
    Register.clear_instance_cache()
    fsmirror_luigi.clear_cache()


def _build(tasks: list[Any]) -> Any:
    return luigi.build(tasks, local_scheduler=True, detailed_summary=True)


def test_lineage_crosses_plain_python_luigi_and_dagster(config: Path, instance: DagsterInstance) -> None:
    fm = FSMirror(config, mirror="project")
    with fm.run("seed-run"):
        seed = fm.write(X.SEED, [1, 2, 3, 4, 5])
    assert _build([X.ShipOrders()]).status == LuigiStatusCode.SUCCESS
    result = materialize(
        [X.shipped_orders, X.shipped_count],
        instance=instance,
        resources={"io_manager": FSMirrorIOManager(mirror="project", config_path=str(config))},
    )
    assert result.success
    report_task = X.ReportShipped()
    assert _build([report_task]).status == LuigiStatusCode.SUCCESS
    assert report_task.output().read() == {"report": "3 shipped"}

    ship = Manifest.from_json(fm.manifest(SHIP))
    count = Manifest.from_json(fm.manifest(COUNT))
    report = Manifest.from_json(fm.manifest(REPORT))
    assert (ship.run_source, count.run_source, report.run_source) == ("luigi", "dagster", "luigi")
    assert ship.inputs == (Input.of(seed.manifest),)
    assert count.inputs == (Input.of(ship),) and count.segment == result.run_id
    assert report.inputs == (Input.of(count),)

    def cli_out(*args: str) -> str:
        got = CliRunner().invoke(cli, ["--config", str(config), "lineage", *args], catch_exceptions=False)
        assert got.exit_code == 0, got.output
        return got.output

    assert cli_out(REPORT) == (
        f"{REPORT} [{report.segment}]  {report.uri}\n"
        f"└── {COUNT} [{count.segment}]  {count.uri}\n"
        f"    └── {SHIP} [{ship.segment}]  {ship.uri}\n"
        f"        └── {X.SEED} [seed-run]  {seed}\n"
    )
    assert cli_out(str(seed), "--downstream") == (
        f"{X.SEED} [seed-run]  {seed}\n"
        f"└── {SHIP} [{ship.segment}]  {ship.uri}\n"
        f"    └── {COUNT} [{count.segment}]  {count.uri}\n"
        f"        └── {REPORT} [{report.segment}]  {report.uri}\n"
    )
    graph = json.loads(cli_out(REPORT, "--json", "--depth", "2"))
    assert [n["address"] for n in graph["nodes"]] == [REPORT, COUNT, SHIP]
    assert graph["edges"] == [{"from": count.uri, "to": report.uri}, {"from": ship.uri, "to": count.uri}]
