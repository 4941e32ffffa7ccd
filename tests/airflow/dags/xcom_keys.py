"""XCom keys that 2.0 stored in one file: a key named like the return value's stem, and odd keys.

- ``split`` (``multiple_outputs``) returns ``{"out": 1, "extra": 2}``: Airflow pushes the
  dict as ``return_value`` and each key as its own XCom. The key ``out`` and the return
  value (stored as the mirror's ``output_name``, ``out``) once shared ``out.json``.
- ``push_then_return`` pushes ``out`` = 5 with ``xcom_push``, then returns 7.
- ``odd_keys`` pushes keys that are no file stem (``a.b:c``), look like an escaped stem
  (``xcom-out``), or are Airflow-private (``_private``).

The downstream tasks return what they received, so the test reads it from storage.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, get_current_context, task


@dag(schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False)
def xcom_keys() -> None:
    @task(multiple_outputs=True)
    def split() -> dict[str, int]:
        return {"out": 1, "extra": 2}

    @task
    def take(out: int, extra: int, whole: Any) -> list[Any]:
        return [out, extra, whole]

    @task
    def push_then_return() -> int:
        get_current_context()["ti"].xcom_push(key="out", value=5)
        return 7

    @task
    def pull_both() -> Any:  # not dict-annotated: no multiple_outputs here
        ti = get_current_context()["ti"]
        return {
            "out": ti.xcom_pull(task_ids="push_then_return", key="out"),
            "return_value": ti.xcom_pull(task_ids="push_then_return"),
        }

    @task
    def odd_keys() -> None:
        ti = get_current_context()["ti"]
        for key, value in (("a.b:c", "dotted"), ("xcom-out", "prefixed"), ("_private", "inline")):
            ti.xcom_push(key=key, value=value)

    @task
    def pull_odd() -> list[Any]:
        ti = get_current_context()["ti"]
        return [ti.xcom_pull(task_ids="odd_keys", key=k) for k in ("a.b:c", "xcom-out", "_private")]

    s = split()
    take(s["out"], s["extra"], s)
    push_then_return() >> pull_both()
    odd_keys() >> pull_odd()


xcom_keys()
