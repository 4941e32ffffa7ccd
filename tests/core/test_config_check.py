"""``fsmirror config check --connect``: one read-only listing of the store, built without an FSMirror."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fsmirror.config import check_config
from fsmirror.errors import StorageError
from fsmirror.store.backends import LocalBackend


def _local_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "local.yml"
    store = json.dumps(str(tmp_path / "store"))
    cfg.write_text(f"storage: {{provider: local, tenant: {store}}}\nmirrors: {{m: {{root: r, prefix: p}}}}\n")
    return cfg


def test_connect_lists_the_mirrors_base(tmp_path: Path) -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "fsmirror.cli",
            "config",
            "check",
            "--connect",
            "--json",
            str(_local_config(tmp_path)),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    (store,) = [c for c in json.loads(r.stdout)["checks"] if c["check"] == "store"]
    assert store == {"check": "store", "ok": True, "detail": f"listed {tmp_path / 'store' / 'p'}"}


def test_connect_reports_a_store_that_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: LocalBackend, directory: str, limit: int | None = None) -> list[str]:
        raise StorageError(f"listing {directory} refused")

    monkeypatch.setattr(LocalBackend, "list_names", refuse)
    report = check_config(_local_config(tmp_path), connect=True)
    assert not report.ok
    assert report.problems == [f"store: listing {tmp_path / 'store' / 'p'} refused"]


def test_without_connect_the_store_is_not_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: LocalBackend, directory: str, limit: int | None = None) -> list[str]:
        raise AssertionError("listed without --connect")

    monkeypatch.setattr(LocalBackend, "list_names", refuse)
    report = check_config(_local_config(tmp_path))
    assert report.ok and "store" not in [c.what for c in report.checks]
