"""``{{ macros.fsmirror.path() }}`` rendered by a real BashOperator under ``dag.test()``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import DAG_MIRRORS, rendered_fields, xcom_rows
from fsmirror import FSMirror

DAY = dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)


def _escape(run_id: str) -> str:
    """The run-id escaping spelled out by hand, independent of the core's encoder."""
    return run_id.replace(":", "~3A").replace("+", "~2B")


def test_bash_operator_renders_the_mirrored_path(
    run_dag: Callable[..., Any],
    airflow_db: Path,
    local_config: Callable[..., Path],
    fsmirror_config: Any,
    tmp_path: Path,
) -> None:
    fsmirror_config(local_config(mirrors=DAG_MIRRORS))
    store = tmp_path / "store"
    runs = {
        dag_id: run_dag("twin_dags", dag_id, logical_date=DAY, run_after=DAY)
        for dag_id in ("twin_a", "twin_b")
    }
    assert runs["twin_a"].run_id == runs["twin_b"].run_id  # Airflow repeats run ids across DAGs
    assert all(r.state == "success" for r in runs.values())

    seen = set()
    for dag_id, dr in runs.items():
        slot = f"{dag_id}@{_escape(dr.run_id)}"
        # the partition (the segment after the task) is the DAG id: each DAG's history is its own
        expected = f"{store}/dags/twin_dags/{slot}/render/{dag_id}/out.parquet"
        assert rendered_fields(airflow_db, dag_id, dr.run_id, "render")["bash_command"] == f"echo {expected}"
        # BashOperator pushes its last output line: through the XCom backend, into storage
        ref = xcom_rows(airflow_db, dag_id, dr.run_id)[("render", -1, "return_value")]
        assert ref["__fsmirror_xcom__"] == f"{store}/dags/twin_dags/{slot}/render/{dag_id}/out.json"
        assert Path(ref["__fsmirror_xcom__"]).read_text() == f'"{expected}"'
        seen.add(expected)

        csv = rendered_fields(airflow_db, dag_id, dr.run_id, "render_csv")["bash_command"]
        assert csv == f"echo {store}/dags/twin_dags/{slot}/render_csv/{dag_id}/orders.csv"
        for i in (0, 1):  # mapped: the instance (dag_id, map_index), in the macro and the backend alike
            mapped = f"{store}/dags/twin_dags/{slot}/render_mapped/{dag_id}@{i}"
            assert rendered_fields(airflow_db, dag_id, dr.run_id, "render_mapped", i)["bash_command"] == (
                f"echo {mapped}/out.parquet"
            )
            ref = xcom_rows(airflow_db, dag_id, dr.run_id)[("render_mapped", i, "return_value")]
            assert ref["__fsmirror_xcom__"] == f"{mapped}/out.json"
        for task_id in ("compute", "compute_again"):  # one callable, two tasks: two directories
            ref = xcom_rows(airflow_db, dag_id, dr.run_id)[(task_id, -1, "return_value")]["__fsmirror_xcom__"]
            assert ref == f"{store}/dags/twin_dags/{slot}/{task_id}/{dag_id}/out.json"
            # the macro rendered inside the task and the backend agree on the directory
            assert json.loads(Path(ref).read_text()) == (
                f"{store}/dags/twin_dags/{slot}/{task_id}/{dag_id}/out.parquet"
            )
        addressed = rendered_fields(airflow_db, dag_id, dr.run_id, "render_address")["bash_command"]
        assert addressed == f"echo {store}/aipipeline/models/train/{slot}/Trainer/{dag_id}"
    assert len(seen) == 2


def test_macro_and_backend_agree_with_the_core(
    run_dag: Callable[..., Any], airflow_db: Path, local_config: Callable[..., Path], fsmirror_config: Any
) -> None:
    cfg = fsmirror_config(local_config(mirrors=DAG_MIRRORS))
    dr = run_dag("twin_dags", "twin_a")
    fm = FSMirror(cfg, mirror="dags")
    from fsmirror.paths.address import CodeAddress

    dag_file = Path(__file__).parent / "dags" / "twin_dags.py"
    where = CodeAddress(tuple(p for p in str(dag_file).split("/") if p), "render")
    rendered = rendered_fields(airflow_db, "twin_a", dr.run_id, "render")["bash_command"]
    run = ("twin_a", dr.run_id)
    assert rendered == "echo " + fm.mirror_full_output(where, run_id=run, partition="twin_a")
    assert fm.read(where, run_id=run, partition="twin_a", format=None) == rendered.removeprefix("echo ")
