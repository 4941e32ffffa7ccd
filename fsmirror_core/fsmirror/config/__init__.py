"""Loading and validating the YAML config.

``load_config`` keeps the seed's contract: it returns the plain dict that
``yaml.safe_load`` gives. Validation (pydantic, imported on first use so that
``import fsmirror`` stays light) and ``${VAR}`` expansion happen when an
``FSMirror`` is built, so the dict a user prints never holds a secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..model.envvars import (
    expand_env,  # re-exported: its home was here before envvars.py
    redact,
    secrets_in,
)

if TYPE_CHECKING:
    from ..model.schema import Config

__all__ = [
    "CONFIG_ENV",
    "load_config",
    "validate_config",
    "expand_env",
    "check_config",
    "Check",
    "ConfigReport",
    "MAX_YAML_NODES",
]

CONFIG_ENV = "FSMIRROR_CONFIG_PATH"
MAX_YAML_NODES = 10_000
MAX_CONFIG_BYTES = 1_000_000


def _bounded_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load`` that refuses alias bombs before anything walks the result."""
    import yaml

    try:
        loader = yaml.SafeLoader(text)  # the reader refuses NUL and other unprintables here already
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: invalid YAML: {str(e).splitlines()[0]}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        seen = 0
        stack = [node]
        while stack:
            n = stack.pop()
            seen += 1
            if seen > MAX_YAML_NODES:
                raise ConfigError(
                    f"{source}: the YAML expands to more than {MAX_YAML_NODES} nodes "
                    "(anchors/aliases?); a config is never that large"
                )
            if isinstance(n, yaml.MappingNode):
                keys: set[str] = set()
                for k, v in n.value:
                    if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                        if k.value in keys:  # safe_load would keep the last one silently
                            raise ConfigError(
                                f"{source} line {k.start_mark.line + 1}: key {k.value!r} is given twice "
                                "in one mapping; keep one"
                            )
                        keys.add(k.value)
                    stack.append(k)
                    stack.append(v)
            elif isinstance(n, yaml.SequenceNode):
                stack.extend(n.value)
        return loader.construct_document(node)
    except RecursionError:
        raise ConfigError(f"{source}: the YAML nests too deeply to be a config") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(
            f"{source}{where}: invalid YAML: {problem} (only plain YAML is accepted; "
            "tags like !!python/object are refused)"
        ) from None
    finally:
        loader.dispose()


def load_config(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read the YAML config at ``path``, else at ``$FSMIRROR_CONFIG_PATH``.

    Returns the plain dict ``yaml.safe_load`` gives (the seed's contract).

    >>> load_config("examples/example_config.yml")["storage"]["provider"]
    's3'
    """
    if path is None:
        env = os.environ.get(CONFIG_ENV)
        if not env:
            raise ConfigError(
                f"no config path given and ${CONFIG_ENV} is not set: "
                f"export {CONFIG_ENV}=/path/to/config.yml or call load_config(path)"
            )
        path, origin = env, f"${CONFIG_ENV}={env!r}"
    else:
        origin = repr(os.fspath(path))
    p = Path(path)
    try:
        if p.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"config {origin} is larger than {MAX_CONFIG_BYTES} bytes")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {origin} does not exist: check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"config {origin} is a directory, not a YAML file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config {origin} cannot be read: {e}") from None
    data = _bounded_yaml(text, str(p))
    if not isinstance(data, dict):
        raise ConfigError(
            f"{p}: the config must be a YAML mapping with 'storage' and 'mirrors', got {type(data).__name__}"
        )
    return data


def validate_config(raw: Any, source: str = "<config>") -> Config:
    """Validate a plain config dict into a typed :class:`~fsmirror._schema.Config`.

    Errors name the source, the key and the problem; values that came from
    ``${VAR}`` are shown as written, never expanded, so secrets stay out of messages.
    """
    from ..model.schema import parse_config

    return parse_config(raw, source)


@dataclass(frozen=True)
class Check:
    """One thing ``fsmirror config check`` verified: what, whether it holds, and the detail."""

    what: str
    ok: bool
    detail: str


@dataclass
class ConfigReport:
    """Everything :func:`check_config` found; ``ok`` when no check failed."""

    source: str
    checks: list[Check] = field(default_factory=list)
    config: Config | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def problems(self) -> list[str]:
        return [f"{c.what}: {c.detail}" for c in self.checks if not c.ok]

    def to_json(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "path": self.source,
            "ok": self.ok,
            "provider": cfg.storage.provider if cfg else None,
            "mirrors": list(cfg.mirrors) if cfg else [],
            "checks": [{"check": c.what, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


def _did_you_mean(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_format(name: str, what: str, allow_pickle: bool) -> Check:
    from ..errors import FormatError
    from ..model.formats import FORMATS, get_format, plugin_names

    try:
        get_format(name)
    except FormatError as e:
        if e.kind == "broken-plugin":  # installed, but its plugin does not load: say why
            return Check(what, False, str(e))
        known = sorted({*FORMATS, *plugin_names()})
        return Check(
            what,
            False,
            f"unknown format {name!r}{_did_you_mean(name, known)}; known: {', '.join(known)}",
        )
    if name == "pkl" and not allow_pickle:
        return Check(what, False, "'pkl' with allow_pickle: false can neither write nor read anything")
    if name == "parquet":
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            return Check(
                what, False, "parquet needs pyarrow, which is not installed: pip install 'fsmirror[parquet]'"
            )
    return Check(what, True, f"{name!r} is a known format")


def _check_local_tenant(tenant: str) -> Check:
    p = Path(tenant)
    if p.exists():
        if not p.is_dir():
            return Check("storage.tenant", False, f"{tenant!r} exists and is not a directory")
        if not os.access(p, os.W_OK | os.X_OK):
            return Check("storage.tenant", False, f"{tenant!r} is not writable by this user")
        return Check("storage.tenant", True, f"{tenant!r} is a writable directory")
    parent = next((q for q in p.absolute().parents if q.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return Check(
            "storage.tenant", False, f"{tenant!r} does not exist and {str(parent)!r} is not writable"
        )
    return Check("storage.tenant", True, f"{tenant!r} does not exist yet; the first write creates it")


def check_config(path: str | os.PathLike[str] | None, *, connect: bool = False) -> ConfigReport:
    """Check a config as far as possible without writing anything.

    In order: the file reads and parses, the schema validates (with ``${VAR}`` set),
    every mirror's ``output_format`` is a registered format whose library is installed
    (a typo gets "did you mean"), ``pkl`` is not combined with ``allow_pickle: false``,
    the provider's fsspec driver is installed (the error names the extra) and accepts
    ``storage_options``, and a local tenant is (or can become) a writable directory.
    ``connect=True`` also lists the store once (read-only): the bucket exists and the
    credentials can read it. Checks stop at the first that makes the rest meaningless.
    """

    source = os.fspath(path) if path is not None else os.environ.get(CONFIG_ENV, "")
    report = ConfigReport(source or f"${CONFIG_ENV}")
    try:
        raw = load_config(path)
    except ConfigError as e:
        report.checks.append(Check("file", False, str(e)))
        return report
    report.checks.append(Check("file", True, "reads as a YAML mapping"))
    try:
        _run_checks(report, raw, connect)
    finally:
        # a check quotes what it found (a tenant, a driver's error on storage_options):
        # blank every ${VAR} value in it, in any spelling, as parse_config does
        secrets = secrets_in(raw)
        report.checks = [Check(c.what, c.ok, redact(c.detail, secrets)) for c in report.checks]
    return report


def _run_checks(report: ConfigReport, raw: Any, connect: bool) -> None:
    """The checks after the file loaded (see :func:`check_config`), appended to ``report``."""
    from ..errors import FSMirrorError

    try:
        cfg = validate_config(raw, report.source)
    except ConfigError as e:
        report.checks.append(Check("schema", False, str(e)))
        return
    report.config = cfg
    report.checks.append(Check("schema", True, f"valid ({len(cfg.mirrors)} mirror(s))"))
    for name, m in cfg.mirrors.items():
        report.checks.append(_check_format(m.output_format, f"mirrors.{name}.output_format", m.allow_pickle))
    st = cfg.storage
    import importlib.util

    from ..paths.providers import provider
    from ..store.backends import make_filesystem

    info = provider(st.provider)
    if info.driver is not None and importlib.util.find_spec(info.driver) is None:
        report.checks.append(
            Check(
                "storage.provider",
                False,
                f"provider {st.provider!r} needs {info.driver}, which is not installed: {info.install_hint}",
            )
        )
        return

    try:
        fs = make_filesystem(st)
    except FSMirrorError as e:
        report.checks.append(Check("storage.provider", False, str(e)))
        return
    report.checks.append(
        Check("storage.provider", True, f"{st.provider!r}: {type(fs).__module__.split('.')[0]} is installed")
    )
    if not info.object_store:
        report.checks.append(_check_local_tenant(st.tenant))
    if connect:
        report.checks.append(_check_connect(cfg, next(iter(cfg.mirrors))))


def _check_connect(cfg: Config, name: str) -> Check:
    """One read-only listing of a mirror's base: the store answers and lets us read.

    Built from the store layer (the backend at the base ``FSMirror`` would use), not from an
    ``FSMirror``: the facade sits above this module, and building one has side effects (it may
    install the OpenLineage emitter) that a check should not have.
    """
    from ..errors import FSMirrorError
    from ..paths.layout import base_uri
    from ..store.backends import make_backend

    st = cfg.storage
    try:
        base = base_uri(st.provider, st.tenant, st.namespace, cfg.mirrors[name].prefix)
        backend, _ = make_backend(st, base)
        backend.list_names(base, limit=1)
    except FSMirrorError as e:
        return Check("store", False, str(e))
    return Check("store", True, f"listed {base}")
