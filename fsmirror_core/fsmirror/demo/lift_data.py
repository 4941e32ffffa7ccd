"""An example pipeline: the code tree that ``fsmirror demo`` mirrors into a local store.

``fsmirror demo`` copies this file to ``fsmirror-demo/project/etl/lift_data.py``
and runs it; each step's output lands at
``fsmirror-demo/store/project/etl/lift_data/<run id>/<step>/out.<format>``,
so the artifact tells you which code made it, and the code where its artifact is.
"""

from __future__ import annotations

from typing import Any


def extract() -> Any:
    """Rides per city and day: a DataFrame, stored as parquet (the mirror's format)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "city": ["Lisbon", "Lisbon", "Porto", "Porto", "Faro", "Faro"],
            "day": ["2026-11-23", "2026-11-24"] * 3,
            "rides": [1320, 1411, 870, 902, 240, 251],
        }
    )


def summarize(rides: Any) -> dict[str, Any]:
    """Totals per city: a dict, which parquet cannot hold, so it falls back to JSON."""
    totals = rides.groupby("city")["rides"].sum()
    return {"rows": len(rides), "rides_per_city": {str(k): int(v) for k, v in totals.items()}}


def train(rides: Any) -> dict[str, Any]:
    """A tiny 'model' (mean rides per city), stored as a pickle on request."""
    means = rides.groupby("city")["rides"].mean()
    return {"kind": "mean-per-city", "means": {str(k): float(v) for k, v in means.items()}}
