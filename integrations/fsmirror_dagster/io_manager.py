"""``FSMirrorIOManager``: Dagster outputs stored at mirrored, run-scoped paths.

Dagster's built-in IO managers key outputs by asset key or step and overwrite
them on every run. This one keys them by where the producing function lives and
by Dagster's own run id, so every run keeps its outputs and the path tells you
which code made them. All path and storage work is the core's
(:meth:`fsmirror.FSMirror.write` / ``read``); this module is Dagster glue:

- where to write: :mod:`fsmirror_dagster._locate` (the function; the instance:
  the node when a function runs as several nodes, and the partition; the run id;
  the step's retry number as the attempt; the output name);
- what to read, per partition: the producing run's artifact (this run, or the
  parent run on re-execution) when that run made it; else the upstream asset's
  latest materialization in the instance's event log, whose ``uri`` metadata
  says exactly which artifact it was; else, for an upstream declared with a
  code address (``fsmirror/address``: written outside Dagster, e.g. by a Luigi
  task), the store's latest committed run of that address.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    ConfigurableIOManager,
    DataVersion,
    Failure,
    InputContext,
    MetadataValue,
    OutputContext,
    TableColumn,
    TableSchema,
)
from fsmirror import ArtifactNotFoundError, FSMirror, FSMirrorError, lineage, load_config
from fsmirror.integration import mirror_for
from fsmirror.paths.runid import RunId

from ._lineage import step_scope
from ._locate import (
    ADDRESS_METADATA_KEY,
    OUTPUT_NAME_METADATA_KEY,
    Slot,
    declared_address,
    describe_output,
    output_attempt,
    output_location,
    output_name,
    step_key,
    user_fn,
)

if TYPE_CHECKING:
    from dagster import DagsterInstance

__all__ = [
    "FSMirrorIOManager",
    "URI_METADATA_KEY",
    "PATH_METADATA_KEY",
    "DAGSTER_URI_METADATA_KEY",
    "ADDRESS_METADATA_KEY",
    "OUTPUT_NAME_METADATA_KEY",
    "content_data_version",
]

URI_METADATA_KEY = "uri"
"""The output metadata key holding the artifact's URI; cross-run loads read it back."""

PATH_METADATA_KEY = "path"
"""The artifact's URI under the key ``UPathIOManager`` and ``FilesystemIOManager`` use."""

DAGSTER_URI_METADATA_KEY = "dagster/uri"
"""The artifact's URI under Dagster's ``UriMetadataSet`` key (text, as that set writes it)."""

ALLOW_MISSING_PARTITIONS_KEY = "allow_missing_partitions"
"""Input definition metadata (``AssetIn(metadata=...)``): skip upstream partitions that were never stored."""


class _Missing(Exception):
    """An upstream partition with nothing to read (``allow_missing_partitions`` may skip it)."""


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
    Subclasses may override :meth:`get_metadata` to add output metadata.
    """

    mirror: str = Field(description="The mirror of the fsmirror config to store outputs under.")
    config_path: str | None = Field(
        default=None,
        description="Path to the fsmirror config YAML; default: $FSMIRROR_CONFIG_PATH.",
    )
    content_data_version: bool = Field(
        default=True,
        description=(
            "Report each asset materialization's content hash (the manifest's, e.g. 'blake3:<hex>') as "
            "its Dagster data version, so Dagster's staleness follows content, not only code versions. "
            "An Output(data_version=...) or context.set_data_version() of the asset's own code wins."
        ),
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
            # one mirror per config file version, fork-safe (the multiprocess executor forks)
            fmt = self.output_format
            return mirror_for(path, self.mirror, settings=None if fmt in (None, "auto") else {"output_format": fmt})
        except FSMirrorError as e:
            raise Failure(
                description=f"FSMirrorIOManager(mirror={self.mirror!r}, config_path={path or None!r}): {e}"
            ) from e

    # -- outputs ---------------------------------------------------------------------

    def get_metadata(self, context: OutputContext, obj: Any) -> dict[str, Any]:
        """Extra output metadata; override in a subclass (as ``UPathIOManager.get_metadata``)."""
        return {}

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Write ``obj`` through the core (atomic, no clobber) and attach URI, size and table metadata."""
        fm = self._fm()
        what = describe_output(context)
        partition = _output_partition(context)
        loc = output_location(fm, context, partition)
        attempt = output_attempt(context)
        orchestrator: dict[str, Any] = {
            "name": "dagster",
            "run_id": context.run_id,
            "job_name": _optional(lambda: context.job_name),
            "step_key": step_key(context),
            "output_name": output_name(context),
            "asset_key": context.asset_key.to_user_string() if context.has_asset_key else None,
            "partition": partition,
        }
        if loc.node is not None:
            orchestrator["node"] = loc.node
        try:
            with _entered(step_scope(context, _job(fm, loc.obj))):
                # attempt=: a retry of the step replaces what its earlier try committed (a try that
                # stored one output and then failed would otherwise block every retry)
                uri = fm.write(
                    loc.obj,
                    obj,
                    run_id=loc.run_id,
                    format="auto" if self.output_format == "auto" else None,
                    partition=loc.instance,
                    output_name=loc.output_name,
                    run_source="dagster",
                    orchestrator=orchestrator,
                    attempt=attempt,
                )
        except FSMirrorError as e:
            raise Failure(description=f"fsmirror could not store {what}: {e}") from e
        context.log.debug(f"fsmirror: wrote output {output_name(context)!r} to {uri}")
        manifest = uri.manifest  # the write returns its committed manifest: no second read
        # Also for None: it is stored like any value (unlike UPathIOManager, which writes it but
        # records no path), and a later run finds it only through this metadata.
        metadata: dict[str, Any] = {
            URI_METADATA_KEY: MetadataValue.path(uri),
            PATH_METADATA_KEY: MetadataValue.path(uri),
            DAGSTER_URI_METADATA_KEY: MetadataValue.text(uri),
            "size_bytes": MetadataValue.int(int(manifest.size)),
            "format": MetadataValue.text(str(manifest.format)),
            **_table_metadata(obj),
        }
        metadata.update(self.get_metadata(context, obj))
        context.add_output_metadata(metadata)
        if self.content_data_version:
            _report_data_version(context, content_data_version(manifest.hash.algorithm, manifest.hash.digest))

    # -- inputs ----------------------------------------------------------------------

    def load_input(self, context: InputContext) -> Any:
        """Load the upstream value Dagster means, partition by partition (module docstring)."""
        fm = self._fm()
        partitioned = context.has_asset_partitions
        keys: list[str | None] = list(context.asset_partition_keys) if partitioned else [None]
        if not keys:
            return None
        allow_missing = bool((context.definition_metadata or {}).get(ALLOW_MISSING_PARTITIONS_KEY, False))
        values: dict[str | None, Any] = {}
        step = step_scope(context, _job(fm, _optional(lambda: user_fn(context.op_def))))
        for pk in keys:
            try:
                uri, read = self._upstream(fm, context, pk)
                context.log.debug(
                    f"fsmirror: loading input {_input_name(context)!r}"
                    + (f" partition {pk!r}" if pk is not None else "")
                    + f" from {uri}"
                )
                with _entered(step):  # the read is noted as an input of the step
                    values[pk] = read()
            except (_Missing, ArtifactNotFoundError) as e:
                if allow_missing and partitioned:
                    context.log.warning(
                        f"fsmirror: skipped partition {pk!r} of input {_input_name(context)!r}: {e} "
                        f"(the input's metadata sets {ALLOW_MISSING_PARTITIONS_KEY}=True)"
                    )
                    continue
                raise Failure(description=f"fsmirror could not load {_describe_input(context)}: {e}") from e
            except FSMirrorError as e:
                raise Failure(description=f"fsmirror could not load {_describe_input(context)}: {e}") from e
        if len(keys) == 1:  # unpartitioned, or one partition: the value itself (as UPathIOManager does)
            return values.get(keys[0])
        return values  # several partitions: {partition key: value}

    def _upstream(
        self, fm: FSMirror, context: InputContext, partition: str | None
    ) -> tuple[str, Callable[[], Any]]:
        """(URI, reader) of the artifact ``context`` should read for ``partition``; ``_Missing`` if none.

        The URI is for the run log; the reader reads the same artifact by its slot (the core's
        ``read`` does not say which URI it read, so naming it costs one manifest read).
        """
        upstream = context.upstream_output
        key = step_key(upstream) if upstream is not None else None
        if upstream is not None and key is not None and key != "none":
            # Produced by a step of this run (or of the parent run, on re-execution). A partition
            # that run did not make (an AllPartitionMapping) comes from its own run, below.
            if context.has_asset_key and context.has_asset_partitions:
                stored_here = partition
            elif context.has_asset_key:
                stored_here = None
            else:  # an op output: stored under the run's partition
                stored_here = context.partition_key if context.has_partition_key else None
            loc = output_location(fm, upstream, stored_here)
            try:
                return _committed(fm, loc.slot)
            except ArtifactNotFoundError:
                # a parent run written by fsmirror 2.0 stored a node's output under the scoped run
                # id (run id, node): one more look there before the event log
                v2 = loc.v2_slot
                old = _committed_or_none(fm, v2) if v2 is not None else None
                if old is not None:
                    return old
                if not (context.has_asset_key and context.has_asset_partitions):
                    raise
        if not context.has_asset_key:
            raise _Missing("no upstream step and no asset key to look up")
        asset = context.asset_key
        where = f"asset {asset.to_user_string()!r}" + (f" partition {partition!r}" if partition else "")
        found, why = self._materialized_uri(context, asset, partition)
        if found is not None:
            return found, lambda: fm.read_uri(found)
        declared = declared_address(upstream) if upstream is not None else None
        if declared is not None:
            # Declared with a code address: written outside this instance's event log (a Luigi
            # task, another deployment). The store's newest committed run of that address.
            meta = (upstream.definition_metadata if upstream is not None else None) or {}
            out = meta.get(OUTPUT_NAME_METADATA_KEY)
            stem = str(getattr(out, "value", out)) if out else None
            try:
                man = fm.manifest(declared, run_id="latest", partition=partition, output_name=stem)
            except ArtifactNotFoundError as e:
                raise _Missing(f"{where} is declared at {declared!r}, {why}, and {e}") from e
            run = man["run"]["id"]
            run_id: RunId = tuple(run) if isinstance(run, list) else str(run)  # exactly the run latest found
            return str(man["uri"]), lambda: fm.read(
                declared, run_id=run_id, partition=partition, output_name=stem
            )
        raise _Missing(
            f"cannot load {where}: {why}; materialize it first (or include it in the selection), or "
            f"declare where it is stored with definition metadata {{{ADDRESS_METADATA_KEY!r}: "
            "'path/to/module.py::name'}"
        )

    @staticmethod
    def _materialized_uri(
        context: InputContext, key: AssetKey, partition: str | None
    ) -> tuple[str | None, str]:
        """(the ``uri`` of ``key``'s latest materialization of ``partition``, or None; why not)."""
        try:
            instance: DagsterInstance = context.instance
        except Exception:  # build_input_context() without instance=
            return None, "the context has no Dagster instance to look its materialization up in"
        if partition is None:
            entry = instance.get_latest_materialization_event(key)
        else:
            records = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
            ).records
            entry = records[0].event_log_entry if records else None
        mat = entry.asset_materialization if entry is not None else None
        if entry is None or mat is None:
            return None, "this Dagster instance has no materialization of it"
        value = mat.metadata.get(URI_METADATA_KEY)
        uri = getattr(value, "path", None) or getattr(value, "value", None)
        if not isinstance(uri, str) or not uri:
            return None, (
                f"its latest materialization (run {entry.run_id}) has no {URI_METADATA_KEY!r} metadata: "
                "it was not stored by FSMirrorIOManager (or its value was None and an earlier "
                "FSMirrorIOManager, which recorded no metadata for None, stored it); re-materialize it "
                "with this IO manager"
            )
        return uri, ""


def content_data_version(algorithm: str, digest: str) -> str:
    """The Dagster data version of an artifact with this content hash: ``'<algorithm>:<hex digest>'``.

    Equal bytes give equal versions whatever run or code wrote them; the algorithm is part of
    the value so that versions hashed differently never compare equal by accident.
    """
    return f"{algorithm}:{digest}"


def _report_data_version(context: OutputContext, version: str) -> None:
    """Make ``version`` the data version of the asset materialization this output becomes.

    Dagster 1.13 builds the materialization event after ``handle_output`` returns, taking the
    data version from the step's data versions when the output itself carries none (the
    store ``OpExecutionContext.set_data_version`` writes to): setting it here is how an IO
    manager reports one (dagster#15584). A version already set by the asset's code, or an
    ``Output(data_version=...)`` (which Dagster prefers), is left alone. Outside a step
    (``build_output_context``) or for an op output there is no asset to version.
    """
    if not context.has_asset_key:
        return
    try:
        step = context.step_context
    except Exception:  # build_output_context() without a step context
        return
    has, put = getattr(step, "has_data_version", None), getattr(step, "set_data_version", None)
    if has is None or put is None:  # a Dagster without the step's data versions: keep Dagster's own
        context.log.debug("fsmirror: this Dagster cannot take a data version from an IO manager")
        return
    key = context.asset_key
    if not has(key):
        put(key, DataVersion(version))


def _committed(fm: FSMirror, slot: Slot) -> tuple[str, Callable[[], Any]]:
    """(URI, reader) of the artifact committed at ``slot``; ``ArtifactNotFoundError`` if none."""
    uri = fm.artifact_uri(
        slot.obj, run_id=slot.run_id, partition=slot.partition, output_name=slot.output_name
    )
    return uri, lambda: fm.read(
        slot.obj, run_id=slot.run_id, partition=slot.partition, output_name=slot.output_name
    )


def _committed_or_none(fm: FSMirror, slot: Slot) -> tuple[str, Callable[[], Any]] | None:
    """As :func:`_committed`, None when nothing is there (a fallback slot that may be empty)."""
    try:
        return _committed(fm, slot)
    except ArtifactNotFoundError:
        return None


def _job(fm: FSMirror, obj: Any) -> str | None:
    """The code address a step's scope is named by (None when the code does not resolve)."""
    if obj is None:
        return None
    try:
        return lineage.job_of(fm, obj)
    except FSMirrorError:
        return None


def _entered(s: lineage.Scope | None) -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext() if s is None else lineage.entered(s)


def _optional(get: Any) -> Any:
    try:
        return get()
    except Exception:  # a field build_output_context() was not given
        return None


def _output_partition(context: OutputContext) -> str | None:
    """A partitioned asset's partition key; an op output's is the run's (None for unpartitioned assets)."""
    if context.has_asset_key:
        if not context.has_asset_partitions:
            return None
        try:
            return str(context.asset_partition_key)
        except Exception as e:  # a range: one artifact per partition is the contract
            raise Failure(
                description=f"fsmirror stores one artifact per partition; {describe_output(context)} "
                f"covers a partition range ({e}); run one partition per run"
            ) from e
    if context.has_partition_key:
        return str(context.partition_key)
    return None


def _input_name(context: InputContext) -> str:
    name = _optional(lambda: context.name)
    return str(name) if name else "(unnamed)"


def _describe_input(context: InputContext) -> str:
    asset = f" (asset {context.asset_key.to_user_string()!r})" if context.has_asset_key else ""
    return f"input {_input_name(context)!r}{asset}"
