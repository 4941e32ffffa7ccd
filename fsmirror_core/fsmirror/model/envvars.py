"""``${VAR}`` in config values: expansion, and the secrets it brought in (for redaction).

Its own module, below both :mod:`fsmirror.config` (which loads the file) and
:mod:`fsmirror._schema` (which validates it and redacts its messages), so that
neither imports the other to reach it. Pure: reads ``os.environ``, nothing else.
"""

from __future__ import annotations

import os
import re
from typing import Any

from ..errors import ConfigError

__all__ = ["VAR_PATTERN", "expand_env", "secrets_in", "redact", "spellings"]

VAR_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""A ``${NAME}`` reference: a shell-style variable name in braces."""


def expand_env(value: Any, source: str, key: str = "") -> Any:
    """Replace ``${VAR}`` in every string with the environment's value.

    Walks dicts and lists; an unset variable is a :class:`~fsmirror.ConfigError` naming the key.
    With ``$BUCKET`` set to ``my-bucket``::

        >>> expand_env({"storage": {"tenant": "${BUCKET}"}}, "<doc>")  # doctest: +SKIP
        {'storage': {'tenant': 'my-bucket'}}
    """
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            var = m.group(1)
            if var not in os.environ:
                raise ConfigError(f"{source}: key {key or '<root>'!r} uses ${{{var}}} but ${var} is not set")
            return os.environ[var]

        return VAR_PATTERN.sub(sub, value) if "${" in value else value
    if isinstance(value, dict):
        return {k: expand_env(v, source, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, source, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def secrets_in(raw: Any) -> set[str]:
    """The non-empty values of every ``${VAR}`` a config (as written) refers to."""
    stack: list[Any] = [raw]
    secrets: set[str] = set()
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str) and "${" in v:
            secrets.update(os.environ.get(m, "") for m in VAR_PATTERN.findall(v))
    return {s for s in secrets if s}


def spellings(secret: str) -> set[str]:
    r"""Every way a message may spell ``secret``: as is, and as ``repr``, JSON and ``ascii`` escape it.

    A validator quotes a value with ``!r``, which doubles a backslash (``a\\b`` for ``a\b``)
    and escapes quotes and non-ASCII characters; a message built from such a message escapes
    it again. Each form is taken twice over, so text that quoted the secret once or twice is
    still found.
    """
    import json

    found = {secret}
    frontier = {secret}
    for _ in range(2):
        nxt = set()
        for s in frontier:
            for form in (repr(s)[1:-1], json.dumps(s)[1:-1], json.dumps(s, ensure_ascii=False)[1:-1],
                         ascii(s)[1:-1], s.encode("unicode_escape").decode("ascii"),
                         s.replace("\\", "\\\\"), s.replace("'", "\\'"), s.replace('"', '\\"')):  # fmt: skip
                if form not in found:
                    nxt.add(form)
        found |= nxt
        frontier = nxt
    return {f for f in found if f}


def redact(text: str, secrets: set[str]) -> str:
    """``text`` with every spelling of each secret (:func:`spellings`) replaced by ``***``."""
    forms = {form for s in secrets for form in spellings(s)}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text
