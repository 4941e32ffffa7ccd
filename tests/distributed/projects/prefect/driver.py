"""The Prefect side of the distributed test, run in the prefect venv as its own process.

``setup``: save the storage block, push the project to S3, create the process work
pool and the deployment (``flow.from_source(RemoteStorage(...))``). ``runs``: the
deployment run once, then three more at once; print every flow run and task run as
JSON. ``read``: read flow results back through Prefect's client (another process).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

S3 = {
    "key": "testing",
    "secret": "testing",
    "client_kwargs": {"endpoint_url": os.environ.get("DIST_S3_ENDPOINT", "")},
}


def block() -> None:
    from fsmirror_prefect import FSMirrorStorage

    FSMirrorStorage(mirror="project").save("dist", overwrite=True)  # config: each process's $FSMIRROR_CONFIG_PATH


def setup(code_url: str) -> None:
    import s3fs
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.runner.storage import RemoteStorage

    block()
    fs = s3fs.S3FileSystem(**S3)
    here = Path(__file__).resolve().parent
    fs.put(str(here / "project"), code_url + "/project", recursive=True)

    async def pool() -> None:
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name="dist", type="process"), overwrite=True)

    asyncio.run(pool())
    from prefect import flow

    remote = flow.from_source(
        RemoteStorage(code_url, pull_interval=None, **S3), "project/etl/pipeline.py:pipeline"
    )
    dep = remote.deploy(name="nightly", work_pool_name="dist", build=False, push=False, print_next_steps=False)
    print(json.dumps({"deployment_id": str(dep)}))


async def _wait(client: Any, ids: list[Any], timeout: float = 240) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        runs = [await client.read_flow_run(i) for i in ids]
        if all(r.state is not None and r.state.is_final() for r in runs):
            return
        if loop.time() > deadline:
            raise TimeoutError(f"flow runs not final after {timeout}s: {[(r.id, r.state_name) for r in runs]}")
        await asyncio.sleep(0.5)


async def _describe(client: Any, ids: list[Any]) -> list[dict[str, Any]]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    out = []
    for i in ids:
        run = await client.read_flow_run(i)
        tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[i])))
        out.append(
            {
                "id": str(run.id),
                "state": run.state_name,
                "parameters": run.parameters,
                "infrastructure_pid": run.infrastructure_pid,
                "tasks": [
                    {
                        "name": t.task_key.rsplit("-", 1)[0] if t.task_key else t.name,
                        "task_name": t.name,
                        "state": t.state_name,
                        "key": getattr(t.state.data, "storage_key", None) if t.state is not None else None,
                    }
                    for t in tasks
                ],
            }
        )
    return out


def runs() -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    async def go() -> list[dict[str, Any]]:
        async with get_client() as client:
            first = await run_deployment("pipeline/nightly", parameters={"days": [1, 2], "scale": 1}, timeout=0)
            await _wait(client, [first.id])
            rest = [
                await run_deployment("pipeline/nightly", parameters={"days": [1, 2], "scale": s}, timeout=0)
                for s in (2, 3, 4)
            ]
            await _wait(client, [r.id for r in rest])
            return await _describe(client, [first.id, *[r.id for r in rest]])

    print("RUNS " + json.dumps(asyncio.run(go())))


def describe(ids: list[str]) -> None:
    from prefect.client.orchestration import get_client

    async def go() -> list[dict[str, Any]]:
        async with get_client() as client:
            return await _describe(client, ids)

    print("RUNS " + json.dumps(asyncio.run(go())))


def read(ids: list[str]) -> None:
    from prefect.client.orchestration import get_client

    import fsmirror_prefect  # noqa: F401  registers the 'fsmirror' serializer the result records name

    with get_client(sync_client=True) as client:
        values = {i: client.read_flow_run(i).state.result() for i in ids}  # type: ignore[union-attr]
    print("VALUES " + json.dumps(values))


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"block": block, "setup": lambda: setup(args[0]), "runs": runs, "describe": lambda: describe(args), "read": lambda: read(args)}[cmd]()
