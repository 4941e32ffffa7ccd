"""Loading and validating the YAML config.

``load_config`` keeps the seed's contract: it returns the plain dict that
``yaml.safe_load`` gives. Validation (pydantic, imported on first use so that
``import fsmirror`` stays light) and ``${VAR}`` expansion happen when an
``FSMirror`` is built, so the dict a user prints never holds a secret.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from ._schema import Config

__all__ = ["CONFIG_ENV", "load_config", "validate_config", "expand_env", "MAX_YAML_NODES"]

CONFIG_ENV = "FSMIRROR_CONFIG_PATH"
MAX_YAML_NODES = 10_000
MAX_CONFIG_BYTES = 1_000_000
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


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


def expand_env(value: Any, source: str, key: str = "") -> Any:
    """Replace ``${VAR}`` in every string with the environment's value."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            var = m.group(1)
            if var not in os.environ:
                raise ConfigError(f"{source}: key {key or '<root>'!r} uses ${{{var}}} but ${var} is not set")
            return os.environ[var]

        return _VAR.sub(sub, value) if "${" in value else value
    if isinstance(value, dict):
        return {k: expand_env(v, source, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, source, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def validate_config(raw: Any, source: str = "<config>") -> Config:
    """Validate a plain config dict into a typed :class:`~fsmirror._schema.Config`.

    Errors name the source, the key and the problem; values that came from
    ``${VAR}`` are shown as written, never expanded, so secrets stay out of messages.
    """
    from ._schema import parse_config

    return parse_config(raw, source)
