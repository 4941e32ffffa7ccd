"""The ``fsmirror`` Airflow plugin: macros plus the listener the XCom backend relies on.

Registered through the ``airflow.plugins`` entry point, so installing
``fsmirror[airflow]`` is the whole set-up.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from ._listener import TaskLocator
from .macros import path

__all__ = ["FSMirrorPlugin"]


class FSMirrorPlugin(AirflowPlugin):
    """``{{ macros.fsmirror.path(...) }}`` and the running-task listener."""

    name = "fsmirror"
    macros = [path]  # noqa: RUF012 - Airflow reads these class attributes
    listeners = [TaskLocator()]  # noqa: RUF012
