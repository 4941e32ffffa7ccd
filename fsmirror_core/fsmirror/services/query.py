"""SQL over every manifest of a store: ``fsmirror query "SELECT ... FROM artifacts"``.

The manifests are read as :mod:`fsmirror.inventory` reads them (one listing, then
concurrent reads through the mirror's own fsspec-backed store, only committed ones,
damaged ones skipped with a warning), flattened into one row each, and loaded into an
in-memory DuckDB table ``artifacts`` through DuckDB's own JSON reader (no pyarrow or
pandas needed). :data:`COLUMNS` is the one definition
of that table: the loader, ``docs/query.md`` and the tests all read it.

Times are UTC: ``created_at`` is a ``TIMESTAMP`` in UTC and the session's time zone is
UTC, so ``created_at < date_trunc('week', current_date)`` means "before this Monday, UTC".

Example:
    >>> result = query(fm, "SELECT address, count(*) AS runs FROM artifacts GROUP BY address")  # doctest: +SKIP
    >>> result.columns, result.rows[0]                                                          # doctest: +SKIP
    (['address', 'runs'], ('project/etl/lift_data.py::extract', 3))
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import QueryError
from ..paths.identity import Instance, instance_label

if TYPE_CHECKING:
    from ..mirror import FSMirror
    from .inventory import Committed

__all__ = ["Column", "COLUMNS", "QueryResult", "TABLE", "connect", "query", "rows_of"]

TABLE = "artifacts"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a DuckDB type
    doc: str


COLUMNS: tuple[Column, ...] = (
    Column("uri", "VARCHAR", "The artifact's URI: where its bytes are (what `write` returned)."),
    Column("manifest_uri", "VARCHAR", "Where its manifest (the commit marker) is."),
    Column("mirror", "VARCHAR", "The mirror that wrote it."),
    Column("address", "VARCHAR", "The code address, `pkg/mod.py::Name`."),
    Column("module", "VARCHAR", "The module path under the mirror's root, `pkg/mod`."),
    Column("qualname", "VARCHAR", "The qualified name of the code, `Name` or `Class.method`."),
    Column("source_file", "VARCHAR", "The source file's path on the machine that wrote it (or NULL)."),
    Column("source_sha256", "VARCHAR", "sha256 of the source file's bytes."),
    Column(
        "source_git_blob", "VARCHAR", "The source file's git blob id: `git log --all --find-object=<it>`."
    ),
    Column("code", "JSON", "The manifest's whole `code` record (later keys too)."),
    Column("run_id", "VARCHAR", "The run id as the orchestrator gave it; a scoped id's parts joined by `@`."),
    Column("segment", "VARCHAR", "The run's path segment (as `ls` and `runs` print it)."),
    Column(
        "run_source", "VARCHAR", "Where the run id came from: `dagster`, `airflow`, `env`, `generated`..."
    ),
    Column("orchestrator", "JSON", "The orchestrator's ids (run id, job, task, map index...)."),
    Column("partition", "VARCHAR", "The partition, or NULL."),
    Column("output_name", "VARCHAR", "The output name (the file's stem)."),
    Column("format", "VARCHAR", "The format written (`parquet`, `json`, `pkl`...)."),
    Column("requested_format", "VARCHAR", "The format asked for (differs after a fallback)."),
    Column("fell_back", "BOOLEAN", "Whether the format fell back from the requested one."),
    Column("python_type", "VARCHAR", "The type of the value written, `pandas.DataFrame`."),
    Column("size", "BIGINT", "Size in bytes."),
    Column("hash_algorithm", "VARCHAR", "`blake3` or `sha256`."),
    Column("digest", "VARCHAR", "The content hash (hex)."),
    Column("created_at", "TIMESTAMP", "When it was committed, UTC."),
    Column("latest", "BOOLEAN", "Whether it is the newest run of its code, partition and output."),
    Column(
        "logical_date", "TIMESTAMP", "The data's logical date (Airflow's), UTC, or NULL: not when it ran."
    ),
    Column("data_interval_start", "TIMESTAMP", "The start of the data interval it is about, UTC, or NULL."),
    Column("data_interval_end", "TIMESTAMP", "The end of that data interval, UTC, or NULL."),
    Column("git_commit", "VARCHAR", "The git commit of the checkout that held the source, or NULL."),
    Column("git_dirty", "BOOLEAN", "Whether that checkout had uncommitted changes."),
    Column("inputs", "JSON", "What the step read: a list of `{uri, address, run, partition, hash, ...}`."),
    Column("n_inputs", "INTEGER", "How many inputs are recorded."),
    Column("writer_host", "VARCHAR", "The host that committed it."),
    Column("fsmirror_version", "VARCHAR", "The fsmirror version that wrote it."),
    Column("manifest", "JSON", "The whole manifest, for fields not flattened above."),
)


@dataclass(frozen=True)
class QueryResult:
    """What a query returned: column names, their DuckDB types, and the rows."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-able dicts: JSON columns parsed, times in ISO form."""
        return [
            {c: _jsonable(v, t) for c, t, v in zip(self.columns, self.types, row, strict=True)}
            for row in self.rows
        ]


def _jsonable(value: Any, sql_type: str) -> Any:
    if value is None:
        return None
    if sql_type == "JSON" and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (_dt.timedelta,)):
        return value.total_seconds()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, "") for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, "") for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)  # Decimal, UUID, bytes...


def _utc(created_at: str) -> str:
    t = _dt.datetime.fromisoformat(created_at)
    if t.tzinfo is not None:
        t = t.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return t.isoformat(sep=" ")


def _utc_or_none(when: str | None) -> str | None:
    return None if when is None else _utc(when)


def rows_of(found: list[Committed]) -> list[dict[str, Any]]:
    """One flat row per committed artifact, keyed by :data:`COLUMNS` (pure: no I/O)."""
    newest: dict[tuple[str, str, Instance | None, str], str] = {}
    for c in found:
        m = c.manifest
        key = (str(m.code.get("module")), str(m.code.get("qualname")), m.partition, m.output_name)
        if key not in newest or m.order < newest[key]:  # order_key sorts newest first
            newest[key] = m.order
    rows = []
    for c in found:
        m = c.manifest
        code, git = m.code, m.git or {}
        key = (str(code.get("module")), str(code.get("qualname")), m.partition, m.output_name)
        rows.append(
            {
                "uri": c.uri,
                "manifest_uri": c.manifest_uri,
                "mirror": m.mirror,
                "address": m.address,
                "module": code.get("module"),
                "qualname": code.get("qualname"),
                "source_file": code.get("source_file"),
                "source_sha256": code.get("source_sha256"),
                "source_git_blob": code.get("source_git_blob"),
                "code": code,
                "run_id": "@".join(m.run_id) if isinstance(m.run_id, tuple) else str(m.run_id),
                "segment": m.segment,
                "run_source": m.run_source,
                "orchestrator": m.orchestrator,
                "partition": instance_label(m.partition),
                "output_name": m.output_name,
                "format": m.format,
                "requested_format": m.requested_format,
                "fell_back": m.fell_back,
                "python_type": m.python_type,
                "size": m.size,
                "hash_algorithm": m.hash.algorithm,
                "digest": m.hash.digest,
                "created_at": _utc(m.created_at),
                "latest": newest[key] == m.order,
                "logical_date": _utc_or_none(m.data_time.logical_date if m.data_time else None),
                "data_interval_start": _utc_or_none(m.data_time.interval_start if m.data_time else None),
                "data_interval_end": _utc_or_none(m.data_time.interval_end if m.data_time else None),
                "git_commit": git.get("commit"),
                "git_dirty": git.get("dirty"),
                "inputs": [i.to_json() for i in m.inputs],
                "n_inputs": len(m.inputs),
                "writer_host": m.writer.get("host"),
                "fsmirror_version": m.versions.get("fsmirror"),
                "manifest": m.to_json(),
            }
        )
    return rows


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError as e:
        raise QueryError(f"fsmirror query needs DuckDB: pip install 'fsmirror[query]' ({e})") from e
    return duckdb


def connect(fm: FSMirror) -> Any:
    """An in-memory DuckDB connection holding the table ``artifacts`` of ``fm``'s committed artifacts."""
    from .inventory import committed

    duckdb = _duckdb()
    rows = rows_of(committed(fm))
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    types = ", ".join(f"'{c.name}': '{c.type}'" for c in COLUMNS)
    with tempfile.TemporaryDirectory(prefix="fsmirror-query-") as tmp:
        path = os.path.join(tmp, "artifacts.ndjson")
        with open(path, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, default=str, allow_nan=False))
                f.write("\n")
        if rows:
            con.execute(
                f"CREATE TABLE {TABLE} AS SELECT * FROM read_json(?, format = 'newline_delimited', "
                f"columns = {{{types}}})",
                [path],
            )
        else:
            cols = ", ".join(f'"{c.name}" {c.type}' for c in COLUMNS)
            con.execute(f"CREATE TABLE {TABLE} ({cols})")
    _lock_down(con)
    return con


def _lock_down(con: Any) -> None:
    """Close the connection to everything but its own tables, for good.

    The SQL is the user's, but ``read_text('/etc/passwd')``, ``COPY ... TO '/any/path'``,
    ``ATTACH``, ``INSTALL``/``LOAD`` and URLs (httpfs) would reach this machine's files
    and network as whoever runs ``fsmirror query`` (a CI job, a shared service). With
    external access off, DuckDB refuses every one of them; with the configuration locked,
    the statement cannot ``SET`` it back. The table is already loaded, so queries over it
    (JSON operators included) still work.
    """
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def query(fm: FSMirror, sql: str) -> QueryResult:
    """Run ``sql`` over the table ``artifacts`` (see :data:`COLUMNS`); a bad query is a QueryError."""
    duckdb = _duckdb()
    con = connect(fm)
    try:
        cur = con.execute(sql)
        if cur.description is None:
            return QueryResult([], [], [])
        columns = [d[0] for d in cur.description]
        types = [str(d[1]) for d in cur.description]
        return QueryResult(columns, types, [tuple(r) for r in cur.fetchall()])
    except duckdb.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise QueryError(f"the query failed: {first} (columns of {TABLE!r}: see docs/query.md)") from e
    finally:
        con.close()
