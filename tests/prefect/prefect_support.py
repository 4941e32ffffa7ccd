"""Helpers shared by the Prefect tests (a plain module: ``conftest`` is ambiguous across folders)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from prefect.client.orchestration import get_client

from fsmirror_prefect import FSMirrorStorage

MIRRORS = {
    "parquet": {"etl": {"root": "etl", "prefix": "MIRROR", "output_name": "out", "output_format": "parquet"}},
    "pkl": {"etl": {"root": "etl", "prefix": "MIRROR", "output_name": "out", "output_format": "pkl"}},
}


def block_slug(block: FSMirrorStorage) -> str:
    return f"{block.get_block_type_slug()}/{block._block_document_name}"


def task_runs(flow_run_id: Any) -> dict[str, Any]:
    """The flow run's task runs as Prefect recorded them, by task name (last run wins)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
        )
    return {r.name.rsplit("-", 1)[0]: r for r in runs}


def run_python(code: str, api_url: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter against the session's Prefect server; returns stdout."""
    sample = os.path.join(os.path.dirname(__file__), "sample")  # user code, importable as in a real worker
    path = os.pathsep.join(p for p in (sample, os.environ.get("PYTHONPATH", "")) if p)
    full_env = {**os.environ, "PREFECT_API_URL": api_url, "PYTHONPATH": path, **env}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def read_json(fs: Any, uri: str) -> dict[str, Any]:
    return dict(json.loads(fs.cat_file(uri)))
