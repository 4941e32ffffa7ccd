"""examples/dagster/ is runnable: its Definitions materialize through FSMirrorIOManager."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from conftest import stored_files
from dagster import DagsterInstance
from fsmirror.paths.runid import encode_run_id

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dagster"


def test_example_definitions_materialize(
    local_config: Any, instance: DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = local_config(
        mirrors={"aipipeline": {"root": "aipipeline", "output_name": "out", "output_format": "parquet"}}
    )
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(config))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    definitions = importlib.import_module("definitions")
    job = definitions.defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance,
        asset_selection=[definitions.assets.raw_orders.key, definitions.assets.order_totals.key],
    )
    assert result.success
    seg = encode_run_id(result.run_id)
    landed = {f for f in stored_files(tmp_path / "store") if not f.rsplit("/", 1)[-1].startswith("_")}
    assert landed == {
        f"aipipeline/etl/assets/{seg}/raw_orders/out.parquet",
        f"aipipeline/etl/assets/{seg}/order_totals/out.parquet",
    }
