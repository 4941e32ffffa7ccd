"""Dagster adapter tests: real Dagster runs, real storage (local dirs, moto's S3 server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dagster")

from dagster import DagsterInstance, instance_for_test


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    """One in-memory instance shared by every run of one test: cross-run loads see earlier runs."""
    with DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.fixture(scope="module")
def home_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterInstance]:
    """A persistent instance on a temp DAGSTER_HOME (the multiprocess executor and re-execution need one).

    One per module: creating its SQLite storage costs seconds, and these tests key
    everything by run id, never by "latest".
    """
    home = tmp_path_factory.mktemp("dagster_home")
    with instance_for_test(temp_dir=str(home)) as inst:
        yield inst


def stored_files(root: Path) -> set[str]:
    """Every file under ``root`` as a relative POSIX path (what landed in storage).

    The core's own bookkeeping (``.fsmirror/``: local write locks) is left out.
    """
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    return {f for f in files if not f.startswith(".fsmirror/")}


def read_manifest(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def materialization_metadata(instance: DagsterInstance, run_id: str, key: str) -> dict[str, Any]:
    """The metadata Dagster recorded for ``key``'s materialization in ``run_id`` (from the event log)."""
    from dagster import AssetKey

    records = instance.fetch_materializations(AssetKey(key), limit=1000).records
    found = [r.event_log_entry for r in records if r.run_id == run_id]
    assert len(found) == 1, f"expected one materialization of {key} in run {run_id}, got {len(found)}"
    mat = found[0].asset_materialization
    assert mat is not None
    return dict(mat.metadata)
