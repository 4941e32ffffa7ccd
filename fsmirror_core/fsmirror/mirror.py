"""``FSMirror``: resolve code objects to mirrored paths, and read and write artifacts there.

Path methods are on the hot path of every task that asks where its output goes,
so the pieces resolved from an object are cached per object and the common
call (default arguments) is one dictionary lookup.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from .address import CodeAddress, address_of
from .config import load_config, validate_config
from .errors import ArtifactNotFoundError, ConfigError, FormatError, ResolveError
from .layout import base_uri, check_segment, compile_layout, module_path, output_file, relative_path
from .runid import (
    ID_METHODS,
    RunId,
    decode_run_id,
    encode_run_id,
    encode_segment,
    env_run_id,
    generate_run_id,
)

if TYPE_CHECKING:
    from ._schema import Config, Mirror
    from .storage import ArtifactStore, HashingWriter, Slot

__all__ = ["FSMirror", "MIRROR_ENV"]

MIRROR_ENV = "FSMIRROR_MIRROR"


@functools.lru_cache(maxsize=64)
def _manifest_file(output_name: str) -> str:
    """The manifest's file name, without importing ``.manifest`` on every ``exists()`` check."""
    from .manifest import manifest_name

    return manifest_name(output_name)


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
        module = module_path(addr, self.settings.root, last=self._take_last)
        pieces = (module, check_segment(addr.qualname, "name"))
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
            check_segment(name, "output name")  # the name goes into the path as given, unescaped
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

    # -- storage -----------------------------------------------------------------

    def _artifacts(self) -> ArtifactStore:
        if self._store is None:
            from .storage import ArtifactStore

            self._store = ArtifactStore(self.config.storage, self.base)
        return self._store

    @property
    def filesystem(self) -> Any:
        """The fsspec filesystem artifacts are stored on."""
        return self._artifacts().fs

    def _out_name(self, output_name: str | None) -> str:
        if output_name is None:
            return self.settings.output_name
        self._output(output_name, None)  # validates
        return output_name

    def _slot(self, obj: Any, run_id: RunId, partition: str | None, output_name: str | None) -> Slot:
        from .storage import Slot

        return Slot(
            self.mirror_full(obj, run_id=run_id, partition=partition),
            self.mirror_full(obj, with_id=False, partition=partition),
            self._out_name(output_name),
        )

    def _run_for_read(
        self, obj: Any, run_id: RunId | None, partition: str | None, output_name: str | None
    ) -> RunId:
        if run_id is None:
            return self.run_id
        if run_id == "latest":
            latest = self.latest(obj, partition=partition, output_name=output_name)
            if latest is None:
                where = self.mirror_full(obj, with_id=False, partition=partition)
                raise ArtifactNotFoundError(
                    f"no committed run of {self.address(obj)} under {where}: write one first, "
                    "or pass run_id=..."
                )
            return latest
        return run_id

    def write(
        self,
        obj: Any,
        value: Any,
        *,
        run_id: RunId | None = None,
        format: str | None = None,
        overwrite: bool = False,
        partition: str | None = None,
        output_name: str | None = None,
        run_source: str | None = None,
        orchestrator: Mapping[str, Any] | None = None,
    ) -> str:
        """Store ``value`` as ``obj``'s artifact for a run; returns the URI written.

        The write is atomic and never clobbers a committed artifact unless
        ``overwrite=True``. ``format=None`` uses the mirror's format, falling
        back to json (JSON-able) else pkl when the value does not fit;
        ``"auto"`` picks by value; any other name is used exactly.

        >>> fm.write(lift_data, df, run_id="run42")  # doctest: +SKIP
        's3://my.bucket/project/etl/my_etl_task/run42/lift_data/out.parquet'
        """
        from .formats import choose_format, python_type

        s = self.settings
        fmt, fell_back = choose_format(
            value, format, s.output_format, strict=s.strict_format, allow_pickle=s.allow_pickle
        )
        with self._open_write(
            obj,
            fmt.name,
            run_id=run_id,
            requested=format or s.output_format,
            fell_back=fell_back,
            python_type=python_type(value),
            overwrite=overwrite,
            partition=partition,
            output_name=output_name,
            run_source=run_source,
            orchestrator=orchestrator,
        ) as w:
            fmt.dump(value, w)  # type: ignore[arg-type]
        assert w.manifest is not None
        return str(w.manifest["uri"])

    def open_write(
        self,
        obj: Any,
        *,
        run_id: RunId | None = None,
        format: str | None = None,
        overwrite: bool = False,
        partition: str | None = None,
        output_name: str | None = None,
        run_source: str | None = None,
        orchestrator: Mapping[str, Any] | None = None,
    ) -> contextlib.AbstractContextManager[HashingWriter]:
        """A binary writer committed (atomically, with its manifest) only on a clean exit.

        For tools that stream their own bytes (Luigi's ``target.open("w")``);
        ``format`` only names the file's format and extension.
        """
        fmt = format or self.settings.output_format
        if not fmt.isalnum() or not fmt.isascii():
            raise ResolveError(f"format {fmt!r} must be letters and digits, e.g. 'parquet'")
        return self._open_write(
            obj,
            fmt,
            run_id=run_id,
            requested=fmt,
            fell_back=False,
            python_type="builtins.bytes",
            overwrite=overwrite,
            partition=partition,
            output_name=output_name,
            run_source=run_source,
            orchestrator=orchestrator,
        )

    def _open_write(
        self,
        obj: Any,
        ext: str,
        *,
        run_id: RunId | None,
        requested: str,
        fell_back: bool,
        python_type: str,
        overwrite: bool,
        partition: str | None,
        output_name: str | None,
        run_source: str | None,
        orchestrator: Mapping[str, Any] | None,
    ) -> contextlib.AbstractContextManager[HashingWriter]:
        from .manifest import build_manifest

        rid: RunId = self.run_id if run_id is None else run_id
        source = run_source or ("argument" if run_id is not None else self.run_id_source)
        slot = self._slot(obj, rid, partition, output_name)
        module, _ = self._resolve(obj)
        address = self.address(obj)
        segment = self.run_segment(rid)

        def make_manifest(uri: str, size: int, sha: str) -> dict[str, Any]:
            return build_manifest(
                address=address,
                module=module,
                mirror=self.mirror,
                uri=uri,
                run_id=rid,
                run_segment=segment,
                run_source=source,
                orchestrator=orchestrator,
                fmt=ext,
                requested_format=requested,
                fell_back=fell_back,
                python_type=python_type,
                size=size,
                sha256=sha,
                partition=partition,
                output_name=slot.output_name,
            )

        return self._artifacts().writing(slot, ext, make_manifest, overwrite=overwrite)

    def _load(self, manifest: Mapping[str, Any]) -> Any:
        from .formats import get_format

        fmt = get_format(str(manifest["format"]))
        if fmt.name == "pkl" and not self.settings.allow_pickle:
            raise FormatError(
                f"{manifest['uri']} is a pickle and this mirror sets allow_pickle: false "
                "(reading a pickle runs code from the store)"
            )
        store = self._artifacts()
        uri = str(manifest["uri"])
        load_path = getattr(fmt, "load_path", None)
        if store.local and load_path is not None:
            try:
                return load_path(os.path.abspath(uri), manifest)
            except FileNotFoundError as e:
                raise ArtifactNotFoundError(f"{uri} is listed in its manifest but missing") from e
        with store.open_read(uri) as f:
            return fmt.load(f, manifest)

    def manifest(
        self,
        obj: Any,
        *,
        run_id: RunId | None = "latest",
        partition: str | None = None,
        output_name: str | None = None,
    ) -> dict[str, Any]:
        """The manifest of ``obj``'s committed artifact for a run (default: the latest)."""
        rid = self._run_for_read(obj, run_id, partition, output_name)
        slot = self._slot(obj, rid, partition, output_name)
        man = self._artifacts().read_json(slot.manifest)
        if man is None:
            raise ArtifactNotFoundError(
                f"no committed artifact at {slot.dir}/{slot.output_name}.* (run {rid!r}): "
                f"nothing was written there, or the write did not finish"
            )
        return man

    def read(
        self,
        obj: Any,
        *,
        run_id: RunId | None = "latest",
        partition: str | None = None,
        output_name: str | None = None,
        format: str | None = None,
    ) -> Any:
        """Read ``obj``'s artifact for a run (default: the latest), whatever format it fell back to."""
        man = self.manifest(obj, run_id=run_id, partition=partition, output_name=output_name)
        if format is not None and format != man["format"]:
            man = {**man, "format": format}
        return self._load(man)

    def _manifest_for_uri(self, uri: str) -> tuple[str, dict[str, Any] | None]:
        directory, _, filename = uri.rpartition("/")
        stem = filename.rpartition(".")[0] or filename
        from .manifest import manifest_name

        muri = f"{directory}/{manifest_name(stem)}"
        return muri, self._artifacts().read_json(muri)

    def manifest_uri(self, uri: str) -> dict[str, Any]:
        """The manifest of the committed artifact at ``uri`` (as returned by :meth:`write`)."""
        muri, man = self._manifest_for_uri(uri)
        if man is None or man.get("uri") != uri:
            raise ArtifactNotFoundError(f"no committed artifact at {uri} (no manifest at {muri})")
        return man

    def read_uri(self, uri: str) -> Any:
        """Read the committed artifact at ``uri`` (as returned by :meth:`write`)."""
        return self._load(self.manifest_uri(uri))

    def open_read(
        self,
        obj: Any,
        *,
        run_id: RunId | None = "latest",
        partition: str | None = None,
        output_name: str | None = None,
    ) -> BinaryIO:
        """A binary reader over ``obj``'s committed artifact for a run."""
        man = self.manifest(obj, run_id=run_id, partition=partition, output_name=output_name)
        return self._artifacts().open_read(str(man["uri"]))

    def artifact_uri(
        self,
        obj: Any,
        *,
        run_id: RunId | None = "latest",
        partition: str | None = None,
        output_name: str | None = None,
    ) -> str:
        """The committed artifact's actual URI (its extension may show a fallback format)."""
        return str(self.manifest(obj, run_id=run_id, partition=partition, output_name=output_name)["uri"])

    def exists(
        self,
        obj: Any,
        *,
        run_id: RunId | None = None,
        partition: str | None = None,
        output_name: str | None = None,
    ) -> bool:
        """Whether a committed artifact is there (``run_id=None``: this instance's run id)."""
        if run_id == "latest":
            return self.latest(obj, partition=partition, output_name=output_name) is not None
        # Luigi's complete() calls this for every task: build only the manifest's path (the
        # commit marker) and, on local storage, ask the OS directly: one stat.
        where = self.mirror_full(obj, run_id=self.run_id if run_id is None else run_id, partition=partition)
        manifest = f"{where}/{_manifest_file(self._out_name(output_name))}"
        store = self._artifacts()
        if store.local:
            return os.path.exists(manifest)
        return store.exists(manifest)

    def latest(
        self, obj: Any, *, partition: str | None = None, output_name: str | None = None
    ) -> RunId | None:
        """The newest committed run of ``obj``, read from a pointer: constant cost however many runs."""
        slot = self._slot(obj, self.run_id, partition, output_name)
        store = self._artifacts()
        pointer = store.read_json(slot.pointer)
        if pointer and pointer.get("manifest") and store.exists(str(pointer["manifest"])):
            return decode_run_id(str(pointer["segment"]))
        if pointer is None and not store.local:
            return None
        # A stale pointer, or (local) one caught between unlink and rename: list instead.
        runs = self.runs(obj, partition=partition, output_name=output_name)  # pointer is stale: repair
        return runs[-1] if runs else None

    def _run_listing(
        self, obj: Any, partition: str | None, output_name: str | None
    ) -> tuple[str, tuple[str, ...]]:
        """(the URI to list under, the path parts expected after the run segment)."""
        module, name = self._resolve(obj)
        i = self._tokens.index("{run_id}")

        def fill(t: str) -> str:
            return module if t == "{module}" else name if t == "{name}" else t

        before = "/".join(fill(t) for t in self._tokens[:i])
        after = [fill(t) for t in self._tokens[i + 1 :]]
        if partition is not None:
            after.append(encode_segment(str(partition), what="partition"))
        from .manifest import manifest_name

        after.append(manifest_name(self._out_name(output_name)))
        prefix = f"{self.base}/{before}" if before else self.base
        return prefix, tuple("/".join(after).split("/"))

    def runs(self, obj: Any, *, partition: str | None = None, output_name: str | None = None) -> list[RunId]:
        """Every committed run of ``obj``, oldest first (one recursive listing)."""
        from .storage import mtime_of

        prefix, after = self._run_listing(obj, partition, output_name)
        store = self._artifacts()
        root = store.fs._strip_protocol(prefix).rstrip("/")
        found = []
        for path, info in store.find(prefix).items():
            rel = path[len(root) + 1 :] if path.startswith(root + "/") else None
            if rel is None:
                continue
            parts = rel.split("/")
            if len(parts) != len(after) + 1 or tuple(parts[1:]) != after or parts[0][:1] in ("_", "."):
                continue
            found.append((mtime_of(info), parts[0], path))
        found.sort()
        return [decode_run_id(seg) for seg in self._break_ties(found)]

    def _break_ties(self, found: list[tuple[float, str, str]]) -> list[str]:
        """Order runs whose listing times tie (S3 keeps whole seconds) by their manifests' created_at."""
        tied = [
            path
            for i, (t, _, path) in enumerate(found)
            if (i and found[i - 1][0] == t) or (i + 1 < len(found) and found[i + 1][0] == t)
        ]
        if not tied:
            return [seg for _, seg, _ in found]
        store = self._artifacts()
        created: dict[str, str] = {}
        for path, data in store.cat_many(tied).items():
            try:
                created[path] = str(json.loads(data).get("created_at", ""))
            except ValueError:
                created[path] = ""
        found.sort(key=lambda r: (r[0], created.get(r[2], ""), r[1]))
        return [seg for _, seg, _ in found]

    def delete(
        self, obj: Any, *, run_id: RunId, partition: str | None = None, output_name: str | None = None
    ) -> bool:
        """Remove a run's artifact and manifest (manifest first: never a committed but missing artifact)."""
        slot = self._slot(obj, run_id, partition, output_name)
        return self._delete_slot(slot, obj, partition, output_name)

    def _delete_slot(self, slot: Slot, obj: Any, partition: str | None, output_name: str | None) -> bool:
        from .storage import pointer_record

        store = self._artifacts()
        man = store.read_json(slot.manifest)
        if man is None:
            return False
        store.remove(slot.manifest)
        store.remove(str(man["uri"]))
        pointer = store.read_json(slot.pointer)
        if pointer and pointer.get("manifest") == slot.manifest:
            runs = self.runs(obj, partition=partition, output_name=output_name)
            if runs:
                newest = self._slot(obj, runs[-1], partition, output_name)
                man = store.read_json(newest.manifest)
                if man is not None:
                    store.put_pointer(slot.pointer, pointer_record(newest, man))
            else:
                store.remove(slot.pointer)
        return True

    def gc(
        self,
        obj: Any,
        *,
        keep: int,
        dry_run: bool = False,
        partition: str | None = None,
        output_name: str | None = None,
        on_delete: Callable[[RunId], None] | None = None,
    ) -> list[RunId]:
        """Delete all but the newest ``keep`` runs of ``obj``; returns the runs deleted (or, dry, to delete).

        The latest run is never deleted, whatever ``keep`` says, and a run whose
        write lock or claim is held (a writer is at it) is skipped, not raced.
        """
        if keep < 0:
            raise ValueError(f"keep must be 0 or more, got {keep}")
        runs = self.runs(obj, partition=partition, output_name=output_name)
        latest = self.latest(obj, partition=partition, output_name=output_name)
        doomed = [r for r in (runs[: len(runs) - keep] if keep else runs) if r != latest]
        if dry_run:
            return doomed
        store = self._artifacts()
        deleted: list[RunId] = []
        for run in doomed:
            slot = self._slot(obj, run, partition, output_name)
            with store.holding(slot) as free:
                # Re-checked under the lock: an overwrite that finished since the
                # listing may have made this run the latest.
                still_old = free and self.latest(obj, partition=partition, output_name=output_name) != run
                if still_old and self._delete_slot(slot, obj, partition, output_name):
                    deleted.append(run)
            if on_delete is not None:
                on_delete(run)
        return deleted

    def delete_uri(self, uri: str) -> bool:
        """Remove the committed artifact at ``uri`` and its manifest."""
        store = self._artifacts()
        muri, man = self._manifest_for_uri(uri)
        if man is None:
            return False
        store.remove(muri)
        store.remove(str(man["uri"]))
        return True
