"""Run the example flow and show where its results landed.

    pip install 'fsmirror[prefect,pandas]'
    python examples/prefect/run.py

Without PREFECT_API_URL, Prefect starts a temporary local server for the run.
Artifacts go to ``$FSMIRROR_EXAMPLE_STORE`` (default: ``examples/prefect/artifacts``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("FSMIRROR_EXAMPLE_STORE", str(HERE / "artifacts"))
sys.path.insert(0, str(HERE))

import pyarrow.parquet as pq  # noqa: E402

from fsmirror_prefect import FSMirrorStorage  # noqa: E402

# One-time setup: save the block (Prefect loads it by slug in every worker).
FSMirrorStorage(mirror="etl", config_path=str(HERE / "fsmirror.yml")).save("example-etl", overwrite=True)

from etl.pipeline import etl, lift_data  # noqa: E402  (the decorators load the saved block)


def main() -> None:
    state = etl(days=5, return_state=True)
    flow_run_id = str(state.state_details.flow_run_id)
    fm = FSMirrorStorage.load("example-etl").fsmirror()
    uri = fm.artifact_uri(lift_data.fn, run_id=flow_run_id)
    print(f"flow run {flow_run_id}: {state.name}")
    print(f"lift_data stored at {uri}")
    print(pq.read_table(uri).to_pandas().head())  # plain pyarrow, no Prefect
    print(f"manifest: {fm.manifest(lift_data.fn, run_id=flow_run_id)['orchestrator']}")


if __name__ == "__main__":
    main()
