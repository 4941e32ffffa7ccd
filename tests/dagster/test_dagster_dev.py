"""docs/dagster.md's ``dagster dev -f definitions.py`` works with what ``pip install 'fsmirror[dagster]'`` installs.

A real ``dagster dev`` (webserver, daemon, code server) on 127.0.0.1 serves
examples/dagster; a run launched through its GraphQL API, as the UI's
"Materialize all" does, writes its artifacts through FSMirrorIOManager.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from fsmirror.paths.runid import encode_run_id

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dagster"
DAGSTER = Path(sys.executable).with_name("dagster")  # the command the extra installs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(f"{url}/graphql", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        data: dict[str, Any] = json.load(resp)
    assert "errors" not in data, data
    return dict(data["data"])


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"dagster dev exited: {log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"dagster dev did not serve {url} within {timeout} s: {log.read_text()[-3000:]}")


REPO = """
query { repositoriesOrError { ... on RepositoryConnection { nodes { name location { name }
  assetNodes { assetKey { path } } } } } }
"""
LAUNCH = """
mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }
"""
STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


@pytest.mark.slow
def test_dagster_dev_serves_the_example_and_materializes_through_fsmirror(
    local_config: Any, tmp_path: Path
) -> None:
    assert DAGSTER.exists(), "the dagster extra installs the dagster command"
    work = tmp_path / "example"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("__pycache__"))
    config = local_config(
        mirrors={"aipipeline": {"root": "aipipeline", "output_name": "out", "output_format": "parquet"}}
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    env.update(DAGSTER_HOME=str(home), FSMIRROR_CONFIG_PATH=str(config), DAGSTER_DISABLE_TELEMETRY="1")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "dagster-dev.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(DAGSTER), "dev", "-f", "definitions.py", "-h", "127.0.0.1", "-p", str(port)],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: webserver, daemon and code server end with it
        )
    try:
        _wait_for(url, proc, log)
        (repo,) = _graphql(url, REPO)["repositoriesOrError"]["nodes"]
        assert {tuple(n["assetKey"]["path"]) for n in repo["assetNodes"]} >= {
            ("raw_orders",),
            ("order_totals",),
        }

        params = {
            "selector": {
                "repositoryLocationName": repo["location"]["name"],
                "repositoryName": repo["name"],
                "jobName": "__ASSET_JOB",
                "assetSelection": [{"path": ["raw_orders"]}, {"path": ["order_totals"]}],
            },
            "runConfigData": {},
        }
        launched = _graphql(url, LAUNCH, {"p": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        deadline = time.monotonic() + 240
        status = None
        while time.monotonic() < deadline:
            status = _graphql(url, STATUS, {"id": run_id})["runOrError"].get("status")
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(1)
        assert status == "SUCCESS", log.read_text()[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the group this test started, by its id
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    seg = encode_run_id(run_id)
    store = tmp_path / "store" / "aipipeline/etl/assets" / seg
    assert (store / "raw_orders/out.parquet").is_file()
    assert (store / "order_totals/out.parquet").is_file()
    manifest = json.loads((store / "order_totals/_out.manifest.json").read_text())
    assert manifest["orchestrator"]["run_id"] == run_id and manifest["run"]["source"] == "dagster"
