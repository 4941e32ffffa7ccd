"""A seed-shaped project on disk: ``<tmp>/fsmirror/tests/test_mirror.py`` with SomeTask and some_task."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SEED_CONFIG = """\
storage: {provider: s3, tenant: test.bucket, namespace: MIRROR}
mirrors:
  fsmirror:   {root: fsmirror,   prefix: MIRROR, output_name: out, output_format: parquet}
  aipipeline: {root: aipipeline, prefix: MIRROR, output_name: out, output_format: pkl}
"""

SEED_MODULE = """\
class SomeTask(object):
    def __init__(self):
        pass

    def run(self):
        print("running")


def some_task(x):
    print(x)


def make_local():
    def inner():
        pass
    return inner


square = lambda x: x * x
"""


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The seed's test module, imported from ``<tmp>/fsmirror/tests/test_mirror.py``, config in env."""
    mod = tmp_path / "fsmirror" / "tests" / "test_mirror.py"
    mod.parent.mkdir(parents=True)
    mod.write_text(SEED_MODULE)
    cfg = tmp_path / "config.yml"
    cfg.write_text(SEED_CONFIG)
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(cfg))
    monkeypatch.delenv("FSMIRROR_RUN_ID", raising=False)
    monkeypatch.delenv("FSMIRROR_MIRROR", raising=False)
    return load_module(mod, "seed_test_mirror")
