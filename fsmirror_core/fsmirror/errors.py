"""The one exception family fsmirror raises.

Each error also inherits the builtin a caller would already catch for the same
failure (a bad config is a ``ValueError``, a missing artifact a
``FileNotFoundError``), so existing handlers keep working.

Each error also carries a machine-readable ``kind`` (one of :data:`ErrorKind`, or
``None`` when its class says all there is), set where it is raised. Code that
decides something about an error (skip a damaged cell, exit 2 on a malformed
argument) reads ``kind``; the message is for people and may be reworded.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ErrorKind",
    "KINDS",
    "FSMirrorError",
    "ConfigError",
    "ResolveError",
    "StorageError",
    "FormatError",
    "ArtifactExistsError",
    "ArtifactNotFoundError",
    "IntegrityError",
    "NotAnArtifactError",
    "QueryError",
    "StoreWarning",
]


ErrorKind = Literal[
    # a StorageError or NotAnArtifactError: a manifest or cell that does not parse
    "damaged",
    # a ResolveError: a code address or code path argument that is malformed, not one the store lacks
    "malformed-address",
    # an ArtifactExistsError: another write or delete holds the slot / a committed artifact is there
    "in-progress",
    "committed",
    # a NotAnArtifactError: what a lookup's target is instead of one committed artifact
    "manifest",
    "pointer",
    "run-index",
    "sidecar",
    "scratch",
    "pending",
    "uncommitted",
    "foreign",
    "other-mirror",
    "outside",
    "directory",
    "missing",
    "partitions",
    "outputs",
    "runs",
    "unknown-code",
    "ambiguous",
    # a FormatError: an ``fsmirror.formats`` plugin whose entry point failed to load
    "broken-plugin",
    # an ArtifactNotFoundError from a pin: gc's delete of that run is under way
    "being-deleted",
]
"""What an error is, for code that decides by it (``e.kind == "damaged"``), instead of its text."""

KINDS: frozenset[str] = frozenset(get_args(ErrorKind))
"""Every :data:`ErrorKind`, for checking a kind given at run time."""


class FSMirrorError(Exception):
    """Base of every error fsmirror raises on purpose.

    ``kind`` says what went wrong for code that acts on it; ``None`` means the class
    is all there is to know. The keyword is optional so that ``type(e)(message)`` and
    unpickling (which re-sets ``kind`` from the instance's ``__dict__``) keep working.
    """

    kind: ErrorKind | None = None

    def __init__(self, *args: object, kind: ErrorKind | None = None) -> None:
        super().__init__(*args)
        if kind is not None:
            self.kind = kind


class ConfigError(FSMirrorError, ValueError):
    """The configuration is missing, unreadable or invalid."""


class ResolveError(FSMirrorError, ValueError):
    """An object, code address or run id cannot be turned into a path.

    ``kind="malformed-address"``: the address or code path itself is malformed (the
    CLI's usage error, exit 2), not one the store or the code lacks.
    """


class StorageError(FSMirrorError, OSError):
    """The store failed; the message names the URI and the provider's error is chained.

    ``kind="damaged"``: a manifest or state cell that does not parse (a listing or gc
    skips it with a warning; ``exists()`` says False) rather than a store that failed.
    """


class FormatError(FSMirrorError, TypeError):
    """A value cannot be serialized in the requested format, or a format is unknown."""


class ArtifactExistsError(StorageError, FileExistsError):
    """A committed artifact is already at that path and ``overwrite`` was not given.

    ``kind``: ``committed`` (pass ``overwrite=True``) or ``in-progress`` (another write or
    delete holds the slot; it expires after ``storage.claim_ttl``); ``None`` for the rest
    (a slot another address maps to, a claim lost to a slower write).
    """


class ArtifactNotFoundError(StorageError, FileNotFoundError):
    """No committed artifact at that path (or no run at all for ``latest``)."""


class IntegrityError(StorageError):
    """An artifact's bytes are not the ones its manifest vouches for (size or content hash)."""


class NotAnArtifactError(ArtifactNotFoundError):
    """A lookup's target is not one committed artifact; ``kind`` says what it is instead.

    Kinds: ``manifest``, ``pointer``, ``run-index``, ``sidecar``, ``scratch`` (fsmirror's own
    files); ``pending`` and ``uncommitted`` (a slot a write has not committed); ``damaged``;
    ``foreign`` (inside the tenant, not fsmirror's); ``other-mirror``; ``outside`` (not in the
    store); ``directory``; ``missing``; ``partitions``, ``outputs``, ``runs`` (the code has
    several: name one of ``choices``); ``unknown-code`` (``choices``: the close qualnames);
    ``ambiguous`` (a hash prefix several artifacts share; ``choices``: their URIs).
    """

    kind: ErrorKind

    def __init__(
        self, message: str, *, kind: ErrorKind, subject: str = "", choices: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, kind=kind)
        self.subject = subject
        self.choices = choices


class QueryError(FSMirrorError, ValueError):
    """``fsmirror query``'s SQL did not run (or DuckDB, the ``query`` extra, is not installed)."""


class StoreWarning(UserWarning):
    """A listing skipped something in the store it could not read (damaged or foreign); names it."""
