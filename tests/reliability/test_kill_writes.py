"""50 SIGKILLs per store at random points of a large write: nothing partial is ever committed.

Each trial forks a real writer, lets it run to a random step (just claimed,
after chunk k, or a random moment into the commit), kills it with SIGKILL, and
then checks what landed: the run is absent or holds one writer's whole bytes
(agreeing with its manifest), ``latest()`` points at a whole run or nothing,
and the next write of the same run succeeds. One trial in five kills an
*overwrite* of a committed run, where a torn commit would show as the old
manifest over new bytes. The seed is printed; ``FSMIRROR_SEED=<seed>`` replays it.
"""

from __future__ import annotations

import collections
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
    seeded,
    strike,
    verify_latest,
    verify_slot,
)

pytestmark = pytest.mark.reliability

TRIALS = 50
SIZE = 64 * 1024
CLAIM_TTL = 0.3


def _trials(config: dict[str, Any], n: int, label: str) -> None:
    seed, rng = seeded()
    ctx = forkserver()
    fm = FSMirror(config)
    patient = FSMirror({**config, "storage": {**config["storage"], "claim_ttl": 600.0}})
    s3 = config["storage"]["provider"] == "s3"
    wholes: dict[str, dict[int, bytes]] = {}
    tally: collections.Counter[str] = collections.Counter()
    for t in range(TRIALS):
        rid = f"t{t:03d}"
        overwrite = t % 5 == 4
        mode = "write" if t % 4 == 1 else "open_write"
        wholes[rid] = {v: expected(rid, v, n, SIZE) for v in (0, 1, 2)}
        if overwrite:
            fm.write(ADDR, wholes[rid][0], run_id=rid, format="bytes")
        kill_at = -1 if mode == "write" else rng.randint(-1, n - 1)
        delay = rng.choice([0.0, rng.uniform(0, 0.02), rng.uniform(0, 0.3)])
        s = strike(
            ctx,
            config,
            rid,
            version=1,
            n=n,
            size=SIZE,
            kill_at=kill_at,
            delay=delay,
            overwrite=overwrite,
            mode=mode,
        )
        where = f"{label} trial {t} (seed {seed}, kill_at {kill_at}, delay {delay:.3f}, {mode})"
        assert s.exitcode in (-9, 0), where
        state = verify_slot(fm, rid, wholes[rid])
        assert state in ((None, 0, 1) if overwrite else (None, 1)), where
        if s.finished:
            assert state == 1, f"{where}: the writer reported a commit that is not there"
        verify_latest(fm, wholes)
        tally[
            f"{'overwrite' if overwrite else 'new run'}: {'nothing' if state is None else f'v{state}'}"
        ] += 1
        if state is None:  # the next write of the same run succeeds, at once or after claim_ttl
            try:
                fm.write(ADDR, wholes[rid][2], run_id=rid, format="bytes")
                tally["rewritten at once"] += 1
            except ArtifactExistsError as e:
                # killed between its data and its commit (S3): a write in progress until claim_ttl,
                # which overwrite=True does not take over; LastModified has whole seconds: +1 s
                assert s3 and "in progress" in str(e), f"{where}: {e}"
                # Judged by a reader whose claim_ttl is long, the dead writer's claim is surely still
                # fresh: overwrite=True must not take it over. (With the trials' 0.3 s claim_ttl the
                # claim may go stale while this 5 MiB overwrite uploads on a loaded machine, and then
                # taking over is right.)
                with pytest.raises(ArtifactExistsError, match="in progress"):
                    patient.write(ADDR, wholes[rid][2], run_id=rid, format="bytes", overwrite=True)
                time.sleep(CLAIM_TTL + 1.05)
                fm.write(ADDR, wholes[rid][2], run_id=rid, format="bytes")
                tally["rewritten after claim_ttl"] += 1
            assert verify_slot(fm, rid, wholes[rid]) == 2, where
        else:  # committed stays committed: no silent overwrite
            with pytest.raises(ArtifactExistsError):
                fm.write(ADDR, wholes[rid][2], run_id=rid, format="bytes")
        assert verify_latest(fm, wholes) is not None, where
    for rid in fm.runs(ADDR):
        assert verify_slot(fm, rid, wholes[rid]) is not None
    print(
        f"\n{label}: tried {TRIALS} SIGKILLs of {n * SIZE / 2**20:.1f} MiB writes (seed {seed}): {dict(tally)}"
    )


def test_sigkill_local_writes(tmp_path: Path) -> None:
    config = crash_config({"provider": "local", "tenant": str(tmp_path / "store")})
    _trials(config, 64, "local")
    tmp = tmp_path / "store" / ".fsmirror" / "tmp"
    print(f"local: {len(list(tmp.iterdir())) if tmp.exists() else 0} orphaned temp files in .fsmirror/tmp")


def test_sigkill_s3_writes(s3_server: Any) -> None:
    _trials(s3_crash_config(s3_server, CLAIM_TTL), 81, "s3")  # 5 MiB + 64 KiB: a multipart upload
