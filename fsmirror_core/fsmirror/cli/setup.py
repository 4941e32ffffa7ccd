"""``fsmirror demo`` and ``fsmirror config``: getting started and checking a config."""

from __future__ import annotations

import os

import click

from .. import load_config
from ..config import validate_config
from ._app import cli, fails_cleanly, print_json
from .store import tree


@cli.command()
@click.option(
    "--dir",
    "directory",
    default=".",
    type=click.Path(file_okay=False),
    help="Where to create fsmirror-demo/.",
)
@fails_cleanly
def demo(directory: str) -> None:
    """Run a small example pipeline into ./fsmirror-demo (local disk) and print the tree."""
    from rich.console import Console

    from ..catalog import scan
    from ..demo import DEMO_DIR, run_demo

    fm, uris = run_demo(directory)
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"wrote {len(uris)} artifacts for run {fm.run_id}:")
    for uri in uris:
        console.print(f"  {uri}")
    console.print(tree(fm, scan(fm)))
    config = os.path.join(directory, DEMO_DIR, "config.yml") if directory != "." else f"{DEMO_DIR}/config.yml"
    console.print(
        "\nnext:\n"
        f"  fsmirror --config {config} ls\n"
        f"  fsmirror --config {config} show project/etl/lift_data.py::summarize\n"
        f"  fsmirror --config {config} runs project/etl/lift_data.py::extract"
    )


@cli.group()
def config() -> None:
    """Check a config file or print its JSON Schema."""


@config.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.pass_context
@fails_cleanly
def config_check(ctx: click.Context, path: str | None) -> None:
    """Validate PATH (default: --config or $FSMIRROR_CONFIG_PATH); exit 1 with the error."""
    path = path or ctx.obj.get("config_path")
    raw = load_config(path)
    cfg = validate_config(raw, str(path))
    click.echo(f"{path}: ok ({cfg.storage.provider}, mirrors: {', '.join(cfg.mirrors)})")


@config.command("schema")
def config_schema() -> None:
    """Print the config's JSON Schema (for editors and CI checks)."""
    from .._schema import json_schema

    print_json(json_schema())
