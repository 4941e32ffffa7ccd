"""Retries leave no duplicates; bad config or an unreachable store fails the task, saying why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import DAG_MIRRORS, ti_states, xcom_rows
from fsmirror import FSMirror
from servers import free_port

REF = "__fsmirror_xcom__"


def test_retry_purges_the_first_try_and_leaves_one_artifact(
    run_dag: Callable[..., Any], airflow_db: Path, local_config: Callable[..., Path], fsmirror_config: Any
) -> None:
    cfg = fsmirror_config(local_config(mirrors=DAG_MIRRORS))
    dr = run_dag("failures", "retry_purge")
    assert dr.state == "success"
    assert ti_states(airflow_db, "retry_purge", dr.run_id) == {("flaky", -1): ("success", 2)}
    rows = xcom_rows(airflow_db, "retry_purge", dr.run_id)
    assert set(rows) == {("flaky", -1, "progress")}  # Airflow cleared try 1's XComs ...
    fm = FSMirror(cfg, mirror="dags")
    run_dir = Path(rows[("flaky", -1, "progress")][REF]).parent
    # ... and purge removed their artifacts: one file per key, the second try's
    assert sorted(p.name for p in run_dir.iterdir()) == ["_progress.manifest.json", "progress.json"]
    assert fm.read_uri(rows[("flaky", -1, "progress")][REF]) == {"try": 2}


def test_missing_config_fails_the_task_with_a_clear_message(
    run_dag: Callable[..., Any],
    airflow_db: Path,
    fsmirror_config: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    fsmirror_config(tmp_path / "nowhere.yml")
    dr = run_dag("failures", "store_fails")
    assert dr.state == "failed"
    assert ti_states(airflow_db, "store_fails", dr.run_id) == {("produce", -1): ("failed", 1)}
    assert xcom_rows(airflow_db, "store_fails", dr.run_id) == {}
    log = capfd.readouterr().out  # dag.test() runs the task in this process and logs to stdout
    assert "fsmirror.errors.ConfigError: fsmirror XCom backend, XCom 'return_value' of task 'produce'" in log
    assert "nowhere.yml' does not exist" in log


def test_unreachable_store_fails_the_task_with_a_clear_message(
    run_dag: Callable[..., Any],
    airflow_db: Path,
    s3_config: Callable[..., Path],
    fsmirror_config: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    port = free_port()  # nothing listens here
    fsmirror_config(
        s3_config(
            mirrors=DAG_MIRRORS,
            storage_options={
                "key": "testing",
                "secret": "testing",
                "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}"},
                "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
            },
        )
    )
    dr = run_dag("failures", "store_fails")
    assert dr.state == "failed"
    assert xcom_rows(airflow_db, "store_fails", dr.run_id) == {}
    log = capfd.readouterr().out
    assert "fsmirror.errors.StorageError: fsmirror XCom backend, XCom 'return_value' of task 'produce'" in log
    assert f'Could not connect to the endpoint URL: "http://127.0.0.1:{port}/' in log


@pytest.mark.parametrize("threshold", ["lots", "1e3"])
def test_bad_threshold_is_a_config_error(monkeypatch: pytest.MonkeyPatch, threshold: str) -> None:
    from fsmirror_airflow import FSMirrorXComBackend

    monkeypatch.setenv("AIRFLOW__FSMIRROR__XCOM_THRESHOLD", threshold)
    with pytest.raises(ValueError, match=r"xcom_threshold = '.*' is not a whole number of bytes"):
        FSMirrorXComBackend.serialize_value([1], key="return_value", dag_id="d", task_id="t", run_id="r")


@pytest.mark.parametrize("provider", ["local", "s3"])
def test_a_purged_retry_moves_latest_back(
    provider: str,
    run_dag: Callable[..., Any],
    airflow_db: Path,
    request: pytest.FixtureRequest,
    fsmirror_config: Any,
) -> None:
    """Run 1 commits 'maybe'; run 2's first try commits it too and fails; its purge must move latest back."""
    from fsmirror.paths.address import CodeAddress

    cfg = fsmirror_config(request.getfixturevalue(f"{provider}_config")(mirrors=DAG_MIRRORS))
    fm = FSMirror(cfg, mirror="dags")
    day1 = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    day2 = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
    first = run_dag(
        "failures", "retry_latest", logical_date=day1, run_after=day1, run_conf={"fail_first": False}
    )
    assert first.state == "success"
    dag_file = Path(__file__).parent / "dags" / "failures.py"
    where = CodeAddress(tuple(p for p in str(dag_file).split("/") if p), "pushes")
    kw: dict[str, Any] = {"partition": "retry_latest", "output_name": "maybe"}
    assert fm.latest(where, **kw) == ("retry_latest", first.run_id)

    second = run_dag(
        "failures", "retry_latest", logical_date=day2, run_after=day2, run_conf={"fail_first": True}
    )
    assert second.state == "success"
    assert ti_states(airflow_db, "retry_latest", second.run_id) == {("pushes", -1): ("success", 2)}
    assert xcom_rows(airflow_db, "retry_latest", second.run_id) == {}  # try 1's 'maybe' was cleared ...
    assert not fm.exists(where, run_id=("retry_latest", second.run_id), **kw)  # ... and purged
    assert fm.runs(where, **kw) == [("retry_latest", first.run_id)]
    assert fm.latest(where, **kw) == ("retry_latest", first.run_id)  # latest moved back
    assert fm.read(where, **kw) == {"run": first.run_id}


@pytest.mark.parametrize("provider", ["local", "s3"])
def test_a_retry_pushes_attempt_1_and_downstream_gets_its_value(
    provider: str,
    run_dag: Callable[..., Any],
    airflow_db: Path,
    request: pytest.FixtureRequest,
    fsmirror_config: Any,
) -> None:
    """Try 1 pushes 'progress' and fails; try 2 pushes again and returns: its values are the XComs.

    The attempt is Airflow's ``try_number - 1``: the manifests say try 2 (attempt 1) wrote them.
    """
    cfg = fsmirror_config(request.getfixturevalue(f"{provider}_config")(mirrors=DAG_MIRRORS))
    fm = FSMirror(cfg, mirror="dags")
    dr = run_dag("failures", "retry_downstream")
    assert dr.state == "success"
    assert ti_states(airflow_db, "retry_downstream", dr.run_id) == {
        ("flaky_value", -1): ("success", 2),
        ("consume", -1): ("success", 1),
    }
    rows = xcom_rows(airflow_db, "retry_downstream", dr.run_id)
    assert set(rows) == {
        ("flaky_value", -1, "progress"),
        ("flaky_value", -1, "return_value"),
        ("consume", -1, "return_value"),
    }
    # what the downstream task received (it returns it): the second try's values only
    assert fm.read_uri(rows[("consume", -1, "return_value")][REF]) == {
        "value": {"try": 2},
        "progress": {"try": 2},
    }
    where = "dags/failures.py::flaky_value"
    run = ("retry_downstream", dr.run_id)
    for output_name, value in (("progress", {"try": 2}), (None, {"try": 2})):
        man = fm.manifest(where, run_id=run, partition="retry_downstream", output_name=output_name)
        assert (man["attempt"], man["orchestrator"]["try_number"]) == (1, 2)
        assert fm.read(where, run_id=run, partition="retry_downstream", output_name=output_name) == value
    assert fm.runs(where, partition="retry_downstream", output_name="progress") == [run]
    consumed = fm.manifest("dags/failures.py::consume", run_id=run, partition="retry_downstream")
    assert consumed["attempt"] == 0
    fs = fm.filesystem
    task_dir = rows[("flaky_value", -1, "progress")][REF].rsplit("/", 1)[0]
    assert sorted(p.rsplit("/", 1)[1] for p in fs.ls(task_dir, detail=False)) == [
        "_out.manifest.json",
        "_progress.manifest.json",
        "out.json",
        "progress.json",
    ]
