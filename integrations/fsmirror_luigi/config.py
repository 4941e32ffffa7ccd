"""Which FSMirror a Luigi task writes through: ``luigi.cfg`` first, then the core's defaults.

Luigi users keep settings in ``luigi.cfg``, so an ``[fsmirror]`` section there
(``config_path``, ``mirror``) is honoured before the core's environment
variables. Mirrors are cached per process id: Luigi's ``workers=N`` forks, and
an fsspec async filesystem (s3fs, gcsfs) made in the parent refuses to work in
the child, so each process builds its own.
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

_cache: dict[tuple[str, str | None, str | None, int], FSMirror] = {}
_lock = threading.Lock()


def luigi_setting(option: str) -> str | None:
    """``[fsmirror] <option>`` from Luigi's config (``luigi.cfg``, ``$LUIGI_CONFIG_PATH``), or None."""
    value = luigi.configuration.get_config().get(SECTION, option, None)
    if value is None:
        return None
    return str(value).strip() or None


def _config_path() -> str:
    path = luigi_setting("config_path") or os.environ.get(CONFIG_ENV) or None
    if path is None:
        raise ConfigError(
            "fsmirror_luigi: no fsmirror config found: add 'config_path = /path/to/fsmirror.yml' to the "
            f"[{SECTION}] section of luigi.cfg, or export {CONFIG_ENV}=/path/to/fsmirror.yml"
        )
    return os.path.abspath(os.path.expanduser(path))


def get_mirror(mirror: str | None = None) -> FSMirror:
    """The FSMirror for ``mirror`` (else ``[fsmirror] mirror``, else the core's default mirror).

    Built once per (config file, mirror, process) and reused, so a thousand
    ``complete()`` checks do not re-read and re-validate the YAML.
    """
    path = _config_path()
    name = mirror or luigi_setting("mirror")
    key = (path, name, None if name else os.environ.get(MIRROR_ENV), os.getpid())
    fm = _cache.get(key)
    if fm is None:
        with _lock:
            fm = _cache.get(key)
            if fm is None:
                fm = FSMirror(config=path, mirror=name)
                _cache[key] = fm
    return fm


def clear_cache() -> None:
    """Forget built mirrors (after editing the config file in a long-lived process)."""
    with _lock:
        _cache.clear()
