"""Shared servers for the distributed stacks: moto S3, Redis and PostgreSQL on 127.0.0.1.

One of each per session; each stack gets its own bucket, Redis database and Postgres
database. Every process any fixture starts is stopped at the end, children included,
and the session fails if one outlived its process group (see ``harness.Processes``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("moto", reason="tox -e distributed installs the harness (moto, s3fs, uv)")
pytest.importorskip("s3fs", reason="tox -e distributed installs the harness (moto, s3fs, uv)")

from harness import Postgres, Processes, Redis

from servers import S3Server


@pytest.fixture(scope="session")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("distributed")


@pytest.fixture(scope="session")
def server_procs(dist_dir: Path) -> Iterator[Processes]:
    """The shared servers' processes (Redis, PostgreSQL), stopped at the end of the session."""
    p = Processes(dist_dir / "logs")
    yield p
    escaped = p.stop_all()
    assert not escaped, f"processes outlived their process groups (killed now): {escaped}"


@pytest.fixture(scope="module")
def procs(dist_dir: Path) -> Iterator[Processes]:
    """One stack's processes (its own token): all stopped, children included, when its module ends."""
    p = Processes(dist_dir / "logs")
    yield p
    escaped = p.stop_all()
    assert not escaped, f"processes outlived their process groups (killed now): {escaped}"


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis(server_procs: Processes, dist_dir: Path) -> Iterator[Redis]:
    server = Redis(server_procs, dist_dir / "redis").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres(server_procs: Processes) -> Iterator[Postgres]:
    if shutil.which("runuser") is None and os.geteuid() == 0:
        pytest.fail("running as root without runuser: PostgreSQL cannot start")
    server = Postgres(server_procs).start()
    yield server
    server.stop()
