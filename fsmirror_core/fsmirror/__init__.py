"""fsmirror: artifact paths that mirror the code that made them.

``import fsmirror`` stays light: fsspec, pydantic, pyarrow, pandas, cloud SDKs
and orchestrators load on first use.
"""

from ._version import __version__
from .config import load_config
from .errors import (
    ArtifactExistsError,
    ArtifactNotFoundError,
    ConfigError,
    FormatError,
    FSMirrorError,
    IntegrityError,
    NotAnArtifactError,
    QueryError,
    ResolveError,
    StorageError,
    StoreWarning,
)
from .mirror import FSMirror

__all__ = [
    "FSMirror",
    "load_config",
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
    "__version__",
]
