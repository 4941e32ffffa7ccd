"""Dagster code versions from fsmirror's fingerprint: Dagster's own staleness view, no hand-kept versions.

Dagster marks an asset stale ("has a new code version") when the ``code_version``
of its definition differs from the one recorded at its last materialization.
Kept by hand, that string is forgotten or bumped for a comment. Set from the
fingerprint of the function's normalized source plus its project imports
(:mod:`fsmirror.fingerprint`; computed from the file, nothing imported), it
changes exactly when the logic does::

    @asset(code_version=code_version(__file__, "orders"))
    def orders() -> pd.DataFrame: ...

or for every asset at once, from each asset's own function::

    defs = Definitions(assets=with_code_versions([orders, report]), resources=...)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from dagster import AssetsDefinition, AssetSpec, GraphDefinition
from fsmirror.errors import ResolveError
from fsmirror.model.fingerprint import code_version as _code_version
from fsmirror.model.fingerprint import root_directory
from fsmirror.paths.address import address_of

from ._locate import ADDRESS_METADATA_KEY, code_of, user_fn

__all__ = ["code_version", "with_code_versions"]


def code_version(where: str | os.PathLike[str], name: str | None = None, *, root: str | None = None) -> str:
    """The fingerprint of the definition ``name`` in the file ``where``, as a Dagster ``code_version``.

    Args:
        where: the module's file (``__file__``), or a code address ``"path/mod.py::name"``.
        name: the function's (qualified) name; omitted when ``where`` is an address.
        root: the mirror's ``root`` directory name, so the project imports counted are those
            the manifest's ``code.fingerprint`` counts (default: the outermost package
            directory holding the file).

    Raises:
        ResolveError: the file or the definition is not there (a typo fails at definition time).

    >>> @asset(code_version=code_version(__file__, "orders"))  # doctest: +SKIP
    ... def orders(): ...
    """
    path = os.fspath(where)
    if name is None:
        path, sep, name = path.rpartition("::")
        if not sep:
            raise ResolveError(
                f"code_version({where!r}): give the name too, or an address 'path/mod.py::name'"
            )
    try:
        top = root_directory(path, root)
    except ValueError as e:
        raise ResolveError(f"code_version: {e}; pass root= the mirror's root directory name") from None
    version = _code_version(path, name, top)
    if version.fingerprint is None:
        raise ResolveError(f"code_version: {version.problem} ({path}::{name})")
    return version.fingerprint


def _definition_fn(asset: AssetsDefinition) -> Any:
    """The function whose code an asset's outputs come from: the op's, or a graph's composition."""
    node = asset.node_def
    if isinstance(node, GraphDefinition):
        # A @graph_asset: its composition function names every op it wires, and the fingerprint
        # follows module-level names transitively, so an edit of any op inside changes it.
        return node.composition_fn
    return user_fn(node)


def _function_version(asset: AssetsDefinition, root: str | None) -> str | None:
    """The fingerprint of the code the IO manager's manifests name for ``asset`` (None: no source)."""
    fn = _definition_fn(asset)
    if fn is None:  # a GraphDefinition built without a composition function
        return None
    obj, _ = code_of(fn, str(asset.node_def.name))
    try:
        addr = address_of(obj)
    except ResolveError:
        return None  # no source file (a notebook cell): left as it was
    return code_version(os.sep + "/".join(addr.file_parts), addr.qualname, root=root)


def _with_version(asset: AssetsDefinition, root: str | None) -> AssetsDefinition:
    def keep(spec: AssetSpec) -> bool:
        # an explicit version; or an output stored under a declared address, whose manifests
        # name that address and not this function
        return bool(spec.code_version) or ADDRESS_METADATA_KEY in (spec.metadata or {})

    if all(keep(spec) for spec in asset.specs):
        return asset
    version = _function_version(asset, root)
    if version is None:
        return asset

    def stamp(spec: AssetSpec) -> AssetSpec:
        return spec if keep(spec) else spec.replace_attributes(code_version=version)

    return asset.map_asset_specs(stamp)


def with_code_versions(assets: Iterable[Any], *, root: str | None = None) -> Sequence[Any]:
    """``assets`` with each computed asset's ``code_version`` set from its own function's fingerprint.

    ``@asset`` and ``@multi_asset``: the decorated function's, the code ``FSMirrorIOManager``
    records in the artifact's manifest (for an asset made inside a function, a factory, the
    enclosing function's). ``@graph_asset``: the composition function's, which covers the ops
    it wires (the manifests of its outputs name the op that wrote each). An explicit
    ``code_version=`` is kept, and so is an asset whose metadata declares ``fsmirror/address``
    (stored under that address, not under its function); source assets, asset specs and
    anything else pass through unchanged, so the whole ``assets=[...]`` list of
    ``Definitions`` can be wrapped.
    """
    return [_with_version(a, root) if isinstance(a, AssetsDefinition) and a.is_executable else a for a in assets]
