"""Which FSMirror a Luigi task writes through: ``luigi.cfg`` first, then the core's defaults.

Luigi users keep settings in ``luigi.cfg``, so an ``[fsmirror]`` section there
(``config_path``, ``mirror``) is honoured before the core's environment
variables. A relative ``config_path`` is relative to the luigi.cfg that sets
it, as a path written in a config file is read by its author, not to wherever
``luigi`` happens to be started. Mirrors are cached per process: Luigi's
``workers=N`` forks, and an fsspec async filesystem (s3fs, gcsfs) made in the
parent refuses to work in the child, so each forked child starts with an empty
cache.
"""

from __future__ import annotations

import configparser
import os
import threading

import luigi.configuration

from fsmirror import ConfigError, FSMirror
from fsmirror.config import CONFIG_ENV
from fsmirror.integration import clear_mirrors, mirror_for

__all__ = ["SECTION", "get_mirror", "luigi_setting", "setting_file", "clear_cache"]

SECTION = "fsmirror"

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


def setting_file(option: str) -> str | None:
    """The Luigi config file that sets ``[fsmirror] <option>`` to its current value, or None.

    Luigi reads its files in order (``/etc/luigi/luigi.cfg``, ``./luigi.cfg``,
    then ``$LUIGI_CONFIG_PATH``), each overriding the ones before, so the last
    file holding the option is the one whose value is in effect. A value that
    no file holds as it stands (set in code with ``config.set``, or read from a
    file Luigi was not told about) has no file: None.
    """
    parser = luigi.configuration.get_config()
    try:
        current = parser.get(SECTION, option, None, raw=True)
    except TypeError:  # the TOML parser takes no raw=
        current = parser.get(SECTION, option, None)
    if current is None:
        return None
    # The files Luigi read, in order: its parser keeps them (add_config_path appends there); the
    # documented locations if a Luigi version stops keeping that list.
    documented = ["/etc/luigi/client.cfg", "/etc/luigi/luigi.cfg", "client.cfg", "luigi.cfg"]
    documented += [os.environ["LUIGI_CONFIG_PATH"]] if os.environ.get("LUIGI_CONFIG_PATH") else []
    for path in reversed(list(getattr(type(parser), "_config_paths", documented))):
        if os.path.isfile(path) and _file_value(path, option) == str(current):
            return str(os.path.abspath(path))
    return None


def _file_value(path: str, option: str) -> str | None:
    """``[fsmirror] <option>`` as written in one Luigi config file (cfg/ini or TOML)."""
    if path.endswith(".toml"):
        try:
            import tomllib
        except ImportError:  # Python 3.10: no stdlib TOML reader; the value has no known file
            return None
        try:
            with open(path, "rb") as f:
                value = tomllib.load(f).get(SECTION, {}).get(option)
        except (OSError, ValueError):
            return None
        return None if value is None else str(value)
    cp = configparser.RawConfigParser()
    cp.optionxform = str  # type: ignore[assignment,method-assign]  # as Luigi's parser: case kept
    try:
        cp.read(path)
    except configparser.Error:
        return None
    for name in (option, option.replace("_", "-")):
        if cp.has_option(SECTION, name):
            return cp.get(SECTION, name)
    return None


def _config_path() -> str:
    """The config file's absolute path.

    luigi.cfg's ``config_path`` (relative to that luigi.cfg), else
    ``$FSMIRROR_CONFIG_PATH`` (relative to the working directory, as any
    environment path).
    """
    path = luigi_setting("config_path")
    if path is not None:
        path = os.path.expanduser(path)
        if not os.path.isabs(path):
            source = setting_file("config_path")
            base = os.path.dirname(source) if source else os.getcwd()
            path = os.path.join(base, path)
        return os.path.abspath(path)
    path = os.environ.get(CONFIG_ENV) or None
    if path is None:
        raise ConfigError(
            "fsmirror_luigi: no fsmirror config found: add 'config_path = /path/to/fsmirror.yml' to the "
            f"[{SECTION}] section of luigi.cfg, or export {CONFIG_ENV}=/path/to/fsmirror.yml"
        )
    return os.path.abspath(os.path.expanduser(path))


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
    name = mirror or luigi_setting("mirror")
    fm = mirror_for(path, name)  # one per config file version, fork-safe (workers=N forks)
    with _lock:
        _resolved[mirror] = fm
    return fm


def clear_cache() -> None:
    """Forget built mirrors and settings (after changing luigi.cfg, the env or the YAML in-process)."""
    with _lock:
        _forget()


def _forget() -> None:
    clear_mirrors()
    _resolved.clear()
    _settings.clear()


# Luigi's workers=N forks: an fsspec async filesystem (s3fs, gcsfs) made in the parent refuses
# to run in the child, so each child builds its own mirror. No lock here: a lock held by another
# thread at fork time would never be released in the child.
os.register_at_fork(after_in_child=_forget)
