"""Files a task writes itself at ``{{ macros.fsmirror.path() }}``: recorded when the task succeeds.

The macro remembers every path it renders for a task instance (in the task
process, where the task also runs). When the task succeeds, each file found
there -- the rendered file, or the files directly inside a rendered directory --
is committed through ``FSMirror.open_write`` with a manifest (size, hash, run,
task), so ``fsmirror ls``, ``show`` and gc see it like any other artifact.

Two hooks do it, both documented Airflow extension points:

- the plugin's ``on_task_instance_success`` listener, always on. It runs after
  Airflow has recorded the success, so a failed record is logged, not raised.
- :func:`commit_outputs`, for ``post_execute=`` on an operator. It runs before
  the success is reported, so a failed record fails the task (and its retries
  apply), and downstream tasks never start before the record exists.

The core has no call that records bytes already at their path, so the file is
moved aside and streamed back through ``open_write`` by the core toolkit's ``adopt_file`` (one read and one write of
its bytes); a core ``commit_existing`` would make this one hash pass.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fsmirror import FSMirror, FSMirrorError, StorageError
from fsmirror.integration import adopt_file, in_context
from fsmirror.model.hashing import new_hasher
from fsmirror.model.record import DataTime
from fsmirror.paths.identity import Instance
from fsmirror.paths.names import manifest_file

from ._dates import data_time
from ._locate import attempt_of

__all__ = ["Rendered", "remember", "forget", "rendered", "claims", "commit_outputs", "commit_rendered"]

log = logging.getLogger("airflow.task")

Key = tuple[str, str, str, int]
_STEM = re.compile(r"^[A-Za-z0-9-][A-Za-z0-9_-]*$")
MAX_REMEMBERED = 256
"""Where (under the mirror's base) a file waits while its bytes stream back into place."""


@dataclass(frozen=True)
class Rendered:
    """One path the macro rendered for a task instance: where the task may write a file."""

    mirror: str
    obj: Any
    run_id: tuple[str, str]
    partition: Instance | None
    uri: str
    directory: bool


_RENDERED: OrderedDict[Key, dict[str, Rendered]] = OrderedDict()
_RECORDED: dict[Key, set[str]] = {}
"""Files recorded already in this try (by ``post_execute``): the listener does not record them again."""


def _key(dag_id: Any, task_id: Any, run_id: Any, map_index: Any) -> Key:
    return (str(dag_id), str(task_id), str(run_id), -1 if map_index is None else int(map_index))


def _ti_key(ti: Any) -> Key:
    return _key(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1))


def remember(ti: Any, item: Rendered) -> None:
    """Note that ``ti`` rendered ``item`` (called by the macro while templates render)."""
    key = _ti_key(ti)
    _RENDERED.setdefault(key, {})[item.uri] = item
    _RENDERED.move_to_end(key)
    while len(_RENDERED) > MAX_REMEMBERED:
        _RECORDED.pop(_RENDERED.popitem(last=False)[0], None)


def forget(ti: Any) -> None:
    """Drop what ``ti`` rendered (its try failed, or it is done; a retry renders again)."""
    _RENDERED.pop(_ti_key(ti), None)
    _RECORDED.pop(_ti_key(ti), None)


def rendered(dag_id: Any, task_id: Any, run_id: Any, map_index: Any) -> list[Rendered]:
    """The paths rendered for this task instance in this process."""
    return list(_RENDERED.get(_key(dag_id, task_id, run_id, map_index), {}).values())


def _split(filename: str) -> tuple[str, str] | None:
    stem, dot, ext = filename.rpartition(".")
    if not dot or not _STEM.match(stem) or not ext.isalnum() or not ext.isascii():
        return None
    return stem, ext


def _files(fm: FSMirror, item: Rendered) -> list[tuple[str, str, str]]:
    """(uri, output name, format) of the files the task wrote at ``item``."""
    fs = fm.filesystem
    if not item.directory:
        if not fs.isfile(item.uri):
            if fs.isdir(item.uri):
                log.warning(
                    "fsmirror: %s is a directory; only files written at macro paths are recorded "
                    "(write one file there, or write into macros.fsmirror.path(output=False))",
                    item.uri,
                )
            return []
        parts = _split(item.uri.rsplit("/", 1)[-1])
        return [] if parts is None else [(item.uri, parts[0], parts[1])]
    try:
        entries = fs.ls(item.uri, detail=True)
    except FileNotFoundError:
        return []
    out = []
    base = item.uri.rstrip("/")
    for entry in entries:
        name = str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
        if entry.get("type") != "file" or name.startswith(("_", ".")):
            continue  # fsmirror's own files, hidden files, subdirectories (other partitions)
        parts = _split(name)
        if parts is None:
            if fs.exists(manifest_file(base, name.rpartition(".")[0])):
                continue  # an artifact fsmirror committed (an XCom under an escaped key: xcom-a~2Eb)
            log.warning(
                "fsmirror: %s/%s is not recorded: a recorded file is named <name>.<format> "
                "(letters, digits, '_', '-'; not starting with '_')",
                base,
                name,
            )
            continue
        out.append((f"{base}/{name}", parts[0], parts[1]))
    return out


def _committed_by_macro(fm: FSMirror, item: Rendered, output_name: str) -> bool | None:
    """True: committed as a task-written file; False: committed as something else (an XCom); None: not committed."""
    kw: dict[str, Any] = {"run_id": item.run_id, "partition": item.partition, "output_name": output_name}
    if not fm.exists(item.obj, **kw):
        return None
    orch = fm.manifest(item.obj, **kw).get("orchestrator") or {}
    return bool(orch.get("written_by") == "task")


def claims(dag_id: Any, task_id: Any, run_id: Any, map_index: Any, output_name: str) -> bool:
    """Whether a file the task wrote itself at a rendered path owns ``output_name`` (so an XCom must not)."""
    for item in rendered(dag_id, task_id, run_id, map_index):
        fm = _mirror(item.mirror)
        for _, stem, _ in _files(fm, item):
            if stem == output_name and _committed_by_macro(fm, item, stem) is not False:
                return True
    return False


def _mirror(name: str) -> FSMirror:
    from ._locate import get_mirror

    return get_mirror(name)


def _same_bytes(fm: FSMirror, uri: str, man: dict[str, Any]) -> bool:
    fs = fm.filesystem
    if int(fs.size(uri)) != int(man.get("size", -1)):
        return False
    recorded = man.get("hash") or {}
    h = new_hasher(str(recorded.get("algorithm", "blake3")))
    with fs.open(uri, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return str(h.hexdigest()) == recorded.get("digest")


def _commit_one(
    fm: FSMirror,
    item: Rendered,
    uri: str,
    output_name: str,
    fmt: str,
    ids: dict[str, Any],
    attempt: int,
    when: DataTime | None = None,
) -> str | None:
    kw: dict[str, Any] = {"run_id": item.run_id, "partition": item.partition, "output_name": output_name}
    overwrite = False
    if fm.exists(item.obj, **kw):
        man = fm.manifest(item.obj, **kw)
        if man.get("format") == fmt and _same_bytes(fm, uri, man):
            return None  # recorded already (an XCom of this try, or an earlier record of these bytes)
        overwrite = (
            True  # the task rewrote the file of a committed run (a cleared task): record the new bytes
        )
    def writer() -> Any:
        return fm.open_write(
            item.obj,
            format=fmt,
            overwrite=overwrite,
            attempt=attempt,
            run_source="airflow",
            orchestrator=ids,
            data_time=when,
            **kw,
        )

    adopt_file(fm, uri, writer, owner="airflow")
    return uri


def commit_rendered(ti: Any, *, done: bool = True) -> list[str]:
    """Record every file ``ti`` wrote at the paths it rendered; returns their URIs. Raises on a store error.

    ``done=False`` (``post_execute``): the task's XComs are still to come, so its
    renders are kept -- an XCom must still see that the task's file owns its name.
    """
    key = _ti_key(ti)
    items = list(_RENDERED.get(key, {}).values())
    recorded = _RECORDED.setdefault(key, set())
    ids = {
        "dag_id": key[0],
        "task_id": key[1],
        "run_id": key[2],
        "map_index": key[3],
        "try_number": getattr(ti, "try_number", None),
        "written_by": "task",
    }
    new: list[str] = []
    when = data_time(ti) if items else None
    for item in items:
        fm = _mirror(item.mirror)
        for uri, output_name, fmt in _files(fm, item):
            if uri in recorded:
                continue
            try:
                got = _commit_one(fm, item, uri, output_name, fmt, ids, attempt_of(ti), when)
            except FSMirrorError as e:
                raise in_context(
                    e, f"fsmirror: recording {uri}, written by task {key[1]!r} of DAG {key[0]!r}"
                ) from e
            except Exception as e:
                raise StorageError(
                    f"fsmirror: recording {uri}, written by task {key[1]!r} of DAG {key[0]!r}: "
                    f"{type(e).__name__}: {e}"
                ) from e
            recorded.add(uri)
            if got is not None:
                new.append(got)
    if done:
        forget(ti)
    for uri in new:
        log.info("fsmirror: recorded %s (written by the task at its macro path)", uri)
    return new


def commit_outputs(context: Any, result: Any = None) -> list[str]:
    """``post_execute=`` hook: record the files the task wrote at its macro paths before it succeeds.

    ``PythonOperator(..., post_execute=fsmirror_airflow.commit_outputs)``: a file
    that cannot be recorded fails the task. Without it, the plugin records the
    files right after the task succeeds.
    """
    return commit_rendered(context["ti"], done=False)
