"""Ops for the Core v3 identity tests: an op reused in one job, and steps that fail after storing an output.

No ``from __future__ import annotations``: Dagster reads ``context`` annotations at definition time.
Jobs carry their IO manager (``EnvVar`` fields) so ``reconstructable()`` can re-execute them.
"""

from collections.abc import Iterator

from dagster import (
    AssetIn,
    AssetKey,
    DynamicOut,
    DynamicOutput,
    EnvVar,
    OpExecutionContext,
    Out,
    Output,
    RetryPolicy,
    StaticPartitionsDefinition,
    asset,
    in_process_executor,
    job,
    multiprocess_executor,
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


# -- a key-prefixed asset: its node shop__basket is not the function's name ---------------------


@asset(key_prefix=["shop"])
def basket() -> int:
    return 5


@asset(ins={"basket": AssetIn(key=AssetKey(["shop", "basket"]))})
def basket_total(basket: int) -> int:
    return basket * 2


# -- a retried step that stored one output before it failed ------------------------------------


@op(out={"left": Out(), "right": Out()}, retry_policy=RetryPolicy(max_retries=2))
def flaky_pair(context: OpExecutionContext) -> Iterator[Output[int]]:
    """Stores ``left``, then fails on the first try only; each try's values say which try made them."""
    n = context.retry_number
    yield Output(10 + n, "left")
    if n == 0:
        raise RuntimeError("the first try fails after storing 'left' (on purpose)")
    yield Output(20 + n, "right")


@op
def pair(left: int, right: int) -> dict[str, int]:
    return {"left": left, "right": right}


@job(executor_def=in_process_executor, resource_defs={"io_manager": _io})
def retry_job() -> None:
    left, right = flaky_pair()
    pair(left, right)


@job(executor_def=multiprocess_executor, resource_defs={"io_manager": _io})
def retry_mp_job() -> None:
    """The same, each try in its own step process (the retry count travels with the step)."""
    left, right = flaky_pair()
    pair(left, right)


# -- a generator op with a dynamic output, retried ---------------------------------------------


@op(out=DynamicOut(), retry_policy=RetryPolicy(max_retries=2))
def flaky_shards(context: OpExecutionContext) -> Iterator[DynamicOutput[int]]:
    """Stores shard ``a``, then fails on the first try only."""
    n = context.retry_number
    yield DynamicOutput(100 + n, mapping_key="a")
    if n == 0:
        raise RuntimeError("the first try fails after storing shard 'a' (on purpose)")
    yield DynamicOutput(200 + n, mapping_key="b")


@op(out=DynamicOut(), retry_policy=RetryPolicy(max_retries=1))
def shrinking_shards(context: OpExecutionContext) -> Iterator[DynamicOutput[int]]:
    """The first try stores shards a and b and fails; the retry yields shard a only."""
    n = context.retry_number
    yield DynamicOutput(100 + n, mapping_key="a")
    if n == 0:
        yield DynamicOutput(200, mapping_key="b")
        raise RuntimeError("the first try fails after storing shards 'a' and 'b' (on purpose)")


@op
def double(x: int) -> int:
    return 2 * x


@op
def gather_all(xs: list[int]) -> list[int]:
    return sorted(xs)


@job(executor_def=in_process_executor, resource_defs={"io_manager": _io})
def dynamic_retry_job() -> None:
    gather_all(flaky_shards().map(double).collect())


@job(executor_def=in_process_executor, resource_defs={"io_manager": _io})
def shrinking_retry_job() -> None:
    gather_all(shrinking_shards().map(double).collect())
