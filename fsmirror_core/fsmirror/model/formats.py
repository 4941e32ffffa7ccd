"""Serializers, keyed by ``output_format``, loaded on first use.

A format turns a value into bytes on a binary stream and back. Optional
dependencies (pyarrow, pandas, polars) are imported only when a value needs
them; a missing one raises :class:`FormatError` naming the extra to install.
Third parties add formats through the ``fsmirror.formats`` entry-point group,
or at runtime with :func:`register_format`.

Fallback rule (one, documented): a value the mirror's format cannot hold is
written as ``json`` when it is JSON-able, else as ``pkl``; the file extension
and the manifest say which. ``strict_format: true`` makes that an error.
"""

from __future__ import annotations

import io
import json
import pickle
import threading
import types
from collections.abc import Mapping
from typing import Any, BinaryIO, Protocol, runtime_checkable

from ..errors import FormatError

__all__ = [
    "Format",
    "FORMATS",
    "ENTRY_POINT_GROUP",
    "get_format",
    "plugin_names",
    "register_format",
    "choose_format",
    "python_type",
]

ENTRY_POINT_GROUP = "fsmirror.formats"
CHUNK = 8 * 1024 * 1024


@runtime_checkable
class Format(Protocol):
    """What a serializer provides. ``name`` is also the file extension."""

    name: str

    def accepts(self, value: Any) -> bool:
        """Whether this format can hold ``value``: cheap, no bytes written.

        ``False`` makes a write fall back (JSON-able -> ``json``, else ``pkl``) instead of
        failing half-way; a format may convert the value here when only converting tells
        (parquet does, for pandas) and reuse the result in :meth:`dump`.
        """

    def dump(self, value: Any, f: BinaryIO) -> None:
        """Write ``value`` to the binary stream ``f``."""

    def load(self, f: BinaryIO, meta: Mapping[str, Any]) -> Any:
        """Read a value back; ``meta`` is the manifest (``python_type`` tells what was written)."""


def python_type(value: Any) -> str:
    """``module.QualName`` of the value's type, recorded so ``read`` returns the same kind."""
    t = type(value)
    return f"{t.__module__}.{t.__qualname__}"


def _table_kind(value: Any) -> str | None:
    mod = type(value).__module__.split(".", 1)[0]
    name = type(value).__name__
    if mod == "pyarrow" and name == "Table":
        return "pyarrow"
    if mod == "pandas" and name == "DataFrame":
        return "pandas"
    if mod == "polars" and name == "DataFrame":
        return "polars"
    return None


def _need(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise FormatError(
            f"this format needs {module.split('.')[0]!r}, which is not installed: "
            f"pip install 'fsmirror[{extra}]'"
        ) from e


def _is_jsonable(value: Any, depth: int = 0) -> bool:
    if depth > 200:
        return False
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, (list, tuple)):
        return all(_is_jsonable(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_jsonable(v, depth + 1) for k, v in value.items())
    return False


class ParquetFormat:
    """Apache Parquet via pyarrow: pyarrow Tables, pandas and polars DataFrames.

    A pandas DataFrame can hold what Arrow cannot type (an object column of ``1`` and
    ``"a"``); whether it fits is known only by converting it. So :meth:`accepts` converts
    a DataFrame (the work :meth:`dump` needs anyway, done once) and keeps the table for
    the ``dump`` of the same object on the same thread; a DataFrame that does not convert
    is not accepted, and the write falls back by the one rule (``pkl`` here).
    """

    name = "parquet"

    def __init__(self) -> None:
        self._converted = threading.local()  # (the DataFrame, its Arrow table): one per thread

    def accepts(self, value: Any) -> bool:
        kind = _table_kind(value)
        if kind != "pandas":
            return kind is not None
        self._converted.last = None
        try:
            table = self._from_pandas(value)
        except FormatError:
            raise  # pyarrow missing: say which extra, do not fall back silently
        except Exception:
            return False  # Arrow cannot type a column (ArrowInvalid, ArrowTypeError, ...)
        self._converted.last = (value, table)
        return True

    def why_not(self, value: Any) -> str | None:
        """Why :meth:`accepts` refused ``value`` (Arrow's own words), for strict mirrors' errors."""
        if _table_kind(value) != "pandas":
            return None
        try:
            self._from_pandas(value)
        except Exception as e:
            return f"{type(e).__name__}: {e}"
        return None

    @staticmethod
    def _from_pandas(value: Any) -> Any:
        return _need("pyarrow", "parquet").Table.from_pandas(value)

    def dump(self, value: Any, f: BinaryIO) -> None:
        pq = _need("pyarrow.parquet", "parquet")
        kind = _table_kind(value)
        if kind == "pandas":
            last = getattr(self._converted, "last", None)
            self._converted.last = None
            table = last[1] if last is not None and last[0] is value else self._from_pandas(value)
        elif kind == "polars":
            table = value.to_arrow()
        else:
            table = value
        pq.write_table(table, f)

    def load(self, f: BinaryIO, meta: Mapping[str, Any]) -> Any:
        pq = _need("pyarrow.parquet", "parquet")
        return self._convert(pq.read_table(f), meta)

    def load_path(self, path: str, meta: Mapping[str, Any]) -> Any:
        """Local files: pyarrow's native reader (memory-mapped), no Python file layer."""
        pq = _need("pyarrow.parquet", "parquet")
        return self._convert(pq.read_table(path, memory_map=True), meta)

    def _convert(self, table: Any, meta: Mapping[str, Any]) -> Any:
        kind = str(meta.get("python_type", ""))
        if kind.startswith("pandas"):
            return table.to_pandas()
        if kind.startswith("polars"):
            return _need("polars", "polars").from_arrow(table)
        return table


class PickleFormat:
    """Python pickle: holds anything picklable. Reading one trusts the store."""

    name = "pkl"

    def accepts(self, value: Any) -> bool:
        return True

    def dump(self, value: Any, f: BinaryIO) -> None:
        try:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            raise FormatError(f"cannot pickle {python_type(value)}: {e}") from e

    def load(self, f: BinaryIO, meta: Mapping[str, Any]) -> Any:
        return pickle.load(f)


class JSONFormat:
    """JSON (UTF-8): dicts with string keys, lists, strings, numbers, booleans, None."""

    name = "json"

    def accepts(self, value: Any) -> bool:
        return _is_jsonable(value)

    def dump(self, value: Any, f: BinaryIO) -> None:
        f.write(json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8"))

    def load(self, f: BinaryIO, meta: Mapping[str, Any]) -> Any:
        value = json.loads(f.read())
        if meta.get("python_type") == "builtins.tuple" and isinstance(value, list):
            return tuple(value)
        return value


class CSVFormat:
    """CSV: pandas/polars DataFrames, pyarrow Tables, or a list of dicts."""

    name = "csv"

    def accepts(self, value: Any) -> bool:
        if _table_kind(value):
            return True
        return (
            isinstance(value, list)
            and bool(value)
            and all(isinstance(r, dict) for r in value)
            and all(isinstance(k, str) for r in value for k in r)
        )

    def dump(self, value: Any, f: BinaryIO) -> None:
        kind = _table_kind(value)
        if kind == "pandas":
            value.to_csv(f, index=False)
        elif kind == "polars":
            value.write_csv(f)
        elif kind == "pyarrow":
            _need("pyarrow.csv", "parquet").write_csv(value, f)
        else:
            import csv

            text = io.TextIOWrapper(f, encoding="utf-8", newline="")
            fields = list(dict.fromkeys(k for r in value for k in r))
            writer = csv.DictWriter(text, fieldnames=fields)
            writer.writeheader()
            writer.writerows(value)
            text.flush()
            text.detach()

    def load(self, f: BinaryIO, meta: Mapping[str, Any]) -> Any:
        kind = str(meta.get("python_type", ""))
        if kind.startswith("pandas"):
            return _need("pandas", "pandas").read_csv(f)
        if kind.startswith("polars"):
            return _need("polars", "polars").read_csv(f)
        if kind.startswith("pyarrow"):
            return _need("pyarrow.csv", "parquet").read_csv(f)
        import csv

        return list(csv.DictReader(io.TextIOWrapper(f, encoding="utf-8", newline="")))


class TextFormat:
    """Plain UTF-8 text: ``str`` values."""

    name = "txt"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str)

    def dump(self, value: Any, f: BinaryIO) -> None:
        data = value.encode("utf-8")
        for i in range(0, len(data), CHUNK):
            f.write(data[i : i + CHUNK])

    def load(self, f: BinaryIO, meta: Mapping[str, Any]) -> Any:
        return f.read().decode("utf-8")


class BytesFormat:
    """Raw bytes, written in chunks so a 1 GB payload is never copied whole."""

    name = "bytes"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (bytes, bytearray, memoryview))

    def dump(self, value: Any, f: BinaryIO) -> None:
        view = memoryview(value).cast("B")
        for i in range(0, len(view), CHUNK):
            f.write(view[i : i + CHUNK])

    def load(self, f: BinaryIO, meta: Mapping[str, Any]) -> Any:
        return f.read()


_registry: dict[str, Format] = {
    f.name: f
    for f in (ParquetFormat(), PickleFormat(), JSONFormat(), CSVFormat(), TextFormat(), BytesFormat())
}
FORMATS: Mapping[str, Format] = types.MappingProxyType(_registry)
"""The registered formats, read-only; add one with :func:`register_format`."""
_broken: dict[str, FormatError] = {}  # plugins whose entry point failed to load, by format name
_plugins_lock = threading.Lock()


def register_format(fmt: Format, *, replace: bool = False) -> None:
    """Register a format (an object with ``name``, ``accepts``, ``dump``, ``load``)."""
    name = getattr(fmt, "name", None)
    if not isinstance(name, str) or not name.isalnum() or not name.isascii() or name != name.lower():
        raise FormatError(
            f"format name {name!r} must be lowercase ASCII letters and digits (it is the extension)"
        )
    for attr in ("accepts", "dump", "load"):
        if not callable(getattr(fmt, attr, None)):
            raise FormatError(f"format {name!r} has no callable {attr!r}")
    if name in _registry and not replace:
        raise FormatError(f"format {name!r} is already registered; pass replace=True to replace it")
    _registry[name] = fmt


def plugin_names() -> list[str]:
    """The format names the ``fsmirror.formats`` entry points offer (loaded or not), sorted."""
    from importlib.metadata import entry_points

    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def _load_plugin(name: str) -> Format | None:
    """Load the entry point named ``name`` alone; None when no plugin offers it.

    Each plugin is loaded when its format is first asked for, and only that one: a plugin
    that fails to import (a missing dependency, a bug) is remembered as broken and named in
    the error of every use of *its* format, while every other format keeps working.
    """
    from importlib.metadata import entry_points

    with _plugins_lock:
        if name in _registry:
            return _registry[name]
        if name in _broken:
            raise _broken[name]
        eps = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not eps:
            return None
        ep = eps[0]
        try:
            obj = ep.load()
            fmt: Format = obj() if isinstance(obj, type) else obj
            if getattr(fmt, "name", None) != name:
                raise FormatError(f"it gave a format named {getattr(fmt, 'name', None)!r}, not {name!r}")
            register_format(fmt)
        except Exception as e:  # a broken plugin must not break the built-ins or the other plugins
            err = FormatError(
                f"format plugin {name!r} ({ep.value}, entry point group {ENTRY_POINT_GROUP!r}) failed to "
                f"load: {type(e).__name__}: {e}; fix or uninstall the package that provides it",
                kind="broken-plugin",
            )
            _broken[name] = err
            raise err from e
        return fmt


def get_format(name: str) -> Format:
    """The format registered as ``name`` (built-ins, then the ``fsmirror.formats`` plugin of that name).

    A plugin that fails to load raises :class:`FormatError` (``kind="broken-plugin"``) naming
    it, for its own format only.
    """
    fmt = _registry.get(name) or _load_plugin(name)
    if fmt is None:
        known = sorted({*_registry, *plugin_names()})
        raise FormatError(
            f"unknown format {name!r}; known: {', '.join(known)} "
            f"(add one through the {ENTRY_POINT_GROUP!r} entry point)"
        )
    return fmt


def choose_format(
    value: Any, requested: str | None, mirror_format: str, *, strict: bool, allow_pickle: bool = True
) -> tuple[Format, bool]:
    """Pick the format for ``value``; returns (format, fell_back).

    ``requested=None`` uses the mirror's format with the fallback rule;
    ``"auto"`` picks by value (table -> parquet, bytes -> bytes, JSON-able ->
    json) before that; any other name is used exactly, or fails.
    """
    if requested is not None and requested != "auto":
        fmt = get_format(requested)
        if not fmt.accepts(value):
            why = _why_not(fmt, value)
            raise FormatError(
                f"format {requested!r} cannot hold a {python_type(value)}" + (f" ({why})" if why else "")
            )
        return _allowed(fmt, allow_pickle), False
    if requested == "auto":
        if _table_kind(value) and get_format("parquet").accepts(value):
            return get_format("parquet"), False
        if isinstance(value, (bytes, bytearray, memoryview)):
            return get_format("bytes"), False
        if _is_jsonable(value):
            return get_format("json"), False
    preferred = get_format(mirror_format)
    if preferred.accepts(value):
        return _allowed(preferred, allow_pickle), False
    if strict:
        why = _why_not(preferred, value)
        raise FormatError(
            f"the mirror's format {mirror_format!r} cannot hold a {python_type(value)}"
            + (f" ({why})" if why else "")
            + " and the mirror is strict_format; convert the value or write with format=..."
        )
    if _is_jsonable(value):
        return get_format("json"), True
    return _allowed(get_format("pkl"), allow_pickle, fallback_from=mirror_format, value=value), True


def _why_not(fmt: Format, value: Any) -> str | None:
    """A format's own reason for refusing ``value``, when it offers one (``why_not``)."""
    why_not = getattr(fmt, "why_not", None)
    return why_not(value) if callable(why_not) else None


def _allowed(fmt: Format, allow_pickle: bool, fallback_from: str | None = None, value: Any = None) -> Format:
    if fmt.name == "pkl" and not allow_pickle:
        why = (
            f"a {python_type(value)} does not fit {fallback_from!r} and would fall back to pickle, but"
            if fallback_from
            else "pickle is requested but"
        )
        raise FormatError(f"{why} this mirror sets allow_pickle: false")
    return fmt
