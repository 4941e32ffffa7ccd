"""``FSMirrorIOManager``: Dagster outputs stored at mirrored, run-scoped paths.

Dagster's built-in IO managers key outputs by asset key or step and overwrite
them on every run. This one keys them by where the producing function lives and
by Dagster's own run id, so every run keeps its outputs and the path tells you
which code made them. All path and storage work is the core's
(:meth:`fsmirror.FSMirror.write` / ``read``); this module is Dagster glue:

- where to write: the op's or asset's own function, ``context.run_id``, the
  output name (multi-output ops only) and the partition;
- what to read: the producing run Dagster names (this run, or the parent run on
  re-execution), else the upstream asset's latest materialization in the
  instance's event log, whose ``uri`` metadata says exactly which artifact it was.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    ConfigurableIOManager,
    Failure,
    InputContext,
    MetadataValue,
    OutputContext,
    TableColumn,
    TableSchema,
)
from fsmirror import FSMirror, FSMirrorError, load_config

if TYPE_CHECKING:
    from dagster import DagsterInstance

__all__ = ["FSMirrorIOManager", "URI_METADATA_KEY"]

URI_METADATA_KEY = "uri"
"""The output metadata key holding the artifact's URI; cross-run loads read it back."""

_NO_RUN = "__EPHEMERAL_RUN_ID"  # dagster's placeholder when an upstream was not produced by a known run


@functools.lru_cache(maxsize=32)
def _cached_mirror(path: str, _stamp: tuple[int, int], mirror: str, output_format: str | None) -> FSMirror:
    """One FSMirror per (config file version, mirror, format) per process.

    Dagster builds the IO manager for every step; re-reading and validating the
    YAML each time would be most of the adapter's cost on small outputs. The
    file's mtime and size are part of the key, so an edited config is re-read.
    """
    if output_format in (None, "auto"):
        return FSMirror(config=path, mirror=mirror)
    raw = load_config(path)
    mirrors = raw.get("mirrors")
    if isinstance(mirrors, dict) and isinstance(mirrors.get(mirror), dict):
        raw["mirrors"] = {**mirrors, mirror: {**mirrors[mirror], "output_format": output_format}}
    fm = FSMirror(config=raw, mirror=mirror)
    fm.source = path
    return fm


def _user_fn(op_def: Any) -> Any:
    """The function the user decorated (``@asset``, ``@op``, ``@multi_asset``): its code location is the path."""
    compute_fn = op_def.compute_fn
    return getattr(compute_fn, "decorated_fn", compute_fn)


def _output_name(fm: FSMirror, out: Any) -> str | None:
    """The artifact's file stem for an OutputContext.

    None (the mirror's ``output_name``) for a single output, else the Dagster
    output name. Dynamic outputs and the steps mapped over them share function,
    run and output name, so their mapping keys are appended (``out-a``), taken from
    the output (``DynamicOutput``) and from the step key (``process[a]``).
    """
    stem = None if len(out.op_def.output_defs) == 1 else out.name
    keys = [k for k in (_step_mapping_key(out.step_key), out.mapping_key) if k]
    if not keys:
        return stem
    return "-".join([stem or fm.settings.output_name, *keys])


def _step_mapping_key(step_key: str) -> str | None:
    """``process[a]`` -> ``a`` (a step mapped over a dynamic output), else None."""
    if step_key.endswith("]") and "[" in step_key:
        return step_key[step_key.rindex("[") + 1 : -1]
    return None


def _table_metadata(obj: Any) -> dict[str, Any]:
    """Row count and column schema for pandas / polars DataFrames and pyarrow Tables (no imports)."""
    module = type(obj).__module__.split(".")[0]
    try:
        if module == "pandas" and hasattr(obj, "dtypes"):
            rows = len(obj)
            cols = [(str(c), str(t)) for c, t in obj.dtypes.items()]
        elif module == "pyarrow" and hasattr(obj, "schema") and hasattr(obj, "num_rows"):
            rows = int(obj.num_rows)
            cols = [(f.name, str(f.type)) for f in obj.schema]
        elif module == "polars" and hasattr(obj, "height") and hasattr(obj, "schema"):
            rows = int(obj.height)
            cols = [(str(c), str(t)) for c, t in obj.schema.items()]
        else:
            return {}
    except Exception:  # metadata is a courtesy: never fail a stored output over it
        return {}
    return {
        "dagster/row_count": MetadataValue.int(rows),
        "dagster/column_schema": MetadataValue.table_schema(
            TableSchema(columns=[TableColumn(name=c, type=t) for c, t in cols])
        ),
    }


class FSMirrorIOManager(ConfigurableIOManager):  # type: ignore[misc]
    """Store each output at ``<mirror>/<module path>/<run id>/<function>/out.<fmt>``.

    Example:
        >>> Definitions(assets=[...], resources={"io_manager": FSMirrorIOManager(mirror="aipipeline")})
        ... # doctest: +SKIP

    ``project/etl/assets.py::lift_data`` materialized in run ``8c1f...`` lands at
    ``<tenant>/project/etl/assets/8c1f.../lift_data/out.parquet`` (with the mirror's
    layout), beside a manifest naming the Dagster run, step, asset key and partition.
    """

    mirror: str = Field(description="The mirror of the fsmirror config to store outputs under.")
    config_path: str | None = Field(
        default=None,
        description="Path to the fsmirror config YAML; default: $FSMIRROR_CONFIG_PATH.",
    )
    output_format: str | None = Field(
        default=None,
        description=(
            "Format for outputs instead of the mirror's output_format (e.g. 'pkl', 'parquet'); "
            "'auto' picks by value (tables -> parquet, bytes -> bytes, JSON-able -> json)."
        ),
    )

    # -- the mirror ----------------------------------------------------------------

    def _fm(self) -> FSMirror:
        path = self.config_path or os.environ.get("FSMIRROR_CONFIG_PATH") or ""
        try:
            st = os.stat(path) if path else None
        except OSError:
            st = None
        try:
            if st is None:  # let the core say what is wrong with the path
                load_config(path or None)
            stamp = (st.st_mtime_ns, st.st_size) if st is not None else (0, 0)
            return _cached_mirror(os.path.abspath(path), stamp, self.mirror, self.output_format)
        except FSMirrorError as e:
            raise Failure(
                description=f"FSMirrorIOManager(mirror={self.mirror!r}, config_path={path or None!r}): {e}"
            ) from e

    # -- outputs ---------------------------------------------------------------------

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Write ``obj`` through the core (atomic, no clobber) and attach URI, size and table metadata."""
        fm = self._fm()
        what = _describe_output(context)
        partition = _output_partition(context)
        try:
            fn = _user_fn(context.op_def)
            orchestrator: dict[str, Any] = {
                "name": "dagster",
                "run_id": context.run_id,
                "job_name": context.job_name,
                "step_key": context.step_key,
                "output_name": context.name,
                "asset_key": context.asset_key.to_user_string() if context.has_asset_key else None,
                "partition": partition,
            }
            uri = fm.write(
                fn,
                obj,
                run_id=context.run_id,
                format="auto" if self.output_format == "auto" else None,
                partition=partition,
                output_name=_output_name(fm, context),
                run_source="dagster",
                orchestrator=orchestrator,
            )
            committed = uri.manifest  # the write returns its committed manifest: no second read
        except FSMirrorError as e:
            raise Failure(description=f"fsmirror could not store {what}: {e}") from e
        context.add_output_metadata(
            {
                URI_METADATA_KEY: MetadataValue.path(uri),
                "size_bytes": MetadataValue.int(committed.size),
                "format": MetadataValue.text(committed.format),
                **_table_metadata(obj),
            }
        )

    # -- inputs ----------------------------------------------------------------------

    def load_input(self, context: InputContext) -> Any:
        """Load the upstream value Dagster means: its producing run's, else its latest materialization's."""
        fm = self._fm()
        upstream = context.upstream_output
        keys: Sequence[str | None] = context.asset_partition_keys if context.has_asset_partitions else [None]
        if not keys:
            return None
        what = _describe_input(context)
        try:
            if upstream is not None and upstream.run_id != _NO_RUN and upstream.step_key != "none":
                # Produced by a step of this run, or of the parent run on re-execution.
                op_def = upstream.op_def
                fn, out = _user_fn(op_def), _output_name(fm, upstream)
                values = {
                    pk: fm.read(fn, run_id=upstream.run_id, partition=pk, output_name=out) for pk in keys
                }
            elif context.has_asset_key:
                values = {
                    pk: fm.read_uri(self._materialized_uri(context.instance, context.asset_key, pk))
                    for pk in keys
                }
            else:
                raise Failure(
                    description=f"fsmirror cannot load {what}: no upstream step and no asset key to look up"
                )
        except FSMirrorError as e:
            raise Failure(description=f"fsmirror could not load {what}: {e}") from e
        if len(keys) == 1:  # unpartitioned, or one partition: the value itself (as UPathIOManager does)
            return next(iter(values.values()))
        return values  # several partitions: {partition key: value}

    @staticmethod
    def _materialized_uri(instance: DagsterInstance, key: AssetKey, partition: str | None) -> str:
        """The artifact of ``key``'s latest materialization (of ``partition``) per the event log."""
        if partition is None:
            entry = instance.get_latest_materialization_event(key)
        else:
            records = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
            ).records
            entry = records[0].event_log_entry if records else None
        where = f"asset {key.to_user_string()!r}" + (f" partition {partition!r}" if partition else "")
        mat = entry.asset_materialization if entry is not None else None
        if entry is None or mat is None:
            raise Failure(
                description=f"fsmirror cannot load {where}: this Dagster instance has no materialization "
                "of it; materialize it first (or include it in the selection)"
            )
        value = mat.metadata.get(URI_METADATA_KEY)
        uri = getattr(value, "path", None) or getattr(value, "value", None)
        if not isinstance(uri, str) or not uri:
            raise Failure(
                description=f"fsmirror cannot load {where}: its latest materialization (run {entry.run_id}) "
                f"has no {URI_METADATA_KEY!r} metadata, so it was not stored by FSMirrorIOManager; "
                "re-materialize it with this IO manager"
            )
        return uri


def _output_partition(context: OutputContext) -> str | None:
    if context.has_asset_partitions:
        try:
            return str(context.asset_partition_key)
        except Exception as e:  # a range: one artifact per partition is the contract
            raise Failure(
                description=f"fsmirror stores one artifact per partition; {_describe_output(context)} "
                f"covers a partition range ({e}); run one partition per run"
            ) from e
    if context.has_partition_key:
        return str(context.partition_key)
    return None


def _describe_output(context: OutputContext) -> str:
    asset = f" (asset {context.asset_key.to_user_string()!r})" if context.has_asset_key else ""
    try:
        fn = _user_fn(context.op_def)
        code = f" defined at {fn.__code__.co_filename}::{fn.__qualname__}"
    except Exception:
        code = ""
    return f"output {context.name!r} of step {context.step_key!r}{asset}{code}"


def _describe_input(context: InputContext) -> str:
    asset = f" (asset {context.asset_key.to_user_string()!r})" if context.has_asset_key else ""
    return f"input {context.name!r}{asset}"
