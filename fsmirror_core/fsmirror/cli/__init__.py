"""The ``fsmirror`` command: a thin layer over the public API.

Every :class:`FSMirrorError` becomes one line on stderr and exit code 1; bad
arguments are click's usage errors, exit code 2. One module per family of
commands; importing it registers its commands on :data:`cli`.
"""

from __future__ import annotations

from . import lineage, query, setup, show, stale, store  # noqa: F401  (registers the commands)
from ._app import cli

__all__ = ["main", "cli"]


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="fsmirror")
