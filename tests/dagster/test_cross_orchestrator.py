"""One layout for every orchestrator: a pipeline moves step by step between Luigi and Dagster, data stays put.

A Dagster asset reads an upstream a Luigi task wrote (declared by code address,
read from the store's latest run), and a Luigi task's ``requires()`` depends on
an artifact a Dagster asset wrote. Both are real runs (``luigi.build``,
``materialize``) on one store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

luigi = pytest.importorskip("luigi")

from dagster_sample.project.etl import assets as A  # noqa: E402
from dagster_sample.project.etl import cross as C  # noqa: E402
from dagster_sample.project.etl import exports as X  # noqa: E402
from luigi.execution_summary import LuigiStatusCode  # noqa: E402
from luigi.task_register import Register  # noqa: E402

import fsmirror_luigi  # noqa: E402
from dagster import DagsterInstance, materialize  # noqa: E402
from fsmirror import FSMirror  # noqa: E402
from fsmirror.paths.runid import encode_run_id  # noqa: E402
from fsmirror_dagster import FSMirrorIOManager  # noqa: E402


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


def test_dagster_asset_reads_an_upstream_a_luigi_task_wrote(
    config: Path, instance: DagsterInstance, tmp_path: Path
) -> None:
    older, newer = X.ExportOrders(day="2026-11-25"), X.ExportOrders(day="2026-11-26")
    assert _build([older]).status == LuigiStatusCode.SUCCESS
    assert _build([newer]).status == LuigiStatusCode.SUCCESS

    # A daily-partitioned asset reads the Luigi task's instance its partition key names: one
    # parameter set is one series (Core v3), so each day reads its own day, never "the newest".
    fm = FSMirror(config, mirror="project")
    for task, orders in ((newer, 4), (older, 3)):
        day = str(task.day)
        result = materialize(
            [C.exported_orders, C.order_count], instance=instance, resources=_io(config), partition_key=day
        )
        assert result.success
        assert result.output_for_node("order_count") == {"day": day, "orders": orders}
        logs = [e.user_message for e in instance.all_logs(result.run_id) if "loading input" in e.user_message]
        assert logs == [
            f"fsmirror: loading input 'exported_orders' partition {day!r} from {task.output().path}"
        ]
        assert fm.manifest("project/etl/exports.py::ExportOrders", partition=day)["run"]["source"] == "luigi"
        got = fm.read(C.order_count.op.compute_fn.decorated_fn, run_id=result.run_id, partition=day)
        assert got == {"day": day, "orders": orders}


def test_declared_upstream_never_written_fails_saying_where_it_looked(
    config: Path, instance: DagsterInstance
) -> None:
    result = materialize(
        [C.exported_orders, C.order_count],
        instance=instance,
        resources=_io(config),
        raise_on_error=False,
        partition_key="2026-11-25",
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    text = failure.step_failure_data.user_failure_data.description  # type: ignore[union-attr]
    assert "declared at 'project/etl/exports.py::ExportOrders'" in text and "no committed run" in text


def test_luigi_task_requires_an_artifact_a_dagster_asset_wrote(
    config: Path, instance: DagsterInstance, tmp_path: Path
) -> None:
    assert _build([X.SummarizeDagsterData()]).status == LuigiStatusCode.MISSING_EXT  # nothing yet

    first = materialize([A.raw_data], instance=instance, resources=_io(config))
    assert first.success
    dep = X.RawDataFromDagster().output()
    assert dep.exists()
    assert dep.path == str(
        tmp_path / "store/project/etl/assets" / encode_run_id(first.run_id) / "raw_data/out.parquet"
    )

    assert _build([X.SummarizeDagsterData()]).status == LuigiStatusCode.SUCCESS
    summary = X.SummarizeDagsterData().output()
    assert summary.read() == {"rows": 3, "x_total": 6}
    assert summary.manifest()["run"]["source"] == "luigi"
