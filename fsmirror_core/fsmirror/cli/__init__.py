"""The ``fsmirror`` command: a thin layer over the public API.

Every :class:`FSMirrorError` becomes one line on stderr and exit code 1; bad
arguments (a malformed ADDRESS too) are usage errors, exit code 2. One module
per family of commands; importing it registers its commands on :data:`cli`.
``--json`` and ``--config`` are global: see :mod:`fsmirror.cli._app` for how a
new command gets them.
"""

from __future__ import annotations

from . import lineage, query, setup, show, stale, store, ui, verify  # noqa: F401  (registers the commands)
from ._app import cli

__all__ = ["main", "cli"]


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="fsmirror")
