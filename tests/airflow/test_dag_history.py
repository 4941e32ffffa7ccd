"""A DAG's history is its own: two DAGs from one factory run the same code, yet never share latest or gc.

``twin_dags.py`` builds ``twin_a`` and ``twin_b`` from one loop; their ``compute``
tasks run one callable (located by the DAG file and the task id), so the code
address is the same for both. The partition (the DAG id) keeps the series apart.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import DAG_MIRRORS
from fsmirror import FSMirror
from fsmirror.cli import cli
from fsmirror.paths.address import CodeAddress
from fsmirror_airflow import dag_partition

DAG_FILE = Path(__file__).parent / "dags" / "twin_dags.py"
COMPUTE = CodeAddress(tuple(p for p in str(DAG_FILE).split("/") if p), "compute")
ADDRESS = "dags/twin_dags.py::compute"  # what a person types: the code address under the mirror's root
DAYS = [dt.datetime(2026, 11, d, tzinfo=dt.timezone.utc) for d in (1, 2)]


def _cli(cfg: Path, *args: str) -> Any:
    result = CliRunner().invoke(
        cli, ["--config", str(cfg), *args, "--mirror", "dags"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("provider", ["local", "s3"])
def test_two_dags_from_one_factory_keep_their_own_history(
    provider: str, run_dag: Callable[..., Any], request: pytest.FixtureRequest, fsmirror_config: Any
) -> None:
    cfg = fsmirror_config(request.getfixturevalue(f"{provider}_config")(mirrors=DAG_MIRRORS))
    fm = FSMirror(cfg, mirror="dags")
    runs: dict[str, list[str]] = {"twin_a": [], "twin_b": []}
    # Interleaved: the last run overall is twin_b's, so a shared series would give twin_a's latest to twin_b.
    for day in DAYS:
        for dag_id in ("twin_a", "twin_b"):
            dr = run_dag("twin_dags", dag_id, logical_date=day, run_after=day)
            assert dr.state == "success"
            runs[dag_id].append(dr.run_id)

    for dag_id, ids in runs.items():
        part = dag_partition(dag_id)
        assert part == dag_id
        assert fm.runs(COMPUTE, partition=part) == [(dag_id, r) for r in ids]
        assert fm.latest(COMPUTE, partition=part) == (dag_id, ids[-1])
        shown = json.loads(_cli(cfg, "show", ADDRESS, "--partition", dag_id, "--json").output)
        assert shown["run"]["id"] == [dag_id, ids[-1]]
        assert shown["orchestrator"]["dag_id"] == dag_id

    # Mapped task instances: one series per DAG and map index.
    mapped = CodeAddress(COMPUTE.file_parts, "render_mapped")
    assert dag_partition("twin_a", 1) == ("twin_a", "1")
    assert fm.latest(mapped, partition=("twin_a", "1")) == ("twin_a", runs["twin_a"][-1])
    assert fm.runs(mapped, partition=("twin_b", "0")) == [("twin_b", r) for r in runs["twin_b"]]
    shown = json.loads(
        _cli(cfg, "show", "dags/twin_dags.py::render_mapped", "--partition", "twin_a@1", "--json").output
    )
    assert shown["run"]["id"] == ["twin_a", runs["twin_a"][-1]] and shown["partition"] == ["twin_a", "1"]

    # gc --keep 1 keeps each DAG's newest run (it used to delete twin_a's: twin_b held "latest").
    listed = json.loads(_cli(cfg, "runs", ADDRESS, "--json").output)
    assert {(a["partition"], a["latest"]) for a in listed if a["latest"]} == {
        ("twin_a", True),
        ("twin_b", True),
    }
    gone = json.loads(_cli(cfg, "gc", ADDRESS, "--keep", "1", "--json").output)["deleted"]
    assert sorted((d["partition"], tuple(d["run_id"])) for d in gone) == [
        ("twin_a", ("twin_a", runs["twin_a"][0])),
        ("twin_b", ("twin_b", runs["twin_b"][0])),
    ]
    for dag_id, ids in runs.items():
        assert fm.runs(COMPUTE, partition=dag_id) == [(dag_id, ids[-1])]
        assert fm.read(COMPUTE, partition=dag_id).endswith(f"/compute/{dag_id}/out.parquet")
