"""The one exception family fsmirror raises.

Each error also inherits the builtin a caller would already catch for the same
failure (a bad config is a ``ValueError``, a missing artifact a
``FileNotFoundError``), so existing handlers keep working.
"""

from __future__ import annotations

__all__ = [
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


class FSMirrorError(Exception):
    """Base of every error fsmirror raises on purpose."""


class ConfigError(FSMirrorError, ValueError):
    """The configuration is missing, unreadable or invalid."""


class ResolveError(FSMirrorError, ValueError):
    """An object, code address or run id cannot be turned into a path."""


class StorageError(FSMirrorError, OSError):
    """The store failed; the message names the URI and the provider's error is chained."""


class FormatError(FSMirrorError, TypeError):
    """A value cannot be serialized in the requested format, or a format is unknown."""


class ArtifactExistsError(StorageError, FileExistsError):
    """A committed artifact is already at that path and ``overwrite`` was not given."""


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

    def __init__(self, message: str, *, kind: str, subject: str = "", choices: tuple[str, ...] = ()):
        super().__init__(message)
        self.kind = kind
        self.subject = subject
        self.choices = choices


class QueryError(FSMirrorError, ValueError):
    """``fsmirror query``'s SQL did not run (or DuckDB, the ``query`` extra, is not installed)."""


class StoreWarning(UserWarning):
    """A listing skipped something in the store it could not read (damaged or foreign); names it."""
