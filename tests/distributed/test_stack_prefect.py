"""Prefect 3: ``prefect server`` on Postgres, two process workers, a deployment pulled from S3;
and ``DaskTaskRunner`` on a dask.distributed cluster of worker processes.

Every process has its own HOME (and ``PREFECT_HOME``), working directory and fsmirror
config; the flow code reaches the workers only through S3 (the deployment's pull step
puts it in a fresh temporary directory per flow run).
"""

from __future__ import annotations

import json
import re
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
import s3fs
from harness import (
    Processes,
    Timer,
    base_env,
    committed,
    free_port,
    http_json,
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

ADDR = "project/etl/pipeline.py"


def _last(prefix: str, out: str) -> Any:
    lines = [line for line in out.splitlines() if line.startswith(prefix + " ")]
    assert lines, f"no {prefix!r} line in:\n{out[-3000:]}"
    return json.loads(lines[-1][len(prefix) + 1 :])


class PrefectStack:
    def __init__(
        self, procs: Processes, base: Path, bin_dir: Path, bucket: str, s3: S3Server, api: str
    ) -> None:
        self.procs, self.base, self.bin, self.bucket, self.s3, self.api = (
            procs,
            base,
            bin_dir,
            bucket,
            s3,
            api,
        )

    def env(self, name: str, **extra: str) -> tuple[dict[str, str], Path, Path]:
        home, work = worker_dir(self.base, name)
        config = write_mirror_config(home / "fsmirror.yml", self.bucket, self.s3.endpoint_url)
        env = base_env(
            home,
            self.bin,
            PREFECT_HOME=str(home / ".prefect"),
            PREFECT_API_URL=self.api,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_WORKER_QUERY_SECONDS="1",
            PREFECT_WORKER_PREFETCH_SECONDS="1",
            PREFECT_LOGGING_LEVEL="INFO",
            FSMIRROR_CONFIG_PATH=str(config),
            DIST_S3_ENDPOINT=self.s3.endpoint_url,
            **extra,
        )
        return env, home, work

    def driver(self, name: str, *args: str) -> str:
        env, _, work = self.env(name)
        src = project_copy("prefect", work)
        return self.procs.run(
            name, [str(self.bin / "python"), str(src / "driver.py"), *args], env=env, cwd=work, timeout=300
        )


def _check_artifacts(config: Path, fs: Any, expected: dict[str, Any]) -> list[dict[str, Any]]:
    listed = {a["uri"]: a for a in committed(config)}
    missing = set(expected) - set(listed)
    assert not missing, (
        f"not written where fsmirror resolve says: {sorted(missing)}\nlisted: {sorted(listed)}"
    )
    return [listed[u] for u in expected]


@pytest.fixture(scope="module")
def stack(procs: Processes, s3: S3Server, postgres: Any, dist_dir: Path) -> Any:
    timer = Timer("prefect")
    bin_dir = stack_venv("prefect", "s3,prefect")
    timer.mark("venv")
    base = dist_dir / "prefect"
    db = postgres.database("prefect")
    port = free_port()
    home, work = worker_dir(base, "server")
    server = procs.start(
        "prefect-server",
        [str(bin_dir / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=base_env(
            home,
            bin_dir,
            PREFECT_HOME=str(home / ".prefect"),
            PREFECT_API_DATABASE_CONNECTION_URL=f"postgresql+asyncpg://{db}",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_UI_ENABLED="false",
            PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED="false",
        ),
        cwd=work,
    )
    wait_port(port, 120, server)
    api = f"http://127.0.0.1:{port}/api"
    wait_for("prefect server health", lambda: _healthy(api), 120, 0.5)
    st = PrefectStack(procs, base, bin_dir, s3.new_bucket(), s3, api)
    st.timer = timer  # type: ignore[attr-defined]
    st.server = server  # type: ignore[attr-defined]
    timer.mark("server")
    yield st
    assert procs.stop_all() == [], "a Prefect process outlived its group"


def _healthy(api: str) -> bool:
    try:
        return http_json(api + "/health", 2) is True
    except OSError:
        return False


def test_deployment_on_two_process_workers(stack: PrefectStack, procs: Processes) -> None:
    timer = stack.timer  # type: ignore[attr-defined]
    code_bucket = stack.s3.new_bucket()
    stack.driver("prefect-setup", "setup", f"s3://{code_bucket}/flows")
    workers = {}
    for name in ("worker-a", "worker-b"):
        env, _, work = stack.env(name)
        workers[name] = procs.start(
            f"prefect-{name}",
            [
                str(stack.bin / "prefect"),
                "worker",
                "start",
                "--pool",
                "dist",
                "--name",
                name,
                "--limit",
                "1",
                "--type",
                "process",
            ],
            env=env,
            cwd=work,
        )
    wait_for(
        "both workers to poll",
        lambda: all(
            "started" in p.log.read_text().lower() or "polling" in p.log.read_text().lower()
            for p in workers.values()
        ),
        120,
        0.5,
    )
    timer.mark("start")
    runs = _last("RUNS", stack.driver("prefect-runs", "runs"))
    timer.mark("run")
    assert [r["state"] for r in runs] == ["Completed"] * 4, runs

    env, _, _ = stack.env("reader")
    config = Path(env["FSMIRROR_CONFIG_PATH"])
    fs = s3fs.S3FileSystem(
        key="testing", secret="testing", client_kwargs={"endpoint_url": stack.s3.endpoint_url}
    )

    # every artifact where fsmirror resolve says, for the flow run ids Prefect reports
    first, rest = runs[0], runs[1:]
    calls: list[tuple[list[str], tuple[str, int | None]]] = []
    for run in runs:
        for day in run["parameters"]["days"]:
            calls.append(([f"{ADDR}::transform", "-r", run["id"], "-p", str(day)], (run["id"], day)))
        calls.append(([f"{ADDR}::pipeline", "-r", run["id"]], (run["id"], None)))
    for day in first["parameters"]["days"]:
        calls.append(([f"{ADDR}::extract", "-r", first["id"], "-p", str(day)], (first["id"], day)))
    paths = resolve_many(config, [args for args, _ in calls])
    expected = {path: slot for path, (_, slot) in zip(paths, calls)}
    assert len(expected) == 14
    artifacts = _check_artifacts(config, fs, expected)

    # shared upstream tasks ran once: extract is Cached in every later run and has no artifact there
    for run in rest:
        states = {t["task_name"]: t["state"] for t in run["tasks"] if t["task_name"].startswith("extract")}
        assert set(states.values()) == {"Cached"}, run
    listed = committed(config)
    extract_runs = {a["run_id"] for a in listed if a["qualname"] == "extract"}
    assert extract_runs == {first["id"]}
    assert len(listed) == len(expected)

    # the manifests name the flow-run process each worker started, and both workers ran flows
    infra = {r["id"]: r["infrastructure_pid"] for r in runs}
    pids = set()
    for uri, (run_id, _) in expected.items():
        writer = manifest_of(fs, uri, "out")["writer"]
        assert writer["host"] == socket.gethostname()
        assert str(infra[run_id]).rsplit(":", 1)[-1] == str(writer["pid"]), (infra, writer)  # "[host:]pid"
        pids.add(writer["pid"])
    assert len(pids) == 4
    ran = {
        name: set(re.findall(r"flow run '([0-9a-f-]{36})'", p.log.read_text())) for name, p in workers.items()
    }
    assert all(ran.values()), f"a worker ran no flow run: {ran}"
    assert set().union(*ran.values()) >= set(infra)

    # no result key holds a worker's temporary directory (the deployment ran from /tmp/tmp...prefect)
    keys = [t["key"] for r in runs for t in r["tasks"] if t["key"]]
    print("result keys:", *sorted(set(keys)), sep="\n  ")
    assert len(keys) == sum(len(r["tasks"]) for r in runs), "every task run's state names its key"
    addresses = {k.split(":", 4)[4] for k in keys if k.startswith("fsmirror:")}
    assert len(addresses) == 2 and addresses == {f"{ADDR}::extract", f"{ADDR}::transform"}, keys

    # values read back through Prefect in another process
    values = _last("VALUES", stack.driver("prefect-read", "read", *[r["id"] for r in runs]))
    for run in runs:
        s = run["parameters"]["scale"]
        assert values[run["id"]] == {"1": 33 * s, "2": 63 * s}
    timer.mark("check")
    for p in workers.values():
        procs.stop(p, grace=3)  # `prefect worker` ignores SIGTERM: the group gets SIGKILL after 3 s
    timer.report(artifacts=len(artifacts), flow_runs=len(runs), flow_run_pids=len(pids))


def test_dask_task_runner_on_worker_processes(stack: PrefectStack, procs: Processes) -> None:
    timer = Timer("prefect-dask")
    stack.driver("prefect-block", "block")
    port = free_port()
    env, _, work = stack.env("dask-scheduler")
    sched = procs.start(
        "dask-scheduler",
        [str(stack.bin / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        env=env,
        cwd=work,
    )
    wait_port(port, 60, sched)
    address = f"tcp://127.0.0.1:{port}"
    dworkers = {}
    for name in ("dask-a", "dask-b"):
        env, _, work = stack.env(name)
        src = project_copy("prefect", work)
        env["PYTHONPATH"] = str(src / "project")
        dworkers[name] = procs.start(
            name,
            [
                str(stack.bin / "dask"),
                "worker",
                address,
                "--no-nanny",
                "--nthreads",
                "1",
                "--no-dashboard",
                "--name",
                name,
                "--host",
                "127.0.0.1",
            ],
            env=env,
            cwd=work,
        )
    wait_for(
        "two dask workers",
        lambda: all("Registered to" in p.log.read_text() for p in dworkers.values()),
        90,
        0.3,
    )
    timer.mark("start")
    env, _, work = stack.env("dask-driver")
    src = project_copy("prefect", work)
    env["PYTHONPATH"] = str(src / "project")
    out = procs.run(
        "dask-driver", [str(stack.bin / "python"), "-m", "etl.pipeline", address], env=env, cwd=work
    )
    timer.mark("run")
    flow_run = out.split("FLOW_RUN_ID ", 1)[1].split()[0]
    config = Path(env["FSMIRROR_CONFIG_PATH"])
    fs = s3fs.S3FileSystem(
        key="testing", secret="testing", client_kwargs={"endpoint_url": stack.s3.endpoint_url}
    )
    paths = resolve_many(config, [[f"{ADDR}::square", "-r", flow_run, "-p", str(n)] for n in range(6)])
    expected = dict(zip(paths, range(6)))
    artifacts = _check_artifacts(config, fs, expected)
    worker_pids = {p.pid for p in dworkers.values()}
    writers = [manifest_of(fs, uri, "out")["writer"]["pid"] for uri in expected]
    assert set(writers) <= worker_pids and len(set(writers)) == 2, (writers, worker_pids)
    for uri, n in expected.items():
        assert json.loads(fs.cat_file(uri))["square"] == n * n
    values = _last("RUNS", stack.driver("prefect-dask-describe", "describe", flow_run))
    assert values[0]["state"] == "Completed" and len(values[0]["tasks"]) == 6
    timer.mark("check")
    timer.report(artifacts=len(artifacts), worker_pids=len(set(writers)))


if sys.platform != "linux":  # the harness reads /proc
    pytestmark = pytest.mark.skip("Linux only")
