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


class StoreWarning(UserWarning):
    """A listing skipped something in the store it could not read (damaged or foreign); names it."""
