"""A writer killed with SIGKILL mid-write leaves nothing committed, and the run can be written again.

Real processes and a real SIGKILL, on a local directory and on moto's S3 server;
the assertions are on what landed in storage. The 50-trial version with random
kill points is ``tests/reliability/test_kill_writes.py``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from fsmirror import ArtifactExistsError, FSMirror
from reliability.workers import (
    ADDR,
    crash_config,
    expected,
    forkserver,
    s3_crash_config,
    strike,
    verify_latest,
    verify_slot,
)

N, SIZE = 48, 256 * 1024  # 12 MiB in 256 KiB chunks: three 5 MiB parts on S3
CLAIM_TTL = 0.5


@pytest.fixture
def local_cfg(tmp_path: Path) -> dict[str, Any]:
    return crash_config({"provider": "local", "tenant": str(tmp_path / "store")})


@pytest.fixture
def s3_cfg(s3_server: Any) -> dict[str, Any]:
    return s3_crash_config(s3_server, CLAIM_TTL)


def _whole(run_id: str, *versions: int) -> dict[int, bytes]:
    return {v: expected(run_id, v, N, SIZE) for v in versions}


def test_local_writer_killed_mid_write_commits_nothing(local_cfg: dict[str, Any]) -> None:
    fm = FSMirror(local_cfg)
    ctx = forkserver()
    fm.write(ADDR, expected("r0", 0, N, SIZE), run_id="r0", format="bytes")
    s = strike(ctx, local_cfg, "r1", version=0, n=N, size=SIZE, kill_at=N // 2, delay=0)
    assert not s.finished and s.exitcode == -9
    assert verify_slot(fm, "r1", _whole("r1", 0)) is None
    assert verify_latest(fm, {"r0": _whole("r0", 0), "r1": _whole("r1", 0)}) == "r0"
    # the kernel dropped the dead writer's lock: the same run writes at once
    fm.write(ADDR, expected("r1", 1, N, SIZE), run_id="r1", format="bytes")
    assert verify_slot(fm, "r1", _whole("r1", 1)) == 1
    assert fm.latest(ADDR) == "r1"


def test_local_writer_killed_during_an_overwrite_leaves_old_or_new_whole(local_cfg: dict[str, Any]) -> None:
    fm = FSMirror(local_cfg)
    fm.write(ADDR, expected("r1", 0, N, SIZE), run_id="r1", format="bytes")
    s = strike(
        forkserver(), local_cfg, "r1", version=1, n=N, size=SIZE, kill_at=N - 1, delay=0.002, overwrite=True
    )
    assert s.exitcode == -9
    assert verify_slot(fm, "r1", _whole("r1", 0, 1)) in (None, 0, 1)
    fm.write(ADDR, expected("r1", 2, N, SIZE), run_id="r1", format="bytes", overwrite=True)
    assert verify_slot(fm, "r1", _whole("r1", 2)) == 2


def test_s3_writer_killed_mid_write_commits_nothing_and_its_claim_expires(s3_cfg: dict[str, Any]) -> None:
    fm = FSMirror(s3_cfg)
    s = strike(forkserver(), s3_cfg, "r1", version=0, n=N, size=SIZE, kill_at=N - 4, delay=0)
    assert not s.finished and s.exitcode == -9
    assert verify_slot(fm, "r1", _whole("r1", 0)) is None
    assert fm.latest(ADDR) is None
    assert fm.filesystem.find(s3_cfg["storage"]["tenant"] + "/project") == []  # no parts, no data object
    time.sleep(CLAIM_TTL + 0.1)  # the dead writer's claim is stale after storage.claim_ttl
    fm.write(ADDR, expected("r1", 1, N, SIZE), run_id="r1", format="bytes")
    assert verify_slot(fm, "r1", _whole("r1", 1)) == 1
    assert fm.latest(ADDR) == "r1"


def test_s3_writer_killed_before_its_first_request_blocks_nothing(s3_cfg: dict[str, Any]) -> None:
    """v2 spools a value before any request: a writer killed while serializing leaves no claim."""
    cfg = {**s3_cfg, "storage": {**s3_cfg["storage"], "claim_ttl": 3600}}
    fm = FSMirror(cfg)
    s = strike(forkserver(), cfg, "r1", version=0, n=N, size=SIZE, kill_at=-1, delay=0)
    assert s.exitcode == -9
    assert verify_slot(fm, "r1", _whole("r1", 0)) is None
    fm.write(ADDR, expected("r1", 1, N, SIZE), run_id="r1", format="bytes")
    assert verify_slot(fm, "r1", _whole("r1", 1)) == 1


def test_s3_data_without_a_commit_is_a_write_in_progress_until_claim_ttl(s3_cfg: dict[str, Any]) -> None:
    """The state a writer killed between its data PUT and its commit leaves: data, no manifest.

    It blocks the slot (overwrite=True does not take over a write in progress) until claim_ttl,
    then the next writer takes the slot over and commits its own bytes.
    """
    fm = FSMirror(s3_cfg)
    fm.filesystem.pipe_file(fm.mirror_full_output(ADDR, run_id="r1", output_format="bytes"), b"dead writer")
    for overwrite in (False, True):
        with pytest.raises(ArtifactExistsError, match=r"in progress .*storage.claim_ttl=0.5s"):
            fm.write(ADDR, b"too soon", run_id="r1", format="bytes", overwrite=overwrite)
    assert fm.latest(ADDR) is None
    time.sleep(CLAIM_TTL + 1.6)  # LastModified has whole seconds: the protocol allows 1 s more
    fm.write(ADDR, expected("r1", 1, N, SIZE), run_id="r1", format="bytes")
    assert verify_slot(fm, "r1", _whole("r1", 1)) == 1
    assert fm.latest(ADDR) == "r1"
