"""The data day of a task instance: its DAG run's logical date and data interval.

``serialize_value`` is called with ids only, and a run id says nothing about the data's
day (``manual__<now>`` for a backfill of last week). The running task instance knows it:
its template context holds ``logical_date`` and ``data_interval_start`` / ``_end`` (all
None for a run without a logical date). Recorded in each manifest as the core's
:class:`~fsmirror.model.record.DataTime`, so ``fsmirror ls/show --logical-date`` find
"the artifact for 2026-11-20".
"""

from __future__ import annotations

import logging
from typing import Any

from fsmirror.model.record import DataTime

__all__ = ["data_time"]

log = logging.getLogger("airflow.task")


def data_time(ti: Any) -> DataTime | None:
    """The logical date and data interval of ``ti``'s DAG run; None when it has none or is unknown."""
    context = getattr(ti, "get_template_context", None)
    if context is None:
        return None
    try:
        c = context()  # cached by the task instance: built once per try
        got = DataTime.of(c.get("logical_date"), c.get("data_interval_start"), c.get("data_interval_end"))
    except Exception:  # a half-built task instance: the value still lands, without its day
        log.warning("fsmirror: could not read the logical date of %s", ti, exc_info=True)
        return None
    return got or None
