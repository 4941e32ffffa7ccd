"""Byte counts as people read them, one spelling for every view of the store (CLI and web)."""

from __future__ import annotations


def human_size(n: int) -> str:
    """Bytes as ``ls`` prints them (kB = 1000 B; one decimal past bytes)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"
