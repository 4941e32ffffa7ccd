"""An artifact written under a task id that is not a Python name (Airflow's ``load-orders``) is
found again by its string address: read, manifest, lookup and ``fsmirror show``."""

from __future__ import annotations

from typing import Any

import pytest

from fsmirror.paths.address import CodeAddress


@pytest.fixture(params=["local", "s3"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_task_id_address_reads_back_what_the_adapter_wrote(make_mirror: Any) -> None:
    fm = make_mirror(output_format="json")
    written = fm.write(CodeAddress(("project", "dags", "etl.py"), "load-orders"), {"rows": 3}, run_id="r1")
    address = "project/dags/etl.py::load-orders"
    assert str(written) == fm.mirror_full_output(address, run_id="r1").rsplit(".", 1)[0] + ".json"
    assert fm.read(address) == {"rows": 3}
    assert fm.manifest(address)["code"]["qualname"] == "load-orders"
    assert fm.lookup(address).uri == str(written)
    fm.write(CodeAddress(("project", "dags", "etl.py"), "load-orders"), {"rows": 4}, run_id="r2")
    assert fm.runs(address) == ["r1", "r2"]
    assert fm.gc(address, keep=1) == ["r1"]
    assert fm.read(address) == {"rows": 4}
