"""Shared set-up of the ports of Dagster's own IO manager tests.

The ports live in ``tests/dagster/upstream/``, so a mirror whose ``root`` is
``upstream`` mirrors them: an op defined in ``test_upstream_fs_io_manager.py``
lands under ``<store>/upstream/test_upstream_fs_io_manager/<run id>/...``.
Upstream defines its ops and assets inside the test functions; fsmirror
addresses such factory-made definitions as ``<enclosing function>.<Dagster name>``
(docs/dagster.md, "How paths and run ids are derived"), so ``op_a`` defined in
``define_job`` is stored under the name ``define_job.op_a``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fsmirror.paths.identity import Instance, instance_segment
from fsmirror.paths.runid import RunId, encode_run_id
from fsmirror_dagster import FSMirrorIOManager

MIRROR = "upstream"


def upstream_config(local_config: Any, output_format: str = "pkl") -> Path:
    """A local store whose mirror's root is this directory; pickles, as FilesystemIOManager writes."""
    return Path(
        local_config(
            mirrors={MIRROR: {"root": "upstream", "output_name": "out", "output_format": output_format}}
        )
    )


def fsmirror_io_manager(config: Path, **kw: Any) -> FSMirrorIOManager:
    return FSMirrorIOManager(mirror=MIRROR, config_path=str(config), **kw)


def artifact(
    store: Path, module: str, run_id: RunId, name: str, partition: Instance | None = None, ext: str = "pkl"
) -> Path:
    """Where fsmirror's documented layout puts one artifact: ``<module>/<run>/<name>/[<instance>/]out.<ext>``.

    The instance is a partition key, or a tuple ``(node, partition key)`` written ``node@key``.
    """
    base = store / "upstream" / module / encode_run_id(run_id) / name
    segment = instance_segment(partition)
    return (base / segment if segment else base) / f"out.{ext}"


def artifacts(store: Path) -> set[str]:
    """Every data file in the store (no manifests, pointers or the core's scratch), relative to it."""
    if not store.exists():
        return set()
    found = {p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()}
    return {f for f in found if not f.startswith(".fsmirror/") and not f.rsplit("/", 1)[-1].startswith("_")}
