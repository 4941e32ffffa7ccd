"""The ``fsmirror`` group and what its commands share: one-line errors, the mirror, JSON output.

Every :class:`FSMirrorError` becomes one line on stderr and exit code 1; bad
arguments are click's usage errors, exit code 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from .. import FSMirror, FSMirrorError, __version__

__all__ = ["cli", "fails_cleanly", "open_mirror", "print_json", "human_size", "run_option"]

F = TypeVar("F", bound=Callable[..., Any])


def fails_cleanly(fn: F) -> F:
    """Turn fsmirror's own errors into a one-line message instead of a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FSMirrorError as e:
            click.echo(f"fsmirror: error: {e}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def open_mirror(ctx: click.Context, mirror: str | None) -> FSMirror:
    return FSMirror(config=ctx.obj.get("config_path"), mirror=mirror)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


class _OneLineErrors(click.Group):
    """Bad arguments: one line and exit code 2, not click's usage block.

    Scripts and CI logs grep for one line; the full usage is a ``--help`` away.
    """

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as e:
            cmd = e.ctx.command_path if e.ctx is not None else (prog_name or "fsmirror")
            click.echo(f"fsmirror: error: {e.format_message()} (see '{cmd} --help')", err=True)
            sys.exit(2)
        except click.ClickException as e:
            click.echo(f"fsmirror: error: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("fsmirror: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="FSMIRROR_CONFIG_PATH",
    help="Config file (default: $FSMIRROR_CONFIG_PATH).",
)
@click.version_option(__version__, prog_name="fsmirror")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Find an artifact from the code, and the code from an artifact."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def run_option(value: str | None) -> Any:
    """A run id as printed by ``ls``/``runs`` (its path segment) or as the orchestrator wrote it."""
    from ..runid import decode_run_id

    if value is None or value == "latest":
        return "latest"
    return decode_run_id(value)
