"""Which FSMirror a Luigi task writes through: ``luigi.cfg`` first, then the core's defaults.

Luigi users keep settings in ``luigi.cfg``, so an ``[fsmirror]`` section there
(``config_path``, ``mirror``) is honoured before the core's environment
variables. Mirrors are cached per process: Luigi's ``workers=N`` forks, and
an fsspec async filesystem (s3fs, gcsfs) made in the parent refuses to work in
the child, so each forked child starts with an empty cache.
"""

from __future__ import annotations

import os
import threading

import luigi.configuration

from fsmirror import ConfigError, FSMirror
from fsmirror.config import CONFIG_ENV
from fsmirror.mirror import MIRROR_ENV

__all__ = ["SECTION", "get_mirror", "luigi_setting", "clear_cache"]

SECTION = "fsmirror"

_cache: dict[tuple[str, str | None, str | None], FSMirror] = {}
_resolved: dict[str | None, FSMirror] = {}  # get_mirror(arg) -> mirror: one lookup per complete()
_settings: dict[str, str | None] = {}
_lock = threading.Lock()


def luigi_setting(option: str) -> str | None:
    """``[fsmirror] <option>`` from Luigi's config (``luigi.cfg``, ``$LUIGI_CONFIG_PATH``), or None.

    Read once per process (Luigi itself reads its config once at start-up);
    :func:`clear_cache` forgets it.
    """
    try:
        return _settings[option]
    except KeyError:
        pass
    value = luigi.configuration.get_config().get(SECTION, option, None)
    text = None if value is None else (str(value).strip() or None)
    _settings[option] = text
    return text


def _config_path() -> str:
    """The config file as written (luigi.cfg's ``config_path``, else ``$FSMIRROR_CONFIG_PATH``)."""
    path = luigi_setting("config_path") or os.environ.get(CONFIG_ENV) or None
    if path is None:
        raise ConfigError(
            "fsmirror_luigi: no fsmirror config found: add 'config_path = /path/to/fsmirror.yml' to the "
            f"[{SECTION}] section of luigi.cfg, or export {CONFIG_ENV}=/path/to/fsmirror.yml"
        )
    return path


def get_mirror(mirror: str | None = None) -> FSMirror:
    """The FSMirror for ``mirror`` (else ``[fsmirror] mirror``, else the core's default mirror).

    Resolved and built once per process and reused, so a thousand ``complete()``
    checks do not re-read luigi.cfg, the environment or the YAML;
    :func:`clear_cache` starts over.
    """
    fm = _resolved.get(mirror)
    if fm is not None:
        return fm
    path = _config_path()
    if not os.path.isabs(path):
        path = os.path.abspath(os.path.expanduser(path))
    name = mirror or luigi_setting("mirror")
    key = (path, name, None if name else os.environ.get(MIRROR_ENV))
    with _lock:
        fm = _cache.get(key)
        if fm is None:
            fm = FSMirror(config=path, mirror=name)
            _cache[key] = fm
        _resolved[mirror] = fm
    return fm


def clear_cache() -> None:
    """Forget built mirrors and settings (after changing luigi.cfg, the env or the YAML in-process)."""
    with _lock:
        _forget()


def _forget() -> None:
    _cache.clear()
    _resolved.clear()
    _settings.clear()


# Luigi's workers=N forks: an fsspec async filesystem (s3fs, gcsfs) made in the parent refuses
# to run in the child, so each child builds its own mirror. No lock here: a lock held by another
# thread at fork time would never be released in the child.
os.register_at_fork(after_in_child=_forget)
