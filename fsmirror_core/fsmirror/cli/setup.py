"""``fsmirror demo`` and ``fsmirror config``: getting started and checking a config."""

from __future__ import annotations

import os

import click

from ._app import cli, fails_cleanly, print_json, wants_json
from .safe import text, visible
from .store import tree


@cli.command()
@click.option(
    "--dir",
    "directory",
    default=".",
    type=click.Path(file_okay=False),
    help="Where to create fsmirror-demo/.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the run id, the URIs written and the config as JSON."
)
@click.pass_context
@fails_cleanly
def demo(ctx: click.Context, directory: str, as_json: bool) -> None:
    """Run a small example pipeline into ./fsmirror-demo (local disk) and print the tree."""
    from rich.console import Console
    from rich.text import Text

    from ..demo import DEMO_DIR, run_demo
    from ..services.catalog import scan

    fm, uris = run_demo(directory)
    if wants_json(ctx, as_json):
        print_json(
            {"run_id": fm.run_id, "uris": uris, "config": os.path.join(directory, DEMO_DIR, "config.yml")}
        )
        return
    console = Console(highlight=False, soft_wrap=True, width=1_000_000)
    console.print(text(f"wrote {len(uris)} artifacts for run {fm.run_id}:"))
    for uri in uris:
        console.print(text(f"  {uri}"))
    console.print(tree(fm, scan(fm)))
    config = os.path.join(directory, DEMO_DIR, "config.yml") if directory != "." else f"{DEMO_DIR}/config.yml"
    config = visible(config)
    console.print(
        Text(
            "\nnext:\n"
            f"  fsmirror --config {config} ls\n"
            f"  fsmirror --config {config} show project/etl/lift_data.py::summarize\n"
            f"  fsmirror --config {config} runs project/etl/lift_data.py::extract"
        )
    )


@cli.group()
def config() -> None:
    """Check a config file or print its JSON Schema."""


@config.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--connect",
    is_flag=True,
    help="Also list the store once (read-only): the bucket exists and the credentials can read it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every check as JSON.")
@click.pass_context
@fails_cleanly
def config_check(ctx: click.Context, path: str | None, connect: bool, as_json: bool) -> None:
    """Check PATH (default: --config or $FSMIRROR_CONFIG_PATH) without writing; exit 1 on a problem.

    Checks the YAML, the schema, each mirror's output_format (known, its library installed),
    the provider's fsspec driver (the extra to install) and a local tenant's directory.
    """
    from ..config import check_config
    from ..errors import ConfigError

    path = path or ctx.find_root().obj.get("config_path")
    report = check_config(path, connect=connect)
    if wants_json(ctx, as_json):
        print_json(report.to_json())
        if not report.ok:
            ctx.exit(1)
        return
    if not report.ok:
        raise ConfigError("; ".join(report.problems))  # printed through visible(), as every error
    cfg = report.config
    assert cfg is not None
    extra = "; store reachable" if connect else ""
    click.echo(
        visible(f"{report.source}: ok ({cfg.storage.provider}, mirrors: {', '.join(cfg.mirrors)}{extra})")
    )


@config.command("schema")
def config_schema() -> None:
    """Print the config's JSON Schema (for editors and CI checks)."""
    from ..model.schema import json_schema

    print_json(json_schema())
