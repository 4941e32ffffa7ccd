"""Every storage provider fsmirror knows, in one read-only table: the only place that says so.

In the spirit of fsspec's ``known_implementations``: one record per provider holds its
URI scheme and the aliases other tools write, the fsspec protocol, the driver package, the
pip extra that installs it, and what the store can promise. Paths (:mod:`fsmirror.layout`),
backends, ``fsmirror config check``, ``fsmirror show``'s URI look-up, the config schema and
OpenLineage naming all read this table, so a provider is added or changed here once.

Pure: no I/O and no fsspec import (``import fsmirror`` stays light); nothing else from the
package is imported. Golden table test: ``tests/core/test_providers.py``.

Example:
    >>> provider("s3").install_hint
    "pip install 'fsmirror[s3]'"
    >>> by_scheme("abfss").name
    'blob'
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["Provider", "ProviderInfo", "PROVIDERS", "provider", "by_scheme"]

Provider = Literal["local", "memory", "s3", "gcs", "blob"]
"""A ``storage.provider`` value. A ``Literal`` (not derived from the table) so type checkers and the
config schema see the names; the golden test holds it equal to :data:`PROVIDERS`' keys."""

Backend = Literal["local", "s3", "fsspec"]


@dataclass(frozen=True)
class ProviderInfo:
    """What fsmirror knows about one storage provider.

    Attributes:
        name: the ``storage.provider`` value.
        scheme: the URI scheme fsmirror writes paths with (``"s3"``); ``""`` for local disk,
            whose paths are plain paths.
        protocol: the fsspec protocol the filesystem is opened with.
        aliases: other schemes naming the same store in URIs other tools write (``s3a``,
            ``gcs``, ``abfs``...): a look-up or an OpenLineage name treats them as ``scheme``.
        driver: the package holding the fsspec driver, or ``None`` when fsspec has it built in.
        extra: the fsmirror pip extra that installs ``driver`` (``pip install 'fsmirror[s3]'``).
        backend: the :mod:`fsmirror.backends` family that speaks to it (``local``: files,
            renames and locks; ``s3``: S3's own conditional requests; ``fsspec``: fsspec's API).
        object_store: no directories and no rename: a write is one put (memory too).
        bucket: the tenant is a bucket or container name, without ``/`` (cloud stores).
        conditional_writes: the service itself refuses a put that lost (put-if-absent and
            compare-and-swap), across processes and machines.
        in_process: the store lives in this process (fsspec's memory store: process-global, its
            paths rooted at ``/``): one process-wide lock makes its compare-and-swap exact.
        named_by_account: OpenLineage names its datasets by the storage account
            (``wasbs://container@account...``), which the store's URI does not carry.
    """

    name: Provider
    scheme: str
    protocol: str
    aliases: tuple[str, ...] = ()
    driver: str | None = None
    extra: str | None = None
    backend: Backend = "fsspec"
    object_store: bool = True
    bucket: bool = True
    conditional_writes: bool = False
    in_process: bool = False
    named_by_account: bool = False

    @property
    def uri_prefix(self) -> str:
        """What a path on this store starts with: ``"s3://"``; ``""`` on local disk."""
        return f"{self.scheme}://" if self.scheme else ""

    @property
    def install_hint(self) -> str:
        """The command that installs the driver; an error that misses it says this."""
        return f"pip install 'fsmirror[{self.extra}]'" if self.extra else "pip install fsmirror"


# Positional: name, scheme, protocol. The defaults describe a cloud object store reached through
# fsspec; each record says how its provider differs.
PROVIDERS: Mapping[str, ProviderInfo] = types.MappingProxyType(
    {
        p.name: p
        for p in (
            ProviderInfo("local", "", "file", backend="local", object_store=False, bucket=False),
            ProviderInfo("memory", "memory", "memory", bucket=False, in_process=True),
            ProviderInfo(
                "s3",
                "s3",
                "s3",
                aliases=("s3a",),
                driver="s3fs",
                extra="s3",
                backend="s3",
                conditional_writes=True,
            ),
            ProviderInfo("gcs", "gs", "gcs", aliases=("gcs",), driver="gcsfs", extra="gcs"),
            ProviderInfo(
                "blob",
                "az",
                "az",
                aliases=("abfs", "abfss", "adl"),
                driver="adlfs",
                extra="azure",
                named_by_account=True,
            ),
        )
    }
)
"""Every provider by name, read-only."""

_BY_SCHEME: Mapping[str, ProviderInfo] = types.MappingProxyType(
    {s: p for p in PROVIDERS.values() for s in (p.scheme, *p.aliases)}
)


def provider(name: str) -> ProviderInfo:
    """The record of a ``storage.provider`` value (the config schema has checked it already).

    Raises:
        KeyError: ``name`` is no provider; the message lists those there are.
    """
    try:
        return PROVIDERS[name]
    except KeyError:
        raise KeyError(f"unknown storage provider {name!r}: choose one of {', '.join(PROVIDERS)}") from None


def by_scheme(scheme: str) -> ProviderInfo | None:
    """The provider a URI's scheme (``"s3"``, an alias such as ``"abfss"``, any case) names, or None.

    ``""`` (a plain path) is local disk; ``file`` is a URL of a local path, not a store.
    """
    return _BY_SCHEME.get(scheme.lower())
