"""The ``fsmirror`` command: a thin layer over the public API.

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

from . import FSMirror, FSMirrorError, __version__, load_config
from .config import validate_config

__all__ = ["main", "cli"]

F = TypeVar("F", bound=Callable[..., Any])


def _fails_cleanly(fn: F) -> F:
    """Turn fsmirror's own errors into a one-line message instead of a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FSMirrorError as e:
            click.echo(f"fsmirror: error: {e}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _mirror(ctx: click.Context, mirror: str | None) -> FSMirror:
    return FSMirror(config=ctx.obj.get("config_path"), mirror=mirror)


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


@cli.command()
@click.argument("address")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option("--run-id", "-r", help="Run id (default: $FSMIRROR_RUN_ID, else a generated one).")
@click.option("--output/--no-output", default=True, show_default=True, help="Include the output file name.")
@click.option("--no-id", is_flag=True, help="Leave the run id out (the seed's with_id=False).")
@click.option("--json", "as_json", is_flag=True, help="Print every form as JSON.")
@click.pass_context
@_fails_cleanly
def resolve(
    ctx: click.Context,
    address: str,
    mirror: str | None,
    run_id: str | None,
    output: bool,
    no_id: bool,
    as_json: bool,
) -> None:
    """Print where the code at ADDRESS ('pkg/mod.py::Name') stores its artifact."""
    fm = _mirror(ctx, mirror)
    kw: dict[str, Any] = {"with_id": not no_id, "run_id": run_id}
    if as_json:
        _print_json(
            {
                "address": address,
                "mirror": fm.mirror,
                "run_id": run_id or fm.run_id,
                "relative": fm.mirror_relative(address, **kw),
                "full": fm.mirror_full(address, **kw),
                "relative_output": fm.mirror_relative_output(address, **kw),
                "full_output": fm.mirror_full_output(address, **kw),
            }
        )
        return
    click.echo(fm.mirror_full_output(address, **kw) if output else fm.mirror_full(address, **kw))


@cli.group()
def config() -> None:
    """Check a config file or print its JSON Schema."""


@config.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.pass_context
@_fails_cleanly
def config_check(ctx: click.Context, path: str | None) -> None:
    """Validate PATH (default: --config or $FSMIRROR_CONFIG_PATH); exit 1 with the error."""
    path = path or ctx.obj.get("config_path")
    raw = load_config(path)
    cfg = validate_config(raw, str(path))
    click.echo(f"{path}: ok ({cfg.storage.provider}, mirrors: {', '.join(cfg.mirrors)})")


@config.command("schema")
def config_schema() -> None:
    """Print the config's JSON Schema (for editors and CI checks)."""
    from ._schema import json_schema

    _print_json(json_schema())


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="fsmirror")


if __name__ == "__main__":  # pragma: no cover
    main()
