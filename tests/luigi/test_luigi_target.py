"""FSMirrorTarget and FSMirrorTask details: run-id parameter, luigi.cfg config, atomic open, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from luigi.execution_summary import LuigiStatusCode

import fsmirror_luigi
import luigi
from conftest import Build, Store
from fsmirror import ArtifactExistsError, ArtifactNotFoundError, ConfigError, FSMirror, ResolveError
from fsmirror_luigi import FSMirrorTarget, FSMirrorTask

MODULE_DIR = "project/etl/my_etl_task"
ADDRESS = "project/etl/my_etl_task.py::Hand"


@pytest.fixture
def local(local_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, pipeline: ModuleType) -> Store:
    path = local_config()
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(path))
    return Store("local", path, FSMirror(config=str(path)))


@pytest.fixture
def luigi_cfg(tmp_path: Path) -> Iterator[Callable[[str], None]]:
    """``luigi_cfg(text)``: load ``text`` as a luigi.cfg for this test only."""
    parser = luigi.configuration.get_config()

    def load(text: str) -> None:
        cfg = tmp_path / "luigi.cfg"
        cfg.write_text(text)
        parser.read([str(cfg)])

    yield load
    parser.remove_section("fsmirror")


# -- run-id parameter ---------------------------------------------------------------


def test_run_id_parameter_gives_one_folder_per_run(
    local: Store, pipeline: ModuleType, build: Build, run_log: Callable[[], list[str]]
) -> None:
    r1, r2 = pipeline.DailyTask(run_id="2026-11-25"), pipeline.DailyTask(run_id="2026-11-26")
    assert build([r1, r2]).status == LuigiStatusCode.SUCCESS
    assert build([pipeline.DailyTask(run_id="2026-11-25")]).status == LuigiStatusCode.SUCCESS

    assert sorted(run_log()) == sorted([r1.task_id, r2.task_id])  # the rerun of a done run id skipped
    assert {f for f in local.files() if "DailyTask" in f and "_latest" not in f} == {
        f"{MODULE_DIR}/2026-11-25/DailyTask/out.json",
        f"{MODULE_DIR}/2026-11-25/DailyTask/_out.manifest.json",
        f"{MODULE_DIR}/2026-11-26/DailyTask/out.json",
        f"{MODULE_DIR}/2026-11-26/DailyTask/_out.manifest.json",
    }
    man = r2.output().manifest()
    assert man["run"]["id"] == "2026-11-26" and man["run"]["source"] == "luigi"
    assert man["orchestrator"]["params"] == {"run_id": "2026-11-26"}  # the private token is not recorded
    assert "s3cret" not in json.dumps(man)
    assert man["orchestrator"]["task_id"] == r2.task_id
    assert local.fm.runs(pipeline.DailyTask) == ["2026-11-25", "2026-11-26"]
    assert r1.output().read() == {"run": "2026-11-25"}


def test_other_parameters_beside_a_run_id_never_share_a_path(
    local: Store, pipeline: ModuleType, build: Build
) -> None:
    eu, us = pipeline.RegionalTask(run_id="r1", region="eu"), pipeline.RegionalTask(run_id="r1", region="us")
    assert build([eu, us]).status == LuigiStatusCode.SUCCESS

    assert eu.output().path != us.output().path
    # the other parameter's value is the instance, readable on disk
    assert eu.output().path == f"{local.fm.base}/{MODULE_DIR}/r1/RegionalTask/eu/out.json"
    assert eu.output().manifest()["partition"] == "eu"
    assert eu.output().read() == {"run": "r1", "region": "eu"}
    assert us.output().read() == {"run": "r1", "region": "us"}


def test_unknown_run_id_parameter_is_a_clear_error(local: Store, pipeline: ModuleType) -> None:
    class Misnamed(FSMirrorTask, luigi.Task):
        fsmirror_run_id_param = "run"
        day = luigi.Parameter(default="x")

    with pytest.raises(ConfigError, match=r"fsmirror_run_id_param = 'run'.*it has: day"):
        Misnamed().output()


# -- config: luigi.cfg, class attribute, env ------------------------------------------


def test_luigi_cfg_names_config_and_mirror(
    tmp_path: Path,
    luigi_cfg: Callable[[str], None],
    pipeline: ModuleType,
    build: Build,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = {
        "storage": {"provider": "local", "tenant": str(tmp_path / "s")},
        "mirrors": {
            "main": {"root": "project", "output_format": "parquet"},
            "scratch": {"root": "project", "prefix": "scratch", "output_format": "parquet"},
        },
    }
    path = tmp_path / "two.yml"
    path.write_text(json.dumps(config))  # JSON is YAML
    luigi_cfg(f"[fsmirror]\nconfig_path = {path}\nmirror = scratch\n")

    task = pipeline.SummarizeTask(rows=3)
    assert build([task]).status == LuigiStatusCode.SUCCESS
    assert task.output().path == f"{tmp_path / 's'}/scratch/{MODULE_DIR}/luigi/SummarizeTask/3/out.json"
    assert task.output().read() == {"rows": 3, "total": 5}

    assert fsmirror_luigi.get_mirror().mirror == "scratch"

    monkeypatch.setattr(pipeline.SummarizeTask, "fsmirror_mirror", "main")  # the class attribute wins
    assert task.output().path == f"{tmp_path / 's'}/{MODULE_DIR}/luigi/SummarizeTask/3/out.json"
    assert not task.complete()  # nothing was built in the 'main' mirror


@pytest.fixture
def luigi_cfg_file() -> Iterator[Callable[[Path], None]]:
    """``luigi_cfg_file(path)``: make ``path`` one of Luigi's config files, as $LUIGI_CONFIG_PATH does."""
    added: list[str] = []

    def add(path: Path) -> None:
        assert luigi.configuration.add_config_path(str(path))
        added.append(str(path))

    yield add
    parser_class = type(luigi.configuration.get_config())
    for path in added:
        parser_class._config_paths.remove(path)
    parser = luigi.configuration.get_config()
    parser.remove_section("fsmirror")
    parser.reload()


def test_relative_config_path_in_luigi_cfg_is_relative_to_that_file(
    tmp_path: Path,
    luigi_cfg_file: Callable[[Path], None],
    pipeline: ModuleType,
    build: Build,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conf = tmp_path / "opt" / "pipelines"
    conf.mkdir(parents=True)
    store = tmp_path / "s"
    (conf / "fsmirror.yml").write_text(
        json.dumps(
            {
                "storage": {"provider": "local", "tenant": str(store)},
                "mirrors": {"main": {"root": "project", "output_format": "json"}},
            }
        )
    )
    (conf / "luigi.cfg").write_text("[fsmirror]\nconfig_path = fsmirror.yml\n")
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no fsmirror.yml here: the relative path must not mean ./fsmirror.yml
    luigi_cfg_file(conf / "luigi.cfg")

    assert fsmirror_luigi.get_mirror().source == str(conf / "fsmirror.yml")
    task = pipeline.SummarizeTask(rows=2)
    assert build([task]).status == LuigiStatusCode.SUCCESS
    assert task.output().path == f"{store}/{MODULE_DIR}/luigi/SummarizeTask/2/out.json"
    assert json.loads(Path(task.output().path).read_text()) == {"rows": 2, "total": 1}


def test_relative_config_path_from_luigi_config_path_on_the_command_line(tmp_path: Path) -> None:
    """The real CLI, started elsewhere, with $LUIGI_CONFIG_PATH naming the example's luigi.cfg."""
    example = Path(__file__).resolve().parents[2] / "examples" / "luigi"
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FSMIRROR_", "LUIGI_"))}
    env["LUIGI_CONFIG_PATH"] = str(example / "luigi.cfg")  # says: config_path = fsmirror.yml
    env["PYTHONPATH"] = os.pathsep.join([str(example), env.get("PYTHONPATH", "")])
    command = ["-m", "luigi", "--module", "project.etl.my_etl_task", "LiftDataTask", "--day", "2026-11-25"]
    proc = subprocess.run(
        [sys.executable, *command, "--local-scheduler"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 ran successfully" in proc.stderr
    # example/fsmirror.yml was found beside luigi.cfg; its local tenant 'store' is the core's
    # rule, relative to the working directory
    landed = sorted(p.name for p in (work / "store").rglob("*") if p.is_file())
    assert "out.parquet" in landed and "_out.manifest.json" in landed


def test_no_config_anywhere_fails_the_build_saying_where_to_put_it(
    pipeline: ModuleType, build: Build, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ConfigError, match=r"luigi task LiftDataTask_.*luigi\.cfg.*FSMIRROR_CONFIG_PATH"):
        pipeline.LiftDataTask(rows=1).output()

    result = build([pipeline.LiftDataTask(rows=1)])
    assert result.status == LuigiStatusCode.SCHEDULING_FAILED
    assert "FSMIRROR_CONFIG_PATH" in caplog.text


# -- the target on its own ----------------------------------------------------------------


def test_open_w_is_atomic_and_commits_on_close(local: Store) -> None:
    t = FSMirrorTarget(ADDRESS, run_id="r1", format="txt")
    assert not t.exists()

    with pytest.raises(RuntimeError, match="boom"), t.open("w") as f:
        f.write("half")
        raise RuntimeError("boom")
    assert not t.exists()
    assert local.files() == set()

    f = t.open("w")
    f.write("héllo\n")
    assert not t.exists()  # nothing is visible before close
    f.close()
    assert t.exists()
    with t.open("r") as r:
        assert r.read() == "héllo\n"
    with t.open("rb") as rb:
        assert rb.read() == "héllo\n".encode()
    assert t.manifest()["run"] == {"id": "r1", "segment": "r1", "source": "luigi"}
    assert local.files() == {
        f"{MODULE_DIR}/r1/Hand/out.txt",
        f"{MODULE_DIR}/r1/Hand/_out.manifest.json",
        f"{MODULE_DIR}/Hand/_latest.out.json",
    }


def test_write_never_clobbers_and_remove_makes_it_incomplete(local: Store) -> None:
    t = FSMirrorTarget(ADDRESS, run_id="r1")
    uri = t.write({"a": 1})
    assert uri.endswith("/r1/Hand/out.json")  # a dict does not fit parquet: visible json fallback
    assert t.uri == uri and t.read() == {"a": 1}

    with pytest.raises(ArtifactExistsError, match="overwrite=True"):
        t.write({"a": 2})
    with pytest.raises(ArtifactExistsError):
        t.open("w").close()
    assert t.read() == {"a": 1}

    t.remove()
    assert not t.exists()
    with pytest.raises(ArtifactNotFoundError):
        t.read()
    assert FSMirrorTarget(ADDRESS, run_id="r1", overwrite=True).write({"a": 3}) == uri


def test_temporary_path_commits_through_the_manifest(local: Store) -> None:
    t = FSMirrorTarget(ADDRESS, run_id="r2", format="csv")
    with pytest.raises(ValueError, match="tool failed"), t.temporary_path() as p:
        Path(p).write_text("x\n1\n")
        raise ValueError("tool failed")
    assert not t.exists()

    with t.temporary_path() as p:
        Path(p).write_text("x\n1\n")
    assert t.exists()
    assert t.read() == [{"x": "1"}]
    assert json.loads(Path(t.path).with_name("_out.manifest.json").read_text())["size"] == 4


def test_bad_mode_and_fs(local: Store) -> None:
    t = FSMirrorTarget(ADDRESS, run_id="r3")
    with pytest.raises(ValueError, match=r"mode must be.*got 'a'"):
        t.open("a")
    t.write({"b": 1})
    assert t.fs.exists(t.uri)
    assert t.fs.isdir(t.uri.rsplit("/", 1)[0])
    assert sorted(p.rsplit("/", 1)[1] for p in t.fs.listdir(t.uri.rsplit("/", 1)[0])) == [
        "_out.manifest.json",
        "out.json",
    ]


def test_mixin_without_luigi_task_says_how_to_declare_it(local: Store) -> None:
    class NotATask(FSMirrorTask):
        pass

    with pytest.raises(TypeError, match=r"class MyTask\(FSMirrorTask, luigi.Task\)"):
        NotATask().output()


def test_latest_target_depends_on_the_newest_run_another_writer_committed(
    local: Store, pipeline: ModuleType, build: Build
) -> None:
    ext = pipeline.FromElsewhere()
    assert not ext.output().exists()
    assert build([pipeline.UsesElsewhere()]).status == LuigiStatusCode.MISSING_EXT

    # another orchestrator's runs, committed through the core
    local.fm.write(pipeline.ELSEWHERE, {"run": 1}, run_id="their-run-1")
    second = local.fm.write(pipeline.ELSEWHERE, {"run": 2}, run_id="their-run-2")
    assert ext.output().exists() and ext.output().path == second
    assert build([pipeline.UsesElsewhere()]).status == LuigiStatusCode.SUCCESS
    assert pipeline.UsesElsewhere().output().read() == {"got": {"run": 2}}
    with pytest.raises(ResolveError, match="reserved"):
        ext.output().write({"run": 3})  # 'latest' names the newest run; it is never a run to write
