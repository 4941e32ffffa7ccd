"""The module paths of fsmirror 2.0 (``fsmirror.record``, ``fsmirror.protocol``, ...), for one release.

Core v3 put the modules into layer subpackages (``paths``, ``model``, ``store``, ``lineage``,
``services``). Code written against 2.0 imports the old paths; this finder answers each with
the module itself (not a copy), so ``fsmirror.record is fsmirror.model.record`` and a test that
patches ``fsmirror.runid._utc_now`` patches the one the core uses. Nothing is imported before
it is asked for, so ``import fsmirror`` stays light.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence

__all__ = ["OLD_PATHS", "install"]

OLD_PATHS: dict[str, str] = {
    **{
        f"fsmirror.{m}": f"fsmirror.paths.{m}"
        for m in ("address", "runid", "layout", "names", "identity", "providers")
    },
    "fsmirror._schema": "fsmirror.model.schema",
    **{
        f"fsmirror.{m}": f"fsmirror.model.{m}"
        for m in ("envvars", "record", "manifest", "hashing", "fingerprint", "formats")
    },
    **{f"fsmirror.{m}": f"fsmirror.store.{m}" for m in ("backends", "protocol")},
    **{
        f"fsmirror.{m}": f"fsmirror.lineage.{m}"
        for m in ("openlineage", "openlineage_sender", "openlineage_records")
    },
    **{
        f"fsmirror.{m}": f"fsmirror.services.{m}"
        for m in ("catalog", "inventory", "lookup", "graph", "staleness", "verify", "query", "links")
    },
}
"""2.0's module path -> where the module lives now."""


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = importlib.import_module(self.target)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__ = self._spec  # the import system set the alias's spec: the module keeps its own


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = OLD_PATHS.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Answer 2.0's module paths (idempotent)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
