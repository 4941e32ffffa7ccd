"""fsmirror: artifact paths that mirror the code that made them.

``import fsmirror`` stays light: fsspec, pydantic, pyarrow, pandas, cloud SDKs
and orchestrators load on first use.
"""

from . import _compat

_compat.install()  # 2.0's module paths (fsmirror.record, fsmirror.protocol, ...) keep working

from ._version import __version__  # noqa: E402
from .config import load_config  # noqa: E402
from .errors import (  # noqa: E402
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
from .mirror import FSMirror  # noqa: E402

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


def __getattr__(name: str) -> object:
    """``fsmirror.protocol`` and 2.0's other module paths as attributes too (``fsmirror._compat``)."""
    target = _compat.OLD_PATHS.get(f"fsmirror.{name}")
    if target is None:
        raise AttributeError(f"module 'fsmirror' has no attribute {name!r}")
    import importlib

    return importlib.import_module(target)
