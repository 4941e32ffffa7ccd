"""Core v3 compatibility: a store written by fsmirror 2.0 stays readable, listable, showable, collectable.

``fixtures/store-v2/`` was written by fsmirror 2.0.0 (``fixtures/make_store_v2.py``) in the shapes
2.0's adapters wrote and Core v3 writes differently: a Dagster node as a scoped run id
(``R1@add_1_2``), an Airflow mapped instance as the partition string ``"etl@0"`` (``etl~400`` on
disk), Luigi's ``task_id`` as the run id, and a run with lineage. v3 reads every one of them by
the ids 2.0 used, lists them, shows them, and writes its own layout beside them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from click.testing import CliRunner

from fsmirror import FSMirror
from fsmirror.cli import cli
from storage.fixtures.make_store_v2 import (
    AIRFLOW_ADDR,
    AIRFLOW_MAPPED,
    AIRFLOW_RUN,
    CONFIG,
    DAGSTER_ADDR,
    DAGSTER_RUNS,
    LUIGI_ADDR,
    LUIGI_RUNS,
    REPORT_ADDR,
    STORE,
)

FIXTURE = Path(__file__).parent / "fixtures" / STORE


def _store(tmp_path: Path, monkeypatch) -> tuple[FSMirror, Path]:
    shutil.copytree(FIXTURE, tmp_path / STORE)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fsmirror.yml").write_text(json.dumps(CONFIG))
    return FSMirror(CONFIG), tmp_path / "fsmirror.yml"


def _cli(cfg: Path, *args: str) -> str:
    r = CliRunner().invoke(cli, ["--config", str(cfg), *args])
    assert r.exit_code == 0, r.output
    return r.output


def test_every_2_0_shape_reads_by_the_ids_2_0_used(tmp_path: Path, monkeypatch) -> None:
    fm, _ = _store(tmp_path, monkeypatch)
    assert fm.runs(DAGSTER_ADDR) == [run for run, _ in DAGSTER_RUNS]
    assert [fm.read(DAGSTER_ADDR, run_id=run) for run, _ in DAGSTER_RUNS] == [v for _, v in DAGSTER_RUNS]
    for partition, value in AIRFLOW_MAPPED.items():
        assert fm.runs(AIRFLOW_ADDR, partition=partition) == [AIRFLOW_RUN]
        assert fm.read(AIRFLOW_ADDR, run_id=AIRFLOW_RUN, partition=partition) == value
    assert fm.runs(LUIGI_ADDR) == list(LUIGI_RUNS)
    assert [fm.read(LUIGI_ADDR, run_id=r) for r in LUIGI_RUNS] == list(LUIGI_RUNS.values())
    report = fm.manifest(REPORT_ADDR)
    assert fm.read(REPORT_ADDR) == {"report": "2026-11-06"}
    assert report.get("attempt", 0) == 0 and fm.find(REPORT_ADDR)[1].attempt == 0
    (inp,) = report["inputs"]
    assert (inp["address"], inp["run"]) == (LUIGI_ADDR, "Extract_2026_11_06_6f7a8b9c0d")


def test_ls_show_and_lineage_over_a_2_0_store(tmp_path: Path, monkeypatch) -> None:
    _, cfg = _store(tmp_path, monkeypatch)
    rows = json.loads(_cli(cfg, "ls", "--json"))
    got = sorted((r["address"], r["segment"], r["partition"]) for r in rows)
    assert got == sorted(
        [(DAGSTER_ADDR, seg, None) for seg in ("R1", "R1@add_1_2", "R2", "R2@add_1_2")]
        + [(AIRFLOW_ADDR, "etl@manual__2026-11-20", p) for p in AIRFLOW_MAPPED]
        + [(LUIGI_ADDR, r, None) for r in LUIGI_RUNS]
        + [(REPORT_ADDR, "R3", None)]
    )
    for r in rows:  # every artifact shows by its URI
        shown = json.loads(_cli(cfg, "show", r["uri"], "--json"))
        assert shown["uri"] == r["uri"] and shown["state"] == "committed"
    # a 2.0 mapped instance by its partition as ls prints it on disk (escaped '@': one part)
    out = json.loads(_cli(cfg, "show", AIRFLOW_ADDR, "-r", "etl@manual__2026-11-20", "-p", "etl~401", "--json"))
    assert out["partition"] == "etl@1" and out["run"]["id"] == list(AIRFLOW_RUN)
    up = json.loads(_cli(cfg, "lineage", REPORT_ADDR, "--json"))
    assert {n["address"] for n in up["nodes"]} == {REPORT_ADDR, LUIGI_ADDR}


def test_gc_of_a_2_0_store_keeps_each_series_newest_and_v3_writes_beside_it(tmp_path: Path, monkeypatch) -> None:
    """2.0 put a Dagster node's runs in the function's series: gc counts them as 2.0 wrote them.
    New runs write the node as an instance, a series of its own (docs/dagster.md)."""
    fm, _ = _store(tmp_path, monkeypatch)
    assert fm.gc(LUIGI_ADDR, keep=2) == []
    assert fm.gc(AIRFLOW_ADDR, keep=1, partition="etl@0") == []
    assert fm.gc(DAGSTER_ADDR, keep=2) == ["R1", ("R1", "add_1_2")]
    assert fm.runs(DAGSTER_ADDR) == ["R2", ("R2", "add_1_2")]
    fm.write(DAGSTER_ADDR, 22, run_id="R3")
    fm.write(DAGSTER_ADDR, 23, run_id="R3", partition="add_1_2")
    assert fm.runs(DAGSTER_ADDR) == ["R2", ("R2", "add_1_2"), "R3"]
    assert fm.runs(DAGSTER_ADDR, partition="add_1_2") == ["R3"]
    assert fm.read(DAGSTER_ADDR, partition="add_1_2") == 23
    assert os.path.exists(f"{STORE}/project/etl/job/R3/add_1/add_1_2/out.json")
