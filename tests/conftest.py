"""Fixtures shared by every tox env: config files and real storage servers.

Servers start lazily (only the tests that ask for one pay for it) and once per
session; each test gets its own bucket.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # else gcsfs stalls 60 s per call

from servers import AzuriteServer, GCSServer, S3Server

ConfigFactory = Callable[..., Path]


def write_config(
    path: Path,
    *,
    provider: str = "local",
    tenant: str = "",
    storage_options: dict[str, Any] | None = None,
    mirrors: dict[str, dict[str, Any]] | None = None,
    **storage: Any,
) -> Path:
    """Write a config YAML; mirrors default to one 'project' mirror writing parquet."""
    cfg: dict[str, Any] = {
        "storage": {"provider": provider, "tenant": tenant, "namespace": "MIRROR", **storage},
        "mirrors": mirrors
        or {"project": {"root": "project", "prefix": "MIRROR", "output_name": "out", "output_format": "parquet"}},
    }
    if storage_options:
        cfg["storage"]["storage_options"] = storage_options
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[GCSServer]:
    server = GCSServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[AzuriteServer]:
    server = AzuriteServer().start()
    yield server
    server.stop()


@pytest.fixture
def local_config(tmp_path: Path) -> ConfigFactory:
    """``local_config(**kw)`` -> a config file whose tenant is a fresh local directory."""

    def make(**kw: Any) -> Path:
        kw.setdefault("tenant", str(tmp_path / "store"))
        return write_config(tmp_path / "fsmirror.yml", provider="local", **kw)

    return make


@pytest.fixture
def s3_config(tmp_path: Path, s3_server: S3Server) -> ConfigFactory:
    """``s3_config(**kw)`` -> a config file on a fresh bucket of the moto server."""

    def make(**kw: Any) -> Path:
        kw.setdefault("tenant", s3_server.new_bucket())
        kw.setdefault("storage_options", s3_server.storage_options())
        return write_config(tmp_path / "fsmirror-s3.yml", provider="s3", **kw)

    return make


@pytest.fixture
def ear() -> Iterator[Any]:
    """A :class:`lineage_ear.Ear` listening to lineage scopes for the test's duration."""
    from lineage_ear import Ear, listening

    with listening(Ear()) as e:
        yield e
