"""Ops that run as several nodes of one job (reused, aliased, inside graphs) and a partitioned op job.

No ``from __future__ import annotations``: Dagster reads ``context`` annotations at definition time.
"""

from typing import Any

from dagster import (
    AllPartitionMapping,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    OpExecutionContext,
    Out,
    StaticPartitionsDefinition,
    asset,
    graph,
    job,
    op,
)
from fsmirror_dagster import ADDRESS_METADATA_KEY

letters = StaticPartitionsDefinition(["a", "b"])


@op
def one() -> int:
    return 1


@op
def add_1(x: int) -> int:
    return x + 1


@graph
def add_3(inp: int) -> int:
    return add_1(add_1(add_1(inp)))


@graph
def add_6(inp: int) -> int:
    return add_3(add_3(inp))  # graphs inside a graph: nodes add_6.add_3.add_1, add_6.add_3_2.add_1_2, ...


@job
def reuse_job() -> None:
    """add_1 as six nodes: reused (add_1_2), aliased (plus), and inside graphs (add_3.add_1, ...)."""
    add_3(add_1.alias("plus")(add_1(add_1(one()))))


@job
def nested_job() -> None:
    add_6(one())


@op
def extract(context: OpExecutionContext) -> dict[str, Any]:
    return {"partition": context.partition_key, "values": [1, 2, 3]}


@op
def total(data: dict[str, Any]) -> dict[str, Any]:
    return {"partition": data["partition"], "total": sum(data["values"])}


@job(partitions_def=letters)
def partitioned_ops_job() -> None:
    """Op outputs of a partitioned run: stored under the run's partition, loaded from it."""
    total(extract())


@asset(partitions_def=letters)
def made_in(context: AssetExecutionContext) -> dict[str, str]:
    return {"partition": context.partition_key, "run_id": context.run.run_id}


@asset(ins={"made_in": AssetIn(partition_mapping=AllPartitionMapping())})
def runs_of_each(made_in: dict[str, dict[str, str]]) -> dict[str, str]:
    """Every partition of made_in, each as its own run made it."""
    return {pk: v["run_id"] for pk, v in made_in.items()}


@asset(partitions_def=letters)
def seed(context: AssetExecutionContext) -> int:
    return 10 if context.partition_key == "a" else 20


seed_plus_3 = AssetsDefinition.from_graph(
    add_3,
    keys_by_input_name={"inp": AssetKey("seed")},
    keys_by_output_name={"result": AssetKey("seed_plus_3")},
    partitions_def=letters,
)


@asset(partitions_def=letters)
def after_graph(seed_plus_3: int) -> int:
    return seed_plus_3 * 2


@asset(key_prefix=["sales"])
def orders() -> int:
    """Its Dagster name is sales__orders, not the function's: a node of its own."""
    return 5


@op(out=Out(metadata={ADDRESS_METADATA_KEY: "project/etl/pinned.py::pinned_total"}))
def pinned_total() -> int:
    """An op output whose code address its metadata names."""
    return 3


@job
def pinned_job() -> None:
    pinned_total()
