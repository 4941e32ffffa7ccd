"""What users write every day: a None value, a @graph_asset, a @multi_asset, factory assets, config.

Used by ``tests/dagster/test_everyday.py``; the file's path under ``project/`` is part of
every artifact's path and code address (``project/etl/everyday.py::...``). No
``from __future__ import annotations``: Dagster resolves a ``Config`` parameter's annotation
at definition time.
"""

from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetOut,
    AssetsDefinition,
    Config,
    DataVersion,
    Output,
    asset,
    graph_asset,
    multi_asset,
    op,
)


@asset
def nothing():  # type: ignore[no-untyped-def]
    """No return annotation: Dagster hands the None to the IO manager (as FilesystemIOManager's tests)."""
    return None


@asset
def got_nothing(nothing: Any) -> str:
    return repr(nothing)


@op
def base() -> int:
    return 20


@op
def plus_one(x: int) -> int:
    return x + 1


@graph_asset
def graphed() -> int:
    return plus_one(base())  # type: ignore[no-any-return]


@multi_asset(outs={"left": AssetOut(), "right": AssetOut()})
def split() -> tuple[int, int]:
    return 1, 2


def make_count(region: str, n: int) -> AssetsDefinition:
    @asset(name=f"{region}_count")
    def count() -> int:
        return n

    return count


eu_count = make_count("eu", 3)
us_count = make_count("us", 4)


class ReadingConfig(Config):
    value: int = 1


@asset
def reading(config: ReadingConfig) -> list[int]:
    """Content that changes with the run's config, not with the code."""
    return [config.value] * 3


@asset(code_version="1")
def summary(reading: list[int]) -> int:
    return sum(reading)


@asset
def versioned() -> Output[int]:
    """The asset's own data version (an Output's) is Dagster's to prefer over the IO manager's."""
    return Output(7, data_version=DataVersion("mine"))


@asset(code_version="1")
def plain() -> int:
    return 7


@asset
def set_in_body(context: AssetExecutionContext) -> int:
    """A data version the asset's code sets is kept: the IO manager does not replace it."""
    context.set_data_version(context.asset_key, DataVersion("set"))
    return 8
