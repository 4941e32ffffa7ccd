"""``FSMirror``: resolve code objects to mirrored paths, and read and write artifacts there.

Path methods are on the hot path of every task that asks where its output goes,
so the pieces resolved from an object are cached per object and the common
call (default arguments) is one dictionary lookup.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .address import CodeAddress, address_of
from .config import load_config, validate_config
from .errors import ConfigError, ResolveError
from .layout import base_uri, check_segment, compile_layout, module_path, output_file, relative_path
from .runid import ID_METHODS, RunId, encode_run_id, encode_segment, env_run_id, generate_run_id

if TYPE_CHECKING:
    from ._schema import Config, Mirror
    from .storage import ArtifactStore

__all__ = ["FSMirror", "MIRROR_ENV"]

MIRROR_ENV = "FSMIRROR_MIRROR"


def _pick_mirror(cfg: Config, mirror: str | None, source: str) -> str:
    known = ", ".join(repr(m) for m in cfg.mirrors)
    if mirror is None:
        mirror = os.environ.get(MIRROR_ENV) or None
        if mirror is None:
            if len(cfg.mirrors) == 1:
                return next(iter(cfg.mirrors))
            raise ConfigError(
                f"{source}: no mirror chosen and the config has several ({known}): "
                f"pass mirror=... or set ${MIRROR_ENV}"
            )
        if mirror not in cfg.mirrors:
            raise ConfigError(f"${MIRROR_ENV}={mirror!r} is not a mirror in {source}; known: {known}")
    if mirror not in cfg.mirrors:
        raise ConfigError(f"unknown mirror {mirror!r} in {source}; known: {known}")
    return mirror


class FSMirror:
    """Mirror a code tree into artifact storage.

    Args:
        config: the dict from :func:`load_config`, a path to a YAML file, or
            ``None`` to read ``$FSMIRROR_CONFIG_PATH``.
        mirror: which mirror of the config to use; may be omitted when the
            config has one mirror or ``$FSMIRROR_MIRROR`` names one.
        id_method: how to make a run id when none is given and
            ``$FSMIRROR_RUN_ID`` is unset: ``date`` (14-digit UTC), ``uuid``, ``ulid``.
        take_last_instance: split on the last directory named ``root`` in a
            module's path (the default) rather than the first.

    Example:
        >>> fm = FSMirror(config=load_config(), mirror="fsmirror")  # doctest: +SKIP
        >>> fm.mirror_full_output(some_task)                          # doctest: +SKIP
        's3://test.bucket/fsmirror/tests/test_mirror/20240227160221/some_task/out.parquet'
    """

    def __init__(
        self,
        config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        mirror: str | None = None,
        id_method: str = "date",
        take_last_instance: bool = True,
    ) -> None:
        if config is None or isinstance(config, (str, os.PathLike)):
            source = os.fspath(config) if config is not None else os.environ.get("FSMIRROR_CONFIG_PATH", "")
            raw: Any = load_config(config)
        else:
            source, raw = "<config dict>", config
        self.source = source
        self.config: Config = validate_config(raw, source)
        self.mirror: str = _pick_mirror(self.config, mirror, source)
        self.settings: Mirror = self.config.mirrors[self.mirror]
        if id_method not in ID_METHODS:
            raise ConfigError(f"unknown id_method {id_method!r}: choose one of {', '.join(ID_METHODS)}")
        self.id_method = id_method
        env = env_run_id()
        self.run_id: str = env or generate_run_id(id_method)
        self.run_id_source: str = "env" if env else "generated"
        self._run_seg = encode_run_id(self.run_id)
        self._take_last = take_last_instance
        self._tokens = compile_layout(self.settings.layout)
        st = self.config.storage
        self.base: str = base_uri(st.provider, st.tenant, st.namespace, self.settings.prefix)
        self._pieces: dict[Any, tuple[str, str]] = {}
        self._rel_cache: dict[Any, str] = {}
        self._full_cache: dict[Any, str] = {}
        self._rel_out_cache: dict[Any, str] = {}
        self._full_out_cache: dict[Any, str] = {}
        self._store: ArtifactStore | None = None

    def __repr__(self) -> str:
        return f"FSMirror(mirror={self.mirror!r}, base={self.base!r}, run_id={self.run_id!r})"

    # -- resolution --------------------------------------------------------------

    def address(self, obj: Any) -> CodeAddress:
        """The code address of ``obj`` (function, class, instance, method or string)."""
        return address_of(obj)

    def _resolve(self, obj: Any) -> tuple[str, str]:
        """(module path under the root, name), cached per object."""
        try:
            return self._pieces[obj]
        except (KeyError, TypeError):
            pass
        addr = address_of(obj)
        root = self.settings.root
        parts = addr.file_parts
        if not self._take_last and root in parts[:-1]:
            parts = parts[parts.index(root) :]
            addr = CodeAddress(parts, addr.qualname)
        pieces = (module_path(addr, root), check_segment(addr.qualname, "name"))
        try:
            self._pieces[obj] = pieces
        except TypeError:  # unhashable instance: resolved each call
            pass
        return pieces

    def run_segment(self, run_id: RunId | None = None) -> str:
        """The encoded run slot for ``run_id`` (this instance's run id when None)."""
        return self._run_seg if run_id is None else encode_run_id(run_id)

    def _relative(self, obj: Any, with_id: bool, run_id: RunId | None, partition: str | None) -> str:
        module, name = self._resolve(obj)
        seg = (self._run_seg if run_id is None else encode_run_id(run_id)) if with_id else None
        rel = relative_path(self._tokens, module, seg, name)
        if partition is not None:
            rel += "/" + encode_segment(str(partition), what="partition")
        return rel

    def _output(self, output_name: str | None, output_format: str | None) -> str:
        name = self.settings.output_name if output_name is None else output_name
        fmt = self.settings.output_format if output_format is None else output_format
        if output_name is not None:
            encode_segment(name, what="output name")
            if name.startswith("_") or "." in name:
                raise ResolveError(f"output name {name!r} must not start with '_' or contain '.'")
        if output_format is not None and (not fmt.isalnum() or not fmt.isascii()):
            raise ResolveError(f"output format {fmt!r} must be letters and digits, e.g. 'parquet'")
        return output_file(name, fmt)

    @staticmethod
    def _cached(cache: dict[Any, str], obj: Any, value: str) -> str:
        try:
            cache[obj] = value
        except TypeError:
            pass
        return value

    # -- the seed's path API -----------------------------------------------------

    def mirror_relative(
        self, obj: Any, with_id: bool = True, *, run_id: RunId | None = None, partition: str | None = None
    ) -> str:
        """The artifact directory relative to the storage root: ``<root>/.../<module>/<run id>/<name>``."""
        if with_id is True and run_id is None and partition is None:
            try:
                return self._rel_cache[obj]
            except (KeyError, TypeError):
                return self._cached(self._rel_cache, obj, self._relative(obj, True, None, None))
        return self._relative(obj, with_id, run_id, partition)

    def mirror_full(
        self, obj: Any, with_id: bool = True, *, run_id: RunId | None = None, partition: str | None = None
    ) -> str:
        """The artifact directory as a full URI: ``s3://bucket/<relative>``."""
        if with_id is True and run_id is None and partition is None:
            try:
                return self._full_cache[obj]
            except (KeyError, TypeError):
                value = f"{self.base}/{self._relative(obj, True, None, None)}"
                return self._cached(self._full_cache, obj, value)
        return f"{self.base}/{self._relative(obj, with_id, run_id, partition)}"

    def mirror_relative_output(
        self,
        obj: Any,
        with_id: bool = True,
        *,
        run_id: RunId | None = None,
        partition: str | None = None,
        output_name: str | None = None,
        output_format: str | None = None,
    ) -> str:
        """The artifact file relative to the storage root: ``<relative>/out.parquet``."""
        if (
            with_id is True
            and run_id is None
            and partition is None
            and output_name is None
            and output_format is None
        ):
            try:
                return self._rel_out_cache[obj]
            except (KeyError, TypeError):
                value = f"{self._relative(obj, True, None, None)}/{self._output(None, None)}"
                return self._cached(self._rel_out_cache, obj, value)
        return f"{self._relative(obj, with_id, run_id, partition)}/{self._output(output_name, output_format)}"

    def mirror_full_output(
        self,
        obj: Any,
        with_id: bool = True,
        *,
        run_id: RunId | None = None,
        partition: str | None = None,
        output_name: str | None = None,
        output_format: str | None = None,
    ) -> str:
        """The artifact file as a full URI: ``s3://bucket/<relative>/out.parquet``."""
        if (
            with_id is True
            and run_id is None
            and partition is None
            and output_name is None
            and output_format is None
        ):
            try:
                return self._full_out_cache[obj]
            except (KeyError, TypeError):
                value = f"{self.base}/{self._relative(obj, True, None, None)}/{self._output(None, None)}"
                return self._cached(self._full_out_cache, obj, value)
        rel = self._relative(obj, with_id, run_id, partition)
        return f"{self.base}/{rel}/{self._output(output_name, output_format)}"
