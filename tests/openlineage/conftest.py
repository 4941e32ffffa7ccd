"""OpenLineage tests: the real client with an in-memory transport (ol_support.Capture), no server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("openlineage.client", reason="the openlineage tox env runs these (tox -e openlineage)")

from ol_support import Capture


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[Capture]:
    """The process's emitter, sending to memory for this test only."""
    from fsmirror import openlineage as fol

    monkeypatch.delenv("FSMIRROR_OPENLINEAGE", raising=False)
    monkeypatch.delenv("OPENLINEAGE_URL", raising=False)
    monkeypatch.delenv("OPENLINEAGE_CONFIG", raising=False)
    fol.uninstall()
    cap = Capture()
    fol.install(client=cap.client())
    yield cap
    fol.uninstall()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A code tree ``project/etl/my_etl_task.py`` with two steps, outside any git checkout."""
    code = tmp_path / "code" / "project" / "etl"
    code.mkdir(parents=True)
    (code / "my_etl_task.py").write_text(
        "def Extract():\n    pass\n\n\nclass LiftDataTask:\n    pass\n"
    )
    return tmp_path / "code"
