"""Op jobs: multi-output ops, steps in separate processes, re-execution from failure."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from dagster_sample.project.etl import jobs as J

from conftest import read_manifest, stored_files
from dagster import DagsterInstance, ReexecutionOptions, execute_job, reconstructable
from fsmirror import FSMirror
from fsmirror.paths.runid import encode_run_id

MOD = "project/etl/jobs"
HERE = Path(__file__).parent


@pytest.fixture
def job_env(local_config: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The env the job's EnvVar fields read, visible to step subprocesses too."""
    config = local_config(
        mirrors={"project": {"root": "project", "output_name": "out", "output_format": "pkl"}}
    )
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(config))
    monkeypatch.setenv("FSMIRROR_DAGSTER_MIRROR", "project")
    monkeypatch.chdir(HERE)  # reconstructable() records the cwd; step processes import dagster_sample from it
    return config


def test_multiprocess_steps_on_s3(
    s3_config: Any, home_instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step processes build their own s3fs clients from the config and still agree on every key."""
    config = s3_config(mirrors={"project": {"root": "project", "output_name": "out", "output_format": "pkl"}})
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(config))
    monkeypatch.setenv("FSMIRROR_DAGSTER_MIRROR", "project")
    monkeypatch.chdir(HERE)
    with execute_job(reconstructable(J.mp_job), instance=home_instance) as result:
        assert result.success
        rid = result.run_id
        out = result.output_for_node("transform")
    assert out["total"] == 6 and out["pid"] != out["extract_pid"]
    fm = FSMirror(config, mirror="project")
    bucket = fm.config.storage.tenant
    seg = encode_run_id(rid)
    keys = {k.split("/", 1)[1] for k in fm.filesystem.find(bucket)}
    assert {k for k in keys if k.startswith(f"{MOD}/") and "/_" not in k} == {
        f"{MOD}/{seg}/extract/out.pkl",
        f"{MOD}/{seg}/transform/out.pkl",
    }
    assert (
        fm.manifest(J.transform.compute_fn.decorated_fn, run_id=rid)["orchestrator"]["step_key"]
        == "transform"
    )


def _steps(files: set[str], seg: str) -> set[str]:
    return {f for f in files if f.startswith(f"{MOD}/{seg}/")}


def test_multiprocess_steps_agree_on_every_path(
    job_env: Path, home_instance: DagsterInstance, tmp_path: Path
) -> None:
    with execute_job(reconstructable(J.mp_job), instance=home_instance) as result:
        assert result.success
        rid = result.run_id
        out = result.output_for_node("transform")
    seg = encode_run_id(rid)
    store = tmp_path / "store"
    assert {f for f in _steps(stored_files(store), seg) if "/_" not in f} == {
        f"{MOD}/{seg}/extract/out.pkl",
        f"{MOD}/{seg}/transform/out.pkl",
    }
    # each step ran in its own process, neither in this one, and transform found extract's output
    assert out["total"] == 6
    assert out["pid"] != out["extract_pid"] and os.getpid() not in (out["pid"], out["extract_pid"])
    for step in ("extract", "transform"):
        man = read_manifest(store / f"{MOD}/{seg}/{step}/_out.manifest.json")
        assert man["orchestrator"]["run_id"] == rid and man["orchestrator"]["step_key"] == step
        assert man["orchestrator"]["asset_key"] is None and man["run"]["source"] == "dagster"


def test_reexecution_from_failure_loads_the_parent_runs_outputs(
    job_env: Path, home_instance: DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = tmp_path / "fail-transform"
    flag.touch()
    monkeypatch.setenv(J.FAIL_FLAG, str(flag))
    with execute_job(reconstructable(J.inproc_job), instance=home_instance) as failed:
        assert not failed.success
        parent = failed.run_id
    store = tmp_path / "store"
    pseg = encode_run_id(parent)
    assert {f for f in _steps(stored_files(store), pseg) if "/_" not in f} == {
        f"{MOD}/{pseg}/extract/out.pkl",
        f"{MOD}/{pseg}/fan_out/evens.pkl",
        f"{MOD}/{pseg}/fan_out/odds.pkl",
    }  # nothing of the failed step, nothing downstream of it

    flag.unlink()
    options = ReexecutionOptions.from_failure(parent, home_instance)
    with execute_job(
        reconstructable(J.inproc_job), instance=home_instance, reexecution_options=options
    ) as again:
        assert again.success
        child = again.run_id
        report = again.output_for_node("report")
    cseg = encode_run_id(child)
    assert read_manifest(store / f"{MOD}/{pseg}/fan_out/_odds.manifest.json")["output_name"] == "odds"
    # only the failed step and what follows it ran again; they read extract / fan_out from the parent run
    assert {f for f in _steps(stored_files(store), cseg) if "/_" not in f} == {
        f"{MOD}/{cseg}/transform/out.pkl",
        f"{MOD}/{cseg}/report/out.pkl",
    }
    assert report["total"] == 6 and report["evens"] == [2] and report["odds"] == [1, 3]
    man = read_manifest(store / f"{MOD}/{cseg}/transform/_out.manifest.json")
    assert man["run"]["id"] == child
    assert home_instance.get_run_by_id(child).parent_run_id == parent  # type: ignore[union-attr]


def test_dynamic_outputs_and_mapped_steps_get_one_artifact_each(
    job_env: Path, home_instance: DagsterInstance, tmp_path: Path
) -> None:
    result = J.dynamic_job.execute_in_process(instance=home_instance)
    assert result.success
    assert result.output_for_node("gather") == ["A", "B"]
    seg = encode_run_id(result.run_id)
    assert {f for f in _steps(stored_files(tmp_path / "store"), seg) if "/_" not in f} == {
        f"{MOD}/{seg}/shards/out-a.pkl",
        f"{MOD}/{seg}/shards/out-b.pkl",
        f"{MOD}/{seg}/process/out-a.pkl",
        f"{MOD}/{seg}/process/out-b.pkl",
        f"{MOD}/{seg}/gather/out.pkl",
    }
