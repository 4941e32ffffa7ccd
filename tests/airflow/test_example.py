"""``examples/airflow`` stays loadable: the README points users at it."""

from __future__ import annotations

from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "airflow"


def test_example_dag_parses() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE / "aipipeline" / "dags" / "orders.py"))
    assert not bag.import_errors, bag.import_errors
    assert sorted(bag.dags["orders"].task_ids) == ["city_totals", "export", "load_orders", "report"]
    assert (EXAMPLE / "fsmirror.yml").is_file()
