"""Prefect adapter tests: real Prefect 3 flows against one temporary Prefect server, real storage.

Prefect's settings are read when it is imported, so the environment is set
here first: a throwaway PREFECT_HOME and no telemetry. ``prefect_test_harness``
(a real API server on SQLite, ~7 s to start) runs once per session.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("prefect")

_HOME = tempfile.mkdtemp(prefix="fsmirror-prefect-home-")
os.environ["PREFECT_HOME"] = _HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_TO_API_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("FSMIRROR_MIRROR", None)

SAMPLE = Path(__file__).parent / "sample"
sys.path.insert(0, str(SAMPLE))

from prefect.settings import get_current_settings  # noqa: E402
from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from fsmirror_prefect import FSMirrorStorage  # noqa: E402


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """One temporary Prefect server for the whole session; yields its API URL."""
    with prefect_test_harness(server_startup_timeout=180):  # the shared CI machine can be slow
        yield str(get_current_settings().api.url)


@pytest.fixture
def save_block(prefect_api: str) -> Callable[[Path], FSMirrorStorage]:
    """``save_block(config_path)`` -> a saved FSMirrorStorage block (fresh name per call)."""

    def save(config: Path, mirror: str | None = "etl") -> FSMirrorStorage:
        block = FSMirrorStorage(mirror=mirror, config_path=str(config))
        block.save(f"t-{uuid.uuid4().hex[:12]}")
        return block

    return save
