"""Links from an orchestrator record to the orchestrator's UI: exact pages, only for bases that are set."""

from __future__ import annotations

from fsmirror.services.links import bases_from_env, links

BASES = {
    "prefect": "http://127.0.0.1:4200",
    "airflow": "http://127.0.0.1:8080",
    "dagster": "http://127.0.0.1:3000",
}


def test_each_orchestrators_run_page() -> None:
    prefect = {"flow_run_id": "f-1", "task_run_id": "t-1", "flow_name": "etl"}
    assert links(prefect, BASES) == [
        "http://127.0.0.1:4200/runs/flow-run/f-1",
        "http://127.0.0.1:4200/runs/task-run/t-1",
    ]
    airflow = {
        "dag_id": "etl",
        "task_id": "lift",
        "run_id": "manual__2026-11-24T18:31:09+00:00",
        "map_index": -1,
    }
    assert links(airflow, BASES) == [
        "http://127.0.0.1:8080/dags/etl/runs/manual__2026-11-24T18%3A31%3A09%2B00%3A00/tasks/lift"
    ]
    assert links({"name": "dagster", "run_id": "abc"}, BASES) == ["http://127.0.0.1:3000/runs/abc"]
    assert links({"name": "luigi", "task_id": "Lift_1_abc"}, BASES) == []


def test_no_base_no_link_and_recorded_urls_are_kept() -> None:
    assert links({"name": "dagster", "run_id": "abc"}, {}) == []
    assert links({"run_url": "https://ci.example/run/9", "x": "ftp://no"}, {}) == ["https://ci.example/run/9"]


def test_bases_come_from_the_orchestrators_own_settings() -> None:
    env = {"PREFECT_UI_URL": "http://h:4200/", "AIRFLOW__API__BASE_URL": "", "OTHER": "x"}
    assert bases_from_env(env) == {"prefect": "http://h:4200"}


def test_a_base_with_credentials_is_printed_without_them() -> None:
    """``show`` prints these links: a UI base set with a password or a token must not print it."""
    env = {
        "FSMIRROR_DAGSTER_URL": "https://admin:hunter2@dagster.example/",
        "PREFECT_UI_URL": "http://h:4200?token=t0k3n&org=a",
    }
    assert bases_from_env(env) == {"dagster": "https://dagster.example", "prefect": "http://h:4200?org=a"}
    assert links({"name": "dagster", "run_id": "abc"}, bases_from_env(env)) == [
        "https://dagster.example/runs/abc"
    ]
