"""Read asset values back through Dagster (the instance's latest materializations + the IO manager)."""

import json

from pipeline.defs import defs

from dagster import AssetKey, DagsterInstance

with DagsterInstance.get() as instance:
    print("VALUES " + json.dumps({k: defs.load_asset_value(AssetKey(k), instance=instance)
                                  for k in ("raw", "doubled", "squares", "total")}))
