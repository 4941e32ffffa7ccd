"""Luigi reads what Dagster wrote: a day of a daily-partitioned asset, and a key-prefixed asset.

The mirror image of ``test_cross_orchestrator.py`` (Dagster reads Luigi). Real
``materialize`` and ``luigi.build`` runs on one local store; each test asserts on
what landed in storage and what the Luigi task read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

luigi = pytest.importorskip("luigi")

from dagster_sample.project.etl import luigi_reads as L  # noqa: E402
from luigi.execution_summary import LuigiStatusCode  # noqa: E402
from luigi.task_register import Register  # noqa: E402

import fsmirror_luigi  # noqa: E402
from dagster import DagsterInstance, materialize  # noqa: E402
from fsmirror import FSMirror  # noqa: E402
from fsmirror.paths.runid import encode_run_id  # noqa: E402
from fsmirror_dagster import FSMirrorIOManager  # noqa: E402
from fsmirror_luigi import FSMirrorTarget  # noqa: E402


@pytest.fixture
def config(local_config: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """One store and mirror for both orchestrators; Luigi finds it through $FSMIRROR_CONFIG_PATH."""
    path = Path(local_config())
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(path))
    monkeypatch.delenv("LUIGI_CONFIG_PATH", raising=False)
    Register.clear_instance_cache()
    fsmirror_luigi.clear_cache()
    yield path
    Register.clear_instance_cache()
    fsmirror_luigi.clear_cache()


def _io(config: Path) -> dict[str, Any]:
    return {"io_manager": FSMirrorIOManager(mirror="project", config_path=str(config))}


def _build(tasks: list[Any]) -> Any:
    return luigi.build(tasks, local_scheduler=True, detailed_summary=True)


def test_luigi_task_reads_the_day_of_a_dagster_daily_partitioned_asset(
    config: Path, instance: DagsterInstance, tmp_path: Path
) -> None:
    import datetime as dt

    d24, d25 = dt.date(2026, 11, 24), dt.date(2026, 11, 25)
    assert _build([L.DailyOrderReport(day=d25)]).status == LuigiStatusCode.MISSING_EXT  # nothing yet

    runs = {}
    for day in (d25, d24):  # the later day first: each day reads its own partition, not the newest run
        result = materialize(
            [L.daily_orders], instance=instance, resources=_io(config), partition_key=str(day)
        )
        assert result.success
        runs[day] = result.run_id

    assert (
        _build([L.DailyOrderReport(day=d24), L.DailyOrderReport(day=d25)]).status == LuigiStatusCode.SUCCESS
    )
    fm = FSMirror(str(config), mirror="project")
    for day in (d24, d25):
        dagster_uri = str(
            tmp_path
            / "store/project/etl/luigi_reads"
            / encode_run_id(runs[day])
            / f"daily_orders/{day}/out.json"
        )
        assert L.DagsterDailyOrders(day=day).output().path == dagster_uri
        report = L.DailyOrderReport(day=day).output()
        assert report.path == str(
            tmp_path / f"store/project/etl/luigi_reads/luigi/DailyOrderReport/{day}/out.json"
        )
        assert report.read() == {"day": str(day), "orders": day.day}
        man = report.manifest()
        assert [i["uri"] for i in man["inputs"]] == [dagster_uri]  # lineage: the Dagster run it read
        assert fm.manifest(f"{L.ADDRESS}::daily_orders", run_id=runs[day], partition=str(day))["run"][
            "source"
        ] == ("dagster")


def test_a_dagster_run_id_finds_a_key_prefixed_asset_by_its_dagster_name(
    config: Path, instance: DagsterInstance, tmp_path: Path
) -> None:
    """What docs/luigi.md says: the instance of a key-prefixed asset is its Dagster name (``sales__totals``)."""
    result = materialize([L.totals], instance=instance, resources=_io(config))
    assert result.success
    run = result.run_id
    store = tmp_path / "store/project/etl/luigi_reads"

    by_run = FSMirrorTarget(f"{L.ADDRESS}::totals", run_id=run, partition="sales__totals")
    assert by_run.exists() and by_run.read() == {"total": 7}
    assert by_run.uri == str(store / encode_run_id(run) / "totals/sales__totals/out.json")
    assert FSMirrorTarget(f"{L.ADDRESS}::totals", run_id="latest", partition="sales__totals").read() == {
        "total": 7
    }
    assert not FSMirrorTarget(f"{L.ADDRESS}::totals", run_id=run).exists()  # no instance: not this asset

    # key prefix and partition: both, as one instance
    day = "2026-11-25"
    result = materialize([L.daily_totals], instance=instance, resources=_io(config), partition_key=day)
    assert result.success
    both = FSMirrorTarget(
        f"{L.ADDRESS}::daily_totals", run_id=result.run_id, partition=("sales__daily_totals", day)
    )
    assert both.read() == {"day": day}
    assert both.uri == str(
        store / encode_run_id(result.run_id) / f"daily_totals/sales__daily_totals@{day}/out.json"
    )
