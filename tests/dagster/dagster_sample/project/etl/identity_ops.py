"""Ops for the Core v3 identity tests: an op reused in one job.

No ``from __future__ import annotations``: Dagster reads ``context`` annotations at definition time.
Jobs carry their IO manager (``EnvVar`` fields) so ``reconstructable()`` can re-execute them.
"""

from dagster import (
    EnvVar,
    StaticPartitionsDefinition,
    in_process_executor,
    job,
    op,
)
from fsmirror_dagster import FSMirrorIOManager

_io = FSMirrorIOManager(mirror=EnvVar("FSMIRROR_DAGSTER_MIRROR"), config_path=EnvVar("FSMIRROR_CONFIG_PATH"))

days = StaticPartitionsDefinition(["d1", "d2"])


# -- one op, two nodes (Dagster's documented op-reuse pattern) ---------------------------------


@op
def start() -> int:
    return 1


@op
def add_1(x: int) -> int:
    return x + 1


@op
def total(x: int) -> int:
    return x


@job(executor_def=in_process_executor, resource_defs={"io_manager": _io})
def reuse_job() -> None:
    """Nodes start, add_1, add_1_2, total: add_1 runs twice in every run."""
    total(add_1(add_1(start())))


@job(executor_def=in_process_executor, resource_defs={"io_manager": _io}, partitions_def=days)
def partitioned_reuse_job() -> None:
    """The same graph in a partitioned run: add_1_2's instance is (node, partition key)."""
    total(add_1(add_1(start())))
