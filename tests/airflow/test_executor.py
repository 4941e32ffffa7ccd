"""The TaskFlow DAG with real task subprocesses: ``dag.test(use_executor=True)`` + ``airflow api-server``.

Each task runs in its own process (LocalExecutor), talks to the API server's
execution API, and pushes/pulls XComs through fsmirror's backend: the values
must cross process boundaries through storage and the ``xcom`` table alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import DAG_MIRRORS, xcom_rows
from fsmirror import FSMirror
from servers import free_port

REF = "__fsmirror_xcom__"


@pytest.fixture
def api_server(airflow_db: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """``airflow api-server`` on 127.0.0.1, stopped (by its pid) after the test."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"{url}/execution/")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", url)
    monkeypatch.setenv(
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "fsmirror-tests-only-jwt-secret-not-for-production-use-0123456789abcdef",
    )
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "2")
    exe = Path(sys.executable).with_name("airflow")
    log = (tmp_path / "api-server.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "airflow api-server did not come up:\n"
                        + (tmp_path / "api-server.log").read_text()[-3000:]
                    ) from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.mark.slow
def test_taskflow_dag_in_real_task_subprocesses(
    api_server: str,
    run_dag: Callable[..., Any],
    airflow_db: Path,
    local_config: Callable[..., Path],
    fsmirror_config: Any,
) -> None:
    cfg = fsmirror_config(local_config(mirrors=DAG_MIRRORS))
    dr = run_dag("taskflow_xcom", "taskflow_xcom", use_executor=True)
    assert dr.state == "success"
    rows = xcom_rows(airflow_db, "taskflow_xcom", dr.run_id)
    assert {(t, m) for t, m, _ in rows} == {
        ("extract", -1),
        ("summarize", -1),
        ("scale", 0),
        ("scale", 1),
        ("scale", 2),
        ("report", -1),
    }
    assert all(set(v) == {REF, "mirror"} for v in rows.values())
    fm = FSMirror(cfg, mirror="dags")
    assert fm.read_uri(rows[("report", -1, "return_value")][REF]) == "3 cities, 99.5"
    man = fm.manifest_uri(rows[("extract", -1, "return_value")][REF])
    assert man["format"] == "parquet"
    assert man["orchestrator"]["try_number"] == 1
