"""``import fsmirror`` must not pull in heavy dependencies: they load on first use."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "fsspec",
    "pydantic",
    "yaml",
    "click",
    "rich",
    "pyarrow",
    "pandas",
    "polars",
    "s3fs",
    "gcsfs",
    "adlfs",
    "boto3",
    "botocore",
    "airflow",
    "dagster",
    "prefect",
    "luigi",
    "duckdb",
]


def test_import_is_light() -> None:
    code = "import sys, json, fsmirror; print(json.dumps(sorted(sys.modules)))"
    loaded = set(
        json.loads(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        )
    )
    assert not [m for m in HEAVY if m in loaded]


def test_resolving_paths_needs_no_fsspec() -> None:
    code = (
        "import sys, json, fsmirror;"
        "fm = fsmirror.FSMirror({'storage': {'provider': 's3', 'tenant': 'b'}, 'mirrors': {'m': {'root': 'p'}}});"
        "fm.mirror_full_output('p/x.py::f', run_id='r');"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = set(
        json.loads(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        )
    )
    assert "fsspec" not in loaded and "s3fs" not in loaded
