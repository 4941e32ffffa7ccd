"""Helpers for the ports of Luigi's own target tests (spotify/luigi v3.8.1, ``test/``).

The ports run the maintainers' test bodies against :class:`fsmirror_luigi.FSMirrorTarget`
on each store of ``tests/luigi/conftest.py`` (a local directory and moto's S3 server).
Upstream builds ``LocalTarget(self.path, format=format)`` at a fixed ``/tmp`` path;
fsmirror's documented layout puts a target at its code's mirrored path instead,
so ``create_target`` gives a target of one code address with a fresh run id.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import Store
from fsmirror_luigi import FSMirrorTarget

ADDRESS = "project/etl/upstream_targets.py::LuigiTargetTest"


class TargetCase:
    """What upstream's ``FileSystemTargetTestMixin`` gets from ``self``: ``create_target`` and ``assertCleanUp``.

    A pytest test class mixes this in; its autouse fixture sets ``store``.
    """

    store: Store

    @pytest.fixture(autouse=True)
    def _store(self, store: Store) -> None:
        self.store = store

    def create_target(self, format: Any = None, **kw: Any) -> FSMirrorTarget:
        # Upstream: LocalTarget(self.path, format=format). Here: the mirrored path of one code
        # address, a new run per target, so every test starts from an empty slot.
        return FSMirrorTarget(ADDRESS, run_id=f"r-{uuid.uuid4().hex[:12]}", format=format, **kw)

    def assertCleanUp(self, tmp_path: str = "") -> None:
        # Upstream (LocalTargetTest): the AtomicLocalFile's temp file is gone. Here: the writer's
        # spool (its tmp_path, when a format needed a file descriptor) is gone, the core left no
        # temp file of its own, and no data file lies in the store without the manifest that commits it.
        if tmp_path:
            assert not os.path.exists(tmp_path), tmp_path
        scratch = Path(self.store.fm.base) / ".fsmirror" / "tmp"
        if self.store.provider == "local" and scratch.exists():
            assert list(scratch.iterdir()) == []
        files = self.store.files()
        for f in files:
            directory, _, name = f.rpartition("/")
            if not name.startswith("_"):
                stem = name.rpartition(".")[0]
                assert f"{directory}/_{stem}.manifest.json" in files, f"uncommitted data left: {f}"
