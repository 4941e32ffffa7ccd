"""One FSMirror per storage provider, each on a fresh bucket of a real server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fsmirror import FSMirror

PROVIDERS = ["local", "memory", "s3", "gcs", "blob"]
MirrorFactory = Callable[..., FSMirror]


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_mirror(provider: str, request: pytest.FixtureRequest, tmp_path: Path) -> MirrorFactory:
    """``make_mirror(**mirror_settings)`` -> an FSMirror on a fresh tenant of ``provider``."""
    if provider == "local":
        storage: dict[str, Any] = {"provider": "local", "tenant": str(tmp_path / "store")}
    elif provider == "memory":
        import uuid

        storage = {"provider": "memory", "tenant": f"mem-{uuid.uuid4().hex[:12]}"}
    else:
        server = request.getfixturevalue({"s3": "s3_server", "gcs": "gcs_server", "blob": "azurite_server"}[provider])
        storage = {"provider": provider, "tenant": server.new_bucket(), "storage_options": server.storage_options()}

    def make(**mirror: Any) -> FSMirror:
        settings = {"root": "project", "output_format": "parquet", **mirror}
        st = {**storage, **settings.pop("storage", {})}
        return FSMirror({"storage": st, "mirrors": {"project": settings}})

    return make
