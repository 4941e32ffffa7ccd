"""fsmirror for Airflow: a path macro and an XCom backend keyed on Airflow's own run id.

``pip install 'fsmirror[airflow]'`` registers the ``fsmirror`` plugin (entry point
``airflow.plugins``), which gives ``{{ macros.fsmirror.path() }}`` in every templated
field (files a task writes there are recorded when it succeeds; ``post_execute=
fsmirror_airflow.commit_outputs`` records them before). Set
``AIRFLOW__CORE__XCOM_BACKEND=fsmirror_airflow.FSMirrorXComBackend`` to store XCom
values at the producing task's mirrored path. A task's history is per DAG (and map
index): its instance is :func:`dag_partition`; what fsmirror 2.0 wrote for a mapped
task is under :func:`legacy_partition`.

Names load on first access, so Airflow importing the plugin entry point does not
pull in the XCom machinery (and the other way round), avoiding import cycles.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FSMirrorXComBackend",
    "FSMirrorPlugin",
    "path",
    "commit_outputs",
    "dag_partition",
    "legacy_partition",
    "get_mirror",
    "task_location",
    "task_target",
]


def __getattr__(name: str) -> Any:
    if name == "FSMirrorXComBackend":
        from .xcom import FSMirrorXComBackend

        return FSMirrorXComBackend
    if name == "FSMirrorPlugin":
        from .plugin import FSMirrorPlugin

        return FSMirrorPlugin
    if name == "path":
        from .macros import path

        return path
    if name == "commit_outputs":
        from ._outputs import commit_outputs

        return commit_outputs
    if name in ("task_location", "task_target", "dag_partition", "legacy_partition", "get_mirror"):
        from . import _locate

        return getattr(_locate, name)
    raise AttributeError(f"module 'fsmirror_airflow' has no attribute {name!r}")
