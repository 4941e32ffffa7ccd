"""Luigi: ``luigid`` and two worker processes building overlapping graphs, sharing only S3.

Each worker has its own HOME, working directory, luigi.cfg, fsmirror config and copy
of the project code; they meet only at the central scheduler and in the bucket.
"""

from __future__ import annotations

import json
import socket
import urllib.parse
from pathlib import Path

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
    wait_port,
    worker_dir,
    write_mirror_config,
)

from servers import S3Server

RUN = "nightly-2026-12-01"
GRAPHS = {"worker-a": [1, 2, 3], "worker-b": [2, 3, 4]}


def luigi_cfg(home: Path, port: int, config: Path) -> Path:
    cfg = home / "luigi.cfg"
    cfg.write_text(
        "[core]\ndefault_scheduler_host = 127.0.0.1\n"
        f"default_scheduler_port = {port}\n"
        "[worker]\nkeep_alive = true\nwait_interval = 0.2\nwait_jitter = 0.1\ncount_uniques = true\n"
        # already_running and not_run stay 0: in shared graphs a task the other worker runs is
        # "already running" / "not granted run permission" here, as it should be
        "[retcode]\nalready_running = 0\nmissing_data = 20\nnot_run = 0\ntask_failed = 30\n"
        "scheduling_error = 35\nunhandled_exception = 40\n"
        f"[fsmirror]\nconfig_path = {config}\n"
    )
    return cfg


def test_luigid_two_workers_overlapping_graphs(procs: Processes, s3: S3Server, dist_dir: Path) -> None:
    timer = Timer("luigi")
    bin_dir = stack_venv("luigi", "s3,luigi")
    timer.mark("venv")
    base = dist_dir / "luigi"
    bucket = s3.new_bucket()
    port = free_port()

    home, work = worker_dir(base, "luigid")
    (home / "logs").mkdir()
    luigid = procs.start(
        "luigid",
        [
            str(bin_dir / "luigid"),
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            "--state-path",
            str(home / "state.pickle"),
            "--logdir",
            str(home / "logs"),
        ],
        env=base_env(home, bin_dir),
        cwd=work,
    )
    wait_port(port, 60, luigid)
    timer.mark("start")

    workers = {}
    for name, days in GRAPHS.items():
        home, work = worker_dir(base, name)
        config = write_mirror_config(home / "fsmirror.yml", bucket, s3.endpoint_url)
        src = project_copy("luigi", work)
        env = base_env(
            home,
            bin_dir,
            LUIGI_CONFIG_PATH=str(luigi_cfg(home, port, config)),
            PYTHONPATH=str(src / "project"),
        )
        workers[name] = procs.start(
            f"luigi-{name}",
            [
                str(bin_dir / "luigi"),
                "--module",
                "etl.graph",
                "Report",
                "--run-id",
                RUN,
                "--days",
                json.dumps(days),
                "--workers",
                "1",
            ],
            env=env,
            cwd=work,
        )
    for name, proc in workers.items():
        rc = proc.popen.wait(240)
        assert rc == 0, f"{name} exited {rc}:\n{proc.tail()}"
    timer.mark("run")

    # -- from outside: the scheduler's view, the CLI's paths, the manifests -------------------
    query = urllib.parse.quote(json.dumps({"status": "DONE", "upstream_status": "", "search": ""}))
    done = http_json(f"http://127.0.0.1:{port}/api/task_list?data={query}")["response"]
    by_family: dict[str, list[dict[str, str]]] = {}
    for task in done.values():
        by_family.setdefault(task["name"], []).append(task["params"])
    assert sorted(int(p["day"]) for p in by_family["Extract"]) == [1, 2, 3, 4]
    assert sorted(int(p["day"]) for p in by_family["Transform"]) == [1, 2, 3, 4]
    assert len(by_family["Report"]) == 2

    # The instance segment is the non-run parameters' values as Luigi serializes them: ask the
    # adapter, through Luigi's own parse of the scheduler's string parameters.
    home, work = worker_dir(base, "reader")
    reader_cfg = write_mirror_config(home / "fsmirror.yml", bucket, s3.endpoint_url)
    src = project_copy("luigi", work)
    env = base_env(
        home,
        bin_dir,
        LUIGI_CONFIG_PATH=str(luigi_cfg(home, port, reader_cfg)),
        PYTHONPATH=str(src / "project"),
    )
    segs = json.loads(
        procs.run(
            "luigi-segments",
            [
                str(bin_dir / "python"),
                "-c",
                "import json, sys; from etl import graph; from fsmirror.identity import instance_segment; "
                "tasks = json.loads(sys.argv[1]); "
                "print(json.dumps([[n, instance_segment(getattr(graph, n).from_str_params(p).fsmirror_partition())] "
                "for n, p in tasks]))",
                json.dumps([[n, p] for n, ps in by_family.items() for p in ps]),
            ],
            env=env,
            cwd=work,
        )
        .strip()
        .splitlines()[-1]
    )
    expected = set(
        resolve_many(
            reader_cfg,
            [
                [f"project/etl/graph.py::{name}", "-r", RUN, "-p", seg, "--format", "json"]
                for name, seg in segs
            ],
        )
    )
    listed = committed(reader_cfg)
    assert {a["uri"] for a in listed} == expected
    assert len(expected) == 10

    fs = s3fs.S3FileSystem(key="testing", secret="testing", client_kwargs={"endpoint_url": s3.endpoint_url})
    pids = {name: p.pid for name, p in workers.items()}
    writers = [manifest_of(fs, a["uri"], "out")["writer"] for a in listed]
    assert {w["host"] for w in writers} == {socket.gethostname()}
    assert {w["pid"] for w in writers} <= set(pids.values())
    assert len({w["pid"] for w in writers}) == 2, f"one worker did everything: {writers}"

    # shared upstream tasks ran once: each task is 'done' in exactly one worker's log
    done_lines = {
        name: [line for line in p.log.read_text().splitlines() if " done " in line and "Worker(" in line]
        for name, p in workers.items()
    }
    for day in (2, 3):
        for family in ("Extract", "Transform"):
            mark = f"{family}(run_id={RUN}, day={day})"
            runs = sum(mark in line for lines in done_lines.values() for line in lines)
            assert runs == 1, f"{mark} ran {runs} times"
    assert all(done_lines.values()), "each worker finished some task"

    # values read back through the orchestrator (the task's target) in another process
    value = json.loads(
        procs.run(
            "luigi-read",
            [
                str(bin_dir / "python"),
                "-c",
                "import json; from etl.graph import Report; "
                f"print(json.dumps(Report(run_id={RUN!r}, days=[2, 3, 4]).output().read()))",
            ],
            env=env,
            cwd=work,
        )
        .strip()
        .splitlines()[-1]
    )
    assert value == {"totals": {"2": 63, "3": 93, "4": 123}, "sum": 279}
    timer.mark("check")
    procs.stop(luigid)
    timer.report(artifacts=len(listed), worker_pids=len({w["pid"] for w in writers}))


@pytest.fixture(autouse=True)
def _stack_stopped(procs: Processes):  # type: ignore[no-untyped-def]
    yield
    assert procs.stop_all() == [], "a Luigi process outlived its group"
