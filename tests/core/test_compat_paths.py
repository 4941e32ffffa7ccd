"""2.0's module paths answer with the modules' new homes, for one release (``fsmirror._compat``)."""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys

import pytest

from fsmirror._compat import OLD_PATHS


@pytest.mark.parametrize(("old", "new"), sorted(OLD_PATHS.items()))
def test_an_old_path_is_the_module_itself(old: str, new: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(new)
    mod = importlib.import_module(new)
    assert mod.__name__ == new and mod.__spec__.name == new  # the alias left its own spec alone


def test_patching_through_an_old_path_patches_what_the_core_uses(monkeypatch) -> None:
    import fsmirror.runid as old

    from fsmirror.paths import runid

    monkeypatch.setattr(old, "MAX_SEGMENT", 7)
    assert runid.MAX_SEGMENT == 7


def test_records_pickled_under_an_old_path_load() -> None:
    from fsmirror.paths.address import CodeAddress

    blob = pickle.dumps(CodeAddress(("a", "b.py"), "c"), protocol=0).replace(b"fsmirror.paths.address", b"fsmirror.address")
    assert b"fsmirror.address" in blob
    assert pickle.loads(blob) == CodeAddress(("a", "b.py"), "c")


def test_old_paths_import_nothing_until_asked() -> None:
    code = "import sys, fsmirror; print(sorted(m for m in sys.modules if m.startswith('fsmirror.services')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
