"""Code fingerprints of Airflow tasks named by their id, not by their code (issue #21).

A TaskFlow task nested in the ``@dag`` function, a task group's task, a task reused
(``square__1``) or renamed (``.override(task_id=...)``), and a BashOperator are located by
the DAG file and the task id; their manifests must still say which code made them, so
``fsmirror stale`` right after a run reports nothing, and an edit to one task's body makes
exactly that task stale. Real ``dag.test()`` runs on a local store, a real ``fsmirror stale``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conftest import DAG_MIRRORS
from fsmirror import FSMirror
from fsmirror.cli import cli
from fsmirror.paths.address import CodeAddress
from fsmirror.paths.runid import encode_run_id

DAY = dt.datetime(2026, 11, 25, 9, 40, tzinfo=dt.timezone.utc)

DAG_TEXT = '''\
"""Five ways Airflow names a task by its id: each must get a fingerprint."""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import dag, task, task_group


@task
def square(x: int) -> int:
    return x * x


@dag(schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False)
def fingerprints() -> None:
    export = BashOperator(task_id="export", bash_command="echo exported")

    @task
    def load() -> int:
        return 41 + 1

    @task_group
    def grp(x: int) -> None:
        @task
        def double(v: int) -> int:
            return v * 2

        double(x)
        square(x)

    load()
    grp(5)
    square(2)
    square(3)
    square.override(task_id="renamed")(4)
    export


fingerprints()
'''

# task id -> the definition recorded in code.definition (None: the address's own name)
DEFINITIONS = {
    "load": "fingerprints.load",
    "grp.double": "fingerprints.grp.double",
    "grp.square": "square",
    "square": None,
    "square__1": "square",
    "renamed": "square",
    "export": "fingerprints.export",
}


def _run(path: Path, dag_id: str) -> Any:
    """dag.test() of a DAG file outside the dags folder: parsed, then synced to the DB as the folder's would be."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)
    return bag.get_dag(dag_id).test(logical_date=DAY, run_after=DAY)


def _stale(cfg: Path, mirror: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["--config", str(cfg), "stale", "--mirror", mirror], catch_exceptions=False)
    return r.exit_code, r.output


def _bump(path: Path) -> None:
    """Move the mtime on, as an editor's save does (fingerprints are cached by mtime and size)."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_tasks_named_by_id_are_fingerprinted_and_fresh_after_their_run(
    tmp_path: Path,
    airflow_db: Path,
    local_config: Callable[..., Path],
    fsmirror_config: Any,
) -> None:
    cfg = fsmirror_config(local_config(mirrors=DAG_MIRRORS))
    dag_file = tmp_path / "project" / "dags" / "fingerprints.py"
    dag_file.parent.mkdir(parents=True)
    dag_file.write_text(DAG_TEXT)
    dr = _run(dag_file, "fingerprints")
    assert dr.state == "success"
    fm = FSMirror(cfg, mirror="dags")
    parts = tuple(p for p in str(dag_file).split("/") if p)
    for task_id, definition in DEFINITIONS.items():
        code = fm.manifest(
            CodeAddress(parts, task_id), run_id=("fingerprints", dr.run_id), partition="fingerprints"
        )["code"]
        assert code["address"] == f"dags/fingerprints.py::{task_id}"
        assert code.get("definition") == definition, task_id
        assert code["fingerprint"] is not None and code["fingerprint_self"] is not None, task_id

    assert _stale(cfg, "dags") == (
        0,
        "nothing stale: 7 latest artifact(s) made by today's code from their inputs' latest runs\n",
    )

    # One nested task's body edited: that task, and only it, is stale.
    dag_file.write_text(DAG_TEXT.replace("return 41 + 1", "return 41 + 2"))
    _bump(dag_file)
    segment = encode_run_id(("fingerprints", dr.run_id))
    assert _stale(cfg, "dags") == (
        1,
        f"dags/fingerprints.py::load  partition fingerprints  run {segment}: code changed\n"
        "1 of 7 latest artifact(s) stale\n",
    )

    # The BashOperator's command edited: the operator, and only it.
    dag_file.write_text(DAG_TEXT.replace("echo exported", "echo changed"))
    _bump(dag_file)
    assert _stale(cfg, "dags") == (
        1,
        f"dags/fingerprints.py::export  partition fingerprints  run {segment}: code changed\n"
        "1 of 7 latest artifact(s) stale\n",
    )


LOCATED = """\
import datetime as dt

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, dag

with DAG("flat", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    export = BashOperator(task_id="export", bash_command="echo flat")
    BashOperator(task_id="loose", bash_command="echo loose")


@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def nested() -> None:
    t1 = BashOperator(task_id="export", bash_command="echo nested")
    t1


nested()
"""


def test_operators_are_found_by_their_variable_else_the_dag_function_else_the_file(tmp_path: Path) -> None:
    """Where the adapter looks for an operator's code (parsed only, no run needed)."""
    from airflow.dag_processing.dagbag import DagBag

    from fsmirror.model.fingerprint import definition_fingerprint
    from fsmirror_airflow import task_location

    path = tmp_path / "dags" / "located.py"
    path.parent.mkdir()
    path.write_text(LOCATED)
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    found = {
        (dag_id, task_id): task_location(bag.get_dag(dag_id).get_task(task_id)).definition
        for dag_id, task_id in (("flat", "export"), ("flat", "loose"), ("nested", "export"))
    }
    assert found == {
        ("flat", "export"): "export",  # the module-level assignment in the 'with DAG' block
        ("flat", "loose"): "<module>",  # not assigned: the whole file
        ("nested", "export"): "nested.export",  # no variable 'export' in nested(): the whole DAG function
    }
    assert definition_fingerprint(path, "nested.export") == definition_fingerprint(path, "nested")


def _produce_outside() -> int:
    return 1


def test_a_task_not_assigned_to_a_dag_is_located_without_one() -> None:
    # Airflow 3's ``task.dag`` raises RuntimeError (not AttributeError) for an operator that is in no
    # DAG yet, as a test harness runs one: the location must not ask for it.
    from airflow.providers.standard.operators.python import PythonOperator

    from fsmirror_airflow import task_location

    op = PythonOperator(task_id="produce_elsewhere", python_callable=_produce_outside)
    assert not op.has_dag()
    loc = task_location(op)
    assert isinstance(loc, CodeAddress)
    assert str(loc).endswith("tests/airflow/test_fingerprints.py::produce_elsewhere"), str(loc)
    assert loc.definition == "_produce_outside"
