"""The ``fsmirror`` Airflow plugin: macros plus the listener the XCom backend relies on.

Registered through the ``airflow.plugins`` entry point, so installing
``fsmirror[airflow]`` is the whole set-up.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from ._listener import TaskLocator
from .macros import path

try:  # with Airflow's OpenLineage provider, Airflow steps report to it (fsmirror_airflow._openlineage)
    from ._openlineage import install as _openlineage

    _openlineage()
except Exception:  # lineage reporting never stops the plugin from loading
    import logging

    logging.getLogger("airflow.plugins").warning("fsmirror: OpenLineage set-up failed", exc_info=True)

__all__ = ["FSMirrorPlugin"]


class FSMirrorPlugin(AirflowPlugin):
    """``{{ macros.fsmirror.path(...) }}`` and the running-task listener."""

    name = "fsmirror"
    macros = [path]  # noqa: RUF012 - Airflow reads these class attributes
    listeners = [TaskLocator()]  # noqa: RUF012
