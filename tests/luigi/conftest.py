"""Luigi adapter fixtures: the test pipeline, a run log, one store per provider, a real ``luigi.build``."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

luigi = pytest.importorskip("luigi")

from luigi.execution_summary import LuigiRunResult  # noqa: E402
from luigi.task_register import Register  # noqa: E402

import fsmirror_luigi  # noqa: E402
from fsmirror import FSMirror, names  # noqa: E402

PIPELINE = Path(__file__).parent / "project" / "etl" / "my_etl_task.py"


def load_pipeline() -> ModuleType:
    """Import the test pipeline from its file once (Luigi registers task families globally)."""
    name = "my_etl_task"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PIPELINE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def pipeline() -> ModuleType:
    # A worker with nothing runnable sleeps wait_interval + up to wait_jitter (default 1 s + 5 s):
    # keep that short so multi-worker builds do not idle.
    cfg = luigi.configuration.get_config()
    cfg.set("worker", "wait_interval", "0.1")
    cfg.set("worker", "wait_jitter", "0.05")
    return load_pipeline()


@pytest.fixture(autouse=True)
def fresh_luigi(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No task instance or mirror leaks between tests; no stray env picks the mirror."""
    for var in ("FSMIRROR_CONFIG_PATH", "FSMIRROR_MIRROR", "FSMIRROR_RUN_ID", "LUIGI_CONFIG_PATH"):
        monkeypatch.delenv(var, raising=False)
    Register.clear_instance_cache()
    fsmirror_luigi.clear_cache()
    yield
    Register.clear_instance_cache()
    fsmirror_luigi.clear_cache()


@pytest.fixture
def run_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """``run_log()`` -> the task ids whose ``run()`` started, in order (across forked workers)."""
    log = tmp_path / "runs.log"
    log.touch()
    monkeypatch.setenv("FSMIRROR_LUIGI_TEST_LOG", str(log))
    return lambda: log.read_text().split()


@dataclass
class Store:
    """A configured store: its config file (exported as $FSMIRROR_CONFIG_PATH) and an FSMirror on it."""

    provider: str
    config: Path
    fm: FSMirror

    def files(self) -> set[str]:
        """Every file under the mirror's base, relative to it.

        Scratch (_fsmirror/.fsmirror) and the run index (object stores' one hint per commit, checked
        in tests/storage) are left out.
        """
        fs = self.fm.filesystem
        root = fs._strip_protocol(self.fm.base).rstrip("/")
        found = fs.find(self.fm.base) if fs.exists(self.fm.base) else []
        rel = {p[len(root) + 1 :] for p in found}
        return {p for p in rel if not p.startswith((".fsmirror/", "_fsmirror/")) and not names.in_run_index(p)}


@pytest.fixture(params=["local", "s3"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pipeline: ModuleType
) -> Store:
    """The same pipeline on a local directory and on a bucket of moto's S3 server."""
    factory = request.getfixturevalue("local_config" if request.param == "local" else "s3_config")
    kw: dict[str, Any] = {}
    if request.param == "s3":
        kw["claim_ttl"] = 0.001  # a killed writer's claim is stale at once (default 900 s)
    path = factory(**kw)
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(path))
    return Store(request.param, path, FSMirror(config=str(path)))


Build = Callable[..., LuigiRunResult]


@pytest.fixture
def build() -> Build:
    """``build(tasks, workers=1)``: a real in-process Luigi build with the local scheduler."""

    def run(tasks: list[Any], workers: int = 1) -> LuigiRunResult:
        return luigi.build(tasks, local_scheduler=True, workers=workers, detailed_summary=True)

    return run
