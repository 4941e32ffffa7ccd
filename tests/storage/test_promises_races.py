"""The store's promises, issue #12: of writers racing on one run, exactly one wins.

Two ``FSMirror`` instances (in threads, released together by a barrier, several
rounds) commit different bytes to the same run; one must commit and the other get
``ArtifactExistsError``, and the bytes that landed must be the winner's. 1.0 keys
its local lock by how the tenant is spelled, and its in-memory claim by the
``FSMirror`` instance, so spellings of one directory and two instances on one
tenant could both "win".
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from fsmirror import ArtifactExistsError, FSMirror
from storage.promises_support import ADDR, fine_switching, race

ROUNDS = 12
SIZE = 1 << 20  # big enough that a write takes a while: racers overlap


def local(tenant: str) -> dict[str, Any]:
    return {"storage": {"provider": "local", "tenant": tenant}, "mirrors": {"project": {"root": "project"}}}


def payload(i: int, n: int) -> bytes:
    return bytes([i + 1, n]) * (SIZE // 2)


def test_relative_and_absolute_tenant_spellings_share_one_lock(tmp_path: Path, monkeypatch) -> None:
    """Issue #12: "Two winners: the local lock is keyed by how the tenant is spelled: two FSMirror
    instances with a relative and an absolute tenant ... racing to commit the same run: exactly
    one write succeeds and the other raises ArtifactExistsError."
    """
    monkeypatch.chdir(tmp_path)
    writers = [FSMirror(local("store")), FSMirror(local(str(tmp_path / "store")))]
    with fine_switching("local"):
        results = race(writers, ROUNDS, payload)
    assert results == [(["exists", "won"], True)] * ROUNDS


def test_tenant_spelled_through_a_symlink_shares_one_lock(tmp_path: Path) -> None:
    """Issue #12: "the local lock is keyed by how the tenant is spelled: ... or a path through a
    symlink, racing to commit the same run: exactly one write succeeds and the other raises
    ArtifactExistsError."
    """
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    writers = [FSMirror(local(str(tmp_path / "real"))), FSMirror(local(str(tmp_path / "link")))]
    with fine_switching("local"):
        results = race(writers, ROUNDS, payload)
    assert results == [(["exists", "won"], True)] * ROUNDS


def test_file_url_tenant_writes_to_and_checks_the_named_directory(tmp_path: Path, monkeypatch) -> None:
    """Issue #12: "`tenant: file:///dir` must write to and check /dir (not ./file:/dir)."

    Run from ``tmp_path`` so a write that went to ``./file:/...`` would show there.
    """
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store"
    mirrors = {"project": {"root": "project", "output_format": "json"}}
    url = FSMirror({"storage": {"provider": "local", "tenant": f"file://{store}"}, "mirrors": mirrors})
    plain = FSMirror({"storage": {"provider": "local", "tenant": str(store)}, "mirrors": mirrors})
    url.write(ADDR, {"v": 1}, run_id="r1")
    rel = url.mirror_relative_output(ADDR, run_id="r1", output_format="json")
    assert json.loads((store / rel).read_bytes()) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]  # no ./file:/...
    assert (url.exists(ADDR, run_id="r1"), url.latest(ADDR), url.read(ADDR)) == (True, "r1", {"v": 1})
    assert plain.read(ADDR, run_id="r1") == {"v": 1}
    with pytest.raises(ArtifactExistsError, match=re.escape("r1/LiftDataTask")):
        plain.write(ADDR, {"v": 2}, run_id="r1")
    plain.write(ADDR, {"v": 2}, run_id="r2")
    with pytest.raises(ArtifactExistsError, match=re.escape("r2/LiftDataTask")):
        url.write(ADDR, {"v": 3}, run_id="r2")
    assert (url.latest(ADDR), url.read(ADDR)) == ("r2", {"v": 2})
    bytes_mirrors = {"project": {"root": "project", "output_format": "bytes"}}
    writers = [
        FSMirror({"storage": {"provider": "local", "tenant": f"file://{store}"}, "mirrors": bytes_mirrors}),
        FSMirror({"storage": {"provider": "local", "tenant": str(store)}, "mirrors": bytes_mirrors}),
    ]
    with fine_switching("local"):
        results = race(writers, ROUNDS, payload, obj="project/etl/raced.py::T")
    assert results == [(["exists", "won"], True)] * ROUNDS


def test_two_mirrors_on_one_tenant_racing_on_one_slot_have_exactly_one_winner(
    make_mirror, provider: str
) -> None:
    """Issue #12: "Two `FSMirror`s on one `memory` tenant racing on one slot: exactly one wins."

    The same for every provider: each ``FSMirror`` is a separate writer.
    """
    if provider == "gcs":
        pytest.skip("gcp-storage-emulator ignores ifGenerationMatch")
    writers = [make_mirror(output_format="bytes"), make_mirror(output_format="bytes")]
    in_process = provider in ("local", "memory")
    rounds = {"local": 40, "memory": 300}.get(provider, 8)

    def value(i: int, n: int) -> bytes:
        return bytes([i + 1, n % 256]) * (32 * 1024 if in_process else 256 * 1024)

    with fine_switching(provider):
        results = race(writers, rounds, value)
    assert results == [(["exists", "won"], True)] * rounds
