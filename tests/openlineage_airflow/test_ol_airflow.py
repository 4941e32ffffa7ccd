"""With Airflow's OpenLineage provider, fsmirror's artifacts are in the provider's task events and
fsmirror sends no run of its own for Airflow tasks (real ``dag.test()``, the provider's file transport)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from ol_support import validate

from conftest import DAGS, EVENTS


def test_the_providers_task_events_carry_fsmirrors_datasets(
    airflow_db: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    store = tmp_path / "store"
    cfg = tmp_path / "fsmirror.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "storage": {"provider": "local", "tenant": str(store)},
                "mirrors": {"dags": {"root": "dags", "prefix": "MIRROR", "output_name": "out", "output_format": "json"}},
            }
        )
    )
    monkeypatch.setenv("AIRFLOW__FSMIRROR__CONFIG_PATH", str(cfg))
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "lineage_dag.py"))
    assert not bag.import_errors, bag.import_errors
    dr = bag.get_dag("lineage_dag").test()
    assert dr.state == "success"
    from fsmirror import openlineage as fol

    assert fol.installed() is not None  # fsmirror's emitter is on ...
    fol.flush()
    events = [json.loads(line) for line in EVENTS.read_text().splitlines()]
    for e in events:
        validate(e)
    assert not [e for e in events if e["producer"].startswith("pkg:pypi/fsmirror")]  # ... and left these alone
    tasks = {
        e["job"]["name"]: e
        for e in events
        if e.get("eventType") == "COMPLETE" and e["job"]["name"].startswith("lineage_dag.")
    }
    base = f"{store}/dags/lineage_dag"
    names = {t: {(d["namespace"], d["name"]) for d in e["outputs"]} for t, e in tasks.items()}
    # run-free names: no "lineage_dag@manual__..." segment, though the files are under it
    assert names["lineage_dag.extract"] == {
        ("file", f"{base}/extract/lineage_dag/out.json"), ("file", f"{base}/extract/lineage_dag/rows.json"),
    }  # fmt: skip
    assert ("file", f"{base}/transform/lineage_dag/out.json") in names["lineage_dag.transform"]
    transform = tasks["lineage_dag.transform"]
    assert ("file", f"{base}/extract/lineage_dag/out.json") in {(i["namespace"], i["name"]) for i in transform["inputs"]}
    assert transform["run"]["facets"]["parent"]["job"]["name"] == "lineage_dag"  # the provider's DAG run
    assert transform["job"]["namespace"] == "airflow-test"
