"""``FSMirrorTarget``: a Luigi target at a mirrored path that exists only once committed.

Luigi decides a task is done when ``output().exists()``, so a half-written file
must never count. The core's manifest is the commit marker: ``exists()`` asks
the core whether the manifest is there (one stat or HEAD), and every way of
writing (``open("w")``, ``write(value)``, ``temporary_path()``) goes through the
core's atomic writer, which writes the manifest last. ``format=`` takes a Luigi
format object too (``luigi.format.UTF8``, ``Nop``, ``Gzip >> ...``), which wraps
the core's writer and reader exactly as it wraps ``LocalTarget``'s files. Paths,
formats and storage all stay in the core; this module only speaks Luigi's
Target API.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import IO, Any, TypedDict, TypeVar

import luigi.format
import luigi.target

from fsmirror import ArtifactNotFoundError, FSMirror
from fsmirror.integration import adopt_file
from fsmirror.paths.identity import Instance
from fsmirror.paths.runid import RunId

from . import _running
from .config import get_mirror
from .luigi_format import format_label, is_luigi_format

__all__ = ["FSMirrorTarget", "FSMirrorFileSystem"]

T = TypeVar("T")


class _Where(TypedDict):
    """Which artifact of ``obj`` a target is: the core's slot arguments."""

    run_id: RunId
    partition: Instance | None
    output_name: str | None


class FSMirrorFileSystem(luigi.target.FileSystem):
    """Luigi's ``FileSystem`` over the mirror's fsspec filesystem, for tools that list, probe or move paths.

    Artifacts are written through :class:`FSMirrorTarget`. Given the
    ``mirror``, moving a committed artifact's data path takes the artifact out
    of the store: its bytes go to the destination as a plain file and the
    artifact is deleted through the core (manifest first), so its target no
    longer exists. Any other path is moved as the filesystem moves it.
    """

    def __init__(self, fs: Any, mirror: FSMirror | None = None) -> None:
        self.fsspec = fs
        self.mirror = mirror

    def exists(self, path: str) -> bool:
        return bool(self.fsspec.exists(path))

    def remove(self, path: str, recursive: bool = True, skip_trash: bool = True) -> None:
        self.fsspec.rm(path, recursive=recursive)

    def mkdir(self, path: str, parents: bool = True, raise_if_exists: bool = False) -> None:
        if self.fsspec.exists(path):
            if raise_if_exists:
                raise luigi.target.FileAlreadyExists(path)
            return
        parent = path.rstrip("/").rpartition("/")[0]
        if not parents and parent and not self.fsspec.isdir(parent):
            raise luigi.target.MissingParentDirectory(path)
        self.fsspec.makedirs(path, exist_ok=True)

    def _artifact(self, path: str) -> bool:
        """Whether ``path`` is the data file of a committed artifact of the mirror."""
        if self.mirror is None:
            return False
        try:
            self.mirror.manifest_uri(path)
        except ArtifactNotFoundError:
            return False
        return True

    def move(self, path: str, dest: str, raise_if_exists: bool = False) -> None:
        """Move ``path`` to ``dest``; a committed artifact leaves the store (copied, then deleted)."""
        if raise_if_exists and self.fsspec.exists(dest):
            raise luigi.target.FileAlreadyExists(dest)
        parent = dest.rstrip("/").rpartition("/")[0]
        if parent:
            self.fsspec.makedirs(parent, exist_ok=True)
        if self._artifact(path):
            assert self.mirror is not None
            self.fsspec.copy(path, dest)
            self.mirror.delete_uri(path)
        else:
            self.fsspec.mv(path, dest)

    def rename_dont_move(self, path: str, dest: str) -> None:
        """Move ``path`` to exactly ``dest``; :class:`luigi.target.FileAlreadyExists` if ``dest`` is taken."""
        self.move(path, dest, raise_if_exists=True)

    def copy(self, path: str, dest: str) -> None:
        """Copy the file at ``path`` to ``dest`` (an artifact's bytes stay committed where they are)."""
        parent = dest.rstrip("/").rpartition("/")[0]
        if parent:
            self.fsspec.makedirs(parent, exist_ok=True)
        self.fsspec.copy(path, dest)

    def isdir(self, path: str) -> bool:
        return bool(self.fsspec.isdir(path))

    def listdir(self, path: str) -> list[str]:
        return [str(p) for p in self.fsspec.ls(path, detail=False)]


class _AtomicWriter:
    """A file for ``target.open("w")``: committed by ``close()``, discarded when its block raises.

    Mirrors Luigi's own atomic files: leaving a ``with`` block by an exception
    commits nothing, so the task stays incomplete and Luigi reruns it.

    Bytes stream straight into the core's writer. A program that needs a real
    file descriptor (Luigi's ``Gzip`` and ``Bzip2`` formats run ``gzip`` /
    ``bzip2`` writing to ``fileno()``) gets a local spool file instead, asked
    for before anything is written; its bytes are committed through the same
    writer on ``close()``. ``tmp_path`` names that spool, as it names the temp
    file of Luigi's ``AtomicLocalFile``.
    """

    def __init__(self, cm: contextlib.AbstractContextManager[Any], text: bool) -> None:
        self._cm = cm
        self._text = text
        raw = cm.__enter__()
        self._core = io.BufferedWriter(raw)  # into the core's writer (hashing, committed on exit)
        self._file: IO[Any] = io.TextIOWrapper(self._core, encoding="utf-8") if text else self._core
        self._spool: IO[bytes] | None = None
        self.tmp_path = ""
        self._written = False
        self._done = False

    def write(self, data: Any) -> int:
        self._written = True
        return self._file.write(data)

    def writelines(self, lines: Any) -> None:
        self._written = True
        self._file.writelines(lines)

    def fileno(self) -> int:
        """A local spool file's descriptor, for a program that writes the bytes itself."""
        if self._spool is None:
            if self._written or self._done:
                raise io.UnsupportedOperation(
                    "fileno() of an fsmirror writer must be asked for before anything is written"
                )
            if isinstance(self._file, io.TextIOWrapper):  # unhook the text layer, keep the core writer open
                self._file.detach()
            fd, self.tmp_path = tempfile.mkstemp(prefix="fsmirror-luigi-", suffix=".part")
            self._spool = os.fdopen(fd, "w+b")
            self._file = io.TextIOWrapper(self._spool, encoding="utf-8") if self._text else self._spool
        return self._spool.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)

    @property
    def closed(self) -> bool:
        return self._done

    def close(self) -> None:
        """Commit: the bytes and their manifest become visible together."""
        if self._done:
            return
        self._done = True
        try:
            if self._spool is not None:
                self._file.flush()
                self._spool.seek(0)
                shutil.copyfileobj(self._spool, self._core, 1 << 20)
                self._drop_spool()
            self._detach()  # the last buffered bytes may fail to go out: then nothing commits
        except BaseException as e:
            self._drop_spool()
            self._cm.__exit__(type(e), e, e.__traceback__)
            raise
        self._cm.__exit__(None, None, None)

    def _drop_spool(self) -> None:
        if self._spool is not None:
            with contextlib.suppress(OSError, ValueError):
                self._file.close()  # the spool, or the text layer over it
                self._spool.close()
            self._spool = None
            self._file = self._core
        if self.tmp_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp_path)

    def _detach(self) -> None:
        """Flush and unhook the wrappers so collecting them later never touches the core's writer."""
        f: Any = self._file
        while hasattr(f, "detach"):
            f = f.detach()

    def discard(self, exc: BaseException | None = None) -> None:
        """Drop everything written; the target stays not complete."""
        if self._done:
            return
        self._done = True
        self._drop_spool()
        with contextlib.suppress(Exception):
            self._detach()
        error = exc or RuntimeError("write discarded")
        with contextlib.suppress(type(error)):
            self._cm.__exit__(type(error), error, error.__traceback__)

    def __enter__(self) -> _AtomicWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.close()
        else:
            self.discard(exc)

    def __del__(self) -> None:
        # Never closed (the task died or forgot): discard, never commit.
        with contextlib.suppress(Exception):
            self.discard()


class FSMirrorTarget(luigi.target.FileSystemTarget):
    """A Luigi target at ``obj``'s mirrored path for one run; ``exists()`` only once committed.

    Usually made by :class:`~fsmirror_luigi.FSMirrorTask`; build one by hand for
    extra outputs or tasks that do not use the mixin.

    Args:
        obj: the code the artifact belongs to (a task class, function, or
            ``"pkg/mod.py::Name"``).
        run_id: the run slot (the mixin passes ``"luigi"``, or the value of its
            run-id parameter); ``"latest"`` reads the newest committed run, whoever
            wrote it (a Dagster asset, an earlier build), for an upstream another
            orchestrator produces.
        mirror: an ``FSMirror``, a mirror name, or None for ``[fsmirror] mirror`` /
            the core's default.
        partition: the instance: which use of the code this is (the mixin passes
            the task's parameter values); a string or a tuple of strings, one path
            segment after the name.
        output_name: the file stem, default the mirror's (``out``).
        format: an fsmirror format name (``"csv"``: the extension, and the format
            of ``write``/``read``), default the mirror's; or a Luigi format object
            (``luigi.format.UTF8``, ``Nop``, ``Gzip``, ``UTF8 >> Gzip``), which
            ``open()`` applies as ``LocalTarget`` does: text or bytes, compressed
            or not, as the format says, whatever the mode's ``b``. The extension
            is then the stored bytes' kind (``out.txt``, ``out.bytes``, ``out.gz``;
            see :func:`fsmirror_luigi.luigi_format.format_label`).
        orchestrator: Luigi's ids for the manifest (task id, family, params), or a
            function returning them (called only when writing).
        overwrite: replace a committed artifact instead of refusing.
        fallback: ``(run_id, partition)`` of a second slot to read when nothing
            is committed at the target's own: where fsmirror 2.0 put the same
            output (the mixin passes it). Writes never go there.

    A write made from ``run()`` of the task whose ``output()`` holds this target
    is a new attempt (one more than the attempt committed here, if any), so the
    rerun of a task that crashed halfway replaces its partial outputs; any other
    write refuses to replace a committed artifact (see :mod:`fsmirror_luigi._running`).

    Example:
        >>> t = FSMirrorTarget("project/etl/my_etl_task.py::LiftDataTask", run_id="r1")  # doctest: +SKIP
        >>> t.write(df); t.exists()                                                    # doctest: +SKIP
        True
    """

    def __init__(
        self,
        obj: Any,
        *,
        run_id: RunId,
        mirror: FSMirror | str | None = None,
        partition: Instance | None = None,
        output_name: str | None = None,
        format: str | luigi.format.Format | None = None,
        orchestrator: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        run_source: str | None = "luigi",
        overwrite: bool = False,
        fallback: tuple[RunId, Instance | None] | None = None,
    ) -> None:
        # No super().__init__(): ``path`` is computed on first use, because Luigi builds a
        # target on every complete() check and only exists() is needed there.
        self.fsmirror = mirror if isinstance(mirror, FSMirror) else get_mirror(mirror)
        self.obj = obj
        self.run_id = run_id
        self.partition = partition
        self.output_name = output_name
        self.format = format
        self._luigi_format: Any = format if is_luigi_format(format) else None
        self._label: str | None = (
            format_label(format)
            if self._luigi_format is not None
            else (format if isinstance(format, str) else None)
        )
        self._orchestrator = orchestrator
        self.run_source = run_source
        self.overwrite = overwrite
        self._path: str | None = None
        self._where: _Where = {"run_id": run_id, "partition": partition, "output_name": output_name}
        self.fallback = fallback
        self._fallback: _Where | None = (
            None
            if fallback is None
            else {"run_id": fallback[0], "partition": fallback[1], "output_name": output_name}
        )

    @property
    def path(self) -> str:  # type: ignore[override]
        """The artifact's URI at the target's own slot, in the target's format: where a write lands.

        :attr:`uri` is where the committed artifact is (after a format fallback,
        or when it was found at the ``fallback`` slot).

        With ``run_id="latest"``: the newest committed run's artifact, or, while
        there is none, the path without a run segment.
        """
        if self.run_id == "latest":
            try:
                return self.uri
            except ArtifactNotFoundError:
                return self.fsmirror.mirror_full_output(
                    self.obj,
                    with_id=False,
                    partition=self.partition,
                    output_name=self.output_name,
                    output_format=self._label,
                )
        if self._path is None:
            self._path = self.fsmirror.mirror_full_output(
                self.obj,
                run_id=self.run_id,
                partition=self.partition,
                output_name=self.output_name,
                output_format=self._label,
            )
        return self._path

    @property
    def orchestrator(self) -> dict[str, Any]:
        """Luigi's ids for the manifest; built only when writing (collecting parameters is not free)."""
        o = self._orchestrator
        return dict((o() if callable(o) else o) or {})

    def __repr__(self) -> str:
        return f"FSMirrorTarget({self.path!r})"

    @property
    def fs(self) -> FSMirrorFileSystem:
        return FSMirrorFileSystem(self.fsmirror.filesystem, self.fsmirror)

    def exists(self) -> bool:
        """True only when a committed artifact (its manifest) is there: a half-written file never counts.

        One request when the target's own slot holds it; the fallback slot is
        asked only when it does not.
        """
        if self.fsmirror.exists(self.obj, **self._where):
            return True
        return self._fallback is not None and self.fsmirror.exists(self.obj, **self._fallback)

    def _found(self, op: Callable[[_Where], T]) -> T:
        """``op`` on the target's own slot, else (nothing committed there) on the fallback slot.

        When neither holds an artifact the error names the target's own slot.
        """
        try:
            return op(self._where)
        except ArtifactNotFoundError as missing:
            if self._fallback is None:
                raise
            try:
                return op(self._fallback)
            except ArtifactNotFoundError:
                raise missing from None

    def slot_key(self) -> tuple[str, str]:
        """Which artifact a write lands on: the slot's directory and the output name (no I/O)."""
        fm = self.fsmirror
        where = self._where
        return (
            fm.mirror_full(self.obj, run_id=where["run_id"], partition=where["partition"]),
            fm.settings.output_name if self.output_name is None else self.output_name,
        )

    def next_attempt(self) -> int:
        """One more than the attempt committed at the target's own slot; 0 when nothing is."""
        try:
            committed = self.fsmirror.manifest(self.obj, **self._where)
        except ArtifactNotFoundError:
            return 0
        return int(committed.get("attempt", 0)) + 1

    def _attempt(self) -> int:
        """The attempt a write is: a new one from the owning task's ``run()``, else the first."""
        attempt = _running.attempt_for(self)
        return 0 if attempt is None else attempt

    def _core_writer(self) -> contextlib.AbstractContextManager[Any]:
        """The core's atomic writer of this target's bytes, as they are stored (no Luigi format)."""
        return self.fsmirror.open_write(
            self.obj,
            format=self._label,
            overwrite=self.overwrite,
            run_source=self.run_source,
            orchestrator=self.orchestrator,
            attempt=self._attempt(),
            **self._where,
        )

    def makedirs(self) -> None:
        """Create the directory :attr:`path` is in, on local storage (object stores have none).

        As ``LocalTarget.makedirs()``: for a tool that opens the path itself. The
        mixin's outputs get it when their task starts (``_running``).
        """
        if self.run_id != "latest" and self.fsmirror.store.backend.local:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)

    def commit_file(self) -> bool:
        """Commit a file something else wrote at :attr:`path`; True when there was one to commit.

        ``open(target.path, "w")``, ``df.to_parquet(target.path)`` and other tools that
        take a path write the bytes but no manifest, so the target would not exist and
        Luigi would rerun the task forever. :func:`fsmirror.integration.adopt_file`
        moves it aside and streams it back through the core's atomic writer, which
        writes the manifest (the file is put back if that fails). A committed
        artifact is left alone (nothing to do), and so is a path with no file.
        """
        if self.run_id == "latest":
            return False
        path = self.path
        if self.fsmirror.store.backend.head(path) is None or self.exists():
            return False
        adopt_file(self.fsmirror, path, self._core_writer, owner="luigi")
        return True

    def open(self, mode: str = "r") -> Any:
        """``"w"``/``"wb"``: an atomic writer committed on close; ``"r"``/``"rb"``: the committed artifact.

        Without a Luigi format, ``b`` in the mode means bytes and its absence
        UTF-8 text. With one, the format decides, as for ``LocalTarget``: it
        wraps the core's writer (or reader) the way it wraps a local file.
        """
        rw = mode.replace("b", "").replace("t", "")
        fmt = self._luigi_format
        if rw == "w":
            cm = self._core_writer()
            if fmt is not None:
                return fmt.pipe_writer(_AtomicWriter(cm, text=False))
            return _AtomicWriter(cm, text="b" not in mode)
        if rw == "r":
            f = self._found(lambda where: self.fsmirror.open_read(self.obj, **where))
            if fmt is not None:  # FileWrapper: formats may set attributes on the pipe they wrap
                return fmt.pipe_reader(luigi.format.FileWrapper(f))
            return f if "b" in mode else io.TextIOWrapper(f, encoding="utf-8")
        raise ValueError(
            f"FSMirrorTarget.open: mode must be 'r', 'rb', 'w' or 'wb', got {mode!r} ({self.path})"
        )

    def write(self, value: Any, *, format: str | None = None) -> str:
        """Store ``value`` through the format registry (atomic, with manifest); returns the URI written."""
        return self.fsmirror.write(
            self.obj,
            value,
            format=format or self._label,
            overwrite=self.overwrite,
            run_source=self.run_source,
            orchestrator=self.orchestrator,
            attempt=self._attempt(),
            **self._where,
        )

    def read(self, *, format: str | None = None) -> Any:
        """The committed value, loaded in the format its manifest records."""
        return self._found(lambda where: self.fsmirror.read(self.obj, format=format, **where))

    def manifest(self) -> dict[str, Any]:
        """The committed artifact's manifest (task id, parameters, size, hash, code, git)."""
        return self._found(lambda where: self.fsmirror.manifest(self.obj, **where))

    @property
    def uri(self) -> str:
        """The committed artifact's actual URI (its extension shows any format fallback; the
        fallback slot's URI when the artifact is there)."""
        return self._found(lambda where: self.fsmirror.artifact_uri(self.obj, **where))

    def remove(self) -> None:
        """Remove the artifact and its manifest (manifest first), so Luigi sees the task as not done.

        The fallback slot's artifact too: it would keep the task complete.
        """
        self.fsmirror.delete(self.obj, **self._where)
        if self._fallback is not None:
            self.fsmirror.delete(self.obj, **self._fallback)

    @contextlib.contextmanager
    def temporary_path(self) -> Iterator[str]:
        """A local path for tools that write files themselves; committed only if the block succeeds.

        Unlike Luigi's default (a rename next to the target), the bytes go through
        the core's atomic writer so the manifest is written and ``exists()`` holds.
        """
        tmpdir = tempfile.mkdtemp(prefix="fsmirror-luigi-")
        try:
            path = os.path.join(tmpdir, os.path.basename(self.path))
            yield path
            if not os.path.exists(path):
                raise FileNotFoundError(f"temporary_path() block for {self.path} did not create {path}")
            with open(path, "rb") as src, self.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
