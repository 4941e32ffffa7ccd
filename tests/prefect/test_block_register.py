"""``prefect block register -m fsmirror_prefect``, Prefect's own way to publish a collection's block
types to a server (its UI lists them), run as a user runs it against the session's server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound

from fsmirror_prefect import FSMirrorStorage

PREFECT = Path(sys.executable).with_name("prefect")


def _block_type_name(slug: str) -> str | None:
    with get_client(sync_client=True) as client:
        try:
            return str(client.read_block_type_by_slug(slug).name)
        except ObjectNotFound:
            return None


def test_block_register_module(prefect_api: str, tmp_path: Path) -> None:
    slug = FSMirrorStorage.get_block_type_slug()
    with get_client(sync_client=True) as client:  # other tests' saves registered it: start without it
        try:
            client.delete_block_type(client.read_block_type_by_slug(slug).id)
        except ObjectNotFound:
            pass
    assert _block_type_name(slug) is None

    done = subprocess.run(
        [str(PREFECT), "block", "register", "-m", "fsmirror_prefect"],
        capture_output=True,
        text=True,
        env={**os.environ, "PREFECT_API_URL": prefect_api},
        cwd=tmp_path,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Successfully registered 1 block" in done.stdout
    assert _block_type_name(slug) == FSMirrorStorage.get_block_type_name()
