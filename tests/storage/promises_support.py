"""Helpers for the store-promise tests (``test_promises*.py``, issue #12).

Every file name comes from :mod:`fsmirror.names`, so the tests name the files the
store writes the way the store does. Tampering goes through ``fm.filesystem``
(or ``os`` on local disk), as a person or a crashed writer would leave the store;
everything else goes through the public API.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from fsmirror import ArtifactExistsError, FSMirror, names

__all__ = [
    "ADDR",
    "all_of",
    "attempt",
    "bookkeeping",
    "cli_config",
    "drop_bookkeeping",
    "fine_switching",
    "index_segments",
    "listed_mtime",
    "ls",
    "ls_json",
    "manifest_path",
    "put_bytes",
    "race",
    "raw",
    "stored",
    "strip",
]

ADDR = "project/etl/my_etl_task.py::LiftDataTask"


def all_of(*fragments: str) -> str:
    """A ``match=`` pattern that needs every fragment, in any order, each taken literally."""
    return "(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments)


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(...)``, or the error it raised as ``'<Type>: <message>'``: many cases in one assertion."""
    try:
        return fn(*args, **kwargs)
    except Exception as e:
        return f"{type(e).__name__}: {e}"


def listed_mtime(fm: FSMirror, path: str) -> float:
    """The modification time the store's listing shows for ``path`` (epoch seconds)."""
    import datetime as dt

    info = fm.filesystem.info(path)
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, dt.datetime):
            return value.timestamp()
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    raise AssertionError(f"no modification time in the listing of {path}: {info}")


def strip(fm: FSMirror, uri: str) -> str:
    """``uri`` as the filesystem lists it (no scheme)."""
    return str(fm.filesystem._strip_protocol(uri)).rstrip("/")


def stored(fm: FSMirror, under: str | None = None) -> set[str]:
    """Every file under ``under`` (default: the mirror's base), relative to it."""
    root = strip(fm, under or fm.base)
    return {p[len(root) + 1 :] for p in fm.filesystem.find(root)}


def raw(fm: FSMirror, uri: str) -> bytes:
    return bytes(fm.filesystem.cat_file(uri))


def put_bytes(fm: FSMirror, uri: str, data: bytes) -> None:
    """Tamper: replace (or create) a file in the store behind fsmirror's back."""
    fm.filesystem.pipe_file(uri, data)


def manifest_path(
    fm: FSMirror, obj: Any, run_id: Any, *, partition: str | None = None, output_name: str | None = None
) -> str:
    directory = fm.mirror_full(obj, run_id=run_id, partition=partition)
    return names.manifest_file(directory, output_name or fm.settings.output_name)


def _series_files(fm: FSMirror, obj: Any, partition: str | None, output_name: str | None) -> tuple[str, str]:
    series = fm.mirror_full(obj, with_id=False, partition=partition)
    out = output_name or fm.settings.output_name
    return names.pointer_file(series, out), names.index_dir(series, out)


def bookkeeping(
    fm: FSMirror, obj: Any, *, partition: str | None = None, output_name: str | None = None
) -> list[str]:
    """The series' ``latest`` pointer and run-index entries that exist on this store (either kind)."""
    pointer, index = _series_files(fm, obj, partition, output_name)
    fs = fm.filesystem
    found = [pointer] if fs.exists(pointer) else []
    return found + sorted(fs.find(index))


def index_segments(
    fm: FSMirror, obj: Any, *, partition: str | None = None, output_name: str | None = None
) -> list[str]:
    """The run segments the series' run index names, newest first (empty where there is no index)."""
    _, index = _series_files(fm, obj, partition, output_name)
    parsed = [names.parse_index_entry(p.rsplit("/", 1)[-1]) for p in sorted(fm.filesystem.find(index))]
    return [p[1] if p else "<unparsable>" for p in parsed]


def drop_bookkeeping(
    fm: FSMirror, obj: Any, *, partition: str | None = None, output_name: str | None = None
) -> list[str]:
    """Leave the series as a writer killed between its manifest and its pointer/index would."""
    found = bookkeeping(fm, obj, partition=partition, output_name=output_name)
    assert found, "the store kept neither a latest pointer nor a run index for the series"
    for path in found:
        fm.filesystem.rm_file(path)
    assert bookkeeping(fm, obj, partition=partition, output_name=output_name) == []
    return found


def cli_config(fm: FSMirror, tmp_path: Path) -> Path:
    """A config file holding ``fm``'s storage and mirror, for the ``fsmirror`` command."""
    cfg = {
        "storage": fm.config.storage.model_dump(mode="json"),
        "mirrors": {fm.mirror: fm.settings.model_dump(mode="json")},
    }
    path = tmp_path / "fsmirror-cli.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def ls(fm: FSMirror, tmp_path: Path, *args: str) -> Result:
    from fsmirror.cli import cli

    return CliRunner().invoke(cli, ["--config", str(cli_config(fm, tmp_path)), "ls", *args])


def ls_json(fm: FSMirror, tmp_path: Path, *args: str) -> list[dict[str, Any]]:
    """``fsmirror ls --json [args]``, as the command prints it; fails on a non-zero exit."""
    return ls_json_warned(fm, tmp_path, *args)[0]


def ls_json_warned(fm: FSMirror, tmp_path: Path, *args: str) -> tuple[list[dict[str, Any]], str]:
    """``fsmirror ls --json [args]``: its rows, and what it printed on stderr (the CLI prints each
    warning as one ``fsmirror: warning: ...`` line there, not through Python's warning machinery)."""
    result = ls(fm, tmp_path, "--json", *args)
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows, result.stderr


@contextlib.contextmanager
def fine_switching(provider: str) -> Iterator[None]:
    """Switch threads every 10 microseconds (not every 5 ms), so in-process writers interleave.

    Only for the stores with no server in this process (local, memory): moto's S3 server runs in
    this process's threads, and switching this finely breaks its own If-None-Match check (two
    conditional PUTs of one key both succeed), which is moto's race, not fsmirror's.
    """
    if provider not in ("local", "memory"):
        yield
        return
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def race(
    writers: Sequence[FSMirror], rounds: int, value: Callable[[int, int], bytes], obj: Any = ADDR
) -> list[tuple[list[str], bool]]:
    """Each round, every writer commits its own bytes to ONE run of ``obj`` at the same moment.

    Per round: the sorted outcomes ('won', 'exists' for ArtifactExistsError, or the unexpected
    error) and whether the committed bytes are the winner's (read back through ``writers[0]``).
    """
    results = []
    for n in range(rounds):
        run = f"race-{n}"
        barrier = threading.Barrier(len(writers))

        def write(i: int, run: str = run, n: int = n, barrier: threading.Barrier = barrier) -> str:
            barrier.wait()
            try:
                writers[i].write(obj, value(i, n), run_id=run, format="bytes")
            except ArtifactExistsError:
                return "exists"
            except Exception as e:
                return f"{type(e).__name__}: {e}"
            return f"won {i}"

        with ThreadPoolExecutor(len(writers)) as pool:
            outcomes = list(pool.map(write, range(len(writers))))
        winners = [int(o.split()[1]) for o in outcomes if o.startswith("won ")]
        landed = attempt(writers[0].read, obj, run_id=run)
        results.append(
            (
                sorted(o.split()[0] if o.startswith("won ") else o for o in outcomes),
                len(winners) == 1 and landed == value(winners[0], n),
            )
        )
    return results
