"""The adapters' toolkit: what every orchestrator integration needs from the core, once.

- :func:`mirror_for`: one :class:`~fsmirror.FSMirror` per config file (and mirror) per
  process. Orchestrators build their IO manager, backend or target many times per run;
  re-reading and validating the YAML each time would be most of an adapter's cost on small
  outputs. The file's path, mtime and size are the key, so an edited config is re-read.
  The cache is **fork-safe**: Luigi's ``workers=N``, Airflow's task runner and Dagster's
  multiprocess executor fork, and an fsspec async filesystem (s3fs, gcsfs) made in the parent
  refuses to run in the child (fsspec's own ``_Cached`` keys by pid for the same reason), so
  a child starts with an empty cache and builds its own mirror.
- :func:`in_context`: the same error with the orchestrator's context in front of its message,
  its type and ``kind`` kept, so callers' handlers (and decisions by kind) still work.
- :func:`adopt_file`: commit bytes a tool wrote itself at an artifact's path (Airflow's path
  macro, Luigi's ``open(output().path)``), so each adapter does not move files on its own.

Adapters import this module, :mod:`fsmirror` and the documented modules only
(``docs/storage-api.md``), never a private member of the core.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import IO, Any, TypeVar

from .errors import FSMirrorError
from .mirror import FSMirror

__all__ = ["mirror_for", "clear_mirrors", "in_context", "adopt_file"]

_lock = threading.Lock()
_mirrors: dict[tuple[Any, ...], FSMirror] = {}
_MAX = 32  # configs x mirrors one process uses; past this the oldest is dropped


def _stamp(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)  # the core reports the missing file with its own message
    return (st.st_mtime_ns, st.st_size)


def mirror_for(
    config_path: str | os.PathLike[str] | None,
    mirror: str | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
) -> FSMirror:
    """The process's ``FSMirror`` for a config file and mirror, built once per file version.

    ``config_path=None`` reads ``$FSMIRROR_CONFIG_PATH`` (as ``FSMirror`` does); ``mirror=None``
    the core's default (``$FSMIRROR_MIRROR``, or the config's only mirror). ``settings``
    override the chosen mirror's settings (Dagster's ``output_format=``), without editing the
    file. Errors are the core's (``ConfigError`` naming the file).
    """
    raw = os.fspath(config_path) if config_path is not None else os.environ.get("FSMIRROR_CONFIG_PATH", "")
    path = os.path.abspath(os.path.expanduser(raw)) if raw else ""
    env_mirror = None if mirror else os.environ.get("FSMIRROR_MIRROR")
    extra = tuple(sorted((settings or {}).items()))
    key = (os.getpid(), path, _stamp(path) if path else None, mirror, env_mirror, extra)
    fm = _mirrors.get(key)
    if fm is not None:
        return fm
    fm = _build(path or None, mirror, dict(extra))
    with _lock:
        if len(_mirrors) >= _MAX:
            _mirrors.pop(next(iter(_mirrors)))
        return _mirrors.setdefault(key, fm)


def _build(path: str | None, mirror: str | None, settings: dict[str, Any]) -> FSMirror:
    if not settings:
        return FSMirror(config=path, mirror=mirror)
    from .config import load_config

    raw = load_config(path)
    probe = FSMirror(config=raw, mirror=mirror)  # picks the mirror as the core does
    mirrors = dict(raw["mirrors"])
    mirrors[probe.mirror] = {**mirrors[probe.mirror], **settings}
    fm = FSMirror(config={**raw, "mirrors": mirrors}, mirror=probe.mirror)
    fm.source = path or fm.source
    return fm


def clear_mirrors() -> None:
    """Forget every cached mirror (tests; a process that changed its environment)."""
    _mirrors.clear()


# A child of fork starts empty: no lock is taken here, as a lock held by another thread at fork
# time would never be released in the child (the pid in the key guards the rest).
os.register_at_fork(after_in_child=clear_mirrors)

E = TypeVar("E", bound=FSMirrorError)


def in_context(error: E, context: str) -> E:
    """``error`` again, its message prefixed with ``context`` (``"luigi task X: ..."``).

    The type and the machine-readable attributes (``kind``, ``choices``, ...) are kept, so a
    caller deciding by type or kind decides the same; raise it ``from`` the original.
    """
    new = type(error).__new__(type(error))
    new.__dict__.update(error.__dict__)
    new.args = (f"{context}: {error}", *error.args[1:])
    return new


def adopt_file(
    fm: FSMirror, path: str, writer: Callable[[], contextlib.AbstractContextManager[IO[bytes]]], *, owner: str
) -> None:
    """Commit the bytes a tool wrote at ``path``, the artifact's own path, through ``writer``.

    The core writes data no-clobber and has no call that records bytes already in place, so the
    file is moved aside (``_fsmirror_<owner>/commit/`` under the mirror's base: a rename on local
    storage, a server-side copy on object stores) and streamed back through ``writer`` (the
    core's atomic ``open_write``, which writes the manifest): one more read and write of its
    bytes. If that fails, the file is put back where the tool wrote it and the error raised.
    """
    fs = fm.filesystem
    aside = f"{fm.base}/_fsmirror_{owner}/commit/{uuid.uuid4().hex}"
    fs.invalidate_cache(path)  # a tool outside the core wrote it: no cached listing may hide it
    fs.mv(path, aside)
    try:
        with fs.open(aside, "rb") as src, writer() as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except BaseException:
        with contextlib.suppress(Exception):
            if fm.store.backend.head(path) is None:
                fs.mv(aside, path)  # put the tool's file back where it wrote it
        raise
    with contextlib.suppress(Exception):
        fs.rm(aside)
