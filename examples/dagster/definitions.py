"""A runnable Dagster project whose outputs are stored by ``FSMirrorIOManager``.

    cd examples/dagster
    python definitions.py            # materialize once, print where everything landed
    dagster dev -f definitions.py    # or browse it in the Dagster UI

Set ``$FSMIRROR_CONFIG_PATH`` to use another config than ``fsmirror.yml`` beside this file.
"""

import os
from pathlib import Path

from aipipeline.etl import assets

from dagster import Definitions, load_assets_from_modules, materialize
from fsmirror_dagster import FSMirrorIOManager

HERE = Path(__file__).resolve().parent

defs = Definitions(
    assets=load_assets_from_modules([assets]),
    resources={
        "io_manager": FSMirrorIOManager(
            mirror="aipipeline",
            config_path=os.environ.get("FSMIRROR_CONFIG_PATH", str(HERE / "fsmirror.yml")),
        )
    },
)

if __name__ == "__main__":
    result = materialize([assets.raw_orders, assets.order_totals], resources=defs.resources)
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        print(mat.asset_key.to_user_string(), "->", mat.metadata["uri"].path)
