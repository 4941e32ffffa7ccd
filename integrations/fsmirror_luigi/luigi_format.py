"""Luigi format objects (``luigi.format.UTF8``, ``Nop``, ``Gzip``, ``UTF8 >> Gzip``) on fsmirror targets.

A Luigi ``Format`` wraps a target's raw byte pipe: ``pipe_writer`` around the
file being written, ``pipe_reader`` around the file being read. ``LocalTarget``
hands it an atomic temp file; ``FSMirrorTarget`` hands it the core's atomic
writer (``FSMirror.open_write``), so the bytes a format produces are committed,
with their manifest, like any other artifact. The only other thing fsmirror
needs from a format is the artifact's extension (the core's format label),
which this module derives.
"""

from __future__ import annotations

from typing import Any

import luigi.format

__all__ = ["is_luigi_format", "format_label"]

_LABELS: tuple[tuple[type, str], ...] = (
    (luigi.format.NopFormat, "bytes"),
    (luigi.format.TextFormat, "txt"),
    (luigi.format.NewlineFormat, "txt"),
    (luigi.format.MixedUnicodeBytesFormat, "txt"),
    (luigi.format.GzipFormat, "gz"),
    (luigi.format.Bzip2Format, "bz2"),
)


def is_luigi_format(fmt: Any) -> bool:
    """A Luigi format: an object (or class) with ``pipe_reader`` and ``pipe_writer``, not a format name."""
    return not isinstance(fmt, str) and hasattr(fmt, "pipe_reader") and hasattr(fmt, "pipe_writer")


def format_label(fmt: Any) -> str:
    """The extension an artifact written through Luigi format ``fmt`` gets.

    What lands in storage is what the *innermost* format (the last of a chain,
    the one next to the file) produces: ``UTF8 >> Gzip`` stores gzip, so
    ``out.gz``. Text formats store ``out.txt``, ``Nop`` ``out.bytes``, ``Bzip2``
    ``out.bz2``; any other format ``out.bytes``, unless it names its own label
    in a ``fsmirror_format`` attribute (letters and digits, e.g. ``"csvgz"``).
    """
    own = getattr(fmt, "fsmirror_format", None)
    if isinstance(own, str) and own:
        return own
    if isinstance(fmt, luigi.format.ChainFormat) and fmt.args:
        return format_label(fmt.args[-1])
    cls = fmt if isinstance(fmt, type) else type(fmt)
    for base, label in _LABELS:
        if issubclass(cls, base):
            return label
    return "bytes"
