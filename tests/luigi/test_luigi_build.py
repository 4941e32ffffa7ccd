"""Real ``luigi.build`` runs of a two-task chain on a local directory and on moto's S3 server.

Each test asserts on what landed in storage (files, manifests) and on Luigi's
own record of the build (status, which tasks ran).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from luigi.execution_summary import LuigiStatusCode

import fsmirror_luigi
from conftest import PIPELINE, Build, Store
from fsmirror import FSMirror

MODULE_DIR = "project/etl/my_etl_task"


def lift_path(rows: int, ext: str = "csv") -> str:
    """Run slot ``luigi`` (Luigi has no run); the parameter value is the instance."""
    return f"{MODULE_DIR}/luigi/LiftDataTask/{rows}/out.{ext}"


def summary_path(rows: int) -> str:
    return f"{MODULE_DIR}/luigi/SummarizeTask/{rows}/out.json"


def expected_files(pipeline: ModuleType, rows: int) -> set[str]:
    return {
        lift_path(rows),
        f"{MODULE_DIR}/luigi/LiftDataTask/{rows}/_out.manifest.json",
        summary_path(rows),
        f"{MODULE_DIR}/luigi/SummarizeTask/{rows}/_out.manifest.json",
    }


def artifacts(files: set[str]) -> set[str]:
    """The data files and manifests (the latest pointers are bookkeeping, checked elsewhere)."""
    return {f for f in files if "/_latest." not in f}


def test_chain_lands_at_mirrored_paths_with_manifests(
    store: Store, pipeline: ModuleType, build: Build, run_log: Callable[[], list[str]]
) -> None:
    lift, summ = pipeline.LiftDataTask(rows=5), pipeline.SummarizeTask(rows=5)
    result = build([summ])

    assert result.status == LuigiStatusCode.SUCCESS, result.summary_text
    assert run_log() == [lift.task_id, summ.task_id]
    assert artifacts(store.files()) == expected_files(pipeline, 5)
    assert summ.output().path == f"{store.fm.base}/{summary_path(5)}"

    man = lift.output().manifest()
    assert man["uri"] == f"{store.fm.base}/{lift_path(5)}"
    assert man["code"]["address"] == "project/etl/my_etl_task.py::LiftDataTask"
    assert man["run"] == {"id": "luigi", "segment": "luigi", "source": "luigi"}
    assert man["partition"] == "5" and man["attempt"] == 0
    assert man["orchestrator"] == {
        "name": "luigi",
        "task_id": lift.task_id,
        "task_family": "LiftDataTask",
        "params": {"rows": "5"},
    }
    assert man["format"] == "csv"
    body = store.fm.filesystem.cat_file(man["uri"])
    assert body == b"i,value\n" + b"".join(f"{i},{i * i}\n".encode() for i in range(5))
    assert man["size"] == len(body)

    # the downstream read the upstream through self.input() and wrote its value through the registry
    assert summ.output().read() == {"rows": 5, "total": sum(i * i for i in range(5))}
    assert summ.output().manifest()["orchestrator"]["task_id"] == summ.task_id
    assert store.fm.latest(pipeline.SummarizeTask, partition="5") == "luigi"
    assert store.fm.latest(pipeline.SummarizeTask) is None  # no instance-less series


def test_second_build_runs_nothing(
    store: Store, pipeline: ModuleType, build: Build, run_log: Callable[[], list[str]]
) -> None:
    assert build([pipeline.SummarizeTask(rows=5)]).status == LuigiStatusCode.SUCCESS
    before = {f: store.fm.filesystem.cat_file(f"{store.fm.base}/{f}") for f in artifacts(store.files())}

    result = build([pipeline.SummarizeTask(rows=5)])

    assert result.status == LuigiStatusCode.SUCCESS
    assert "complete ones were encountered" in result.summary_text
    assert "ran successfully" not in result.summary_text
    assert len(run_log()) == 2  # only the first build ran anything
    after = {f: store.fm.filesystem.cat_file(f"{store.fm.base}/{f}") for f in artifacts(store.files())}
    assert after == before


def test_changed_parameter_runs_again_into_a_new_path(
    store: Store, pipeline: ModuleType, build: Build, run_log: Callable[[], list[str]]
) -> None:
    assert build([pipeline.SummarizeTask(rows=5)]).status == LuigiStatusCode.SUCCESS
    assert build([pipeline.SummarizeTask(rows=7)]).status == LuigiStatusCode.SUCCESS

    seven = [pipeline.LiftDataTask(rows=7).task_id, pipeline.SummarizeTask(rows=7).task_id]
    assert run_log()[2:] == seven
    assert artifacts(store.files()) == expected_files(pipeline, 5) | expected_files(pipeline, 7)
    assert pipeline.SummarizeTask(rows=5).output().read()["rows"] == 5
    assert pipeline.SummarizeTask(rows=7).output().read()["rows"] == 7


def test_two_workers_agree_with_one(
    store: Store,
    pipeline: ModuleType,
    build: Build,
    run_log: Callable[[], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    tasks = [pipeline.SummarizeTask(rows=r) for r in (2, 3)]
    assert build(tasks, workers=2).status == LuigiStatusCode.SUCCESS
    two = {
        f: json.loads(store.fm.filesystem.cat_file(f"{store.fm.base}/{f}"))
        for f in store.files()
        if f.endswith(".manifest.json")
    }

    # the same build with one worker into a fresh store of the same provider
    other = store.config.with_name("one-worker.yml")
    cfg = store.config.read_text()
    tenant = store.fm.config.storage.tenant
    fresh = (
        tmp_path / "store-one"
        if store.provider == "local"
        else request.getfixturevalue("s3_server").new_bucket()
    )
    other.write_text(cfg.replace(tenant, str(fresh)))
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(other))
    fsmirror_luigi.clear_cache()  # the adapter reads its config once per process
    assert build(tasks, workers=1).status == LuigiStatusCode.SUCCESS
    fm1 = FSMirror(config=str(other))
    root1 = fm1.filesystem._strip_protocol(fm1.base).rstrip("/")
    one = {
        p[len(root1) + 1 :]: json.loads(fm1.filesystem.cat_file(p))
        for p in fm1.filesystem.find(fm1.base)
        if p.endswith(".manifest.json")
    }

    assert set(one) == set(two) and len(two) == 4
    for path in two:
        assert two[path]["hash"] == one[path]["hash"]
        assert two[path]["run"] == one[path]["run"]
    # every task ran exactly once in each build
    ids = [t.task_id for t in tasks] + [t.requires().task_id for t in tasks]
    assert sorted(run_log()) == sorted(ids * 2)


KILLED_BUILD = textwrap.dedent(
    """
    import importlib.util, sys
    import luigi
    spec = importlib.util.spec_from_file_location("my_etl_task", sys.argv[1])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["my_etl_task"] = mod
    spec.loader.exec_module(mod)
    luigi.build([mod.SummarizeTask(rows=int(sys.argv[2]))], local_scheduler=True, workers=1)
    """
)


def test_task_killed_mid_write_stays_incomplete_and_reruns(
    store: Store, pipeline: ModuleType, build: Build, run_log: Callable[[], list[str]]
) -> None:
    rows = 40
    env = {**os.environ, "FSMIRROR_LUIGI_TEST_KILL": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_BUILD, str(PIPELINE), str(rows)],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]

    lift = pipeline.LiftDataTask(rows=rows)
    assert run_log() == [lift.task_id]  # it started writing, then died
    assert not lift.complete()
    assert artifacts(store.files()) == set()  # no partial file, no manifest beside the artifact

    result = build([pipeline.SummarizeTask(rows=rows)])

    assert result.status == LuigiStatusCode.SUCCESS, result.summary_text
    assert run_log() == [lift.task_id, lift.task_id, pipeline.SummarizeTask(rows=rows).task_id]
    assert lift.complete()
    assert pipeline.SummarizeTask(rows=rows).output().read() == {
        "rows": rows,
        "total": sum(i * i for i in range(rows)),
    }


def test_exists_is_true_only_for_a_committed_manifest(store: Store) -> None:
    """The core's exists() (Luigi's complete()) checks the manifest alone, for every slot shape."""
    fm, addr = store.fm, "project/etl/my_etl_task.py::Probe"
    assert not fm.exists(addr, run_id="r1")
    fm.write(addr, {"a": 1}, run_id="r1")
    fm.write(addr, {"a": 2}, run_id="r1", partition="p1", output_name="extra")
    assert fm.exists(addr, run_id="r1")
    assert fm.exists(addr, run_id="r1", partition="p1", output_name="extra")
    assert not fm.exists(addr, run_id="r1", partition="p1")
    assert not fm.exists(addr, run_id="r1", output_name="extra")
    assert not fm.exists(addr, run_id="r2")

    # bytes without a manifest (a writer that died after the data, before the commit) are not there
    fm.filesystem.pipe_file(fm.mirror_full_output(addr, run_id="r3", output_format="json"), b"{}")
    assert not fm.exists(addr, run_id="r3")
    # and removing the manifest uncommits
    fm.filesystem.rm_file(f"{fm.mirror_full(addr, run_id='r1')}/_out.manifest.json")
    assert not fm.exists(addr, run_id="r1")


def test_killed_s3_writer_leaves_nothing_and_the_next_build_succeeds(
    s3_config: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    pipeline: ModuleType,
    build: Build,
    run_log: Callable[[], list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Store v2 spools a target's bytes before any request: a writer killed mid-write (here with the
    default claim_ttl of 900 s) leaves no claim, so the rerun builds at once."""
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(s3_config()))
    env = {**os.environ, "FSMIRROR_LUIGI_TEST_KILL": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_BUILD, str(PIPELINE), "6"], env=env, capture_output=True, timeout=120
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]

    assert not pipeline.LiftDataTask(rows=6).complete()

    result = build([pipeline.SummarizeTask(rows=6)])

    assert result.status == LuigiStatusCode.SUCCESS
    assert "is in progress" not in caplog.text
    assert pipeline.LiftDataTask(rows=6).complete() and pipeline.SummarizeTask(rows=6).complete()
    lift = pipeline.LiftDataTask(rows=6).task_id
    assert run_log()[:2] == [lift, lift]  # the killed try, then the rerun


def test_luigi_format_object_is_committed_through_the_store(
    store: Store, pipeline: ModuleType, build: Build, run_log: Callable[[], list[str]]
) -> None:
    """``fsmirror_format = luigi.format.UTF8 >> luigi.format.Gzip``: LocalTarget's semantics, fsmirror's commit."""
    up, down = pipeline.CompressedTask(rows=3), pipeline.ReadCompressedTask(rows=3)
    assert build([down]).status == LuigiStatusCode.SUCCESS
    assert run_log() == [up.task_id, down.task_id]

    rel = f"{MODULE_DIR}/luigi/CompressedTask/3/out.gz"
    assert {f for f in artifacts(store.files()) if "/CompressedTask/" in f} == {
        rel,
        f"{MODULE_DIR}/luigi/CompressedTask/3/_out.manifest.json",
    }
    stored = store.fm.filesystem.cat_file(f"{store.fm.base}/{rel}")
    assert gzip.decompress(stored).decode("utf-8") == "0é\n1é\n2é\n"
    man = up.output().manifest()
    assert man["format"] == "gz" and man["size"] == len(stored)
    assert man["orchestrator"]["task_id"] == up.task_id
    assert down.output().read() == {"lines": ["0é", "1é", "2é"]}
    assert build([down]).status == LuigiStatusCode.SUCCESS  # complete: nothing runs again
    assert len(run_log()) == 2
