"""Tasks that write their own files at ``{{ macros.fsmirror.path(...) }}``: each must end up recorded.

The Python callables open the rendered path through the mirror's own fsspec
filesystem, so the same DAG writes to a local directory or to an S3 bucket
(a real task would use its own client: Spark, pandas, the AWS CLI ...).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, get_current_context

import fsmirror_airflow
from fsmirror_airflow._locate import get_mirror


def _write(path: str, data: bytes) -> None:
    fs = get_mirror().filesystem
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(path, data)


def write_frame(out: str) -> str:
    """Writes its default macro path (``out.parquet``) itself and returns a value: the file owns ``out``."""
    import pandas as pd

    fs = get_mirror().filesystem
    fs.makedirs(out.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(out, "wb") as f:
        pd.DataFrame({"city": ["Oslo", "Lima"], "amount": [12.5, 30.0]}).to_parquet(f)
    return "wrote a frame"


def write_dir(directory: str) -> None:
    """Writes several files into ``path(output=False)``: each plain ``<name>.<format>`` is recorded.

    It also pushes an XCom whose key is no file stem: the backend's escaped file lands in the same
    directory and must not be taken for one of the task's files.
    """
    _write(f"{directory}/model.txt", b"weights")
    _write(f"{directory}/metrics.json", json.dumps({"auc": 0.9}).encode())
    _write(f"{directory}/_scratch.txt", b"fsmirror-style bookkeeping names are left alone")
    _write(f"{directory}/no good.txt", b"a name that is not <name>.<format>")
    get_current_context()["ti"].xcom_push(key="model.v2", value="pushed")  # stored as xcom-model~2Ev2


def write_json(out: str) -> None:
    _write(out, json.dumps({"rows": 2}).encode())


def flaky_writer(out: str) -> None:
    """Try 1 writes the file and fails; try 2 writes other bytes and succeeds: try 2's file is recorded."""
    try_number = get_current_context()["ti"].try_number
    _write(out, json.dumps({"try": try_number}).encode())
    if try_number == 1:
        raise RuntimeError("first try fails after writing its file")


def sabotaged_writer(out: str) -> None:
    """Writes its file, then puts a file where the store's scratch directory must go: recording fails."""
    _write(out, b'{"ok": true}')
    fm = get_mirror()
    fm.filesystem.pipe_file(f"{fm.config.storage.tenant}/.fsmirror", b"not a directory")


with DAG("macro_files", schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False):
    BashOperator(
        task_id="export",
        bash_command=(
            "out={{ macros.fsmirror.path(output_name='orders', output_format='csv') }}; "
            'mkdir -p "$(dirname "$out")" && printf "city,amount\\nOslo,12.5\\n" > "$out"; echo exported'
        ),
    )
    PythonOperator(
        task_id="own_default", python_callable=write_frame, op_kwargs={"out": "{{ macros.fsmirror.path() }}"}
    )
    PythonOperator(
        task_id="own_dir",
        python_callable=write_dir,
        op_kwargs={"directory": "{{ macros.fsmirror.path(output=False) }}"},
    )
    PythonOperator(
        task_id="strict",
        python_callable=write_json,
        op_kwargs={"out": "{{ macros.fsmirror.path(output_name='summary', output_format='json') }}"},
        post_execute=fsmirror_airflow.commit_outputs,
    )
    PythonOperator(
        task_id="strict_default",
        python_callable=write_frame,
        op_kwargs={"out": "{{ macros.fsmirror.path() }}"},
        post_execute=fsmirror_airflow.commit_outputs,
    )


with DAG("macro_retry", schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False):
    PythonOperator(
        task_id="flaky",
        python_callable=flaky_writer,
        op_kwargs={"out": "{{ macros.fsmirror.path(output_name='attempt', output_format='json') }}"},
        retries=1,
        retry_delay=dt.timedelta(0),
    )


def _sabotaged(dag_id: str, **extra: Any) -> None:
    with DAG(dag_id, schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False):
        PythonOperator(
            task_id="sabotaged",
            python_callable=sabotaged_writer,
            op_kwargs={"out": "{{ macros.fsmirror.path(output_name='result', output_format='json') }}"},
            **extra,
        )


_sabotaged("record_fails_strict", post_execute=fsmirror_airflow.commit_outputs)
_sabotaged("record_fails_after_success")
