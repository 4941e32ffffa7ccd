"""Dagster definitions for the distributed test: assets and an op job on the dagster-celery executor.

``raw`` feeds two branches (``doubled`` -> ``total`` and ``squares``); the ops job
fans ``load`` out to two ``scale`` ops. Each step runs in whichever Celery worker
takes it; every output goes through ``FSMirrorIOManager`` to S3.
"""

from __future__ import annotations

import os
import time

from dagster_celery import celery_executor

from dagster import Definitions, In, asset, define_asset_job, job, op
from fsmirror_dagster import FSMirrorIOManager


def _work() -> None:
    time.sleep(1.0)  # long enough that both workers take steps


@asset
def raw() -> list[int]:
    _work()
    return [1, 2, 3, 4]


@asset
def doubled(raw: list[int]) -> list[int]:
    _work()
    return [2 * x for x in raw]


@asset
def squares(raw: list[int]) -> list[int]:
    _work()
    return [x * x for x in raw]


@asset
def total(doubled: list[int]) -> dict[str, int]:
    return {"total": sum(doubled), "pid": os.getpid()}


@op
def load() -> list[int]:
    _work()
    return [5, 6, 7]


@op(ins={"values": In()})
def scale(values: list[int]) -> int:
    _work()
    return sum(values) * 10


@job(executor_def=celery_executor)
def ops_job() -> None:
    data = load()
    scale.alias("scale_a")(data)
    scale.alias("scale_b")(data)


assets_job = define_asset_job("assets_job", executor_def=celery_executor)

defs = Definitions(
    assets=[raw, doubled, squares, total],
    jobs=[assets_job, ops_job],
    resources={"io_manager": FSMirrorIOManager(mirror="project")},
)
