"""The request counts docs/protocol.md states, counted on real S3 requests (moto, behind a latency proxy).

Counted with a botocore event hook on the s3fs client (``benchmarks/_requests.py``), so every
HTTP attempt counts. The proxy (15 ms each way) makes "in sequence" observable: two requests are
concurrent when the second was sent before the first was answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from benchmarks._proxy import LatencyProxy
from benchmarks._requests import count_requests

from fsmirror import FSMirror

ADDR = "project/etl/my_etl_task.py::LiftDataTask"


@pytest.fixture(scope="module")
def proxied(s3_server: Any) -> Iterator[dict[str, Any]]:
    with LatencyProxy(target_port=s3_server.port, delay=0.015) as proxy:
        opts = {**s3_server.storage_options()}
        opts["client_kwargs"] = {**opts.get("client_kwargs", {}), "endpoint_url": proxy.endpoint_url}
        yield opts


@pytest.fixture
def fm(s3_server: Any, proxied: dict[str, Any]) -> FSMirror:
    storage = {"provider": "s3", "tenant": s3_server.new_bucket(), "storage_options": proxied}
    return FSMirror(
        {"storage": storage, "mirrors": {"project": {"root": "project", "output_format": "json"}}}
    )


def test_a_small_write_is_three_requests_two_puts_in_sequence(fm: FSMirror) -> None:
    fm.write(ADDR, {"warm": 1}, run_id="r0")  # connections and bucket region, not the protocol
    with count_requests(fm.filesystem) as seen:
        fm.write(ADDR, {"v": 1}, run_id="r1")
    assert dict(seen) == {"PutObject": 3}, seen.sequence
    assert seen.depth(methods={"PUT"}) == 2  # the data and the index entry go at once


def test_reads_latest_runs_and_exists(fm: FSMirror) -> None:
    for i in range(5):
        fm.write(ADDR, {"v": i}, run_id=f"r{i}")
    with count_requests(fm.filesystem) as read_latest:
        assert fm.read(ADDR) == {"v": 4}
    assert dict(read_latest) == {"ListObjectsV2": 1, "GetObject": 2}
    with count_requests(fm.filesystem) as read_one:
        assert fm.read(ADDR, run_id="r2") == {"v": 2}
    assert dict(read_one) == {"GetObject": 2}
    with count_requests(fm.filesystem) as latest:
        assert fm.latest(ADDR) == "r4"
    assert dict(latest) == {"ListObjectsV2": 1, "GetObject": 1}
    with count_requests(fm.filesystem) as exists:
        assert fm.exists(ADDR, run_id="r3") and not fm.exists(ADDR, run_id="nope")
    assert dict(exists) == {"GetObject": 2}
    with count_requests(fm.filesystem) as runs:
        assert fm.runs(ADDR) == [f"r{i}" for i in range(5)]
    assert dict(runs) == {"ListObjectsV2": 2}  # cells and index: no read per run


def test_runs_over_100_runs_costs_its_listing_pages(fm: FSMirror, s3_server: Any) -> None:
    direct = FSMirror(
        {
            **fm.config.model_dump(),
            "storage": {**fm.config.storage.model_dump(), "storage_options": s3_server.storage_options()},
        }
    )  # set up without the proxy
    for i in range(100):
        direct.write(ADDR, i, run_id=f"r{i:03d}")
    with count_requests(fm.filesystem) as runs:
        assert fm.runs(ADDR) == [f"r{i:03d}" for i in range(100)]
    assert dict(runs) == {"ListObjectsV2": 2}  # 300 objects: one page each


def test_delete_overwrite_and_gc(fm: FSMirror) -> None:
    for i in range(10):
        fm.write(ADDR, {"v": i}, run_id=f"r{i}")
    with count_requests(fm.filesystem) as delete:
        assert fm.delete(ADDR, run_id="r0")
    assert dict(delete) == {"GetObject": 1, "PutObject": 1, "ListObjectsV2": 1, "DeleteObject": 3}
    with count_requests(fm.filesystem) as overwrite:
        fm.write(ADDR, {"v": "again"}, run_id="r1", overwrite=True)
    assert dict(overwrite) == {"GetObject": 1, "CopyObject": 1, "PutObject": 4, "DeleteObject": 2}
    with count_requests(fm.filesystem) as gc:
        assert fm.gc(ADDR, keep=1) == [f"r{i}" for i in range(2, 10)]
    assert fm.runs(ADDR) == ["r1"]  # the overwrite made r1 the newest
    # gc orders runs by their manifests (docs/protocol.md): the cells' listing and every cell, then
    # each delete (its cell, its pin re-read after its pending record, its sidecar listing, ...),
    # then the hint check.
    assert gc["ListObjectsV2"] == 1 + 8 + 1
    assert gc["GetObject"] == 9 + 8 + 8
    assert gc.total() == 1 + 9 + 8 * 7 + 1
