"""Row 11: Airflow XCom push + pull, fsmirror's backend vs Airflow's ``XComObjectStorageBackend``.

Both backends get the same value and write to the same local disk (the
built-in with threshold 0, so every value goes to storage, no compression).
One round is what a producing task and a consuming task pay on top of the
metadata DB round trip, which is the same for both (a short reference string):
``serialize_value`` (write) then ``deserialize_value`` (read back).
fsmirror's side writes a fresh run each round, as a new DAG run would.

``FSMIRROR_BENCH_SMOKE=1``: tiny values, a few rounds (seconds).
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace
from typing import Any

SMOKE = os.environ.get("FSMIRROR_BENCH_SMOKE") == "1"
_HOME = tempfile.mkdtemp(prefix="fsmirror-bench-airflow-")
atexit.register(shutil.rmtree, _HOME, True)
_STORE = Path(_HOME) / "store"
# Airflow reads its settings at import: set them first.
os.environ.setdefault("AIRFLOW_HOME", _HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH"] = f"file://{_STORE}/builtin"
os.environ["AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD"] = "0"
os.environ["AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_COMPRESSION"] = ""
_CONFIG = Path(_HOME) / "fsmirror.yml"
_CONFIG.write_text(
    "storage: {provider: local, tenant: '" + str(_STORE / "fsmirror") + "', namespace: MIRROR}\n"
    "mirrors:\n  bench: {root: benchmarks, prefix: MIRROR, output_name: out, output_format: parquet}\n"
)
os.environ["AIRFLOW__FSMIRROR__CONFIG_PATH"] = str(_CONFIG)
os.environ["AIRFLOW__FSMIRROR__MIRROR"] = "bench"
os.environ["AIRFLOW__FSMIRROR__XCOM_THRESHOLD"] = "0"

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("airflow.providers.common.io.xcom.backend")

from airflow.providers.common.io.xcom.backend import XComObjectStorageBackend  # noqa: E402
from airflow.providers.standard.operators.python import PythonOperator  # noqa: E402

from fsmirror_airflow import FSMirrorXComBackend  # noqa: E402
from fsmirror_airflow._listener import TaskLocator  # noqa: E402

ROUNDS = 3 if SMOKE else 30
ROWS = 100 if SMOKE else 200_000
DAG_ID, TASK_ID = "bench_dag", "produce"
Result = namedtuple("Result", "key value")  # what deserialize_value receives: only .key and .value


def produce() -> None:
    """The producing task's callable: its file decides fsmirror's path."""


def _values() -> dict[str, Any]:
    n = ROWS
    return {
        "dataframe": pd.DataFrame(
            {"id": range(n), "x": [i * 0.5 for i in range(n)], "city": ["Oslo", "Lima"] * (n // 2)}
        ),
        "dict": {"rows": [{"id": i, "name": f"item-{i}", "ok": i % 2 == 0} for i in range(max(n // 20, 5))]},
        # a typical small XCom: fixed costs (claim, manifest, latest pointer) dominate
        "small": {"cities": ["Oslo", "Lima", "Pune"], "max_temp": 27.25},
    }


VALUES = _values()
_runs = itertools.count()


def _new_run() -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A fresh run id, and the task seen starting as Airflow's listener hook would report it."""
    run_id = f"manual__2026-11-25T00:00:{next(_runs):06d}+00:00"
    ti = SimpleNamespace(
        dag_id=DAG_ID,
        task_id=TASK_ID,
        run_id=run_id,
        map_index=-1,
        try_number=1,
        task=PythonOperator(task_id=TASK_ID, python_callable=produce),
    )
    TaskLocator().on_task_instance_running(previous_state=None, task_instance=ti)
    return (run_id,), {}


def _push_pull(backend: Any, value: Any, run_id: str) -> Any:
    stored = backend.serialize_value(
        value, key="return_value", dag_id=DAG_ID, task_id=TASK_ID, run_id=run_id, map_index=-1
    )
    return backend.deserialize_value(Result("return_value", stored))


def _check(value: Any, back: Any) -> None:
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back.reset_index(drop=True), value.reset_index(drop=True))
    else:
        assert back == value


def _extra(case: str, role: str) -> dict[str, Any]:
    return {
        "row": 11,
        "role": role,
        "case": case,
        "measurement": "XCom serialize_value + deserialize_value (push + pull) of one value, local disk",
        "baseline": "Airflow XComObjectStorageBackend (common.io, threshold 0, no compression)",
        "target": "<= 1.2x",
        "rows": ROWS,
    }


@pytest.mark.parametrize("case", sorted(VALUES))
def test_fsmirror_backend(benchmark: Any, case: str) -> None:
    benchmark.group = f"row11-{case}"
    benchmark.extra_info.update(_extra(case, "fsmirror"))
    value = VALUES[case]
    back = benchmark.pedantic(
        lambda run_id: _push_pull(FSMirrorXComBackend, value, run_id),
        setup=_new_run,
        rounds=ROUNDS,
        iterations=1,
        warmup_rounds=1,
    )
    _check(value, back)
    assert any(p.name.startswith("out.") for p in (_STORE / "fsmirror").rglob("out.*"))


@pytest.mark.parametrize("case", sorted(VALUES))
def test_builtin_objectstorage_backend(benchmark: Any, case: str) -> None:
    benchmark.group = f"row11-{case}"
    benchmark.extra_info.update(_extra(case, "baseline"))
    value = VALUES[case]
    back = benchmark.pedantic(
        lambda run_id: _push_pull(XComObjectStorageBackend, value, run_id),
        setup=_new_run,
        rounds=ROUNDS,
        iterations=1,
        warmup_rounds=1,
    )
    _check(value, back)
    assert any((_STORE / "builtin" / DAG_ID).rglob("*"))
