"""``FSMirror``: resolve code objects to mirrored paths, and read and write artifacts there.

Path methods are on the hot path of every task that asks where its output goes,
so the pieces resolved from an object are cached per object and the common
call (default arguments) is one dictionary lookup.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Union

from . import lineage
from .config import load_config, validate_config
from .errors import (
    ArtifactNotFoundError,
    ConfigError,
    FormatError,
    FSMirrorError,
    IntegrityError,
    ResolveError,
    StorageError,
)
from .paths import names
from .paths.address import CodeAddress, address_of
from .paths.identity import Instance, check_attempt, check_instance
from .paths.layout import base_uri, compile_layout
from .paths.runid import (
    ID_METHODS,
    RunId,
    encode_run_id,
    env_run_id,
    generate_run_id,
)
from .resolver import Resolver

if TYPE_CHECKING:
    import datetime as _dt

    from .model.hashing import HashingWriter
    from .model.record import DataTime, Input, Manifest
    from .model.schema import Config, Mirror, Sender
    from .services.lookup import Found
    from .store.protocol import Run, Slot, Store

#: What ``write(inputs=...)`` takes: a manifest (or its JSON), an Input record, or a URI.
InputLike = Union["Manifest", "Input", Mapping[str, Any], str]

__all__ = ["FSMirror", "MIRROR_ENV", "WriteResult"]

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
            ``$FSMIRROR_RUN_ID`` is unset: ``date`` (UTC to the millisecond plus a random suffix, ``20261201092448.483-7KQ2M``), ``uuid``, ``ulid``.
        take_last_instance: split on the last directory named ``root`` in a
            module's path (the default) rather than the first.

    Example:
        >>> fm = FSMirror(config=load_config(), mirror="fsmirror")  # doctest: +SKIP
        >>> fm.mirror_full_output(some_task)                          # doctest: +SKIP
        's3://test.bucket/fsmirror/tests/test_mirror/20240227160221.483-7KQ2M/some_task/out.parquet'
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
        st = self.config.storage
        self.base: str = base_uri(st.provider, st.tenant, st.namespace, self.settings.prefix)
        self.resolver: Resolver = Resolver(
            base=self.base,
            tokens=compile_layout(self.settings.layout),
            root=self.settings.root,
            take_last=take_last_instance,
            output_name=self.settings.output_name,
            output_format=self.settings.output_format,
            default_run_segment=encode_run_id(self.run_id),
        )
        """Code -> identity -> slot and series, and back: this mirror's path rules (public, typed)."""
        self._rel_cache: dict[Any, str] = {}
        self._full_cache: dict[Any, str] = {}
        self._rel_out_cache: dict[Any, str] = {}
        self._full_out_cache: dict[Any, str] = {}
        self._store: Store | None = None
        self._fs: Any = None
        ol = self.config.openlineage
        env = os.environ.get("FSMIRROR_OPENLINEAGE", "").strip().lower()
        if (ol.enabled and env not in ("0", "false", "no", "off")) or env in ("1", "true", "yes", "on"):
            self._openlineage(ol.namespace, ol.sender)

    def _openlineage(self, namespace: str | None, sender: Sender) -> None:
        """Register the OpenLineage emitter (:mod:`fsmirror.openlineage`): the config or env enabled it."""
        from .lineage import openlineage
        from .paths.providers import provider

        emitter = openlineage.install(namespace, sender=sender)
        st = self.config.storage
        if provider(st.provider).named_by_account:
            account = openlineage.azure_account(st.storage_options)
            if account:
                emitter.azure_accounts.setdefault(st.tenant, account)

    def __repr__(self) -> str:
        return f"FSMirror(mirror={self.mirror!r}, base={self.base!r}, run_id={self.run_id!r})"

    # -- resolution --------------------------------------------------------------

    def address(self, obj: Any) -> CodeAddress:
        """The code address of ``obj`` (function, class, instance, method or string)."""
        return address_of(obj)

    def run_segment(self, run_id: RunId | None = None) -> str:
        """The encoded run slot for ``run_id`` (this instance's run id when None)."""
        return self.resolver.run_segment(run_id)

    @staticmethod
    def _cached(cache: dict[Any, str], obj: Any, value: str) -> str:
        try:
            cache[obj] = value
        except TypeError:
            pass
        return value

    # -- the seed's path API -----------------------------------------------------

    def mirror_relative(
        self,
        obj: Any,
        with_id: bool = True,
        *,
        run_id: RunId | None = None,
        partition: Instance | None = None,
    ) -> str:
        """The artifact directory relative to the storage root: ``<root>/.../<module>/<run id>/<name>``."""
        if with_id is True and run_id is None and partition is None:
            try:
                return self._rel_cache[obj]
            except (KeyError, TypeError):
                return self._cached(self._rel_cache, obj, self.resolver.relative(obj, True, None, None))
        return self.resolver.relative(obj, with_id, run_id, partition)

    def mirror_full(
        self,
        obj: Any,
        with_id: bool = True,
        *,
        run_id: RunId | None = None,
        partition: Instance | None = None,
    ) -> str:
        """The artifact directory as a full URI: ``s3://bucket/<relative>``."""
        if with_id is True and run_id is None and partition is None:
            try:
                return self._full_cache[obj]
            except (KeyError, TypeError):
                value = f"{self.base}/{self.resolver.relative(obj, True, None, None)}"
                return self._cached(self._full_cache, obj, value)
        return f"{self.base}/{self.resolver.relative(obj, with_id, run_id, partition)}"

    def mirror_relative_output(
        self,
        obj: Any,
        with_id: bool = True,
        *,
        run_id: RunId | None = None,
        partition: Instance | None = None,
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
                value = (
                    f"{self.resolver.relative(obj, True, None, None)}/{self.resolver.output_file(None, None)}"
                )
                return self._cached(self._rel_out_cache, obj, value)
        return f"{self.resolver.relative(obj, with_id, run_id, partition)}/{self.resolver.output_file(output_name, output_format)}"

    def mirror_full_output(
        self,
        obj: Any,
        with_id: bool = True,
        *,
        run_id: RunId | None = None,
        partition: Instance | None = None,
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
                value = f"{self.base}/{self.resolver.relative(obj, True, None, None)}/{self.resolver.output_file(None, None)}"
                return self._cached(self._full_out_cache, obj, value)
        rel = self.resolver.relative(obj, with_id, run_id, partition)
        return f"{self.base}/{rel}/{self.resolver.output_file(output_name, output_format)}"

    # -- storage -----------------------------------------------------------------
    #
    # The facade resolves paths and hands slots to the protocol (fsmirror.protocol);
    # it never builds a file name itself (fsmirror.names does) nor orders runs.

    def _protocol(self) -> Store:
        """The commit protocol over this config's backend (tests may wrap ``.backend``)."""
        if self._store is None:
            from .store.backends import make_backend
            from .store.protocol import Store

            st = self.config.storage
            backend, self._fs = make_backend(st, self.base)
            tenant = base_uri(st.provider, st.tenant, None, None).rstrip("/")
            self._store = Store(backend, claim_ttl=st.claim_ttl, hash_algorithm=st.hash, root=tenant)
        return self._store

    @property
    def store(self) -> Store:
        """The commit protocol over this mirror's backend (``docs/protocol.md``): what reads and
        writes go through. Tools read cells through it (``store.visible(slot)``), never raw files."""
        return self._protocol()

    @property
    def filesystem(self) -> Any:
        """The fsspec filesystem artifacts are stored on."""
        self._protocol()
        return self._fs

    def write(
        self,
        obj: Any,
        value: Any,
        *,
        run_id: RunId | None = None,
        format: str | None = None,
        overwrite: bool = False,
        partition: Instance | None = None,
        output_name: str | None = None,
        run_source: str | None = None,
        orchestrator: Mapping[str, Any] | None = None,
        inputs: Iterable[InputLike] = (),
        attempt: int = 0,
        data_time: DataTime | None = None,
    ) -> WriteResult:
        """Store ``value`` as ``obj``'s artifact for a run; returns the URI written.

        The write is atomic and never clobbers a committed artifact unless
        ``overwrite=True``. ``format=None`` uses the mirror's format, falling
        back to json (JSON-able) else pkl when the value does not fit;
        ``"auto"`` picks by value; any other name is used exactly. The URI
        returned is a ``str`` whose ``.manifest`` is the committed record, so
        no second read is needed. ``inputs`` (manifests, :class:`~fsmirror.record.Input`
        records, or URIs of committed artifacts) are recorded as what the value was made
        from, besides whatever the current :meth:`run` scope has read. ``data_time``
        (:class:`~fsmirror.model.record.DataTime`) records the logical date and data interval
        the value is about, for a scheduler's runs: ``fsmirror ls/show --logical-date`` select by it.

        >>> fm.write(lift_data, df, run_id="run42")  # doctest: +SKIP
        's3://my.bucket/project/etl/my_etl_task/run42/lift_data/out.parquet'
        """
        from .model.formats import choose_format, python_type

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
            inputs=inputs,
            attempt=attempt,
            data_time=data_time,
        ) as w:
            try:
                fmt.dump(value, w)  # type: ignore[arg-type]
            except FSMirrorError:
                raise
            except Exception as e:
                raise FormatError(
                    f"cannot write {self.address(obj)} as {fmt.name}: {type(e).__name__}: {e}"
                ) from e
        return WriteResult(w.manifest)

    def open_write(
        self,
        obj: Any,
        *,
        run_id: RunId | None = None,
        format: str | None = None,
        overwrite: bool = False,
        partition: Instance | None = None,
        output_name: str | None = None,
        run_source: str | None = None,
        orchestrator: Mapping[str, Any] | None = None,
        inputs: Iterable[InputLike] = (),
        attempt: int = 0,
        data_time: DataTime | None = None,
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
            inputs=inputs,
            attempt=attempt,
            data_time=data_time,
        )

    @contextlib.contextmanager
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
        partition: Instance | None,
        output_name: str | None,
        run_source: str | None,
        orchestrator: Mapping[str, Any] | None,
        inputs: Iterable[InputLike] = (),
        attempt: int = 0,
        data_time: DataTime | None = None,
    ) -> Iterator[HashingWriter]:
        from .model.manifest import build_manifest
        from .paths.names import RESERVED_RUN_IDS

        step = lineage.current()
        if run_id is None and step is not None and step.run_id is not None:
            run_id, run_source = step.run_id, run_source or "scope"
        rid: RunId = self.run_id if run_id is None else run_id
        if isinstance(rid, str) and rid in RESERVED_RUN_IDS:
            raise ResolveError(f"run id {rid!r} is reserved: read(run_id='latest') means the newest run")
        source = run_source or ("argument" if run_id is not None else self.run_id_source)
        partition = check_instance(partition)
        slot = self.resolver.slot(obj, rid, partition, output_name)
        module, _ = self.resolver.pieces(obj)
        draft = build_manifest(
            address=self.address(obj),
            module=module,
            mirror=self.mirror,
            uri=slot.data(ext),
            run_id=rid,
            run_segment=slot.segment,
            run_source=source,
            orchestrator=orchestrator,
            fmt=ext,
            requested_format=requested,
            fell_back=fell_back,
            python_type=python_type,
            partition=partition,
            output_name=slot.output_name,
            hash_algorithm=self.config.storage.hash,
            attempt=check_attempt(attempt),
            data_time=data_time,
        )
        read = tuple(self._as_input(i) for i in inputs) + (step.inputs if step is not None else ())
        if read:
            unique = {i.uri: i for i in reversed(read) if i.uri != draft.uri}
            draft = dataclasses.replace(draft, inputs=tuple(reversed(unique.values())))
        with self._protocol().writing(slot, ext, draft, overwrite=overwrite) as w:
            yield w
        if step is not None:
            step.note_write(w.manifest)

    def _as_input(self, x: InputLike) -> Input:
        """An input as given to ``write(inputs=...)``: a record, a manifest (or its JSON), a URI."""
        from .model.record import Input, Manifest

        if isinstance(x, Input):
            return x
        if isinstance(x, Manifest):
            return Input.of(x)
        if isinstance(x, Mapping):
            return Input.of(Manifest.from_json(x))
        if isinstance(x, str):
            got = getattr(x, "manifest", None)  # a WriteResult carries its manifest
            if got is not None:
                return Input.of(got)
            found = self.visible_at(x)
            if found is None:
                raise ArtifactNotFoundError(f"input {x} is not a committed artifact of this mirror")
            return Input.of(found[1])
        raise TypeError(f"an input is a manifest, an Input or a URI, not {type(x).__name__}")

    def run(
        self,
        run_id: RunId | None = None,
        *,
        job: str | None = None,
        orchestrator: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> contextlib.AbstractContextManager[lineage.Scope]:
        """A lineage scope: what is read inside it is recorded in what is written inside it.

        Writes inside default to ``run_id`` (else this mirror's run id), so one block is one
        run of one step::

            with fm.run("2026-12-01") as run:
                orders = fm.read(extract)          # noted as an input
                fm.write(lift_data, clean(orders))  # its manifest lists extract's artifact

        ``run.inputs`` and ``run.outputs`` say what happened; ``job`` names the step for
        lineage listeners (default: the address of the first thing written).
        """
        return lineage.scope(
            job,
            run_id=self.run_id if run_id is None else run_id,
            orchestrator=orchestrator,
            key=key,
        )

    def find(
        self,
        obj: Any,
        run_id: RunId | None = "latest",
        partition: Instance | None = None,
        output_name: str | None = None,
    ) -> tuple[Slot, Manifest, str]:
        """The slot, visible manifest and data path a read of ``run_id`` (or "latest") finds.

        What ``read`` reads, without reading the bytes: adapters and tools locate an artifact
        through this (``ArtifactNotFoundError`` when nothing is committed there).
        """
        if run_id == "latest":
            got = self._protocol().latest(self.resolver.series(obj, partition, output_name))
            if got is None:
                where = self.mirror_full(obj, with_id=False, partition=partition)
                raise ArtifactNotFoundError(
                    f"no committed run of {self.address(obj)} under {where}: write one first, "
                    "or pass run_id=..."
                )
            run, man, path = got
            return self.resolver.slot(obj, run.run_id, partition, output_name), man, path
        rid = self.run_id if run_id is None else run_id
        slot = self.resolver.slot(obj, rid, partition, output_name)
        man, path = self._visible(slot, rid)
        return slot, man, path

    def _visible(self, slot: Slot, rid: RunId) -> tuple[Manifest, str]:
        got = self._protocol().visible(slot)
        if got is None:
            raise ArtifactNotFoundError(
                f"no committed artifact at {slot.dir}/{slot.output_name}.* (run {rid!r}): "
                f"nothing was written there, or the write did not finish"
            )
        return got

    def _load(self, man: Manifest, path: str, format: str | None = None) -> Any:
        from .model.formats import get_format

        fmt = get_format(format or man.format)
        if fmt.name == "pkl" and not self.settings.allow_pickle:
            raise FormatError(
                f"{man.uri} is a pickle and this mirror sets allow_pickle: false "
                "(reading a pickle runs code from the store)"
            )
        meta = man.to_json()
        load_path = getattr(fmt, "load_path", None)
        try:
            return self._protocol().load(
                man,
                path,
                self.settings.verify,
                lambda f: fmt.load(f, meta),
                None if load_path is None else (lambda p: load_path(p, meta)),
            )
        except FSMirrorError:
            raise
        except Exception as e:
            raise IntegrityError(
                f"{man.uri} could not be read as {fmt.name} ({type(e).__name__}: {e}); "
                "the bytes are damaged or not what the manifest says"
            ) from e

    def manifest(
        self,
        obj: Any,
        *,
        run_id: RunId | None = "latest",
        partition: Instance | None = None,
        output_name: str | None = None,
    ) -> dict[str, Any]:
        """The manifest of ``obj``'s committed artifact for a run (default: the latest)."""
        return self.find(obj, run_id, partition, output_name)[1].to_json()

    def read(
        self,
        obj: Any,
        *,
        run_id: RunId | None = "latest",
        partition: Instance | None = None,
        output_name: str | None = None,
        format: str | None = None,
    ) -> Any:
        """Read ``obj``'s artifact for a run (default: the latest), whatever format it fell back to."""
        return self._read_settled(lambda: self.find(obj, run_id, partition, output_name)[1:], format)

    def _read_settled(self, find: Callable[[], tuple[Manifest, str]], format: str | None = None) -> Any:
        """Load what ``find`` names; when the bytes do not match, look again before calling it damage.

        An overwrite that commits while a reader is between the manifest and the bytes leaves
        that reader with the old manifest and the new bytes (or a backup removed under it). The
        store is not damaged: the manifest has moved on. So a mismatch is re-read, and raised as
        an ``IntegrityError`` only when the manifest is still the one that disagrees.
        """
        man, path = find()
        for attempt in range(3):
            try:
                value = self._load(man, path, format)
                self._note_read(man)
                return value
            except (IntegrityError, ArtifactNotFoundError):
                again, again_path = find()
                same = (again.created_at, again.etag, again_path) == (man.created_at, man.etag, path)
                # The same manifest may disagree twice over a moment (an overwrite that failed
                # rolls its bytes back): a third mismatch under an unchanged manifest is damage.
                if same and attempt >= 1:
                    raise
                man, path = again, again_path
        value = self._load(man, path, format)
        self._note_read(man)
        return value

    @staticmethod
    def _note_read(man: Manifest) -> None:
        step = lineage.current()
        if step is not None:
            step.note_read(man)

    def visible_at(self, uri: str) -> tuple[Slot, Manifest, str] | None:
        """The committed artifact whose derived path is exactly ``uri``, found from its manifest.

        The one reader rule for a URI: the manifest beside ``uri`` must derive exactly that
        path from its own fields (a tampered or foreign manifest names nothing), and what a
        reader sees there is the protocol's (mid-overwrite: the previous run). None otherwise.
        """
        from .model.record import parse_cell, visible_manifest

        directory, _, filename = uri.rpartition("/")
        stem = filename.rpartition(".")[0] or filename
        if not stem or stem.startswith("_"):
            return None
        muri = names.manifest_file(directory, stem)
        store = self._protocol()
        blob = store.backend.get(muri)
        if blob is None:
            return None
        cell = parse_cell(blob.data, muri)
        man = visible_manifest(cell)
        if man is None:
            return None
        try:  # the manifest's own fields must derive exactly this path: a tampered one names nothing
            slot = self.resolver.slot_of(man)
        except FSMirrorError:
            return None
        got = store.visible_in(cell, slot)
        if got is None or slot.manifest != muri or slot.data(got[0].format) != uri:
            return None
        return slot, got[0], got[1]

    def lookup(
        self,
        target: str,
        *,
        run_id: RunId | None = "latest",
        partition: Instance | None = None,
        output_name: str | None = None,
        logical_date: _dt.date | _dt.datetime | None = None,
    ) -> Found:
        """The committed artifact ``target`` names, and its manifest: the code from an artifact.

        ``target`` is a code address, an artifact URI (``s3://``, ``gs://``, ``az://``,
        ``file://``), a local path, a path relative to the mirror's base or tenant, a
        content-hash prefix (6+ hex digits), or a local copy of an artifact (found by content).
        Anything else raises :class:`~fsmirror.NotAnArtifactError` saying what it is::

            >>> found = fm.lookup("s3://my.bucket/project/etl/lift_data/run42/extract/out.parquet")  # doctest: +SKIP
            >>> found.manifest.address, found.manifest.segment, found.manifest.code["source_git_blob"]  # doctest: +SKIP
            ('project/etl/lift_data.py::extract', 'run42', '5b1d3c0...')

        For a code address, an only partition is taken without ``partition=``, and
        ``logical_date`` (a UTC day or an instant) picks the newest run of that data day.
        """
        from .services.lookup import lookup

        return lookup(
            self,
            target,
            run_id=run_id,
            partition=partition,
            output_name=output_name,
            logical_date=logical_date,
        )

    def manifest_uri(self, uri: str) -> dict[str, Any]:
        """The manifest of the committed artifact at ``uri`` (as returned by :meth:`write`)."""
        found = self.visible_at(uri)
        if found is None:
            raise ArtifactNotFoundError(f"no committed artifact at {uri}")
        return found[1].to_json()

    def read_uri(self, uri: str) -> Any:
        """Read the committed artifact at ``uri`` (as returned by :meth:`write`)."""

        def find() -> tuple[Manifest, str]:
            found = self.visible_at(uri)
            if found is None:
                raise ArtifactNotFoundError(f"no committed artifact at {uri}")
            return found[1], found[2]

        return self._read_settled(find)

    def open_read(
        self,
        obj: Any,
        *,
        run_id: RunId | None = "latest",
        partition: Instance | None = None,
        output_name: str | None = None,
    ) -> BinaryIO:
        """A binary reader over ``obj``'s committed artifact for a run (its size checked)."""
        _, man, path = self.find(obj, run_id, partition, output_name)
        reader = self._protocol().open_verified(man, path, self.settings.verify)
        self._note_read(man)
        return reader

    def artifact_uri(
        self,
        obj: Any,
        *,
        run_id: RunId | None = "latest",
        partition: Instance | None = None,
        output_name: str | None = None,
    ) -> str:
        """The committed artifact's actual URI (its extension may show a fallback format)."""
        slot, man, _ = self.find(obj, run_id, partition, output_name)
        return slot.data(man.format)

    def exists(
        self,
        obj: Any,
        *,
        run_id: RunId | None = None,
        partition: Instance | None = None,
        output_name: str | None = None,
    ) -> bool:
        """Whether a committed artifact is there (``run_id=None``: this instance's run id)."""
        if run_id == "latest":
            return self.latest(obj, partition=partition, output_name=output_name) is not None
        rid = self.run_id if run_id is None else run_id
        try:
            return self._protocol().exists(self.resolver.slot(obj, rid, partition, output_name))
        except StorageError as e:
            if e.kind in ("damaged", "foreign"):  # a cell that does not parse, or another address's
                return False
            raise

    def latest(
        self, obj: Any, *, partition: Instance | None = None, output_name: str | None = None
    ) -> RunId | None:
        """The newest committed run of ``obj``: one verified hint, so constant cost however many runs.

        Runs another code address committed at the same paths are not ``obj``'s. When the hint
        names a run whose manifest cannot be read, this raises ``StorageError(kind="damaged")``
        rather than answer with an older run (so do ``read`` and ``find`` of the latest run).
        """
        got = self._protocol().latest(self.resolver.series(obj, partition, output_name))
        return None if got is None else got[0].run_id

    def runs(
        self, obj: Any, *, partition: Instance | None = None, output_name: str | None = None
    ) -> list[RunId]:
        """Every committed run of ``obj``, oldest first, in commit order (``docs/protocol.md``)."""
        return [r.run_id for r in self._protocol().runs(self.resolver.series(obj, partition, output_name))]

    def instances(self, obj: Any, *, run_id: RunId, output_name: str | None = None) -> list[Instance]:
        """Every instance of ``obj`` with a committed artifact in run ``run_id``, from one listing.

        For a tool that asks which of many instances of one code are done (Luigi's
        ``bulk_complete`` under ``RangeDaily``: one instance per day) without one request
        per instance. The listing is of the run's directory; a cell too small to be a
        manifest (a pending delete or takeover on an object store) is read to decide, as
        :meth:`runs` does. The artifact without an instance is not listed (ask
        :meth:`exists`). Sorted by instance segment.
        """
        from .model.record import PENDING_MAX
        from .paths.identity import instance_segment, parse_instance_segment

        store = self._protocol()
        prefix = self.resolver.full(obj, True, run_id, None)
        cell = names.manifest_file("", self.resolver.output_name(output_name))[1:]
        found: list[Instance] = []
        for st in store.backend.listing(prefix):
            rel = st.path[len(prefix) + 1 :].split("/") if st.path.startswith(prefix + "/") else []
            if len(rel) != 2 or rel[1] != cell:
                continue
            try:
                instance = parse_instance_segment(rel[0])
                if instance_segment(instance) != rel[0]:
                    continue  # no segment fsmirror writes for any instance
            except (FSMirrorError, ValueError):
                continue
            if (
                store.backend.exclusive
                or st.size >= PENDING_MAX
                or self.exists(obj, run_id=run_id, partition=instance, output_name=output_name)
            ):
                found.append(instance)
        return found

    def delete(
        self, obj: Any, *, run_id: RunId, partition: Instance | None = None, output_name: str | None = None
    ) -> bool:
        """Remove a run's artifact, manifest and sidecars; False when nothing is committed there."""
        return self._protocol().delete(self.resolver.slot(obj, run_id, partition, output_name))

    def gc(
        self,
        obj: Any,
        *,
        keep: int,
        dry_run: bool = False,
        partition: Instance | None = None,
        output_name: str | None = None,
        on_delete: Callable[[RunId], None] | None = None,
    ) -> list[RunId]:
        """Delete all but the newest ``keep`` runs of ``obj``; returns the runs deleted (or, dry, to delete).

        The newest run is never deleted, whatever ``keep`` says, and a run a
        writer is at (its slot pending) is skipped, not raced.
        """
        if keep < 0:
            raise ValueError(f"keep must be 0 or more, got {keep}")
        series = self.resolver.series(obj, partition, output_name)
        store = self._protocol()
        # Listeners that report deletions (the OpenLineage DROP) get the deleted runs' manifests,
        # read before the delete; without such a listener gc reads nothing more.
        seen: dict[str, Manifest] = {}
        tell = not dry_run and lineage.wants("artifacts_deleted")

        def before(r: Run) -> None:
            with contextlib.suppress(FSMirrorError):
                got = store.visible(series.slot_of(r.segment))
                if got is not None:
                    seen[r.segment] = got[0]

        hook = None if on_delete is None else (lambda r: on_delete(r.run_id))
        done = store.gc(series, keep, dry_run=dry_run, on_delete=hook, before_delete=before if tell else None)
        if tell:
            lineage.deleted([seen[r.segment] for r in done if r.segment in seen])
        return [r.run_id for r in done]

    def delete_uri(self, uri: str) -> bool:
        """Remove the committed artifact whose path is exactly ``uri``; False (nothing deleted) otherwise."""
        found = self.visible_at(uri)
        if found is None:
            return False
        return self._protocol().delete(found[0])


class WriteResult(str):
    """The URI a write committed, carrying the committed manifest as ``.manifest``."""

    manifest: Manifest

    def __new__(cls, manifest: Manifest) -> WriteResult:
        self = super().__new__(cls, manifest.uri)
        self.manifest = manifest
        return self

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        return str, (str(self),)  # crosses a process boundary as the plain URI
