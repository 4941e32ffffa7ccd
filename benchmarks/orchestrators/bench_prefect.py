"""Row 10: persisting one task result through FSMirrorStorage vs Prefect's LocalFileSystem result storage.

Both sides call the same Prefect code the task engine calls when it persists a
result (``ResultStore.write``: create the result record, serialize it, hand the
bytes to the storage block) with the same value, on the same disk:

- baseline: ``LocalFileSystem`` with Prefect's default serializer (cloudpickle,
  base64, wrapped in a JSON result record): one file per result.
- fsmirror: ``FSMirrorStorage`` with its metadata twin and ``FSMirrorSerializer``:
  the artifact at the mirrored path (atomic, no-clobber), its fsmirror manifest,
  the latest pointer, and Prefect's metadata beside it.

Cases: ``dataframe-parquet`` is what a user gets (a 1M-row DataFrame becomes
parquet); ``dataframe-pkl`` uses a pickle mirror, so both sides pickle and the
ratio is the adapter's own cost; ``small-parquet`` / ``small-pkl`` (100 rows)
show the fixed cost per result (manifest, latest pointer, Prefect metadata file). Storage is emptied between rounds (untimed), so a round never
pays for a fuller directory than the last.

The blocks are not saved to a Prefect server: a block id only names the block in
Prefect's metadata, so the fsmirror block gets a made-up one and no server runs.

Set ``FSMIRROR_BENCH_SMOKE=1`` for a run of seconds (tiny frame, two rounds).
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from prefect.filesystems import LocalFileSystem
from prefect.results import ResultStore
from prefect.serializers import PickleSerializer

from fsmirror_prefect import FSMirrorSerializer, FSMirrorStorage
from fsmirror_prefect.storage import make_key

SMOKE = os.environ.get("FSMIRROR_BENCH_SMOKE", "") not in ("", "0", "false", "no")
ROWS = 1_000 if SMOKE else 1_000_000
WARMUP = 0 if SMOKE else 1
CASES = {
    # case: (mirror format, rows, timed rounds)
    "dataframe-parquet": ("parquet", ROWS, 2 if SMOKE else 10),
    "dataframe-pkl": ("pkl", ROWS, 2 if SMOKE else 10),
    "small-parquet": ("parquet", 100, 2 if SMOKE else 50),
    "small-pkl": ("pkl", 100, 2 if SMOKE else 50),
}
ADDRESS = "etl/pipeline.py::lift_data"  # a code address string resolves without importing anything
_counter = itertools.count()


def _frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "value": rng.random(rows),
            "count": rng.integers(0, 1000, rows),
            "city": pd.Series(rng.choice(["oslo", "lima", "pune", "kyiv"], rows)),
        }
    )


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def frame(case: str) -> pd.DataFrame:
    return _frame(CASES[case][1])


@pytest.fixture
def base(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


def _meta(benchmark: Any, role: str, case: str, frame: pd.DataFrame) -> None:
    benchmark.group = f"row10-{case}"
    benchmark.extra_info.update(
        {
            "row": 10,
            "role": role,
            "case": case,
            "measurement": (
                f"persist one task result (ResultStore.write) of a {len(frame):,}-row pandas DataFrame"
            ),
            "baseline": "prefect LocalFileSystem result storage, default pickle serializer",
            "target": "<= 1.2x",
            "frame_bytes": int(frame.memory_usage(deep=True).sum()),
            "python": sys.version.split()[0],
        }
    )


def _emptied(root: Path) -> Callable[[], tuple[tuple[Any, ...], dict[str, Any]]]:
    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        return (), {}

    return setup


def test_fsmirror_storage(benchmark: Any, case: str, frame: pd.DataFrame, base: Path) -> None:
    store_dir = base / "store"
    config = base / "fsmirror.yml"
    fmt, _, rounds = CASES[case]
    mirror = {"root": "etl", "prefix": "MIRROR", "output_name": "out", "output_format": fmt}
    config.write_text(
        yaml.safe_dump(
            # Prefect's LocalFileSystem does not fsync: neither does this side (row 3 prices the fsync)
            {
                "storage": {"provider": "local", "tenant": str(store_dir), "durability": "none"},
                "mirrors": {"etl": mirror},
            }
        )
    )
    block = FSMirrorStorage(mirror="etl", config_path=str(config))
    block._block_document_id = uuid.uuid4()  # see the module docstring: never sent anywhere
    store = ResultStore(
        result_storage=block,
        metadata_storage=block.as_metadata_storage(),
        serializer=FSMirrorSerializer(format=fmt),
    )

    def persist() -> None:
        store.write(obj=frame, key=make_key(f"run-{next(_counter)}", "digest", ADDRESS))

    _meta(benchmark, "fsmirror", case, frame)
    benchmark.pedantic(persist, setup=_emptied(store_dir), rounds=rounds, warmup_rounds=WARMUP)
    assert any(store_dir.rglob(f"out.{fmt}"))


def test_prefect_local_file_system(benchmark: Any, case: str, frame: pd.DataFrame, base: Path) -> None:
    store_dir = base / "store"
    store = ResultStore(
        result_storage=LocalFileSystem(basepath=str(store_dir)), serializer=PickleSerializer()
    )

    def persist() -> None:
        store.write(obj=frame, key=uuid.uuid4().hex)

    _meta(benchmark, "baseline", case, frame)
    benchmark.pedantic(persist, setup=_emptied(store_dir), rounds=CASES[case][2], warmup_rounds=WARMUP)
    assert any(store_dir.iterdir())
