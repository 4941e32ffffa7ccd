"""``FSMirrorTarget``: a Luigi target at a mirrored path that exists only once committed.

Luigi decides a task is done when ``output().exists()``, so a half-written file
must never count. The core's manifest is the commit marker: ``exists()`` asks
the core whether the manifest is there (one stat or HEAD), and every way of
writing (``open("w")``, ``write(value)``, ``temporary_path()``) goes through the
core's atomic writer, which writes the manifest last. Paths, formats and
storage all stay in the core; this module only speaks Luigi's Target API.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import IO, Any

import luigi.target

from fsmirror import FSMirror
from fsmirror.runid import RunId

from .config import get_mirror

__all__ = ["FSMirrorTarget", "FSMirrorFileSystem"]


class FSMirrorFileSystem(luigi.target.FileSystem):
    """Luigi's ``FileSystem`` over the mirror's fsspec filesystem, for tools that list or probe paths.

    Artifacts should be written and removed through :class:`FSMirrorTarget`;
    this only answers questions about raw paths.
    """

    def __init__(self, fs: Any) -> None:
        self.fsspec = fs

    def exists(self, path: str) -> bool:
        return bool(self.fsspec.exists(path))

    def remove(self, path: str, recursive: bool = True, skip_trash: bool = True) -> None:
        self.fsspec.rm(path, recursive=recursive)

    def mkdir(self, path: str, parents: bool = True, raise_if_exists: bool = False) -> None:
        if raise_if_exists and self.fsspec.exists(path):
            raise luigi.target.FileAlreadyExists(path)
        self.fsspec.makedirs(path, exist_ok=True)

    def isdir(self, path: str) -> bool:
        return bool(self.fsspec.isdir(path))

    def listdir(self, path: str) -> list[str]:
        return [str(p) for p in self.fsspec.ls(path, detail=False)]


class _AtomicWriter:
    """A file for ``target.open("w")``: committed by ``close()``, discarded when its block raises.

    Mirrors Luigi's own atomic files: leaving a ``with`` block by an exception
    commits nothing, so the task stays incomplete and Luigi reruns it.
    """

    def __init__(self, cm: contextlib.AbstractContextManager[Any], text: bool) -> None:
        self._cm = cm
        raw = cm.__enter__()
        buffered = io.BufferedWriter(raw)
        self._file: IO[Any] = io.TextIOWrapper(buffered, encoding="utf-8") if text else buffered
        self._done = False

    def write(self, data: Any) -> int:
        return self._file.write(data)

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
            self._detach()  # the last buffered bytes may fail to go out: then nothing commits
        except BaseException as e:
            self._cm.__exit__(type(e), e, e.__traceback__)
            raise
        self._cm.__exit__(None, None, None)

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
        run_id: the run slot (the mixin passes Luigi's ``task_id``).
        mirror: an ``FSMirror``, a mirror name, or None for ``[fsmirror] mirror`` /
            the core's default.
        partition: an extra path segment after the name (keeps tasks apart
            that share a run id).
        output_name: the file stem, default the mirror's (``out``).
        format: the format and extension, default the mirror's.
        orchestrator: Luigi's ids for the manifest (task id, family, params), or a
            function returning them (called only when writing).
        overwrite: replace a committed artifact instead of refusing.

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
        partition: str | None = None,
        output_name: str | None = None,
        format: str | None = None,
        orchestrator: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        run_source: str | None = "luigi",
        overwrite: bool = False,
    ) -> None:
        # No super().__init__(): ``path`` is computed on first use, because Luigi builds a
        # target on every complete() check and only exists() is needed there.
        self.fsmirror = mirror if isinstance(mirror, FSMirror) else get_mirror(mirror)
        self.obj = obj
        self.run_id = run_id
        self.partition = partition
        self.output_name = output_name
        self.format = format
        self._orchestrator = orchestrator
        self.run_source = run_source
        self.overwrite = overwrite
        self._path: str | None = None
        self._where = {"run_id": run_id, "partition": partition, "output_name": output_name}

    @property
    def path(self) -> str:  # type: ignore[override]
        """The artifact's URI in the mirror's format (a fallback format shows in :attr:`uri`)."""
        if self._path is None:
            self._path = self.fsmirror.mirror_full_output(
                self.obj,
                run_id=self.run_id,
                partition=self.partition,
                output_name=self.output_name,
                output_format=self.format,
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
        return FSMirrorFileSystem(self.fsmirror.filesystem)

    def exists(self) -> bool:
        """True only when a committed artifact (its manifest) is there: a half-written file never counts."""
        return self.fsmirror.exists(self.obj, **self._where)

    def open(self, mode: str = "r") -> Any:
        """``"w"``/``"wb"``: an atomic writer committed on close; ``"r"``/``"rb"``: the committed artifact."""
        rw = mode.replace("b", "").replace("t", "")
        if rw == "w":
            cm = self.fsmirror.open_write(
                self.obj,
                format=self.format,
                overwrite=self.overwrite,
                run_source=self.run_source,
                orchestrator=self.orchestrator,
                **self._where,
            )
            return _AtomicWriter(cm, text="b" not in mode)
        if rw == "r":
            f = self.fsmirror.open_read(self.obj, **self._where)
            return f if "b" in mode else io.TextIOWrapper(f, encoding="utf-8")
        raise ValueError(
            f"FSMirrorTarget.open: mode must be 'r', 'rb', 'w' or 'wb', got {mode!r} ({self.path})"
        )

    def write(self, value: Any, *, format: str | None = None) -> str:
        """Store ``value`` through the format registry (atomic, with manifest); returns the URI written."""
        return self.fsmirror.write(
            self.obj,
            value,
            format=format or self.format,
            overwrite=self.overwrite,
            run_source=self.run_source,
            orchestrator=self.orchestrator,
            **self._where,
        )

    def read(self, *, format: str | None = None) -> Any:
        """The committed value, loaded in the format its manifest records."""
        return self.fsmirror.read(self.obj, format=format, **self._where)

    def manifest(self) -> dict[str, Any]:
        """The committed artifact's manifest (task id, parameters, size, hash, code, git)."""
        return self.fsmirror.manifest(self.obj, **self._where)

    @property
    def uri(self) -> str:
        """The committed artifact's actual URI (its extension shows any format fallback)."""
        return self.fsmirror.artifact_uri(self.obj, **self._where)

    def remove(self) -> None:
        """Remove the artifact and its manifest (manifest first), so Luigi sees the task as not done."""
        self.fsmirror.delete(self.obj, **self._where)

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
