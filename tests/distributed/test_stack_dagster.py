"""Dagster: ``dagster-daemon`` launching queued runs with the ``dagster-celery`` executor on two
Celery workers; run, event and schedule storage on PostgreSQL.

Each process has its own DAGSTER_HOME (the same dagster.yaml content), HOME, working
directory, fsmirror config and copy of the code; the steps meet only in Redis (the
broker), Postgres and the bucket.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import s3fs
import yaml
from harness import (
    Processes,
    Timer,
    base_env,
    committed,
    manifest_of,
    project_copy,
    resolve_many,
    stack_venv,
    wait_for,
    worker_dir,
    write_mirror_config,
)

from servers import S3Server

FILE = "project/pipeline/defs.py"


def test_daemon_celery_executor_two_workers(
    procs: Processes, s3: S3Server, postgres: Any, redis: Any, dist_dir: Path
) -> None:
    timer = Timer("dagster")
    bin_dir = stack_venv("dagster", "s3,dagster")
    timer.mark("venv")
    base = dist_dir / "dagster"
    bucket = s3.new_bucket()
    db = postgres.database("dagster")
    instance = {
        "storage": {"postgres": {"postgres_url": f"postgresql://{db}"}},
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"},
        "run_launcher": {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"},
        "telemetry": {"enabled": False},
    }
    run_config = {"execution": {"config": {"broker": redis.url(4), "backend": redis.url(5)}}}

    def env(name: str) -> tuple[dict[str, str], Path, Path]:
        home, work = worker_dir(base, name)
        config = write_mirror_config(home / "fsmirror.yml", bucket, s3.endpoint_url)
        src = project_copy("dagster", work)
        dhome = home / "dagster"
        dhome.mkdir(exist_ok=True)
        (dhome / "dagster.yaml").write_text(yaml.safe_dump(instance))
        celery_cfg = home / "celeryconf"
        celery_cfg.mkdir(exist_ok=True)
        (celery_cfg / "dagster_celery_config.py").write_text(
            f"broker_url = {redis.url(4)!r}\nresult_backend = {redis.url(5)!r}\n"
        )
        (work / "workspace.yaml").write_text(
            yaml.safe_dump(
                {
                    "load_from": [
                        {
                            "python_module": {
                                "module_name": "pipeline.defs",
                                "working_directory": str(src / "project"),
                            }
                        }
                    ]
                }
            )
        )
        (work / "run_config.yaml").write_text(yaml.safe_dump(run_config))
        e = base_env(
            home,
            bin_dir,
            DAGSTER_HOME=str(dhome),
            FSMIRROR_CONFIG_PATH=str(config),
            PYTHONPATH=f"{src / 'project'}:{celery_cfg}",
            DAGSTER_DISABLE_TELEMETRY="1",
        )
        return e, work, src

    e, work, _ = env("migrate")
    procs.run(
        "dagster-instance-migrate",
        [str(bin_dir / "dagster"), "instance", "migrate"],
        env=e,
        cwd=work,
        timeout=180,
    )
    e, work, _ = env("daemon")
    daemon = procs.start(
        "dagster-daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", "workspace.yaml"], env=e, cwd=work
    )
    workers = {}
    for name in ("worker-a", "worker-b"):
        e, work, _ = env(name)
        workers[name] = procs.start(
            f"dagster-celery-{name}",
            [
                str(bin_dir / "celery"),
                "-A",
                "dagster_celery.app",
                "worker",
                "-Q",
                "dagster",
                "--pool",
                "solo",
                "--prefetch-multiplier=1",
                "-n",
                f"{name}@%h",
                "-l",
                "info",
            ],
            env=e,
            cwd=work,
        )
    wait_for(
        "both Celery workers ready",
        lambda: all("ready." in p.log.read_text() for p in workers.values()),
        180,
        0.5,
    )
    wait_for(
        "the daemon's run queue", lambda: "QueuedRunCoordinatorDaemon" in daemon.log.read_text(), 180, 0.5
    )
    timer.mark("start")

    e, work, _ = env("launcher")
    for job in ("assets_job", "ops_job"):
        procs.run(
            f"dagster-launch-{job}",
            [
                str(bin_dir / "dagster"),
                "job",
                "launch",
                "-w",
                "workspace.yaml",
                "-j",
                job,
                "-c",
                "run_config.yaml",
            ],
            env=e,
            cwd=work,
            timeout=180,
        )

    def finished() -> Any:
        rows = postgres.rows("dagster", "select run_id, pipeline_name, status from runs")
        done = len(rows) == 2 and all(r[2] in ("SUCCESS", "FAILURE", "CANCELED") for r in rows)
        return rows if done else None

    rows = wait_for("both runs to finish", finished, 300, 1)
    timer.mark("run")
    runs = {r[1]: r[0] for r in rows}
    assert {r[2] for r in rows} == {"SUCCESS"}, (
        rows,
        daemon.tail(),
        {n: p.tail() for n, p in workers.items()},
    )

    # every output where fsmirror resolve says for Dagster's run ids (an aliased op: its node is the instance)
    a, o = runs["assets_job"], runs["ops_job"]
    calls = [[f"{FILE}::{name}", "-r", a] for name in ("raw", "doubled", "squares", "total")]
    calls += [
        [f"{FILE}::load", "-r", o],
        [f"{FILE}::scale", "-r", o, "--partition", "scale_a"],
        [f"{FILE}::scale", "-r", o, "--partition", "scale_b"],
    ]
    e, _, src = env("reader")
    config = Path(e["FSMIRROR_CONFIG_PATH"])
    expected = resolve_many(config, calls)
    listed = committed(config)
    assert {x["uri"] for x in listed} == set(expected), sorted(x["uri"] for x in listed)

    fs = s3fs.S3FileSystem(key="testing", secret="testing", client_kwargs={"endpoint_url": s3.endpoint_url})
    worker_pids = {p.pid for p in workers.values()}
    writers = [manifest_of(fs, uri, "out")["writer"] for uri in expected]
    assert {w["host"] for w in writers} == {socket.gethostname()}
    assert {w["pid"] for w in writers} <= worker_pids and len({w["pid"] for w in writers}) == 2, (
        writers,
        worker_pids,
    )

    # shared upstream steps ran once: one STEP_START per step in the event log
    starts = postgres.rows(
        "dagster",
        "select run_id, step_key, count(*) from event_logs where dagster_event_type = 'STEP_START' group by run_id, step_key",
    )
    assert {(r[0], r[1]): int(r[2]) for r in starts} == {
        **{(a, s): 1 for s in ("raw", "doubled", "squares", "total")},
        **{(o, s): 1 for s in ("load", "scale_a", "scale_b")},
    }

    # values read back through Dagster in another process
    out = procs.run(
        "dagster-read",
        [str(bin_dir / "python"), str(src / "reader.py")],
        env=e,
        cwd=src / "project",
        timeout=120,
    )
    values = json.loads(out.rsplit("VALUES ", 1)[1].splitlines()[0])
    assert (
        values["raw"] == [1, 2, 3, 4]
        and values["doubled"] == [2, 4, 6, 8]
        and values["squares"] == [1, 4, 9, 16]
    )
    assert values["total"]["total"] == 20
    assert all(json.loads(fs.cat_file(u)) == 180 for u in expected[-2:])
    timer.mark("check")
    timer.report(artifacts=len(listed), runs=len(runs), worker_pids=len({w["pid"] for w in writers}))
    assert procs.stop_all() == [], "a Dagster process outlived its group"
