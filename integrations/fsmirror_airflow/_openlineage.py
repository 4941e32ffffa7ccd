"""With Airflow's OpenLineage provider: fsmirror's artifacts join the provider's task event.

The provider (``apache-airflow-providers-openlineage``) already emits a START and a
COMPLETE/FAIL for every task instance, with the DAG run as parent. A second run per task
from fsmirror would duplicate it, so for Airflow steps fsmirror sends nothing itself
(:func:`fsmirror.openlineage.defer`) and hands each artifact a task reads or commits to
Airflow's hook-lineage collector (``get_hook_lineage_collector().add_input_asset`` /
``add_output_asset``), as Airflow's own hooks do. The provider reads the collector when the
task ends (its "hook lineage" fallback, for operators without an extractor, such as
``@task``) and puts the datasets into its event.

Each artifact goes in by its stable, run-free URI (``s3://bucket/project/etl/my_etl_task/
LiftDataTask/out.parquet``, ``file:///...``): the provider turns that URI into the same
OpenLineage namespace and name fsmirror would use (with Airflow's converter for the scheme:
``file`` in common-io, ``s3`` in the Amazon provider, ``gs`` in the Google one). The run and
the physical object are in the asset's ``extra`` (``fsmirror``: uri, manifest, run, hash).

Artifacts are reported as they are noted (the lineage listener's ``artifact_read`` /
``artifact_written``), not at the step's end, because the provider's success listener may run
before fsmirror's.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from fsmirror import lineage
from fsmirror.lineage import openlineage as fol
from fsmirror.model.record import Input, Manifest
from fsmirror.paths.identity import Instance

__all__ = ["provider_installed", "HookLineageBridge", "install"]

log = logging.getLogger("airflow.task")


def provider_installed() -> bool:
    """Whether Airflow's OpenLineage provider is importable (it decides itself whether it is enabled)."""
    try:
        return importlib.util.find_spec("airflow.providers.openlineage") is not None
    except ImportError:
        return False


def is_airflow_step(s: Any) -> bool:
    return bool(getattr(s, "key", None)) and str(s.key).startswith("airflow:")


def stable_uri(uri: str, segment: str, partition: Instance | None) -> str:
    """The artifact's URI without its run: what OpenLineage names the dataset in every run."""
    n = fol.dataset_name(uri, segment, partition)
    if n.namespace == "file":
        return "file://" + (n.name if n.name.startswith("/") else "/" + n.name)
    return f"{n.namespace}/{n.name}"


class HookLineageBridge:
    """A lineage listener: every artifact an Airflow step reads or commits, into the collector."""

    def scope_started(self, s: lineage.Scope) -> None:
        pass

    def scope_ended(self, s: lineage.Scope) -> None:
        pass

    def artifact_read(self, s: lineage.Scope, i: Input) -> None:
        if is_airflow_step(s):
            self._add("add_input_asset", s, stable_uri(i.uri, i.run, i.partition), i.uri, i.run, i.output_name,
                      None if i.hash is None else i.hash.digest)  # fmt: skip

    def artifact_written(self, s: lineage.Scope, m: Manifest) -> None:
        if is_airflow_step(s):
            self._add("add_output_asset", s, stable_uri(m.uri, m.segment, m.partition), m.uri, m.segment,
                      m.output_name, m.hash.digest)  # fmt: skip

    @staticmethod
    def _add(method: str, s: lineage.Scope, uri: str, physical: str, run: str, output: str, digest: Any) -> None:
        try:  # Airflow 3.2+; the provider reads the same collector through its compat layer
            from airflow.sdk.lineage import get_hook_lineage_collector
        except ImportError:
            from airflow.providers.common.compat.lineage.hook import (  # type: ignore[assignment,no-redef]
                get_hook_lineage_collector,
            )

        from fsmirror.paths import names

        extra = {
            "fsmirror": {
                "uri": physical,
                "manifest": names.manifest_file(physical.rpartition("/")[0], output),
                "run": run,
                "hash": digest,
            }
        }
        getattr(get_hook_lineage_collector(), method)(context=s, uri=uri, asset_extra=extra)


_bridge: HookLineageBridge | None = None


def install() -> bool:
    """With the provider installed: report Airflow steps' artifacts to the collector and let the
    provider emit for them (fsmirror's emitter skips Airflow steps). False when it is absent."""
    global _bridge
    if not provider_installed():
        return False
    if _bridge is None:
        _bridge = HookLineageBridge()
        lineage.add_listener(_bridge)
        fol.defer(is_airflow_step)
    return True
