"""One file per XCom key: the return value and a key named like its stem never share a file.

fsmirror 2.0 stored the key ``out`` and the return value both as ``out.<fmt>`` (the mirror's
``output_name``), with overwrite: whichever was pushed last won, silently. Real ``dag.test()``
runs; the assertions are on what landed in storage and what the downstream tasks received.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import DAG_MIRRORS, xcom_rows
from fsmirror import FSMirror

REF = "__fsmirror_xcom__"


def _escape(run_id: str) -> str:
    return run_id.replace(":", "~3A").replace("+", "~2B")


@pytest.mark.parametrize("provider", ["local", "s3"])
def test_each_xcom_key_has_its_own_file(
    provider: str,
    run_dag: Callable[..., Any],
    airflow_db: Path,
    request: pytest.FixtureRequest,
    fsmirror_config: Any,
) -> None:
    cfg = fsmirror_config(request.getfixturevalue(f"{provider}_config")(mirrors=DAG_MIRRORS))
    fm = FSMirror(cfg, mirror="dags")
    dr = run_dag("xcom_keys", "xcom_keys")
    assert dr.state == "success"

    base = f"{fm.base}/dags/xcom_keys/xcom_keys@{_escape(dr.run_id)}"
    stored = {
        # (a) multiple_outputs: the dict is the return value (out.json), its key 'out' is xcom-out.json
        ("split", "return_value"): (f"{base}/split/xcom_keys/out.json", {"out": 1, "extra": 2}),
        ("split", "out"): (f"{base}/split/xcom_keys/xcom-out.json", 1),
        ("split", "extra"): (f"{base}/split/xcom_keys/extra.json", 2),
        ("take", "return_value"): (f"{base}/take/xcom_keys/out.json", [1, 2, {"out": 1, "extra": 2}]),
        # (b) xcom_push(key="out", value=5), then return 7
        ("push_then_return", "out"): (f"{base}/push_then_return/xcom_keys/xcom-out.json", 5),
        ("push_then_return", "return_value"): (f"{base}/push_then_return/xcom_keys/out.json", 7),
        ("pull_both", "return_value"): (
            f"{base}/pull_both/xcom_keys/out.json",
            {"out": 5, "return_value": 7},
        ),
        # keys that are no file stem, or start like an escaped one: escaped, one file each
        ("odd_keys", "a.b:c"): (f"{base}/odd_keys/xcom_keys/xcom-a~2Eb~3Ac.json", "dotted"),
        ("odd_keys", "xcom-out"): (f"{base}/odd_keys/xcom_keys/xcom-xcom-out.json", "prefixed"),
        ("pull_odd", "return_value"): (
            f"{base}/pull_odd/xcom_keys/out.json",
            ["dotted", "prefixed", "inline"],
        ),
    }
    rows = xcom_rows(airflow_db, "xcom_keys", dr.run_id)
    assert rows == {
        **{(t, -1, k): {REF: uri, "mirror": "dags"} for (t, k), (uri, _) in stored.items()},
        ("odd_keys", -1, "_private"): "inline",  # Airflow's own keys start with '_': kept in the DB
    }
    fs = fm.filesystem
    assert {k: json.loads(fs.cat_file(uri)) for k, (uri, _) in stored.items()} == {
        k: value for k, (_, value) in stored.items()
    }
    for (_, key), (uri, _) in stored.items():
        man = fm.manifest_uri(uri)
        assert (man["orchestrator"]["xcom_key"], man["output_name"]) == (key, uri.rsplit("/", 1)[1][:-5])
    written = sorted(p for p in fs.find(base) if not p.rsplit("/", 1)[-1].startswith("_"))
    assert written == sorted(fs._strip_protocol(uri) for uri, _ in stored.values())  # nothing else

    # The return value is the task's series under the mirror's output name; the key 'out' is its own.
    where = "dags/xcom_keys.py::push_then_return"
    assert fm.read(where, partition="xcom_keys") == 7
    assert fm.read(where, partition="xcom_keys", output_name="xcom-out") == 5


def test_private_and_overlong_keys_stay_inline(
    local_config: Callable[..., Path], fsmirror_config: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A key starting with '_' (Airflow's extra links: ``_link_<Class>``) and one whose escaped stem
    would pass 200 characters are kept in the DB as Airflow stores them; 'k' * 196 still fits."""
    from fsmirror_airflow import FSMirrorXComBackend
    from fsmirror_airflow.xcom import xcom_output_name

    fm = FSMirror(fsmirror_config(local_config(mirrors=DAG_MIRRORS)), mirror="dags")
    ids = {"dag_id": "etl", "task_id": "load", "run_id": "r1"}
    assert FSMirrorXComBackend.serialize_value("https://x", key="_link_Docs", **ids) == "https://x"
    assert FSMirrorXComBackend.serialize_value([1], key="k." * 100, **ids) == [1]
    assert any("too long to name a file" in r.getMessage() for r in caplog.records)
    assert xcom_output_name("k" * 196, "out") == "k" * 196
    assert xcom_output_name("k" * 196, "out", taken=True) is None  # xcom- + 196 > 200
    ref = FSMirrorXComBackend.serialize_value([2], key="k" * 196, **ids)
    assert ref == {REF: f"{fm.base}/dags/_airflow/etl/etl@r1/load/etl/{'k' * 196}.json", "mirror": "dags"}
    assert fm.filesystem.ls(f"{fm.base}/dags/_airflow/etl/etl@r1/load/etl", detail=False) == [
        f"{fm.base}/dags/_airflow/etl/etl@r1/load/etl/{name}"
        for name in (f"_{'k' * 196}.manifest.json", f"{'k' * 196}.json")
    ]
