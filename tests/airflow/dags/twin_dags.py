"""Two DAGs in one file, same schedule, same task ids: their paths must never meet."""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def compute(out: str) -> str:
    """A classic PythonOperator callable, used by two tasks: each gets its own directory."""
    return out


for _dag_id in ("twin_a", "twin_b"):
    with DAG(_dag_id, schedule="@daily", start_date=dt.datetime(2026, 1, 1), catchup=False) as _dag:
        BashOperator(task_id="render", bash_command="echo {{ macros.fsmirror.path() }}")
        BashOperator(
            task_id="render_csv",
            bash_command="echo {{ macros.fsmirror.path(output_name='orders', output_format='csv') }}",
        )
        BashOperator(
            task_id="render_address",
            bash_command=(
                "echo {{ macros.fsmirror.path('aipipeline/models/train.py::Trainer', "
                "mirror='aipipeline', output=False) }}"
            ),
        )
        BashOperator.partial(
            task_id="render_mapped", bash_command="echo {{ macros.fsmirror.path() }}"
        ).expand(env=[{"SHARD": "a"}, {"SHARD": "b"}])
        for _task_id in ("compute", "compute_again"):
            PythonOperator(
                task_id=_task_id, python_callable=compute, op_kwargs={"out": "{{ macros.fsmirror.path() }}"}
            )
    globals()[_dag_id] = _dag
