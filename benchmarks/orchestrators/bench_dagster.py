"""Row 9: one Dagster materialization through FSMirrorIOManager vs Dagster's FilesystemIOManager.

Both sides run the same ``materialize()`` of the same asset returning the same
object, on the same kind of instance, and both pickle it (the mirror's format is
``pkl``), so the ratio is the adapter's cost per materialization: resolving the
path, the manifest and its metadata, the atomic no-clobber write, against a plain
``pickle.dump`` to ``<base_dir>/<asset key>``. Storage is emptied between rounds
(untimed) on both sides so the 100 MB case never fills the disk.

Set ``FSMIRROR_BENCH_SMOKE=1`` for a run of seconds (tiny object, two rounds).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dagster import DagsterInstance, FilesystemIOManager, asset, materialize
from fsmirror_dagster import FSMirrorIOManager

SMOKE = os.environ.get("FSMIRROR_BENCH_SMOKE", "") not in ("", "0", "false", "no")
MB = 1 << 20
CASES = {
    # case: (payload builder, timed rounds)
    "small": (
        lambda: {"rows": [{"id": i, "name": f"row{i}", "score": i * 0.5} for i in range(100)]},
        2 if SMOKE else 30,
    ),
    "100mb": (lambda: os.urandom((1 if SMOKE else 100) * MB), 2 if SMOKE else 7),
}
WARMUP = 0 if SMOKE else 1

_payload: Any = None  # what the asset returns; set per case, the same object for both sides


@asset
def payload() -> Any:
    return _payload


@pytest.fixture
def case(request: pytest.FixtureRequest) -> Iterator[str]:
    """The case of the test's parameters; builds its payload (the same object for both roles)."""
    global _payload
    name = str(request.node.callspec.params["case_name"])
    _payload = CASES[name][0]()
    yield name
    _payload = None


# The two roles of a case run back to back, so a busy machine's drifting load hits both alike.
ORDER = pytest.mark.parametrize(
    "case_name, role", [(c, r) for c in CASES for r in ("fsmirror", "baseline")], ids=lambda v: str(v)
)


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as inst:
        yield inst


def _meta(benchmark: Any, role: str, case: str) -> None:
    benchmark.group = f"row9-{case}"
    benchmark.extra_info.update(
        {
            "row": 9,
            "role": role,
            "case": case,
            "measurement": f"one materialize() of an asset returning a pickled {case} object (in-process executor)",
            "baseline": "dagster FilesystemIOManager",
            "target": "<= 1.3x" if case == "small" else "<= 1.1x",
            "payload_bytes": len(_payload) if isinstance(_payload, bytes) else None,
            "python": sys.version.split()[0],
        }
    )


def _run(resources: dict[str, Any], instance: DagsterInstance) -> None:
    result = materialize([payload], instance=instance, resources=resources)
    assert result.success


def _empty(store: Path) -> None:
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)


def _fsmirror_resources(tmp_path: Path, store: Path) -> dict[str, Any]:
    config = tmp_path / "fsmirror.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "storage": {"provider": "local", "tenant": str(store), "namespace": "MIRROR"},
                "mirrors": {"bench": {"root": "benchmarks", "output_name": "out", "output_format": "pkl"}},
            }
        )
    )
    return {"io_manager": FSMirrorIOManager(mirror="bench", config_path=str(config))}


@ORDER
def test_row9(
    benchmark: Any, case_name: str, role: str, case: str, instance: DagsterInstance, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    if role == "fsmirror":
        resources = _fsmirror_resources(tmp_path, store)
    else:
        resources = {"io_manager": FilesystemIOManager(base_dir=str(store))}
    _meta(benchmark, role, case)
    _empty(store)
    _run(resources, instance)  # fail loudly outside the timing, and check what landed where
    if role == "fsmirror":
        landed = list(store.rglob("out.pkl"))
        assert len(landed) == 1 and "orchestrators/bench_dagster" in landed[0].as_posix()
    else:
        assert (store / "payload").is_file()
    benchmark.pedantic(
        _run,
        args=(resources, instance),
        setup=lambda: _empty(store),
        rounds=CASES[case][1],
        warmup_rounds=WARMUP,
    )
