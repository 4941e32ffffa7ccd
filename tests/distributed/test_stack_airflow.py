"""Airflow 3.3: CeleryExecutor on Redis, metadata on PostgreSQL; api-server, scheduler and
dag-processor as separate processes; two Celery workers.

Every process has its own AIRFLOW_HOME/HOME, working directory, copy of the DAG folder
and fsmirror config; they share the same secrets (JWT, Fernet, API), the broker, the
database and the bucket only.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import s3fs
from harness import (
    Processes,
    Timer,
    base_env,
    committed,
    free_port,
    manifest_of,
    project_copy,
    resolve_many,
    stack_venv,
    wait_for,
    wait_port,
    worker_dir,
    write_mirror_config,
)

from servers import S3Server

DAG = "dist_etl"
FILE = "project/dags/dist_etl.py"
RUNS = ("dist-1", "dist-2")
MAPPED = 4


def test_celery_executor_two_workers(
    procs: Processes, s3: S3Server, postgres: Any, redis: Any, dist_dir: Path
) -> None:
    timer = Timer("airflow")
    bin_dir = stack_venv("airflow", "s3,airflow")
    timer.mark("venv")
    base = dist_dir / "airflow"
    bucket = s3.new_bucket()
    db = postgres.database("airflow")
    api_port = free_port()
    secrets = {
        "AIRFLOW__API_AUTH__JWT_SECRET": base64.b64encode(os.urandom(24)).decode(),
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW__API__SECRET_KEY": base64.b64encode(os.urandom(24)).decode(),
    }

    def env(name: str, **extra: str) -> tuple[dict[str, str], Path]:
        home, work = worker_dir(base, name)
        config = write_mirror_config(home / "fsmirror.yml", bucket, s3.endpoint_url)
        src = project_copy("airflow", work)
        e = base_env(
            home,
            bin_dir,
            AIRFLOW_HOME=str(home / "airflow"),
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg://{db}",
            AIRFLOW__CELERY__BROKER_URL=redis.url(2),
            AIRFLOW__CELERY__RESULT_BACKEND=redis.url(3),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(src / "project" / "dags"),
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__CORE__XCOM_BACKEND="fsmirror_airflow.FSMirrorXComBackend",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
            AIRFLOW__FSMIRROR__CONFIG_PATH=str(config),
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
            AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK="False",
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__CELERY__WORKER_CONCURRENCY="2",
            **secrets,
            **extra,
        )
        return e, work

    e, work = env("migrate")
    procs.run("airflow-db-migrate", [str(bin_dir / "airflow"), "db", "migrate"], env=e, cwd=work, timeout=300)
    timer.mark("migrate")
    e, work = env("api-server")
    api = procs.start(
        "airflow-api-server",
        [
            str(bin_dir / "airflow"),
            "api-server",
            "--host",
            "127.0.0.1",
            "--port",
            str(api_port),
            "--workers",
            "1",
        ],
        env=e,
        cwd=work,
    )
    for name in ("scheduler", "dag-processor"):
        e, work = env(name)
        procs.start(f"airflow-{name}", [str(bin_dir / "airflow"), name], env=e, cwd=work)
    workers = {}
    for name in ("worker-a", "worker-b"):
        e, work = env(name)
        workers[name] = procs.start(
            f"airflow-{name}",
            [
                str(bin_dir / "airflow"),
                "celery",
                "worker",
                "--celery-hostname",
                f"{name}@%h",
                "--concurrency",
                "2",
            ],
            env=e,
            cwd=work,
        )
    wait_port(api_port, 180, api)
    wait_for(
        "the dag-processor to parse the DAG",
        lambda: postgres.rows("airflow", f"select dag_id from dag where dag_id='{DAG}'"),
        180,
        1,
    )
    wait_for(
        "both Celery workers ready",
        lambda: all("ready." in p.log.read_text() for p in workers.values()),
        180,
        1,
    )
    timer.mark("start")

    e, work = env("trigger")
    for run in RUNS:
        procs.run(
            f"airflow-trigger-{run}",
            [str(bin_dir / "airflow"), "dags", "trigger", DAG, "--run-id", run],
            env=e,
            cwd=work,
            timeout=120,
        )

    def finished() -> Any:
        rows = postgres.rows("airflow", f"select run_id, state from dag_run where dag_id='{DAG}'")
        states = dict((r[0], r[1]) for r in rows)
        return states if all(states.get(r) in ("success", "failed") for r in RUNS) else None

    states = wait_for("both DAG runs to finish", finished, 300, 1)
    timer.mark("run")
    logs = {n: p.log.read_text(errors="replace") for n, p in workers.items()}
    assert states == {r: "success" for r in RUNS}, (states, {n: log[-3000:] for n, log in logs.items()})

    tis = postgres.rows(
        "airflow",
        f"select run_id, task_id, map_index, state, try_number, pid, hostname from task_instance where dag_id='{DAG}'",
    )
    assert len(tis) == len(RUNS) * (3 + MAPPED) and {t[3] for t in tis} == {"success"}
    assert {t[4] for t in tis} == {"1"}  # nothing retried: each task, shared upstream included, ran once

    # every XCom and the macro's file at the path fsmirror resolve prints for <dag_id>@<run_id>
    calls, slots = [], []
    for run in RUNS:
        slot = ["--airflow", "-r", f"{DAG}@{run}"]
        for task_id in ("extract", "total"):
            calls.append([f"{FILE}::{task_id}", *slot, "--format", "json"])
            slots.append((run, task_id, -1))
        for i in range(MAPPED):
            calls.append([f"{FILE}::square", *slot, "--map-index", str(i), "--format", "json"])
            slots.append((run, "square", i))
        calls.append([f"{FILE}::report", *slot, "--output-name", "report", "--format", "json"])
        slots.append((run, "report", -1))
    e, _ = env("reader")
    config = Path(e["AIRFLOW__FSMIRROR__CONFIG_PATH"])
    expected = dict(zip(resolve_many(config, calls), slots))
    listed = committed(config)
    assert {a["uri"] for a in listed} == set(expected), sorted(a["uri"] for a in listed)

    # the manifests name the task processes: the pids Airflow recorded, on this host
    fs = s3fs.S3FileSystem(key="testing", secret="testing", client_kwargs={"endpoint_url": s3.endpoint_url})
    ti_pid = {(t[0], t[1], int(t[2])): int(t[5]) for t in tis}
    pids = set()
    for uri, (run, task_id, index) in expected.items():
        writer = manifest_of(fs, uri, "report" if task_id == "report" else "out")["writer"]
        assert writer["host"] == socket.gethostname()
        assert writer["pid"] == ti_pid[(run, task_id, index)], (uri, writer, ti_pid)
        pids.add(writer["pid"])
    assert len(pids) == len(expected)
    # both Celery workers executed task instances, and no task instance was executed twice
    executed = {
        n: re.findall(
            r"'?task_id'?[:=] ?'(\w+)'.*?'?run_id'?[:=] ?'(dist-\d)'.*?'?map_index'?[:=] ?(-?\d+)", log
        )
        for n, log in logs.items()
    }
    by_worker = {n: set(v) for n, v in executed.items()}
    assert set().union(*by_worker.values()) == {(t[1], t[0], t[2]) for t in tis}
    assert all(by_worker.values()), (
        f"a Celery worker ran nothing: { {n: log[-1500:] for n, log in logs.items()} }"
    )
    assert not (by_worker["worker-a"] & by_worker["worker-b"])

    # values read back through Airflow (the XCom backend, from the metadata DB's references) elsewhere
    read = (
        "import json; from sqlalchemy import select; from airflow.models.xcom import XComModel; "
        "from airflow.utils.session import create_session; from fsmirror_airflow import FSMirrorXComBackend; "
        "out = {}\n"
        "with create_session() as s:\n"
        f"    for x in s.scalars(select(XComModel).where(XComModel.dag_id == {DAG!r})):\n"
        "        out[f'{x.run_id}/{x.task_id}/{x.map_index}'] = FSMirrorXComBackend.deserialize_value(x)\n"
        "print('VALUES', json.dumps(out))"
    )
    e, work = env("xcom-reader")
    out = procs.run("airflow-xcom-read", [str(bin_dir / "python"), "-c", read], env=e, cwd=work, timeout=120)
    values = json.loads(out.rsplit("VALUES ", 1)[1].splitlines()[0])
    for run in RUNS:
        assert values[f"{run}/extract/-1"] == [1, 2, 3, 4]
        assert values[f"{run}/total/-1"] == 30
        assert [values[f"{run}/square/{i}"]["square"] for i in range(MAPPED)] == [1, 4, 9, 16]
    report = json.loads(fs.cat_file(next(u for u, s in expected.items() if s[1] == "report")))
    assert report["total"] == 30
    timer.mark("check")
    timer.report(
        artifacts=len(listed), task_pids=len(pids), worker_tasks={n: len(v) for n, v in by_worker.items()}
    )
    assert procs.stop_all() == [], "an Airflow process outlived its group"
