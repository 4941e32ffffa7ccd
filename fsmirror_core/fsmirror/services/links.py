"""Links from an artifact's orchestrator record to the orchestrator's own UI (pure functions).

A manifest records the orchestrator's ids, not its UI's address: a run's page moves
with the deployment, the ids do not. So links are made when shown, from the ids and
the UI's base URL as the orchestrator itself configures it:

=========  =====================================  =============================================
Prefect    ``PREFECT_UI_URL`` (Prefect's setting)  ``<ui>/runs/flow-run/<id>``, ``/runs/task-run/<id>``
Airflow    ``AIRFLOW__API__BASE_URL`` (``[api]``)  ``<base>/dags/<dag_id>/runs/<run_id>[/tasks/<task_id>]``
Dagster    ``FSMIRROR_DAGSTER_URL`` (Dagster has   ``<webserver>/runs/<run_id>``
           no such setting of its own)
=========  =====================================  =============================================

Any value of the record that is itself an ``http(s)://`` URL is a link too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ..model.urls import public_url

__all__ = ["BASE_ENV", "links", "bases_from_env"]

#: The environment variable that holds each orchestrator's UI base URL.
BASE_ENV = {
    "prefect": "PREFECT_UI_URL",
    "airflow": "AIRFLOW__API__BASE_URL",
    "dagster": "FSMIRROR_DAGSTER_URL",
}


def bases_from_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The UI base URLs set in ``env`` (default: this process's environment)."""
    env = os.environ if env is None else env
    # `show` prints these links: a base set as https://user:pass@host must not print its password
    return {name: str(public_url(env[var].rstrip("/"))) for name, var in BASE_ENV.items() if env.get(var)}


def _q(value: Any) -> str:
    return quote(str(value), safe="")


def links(orchestrator: Mapping[str, Any], bases: Mapping[str, str]) -> list[str]:
    """The UI pages of the run (and task) an orchestrator record names, given the UI bases."""
    out = [v for v in orchestrator.values() if isinstance(v, str) and v.startswith(("http://", "https://"))]
    o = orchestrator
    if "prefect" in bases and o.get("flow_run_id"):
        out.append(f"{bases['prefect']}/runs/flow-run/{_q(o['flow_run_id'])}")
        if o.get("task_run_id"):
            out.append(f"{bases['prefect']}/runs/task-run/{_q(o['task_run_id'])}")
    if "airflow" in bases and o.get("dag_id") and o.get("run_id"):
        run = f"{bases['airflow']}/dags/{_q(o['dag_id'])}/runs/{_q(o['run_id'])}"
        out.append(run + (f"/tasks/{_q(o['task_id'])}" if o.get("task_id") else ""))
    if "dagster" in bases and o.get("name") == "dagster" and o.get("run_id"):
        out.append(f"{bases['dagster']}/runs/{_q(o['run_id'])}")
    return list(dict.fromkeys(out))
