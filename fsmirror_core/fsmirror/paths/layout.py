"""The path grammar, as pure functions: no I/O, no fsspec.

::

    relative = <root>/<module dirs...>/<module>/[<run id>/]<name>   (layout "{module}/{run_id}/{name}")
    full     = <scheme>://<tenant>/[<namespace>/][<prefix>/]<relative>    (local: <tenant>/...)
    output   = <full>/[<partition>/]<output_name>.<format>

Every segment is checked here, so no input can make a path leave its tenant.
"""

from __future__ import annotations

from ..errors import ConfigError, ResolveError
from .address import CodeAddress
from .providers import PROVIDERS

__all__ = [
    "DEFAULT_LAYOUT",
    "PLACEHOLDERS",
    "SCHEMES",
    "check_segment",
    "compile_layout",
    "module_path",
    "relative_path",
    "base_uri",
    "output_file",
]

DEFAULT_LAYOUT = "{module}/{run_id}/{name}"
PLACEHOLDERS = ("{module}", "{run_id}", "{name}")
SCHEMES = {name: p.uri_prefix for name, p in PROVIDERS.items()}  # provider -> "s3://" (from the table)
MIRROR = "MIRROR"


def check_segment(segment: str, what: str) -> str:
    """Reject anything that is not exactly one harmless path segment."""
    if not segment or segment in (".", "..") or "/" in segment or "\\" in segment:
        raise ResolveError(
            f"{what} {segment!r} is not a single path segment (empty, '.', '..' or containing '/' or '\\')"
        )
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in segment):
        # C0, DEL and C1 (U+009B is a one-byte CSI on many terminals): a name shown by `ls` and
        # in paths must not be able to drive the terminal that shows it
        raise ResolveError(f"{what} {segment!r} contains a NUL or control character (C0, DEL or C1)")
    return segment


def compile_layout(layout: str) -> tuple[str, ...]:
    """Split a layout template into segments; each placeholder must appear exactly once."""
    tokens = tuple(layout.split("/"))
    for placeholder in PLACEHOLDERS:
        if tokens.count(placeholder) != 1:
            raise ConfigError(
                f"layout {layout!r} must hold {placeholder} exactly once, as a whole segment "
                f"(e.g. {DEFAULT_LAYOUT!r} or '{{module}}/{{name}}/{{run_id}}')"
            )
    for token in tokens:
        if token not in PLACEHOLDERS:
            if "{" in token or "}" in token:
                raise ConfigError(
                    f"layout {layout!r}: unknown placeholder in {token!r}; known: {', '.join(PLACEHOLDERS)}"
                )
            try:
                check_segment(token, "layout segment")
            except ResolveError as e:
                raise ConfigError(f"layout {layout!r}: {e}") from None
    return tokens


def _strip_ext(filename: str) -> str:
    stem, dot, _ = filename.rpartition(".")
    return stem if dot and stem else filename


def module_path(address: CodeAddress, root: str, *, last: bool = True) -> str:
    """``<root>/<dirs>/<module>`` from the last (or first) directory named ``root`` in the file path."""
    parts = address.file_parts
    order = range(len(parts) - 2, -1, -1) if last else range(len(parts) - 1)
    for i in order:
        if parts[i] == root:
            break
    else:
        raise ResolveError(
            f"{address} is outside the mirror's root {root!r}: no directory named {root!r} in "
            f"its path; move the code under {root!r} or use a mirror whose root contains it"
        )
    segs = [*parts[i:-1], _strip_ext(parts[-1])]
    for seg in segs:
        check_segment(seg, f"path part of {address}")
    return "/".join(segs)


def relative_path(tokens: tuple[str, ...], module: str, run_segment: str | None, name: str) -> str:
    """Fill a compiled layout; ``run_segment=None`` drops the run slot (``with_id=False``)."""
    out = []
    for token in tokens:
        if token == "{module}":
            out.append(module)
        elif token == "{name}":
            out.append(name)
        elif token == "{run_id}":
            if run_segment is not None:
                out.append(run_segment)
        else:
            out.append(token)
    return "/".join(out)


def _local_root(tenant: str) -> str:
    import posixpath

    root = posixpath.normpath(tenant.replace("\\", "/"))
    return "" if root == "/" else root


def base_uri(provider: str, tenant: str, namespace: str | None, prefix: str | None) -> str:
    """``<scheme>://<tenant>[/<namespace>][/<prefix>]``; ``MIRROR`` or empty adds nothing."""
    scheme = SCHEMES[provider]
    base = _local_root(tenant) if provider == "local" else scheme + tenant
    for seg, what in ((namespace, "storage.namespace"), (prefix, "prefix")):
        if seg and seg != MIRROR:
            base += "/" + check_segment(seg, what)
    return base


def output_file(output_name: str, fmt: str) -> str:
    """``<output_name>.<format>``: the artifact's file name."""
    return f"{output_name}.{fmt}"
