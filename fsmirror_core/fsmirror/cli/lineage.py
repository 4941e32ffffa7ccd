"""``fsmirror lineage``: what an artifact was made from, or what was made from it."""

from __future__ import annotations

from typing import Any

import click

from ._app import cli, fails_cleanly, open_mirror, partition_option, print_json, run_option
from .safe import visible
from .show import LOGICAL_DATE_HELP, logical_date_option


@cli.command()
@click.argument("target", metavar="ADDRESS|URI")
@click.option(
    "--upstream", "direction", flag_value="upstream", default=True, help="What it was made from (default)."
)
@click.option("--downstream", "direction", flag_value="downstream", help="What was made from it.")
@click.option("--depth", type=click.IntRange(min=0), help="At most this many steps away (default: all).")
@click.option(
    "--run-id",
    "-r",
    default="latest",
    show_default=True,
    help="For an ADDRESS: the run (as `runs` prints it).",
)
@click.option("--partition", "-p", help="For an ADDRESS: the partition.")
@click.option("--output-name", "-o", help="For an ADDRESS: the output name (default: the mirror's).")
@click.option("--logical-date", callback=logical_date_option, help=LOGICAL_DATE_HELP)
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option("--json", "as_json", is_flag=True, help="Print nodes and edges as JSON.")
@click.option("--mermaid", is_flag=True, help="Print a Mermaid `graph LR` diagram.")
@click.pass_context
@fails_cleanly
def lineage(
    ctx: click.Context,
    target: str,
    direction: str,
    depth: int | None,
    run_id: str,
    partition: str | None,
    output_name: str | None,
    logical_date: Any,
    mirror: str | None,
    as_json: bool,
    mermaid: bool,
) -> None:
    """Walk the lineage of ADDRESS's artifact (a run of `pkg/mod.py::Name`) or of the artifact at URI.

    Upstream follows the inputs each manifest records; downstream finds every manifest
    that lists the artifact (same URI and bytes) as an input. Works across orchestrators:
    they share one layout. An ADDRESS whose artifacts all have one partition needs no --partition.
    """
    from ..services.graph import resolve, walk

    if as_json and mermaid:
        raise click.UsageError("give --json or --mermaid, not both")
    fm = open_mirror(ctx, mirror)
    if "::" in target:
        # the lookup's rules: an only partition is taken, --logical-date picks the run
        start = fm.lookup(
            target,
            run_id=run_option(run_id),
            partition=partition_option(partition),
            output_name=output_name,
            logical_date=logical_date,
        ).manifest
    elif partition is not None or output_name is not None or logical_date is not None or run_id != "latest":
        raise click.UsageError(
            "--run-id, --partition, --output-name and --logical-date go with an ADDRESS, not a URI"
        )
    else:
        start = resolve(fm, target)
    got = walk(fm, start, direction="downstream" if direction == "downstream" else "upstream", depth=depth)
    if as_json:
        print_json(got.to_json())
    elif mermaid:
        click.echo(got.mermaid(show=visible))
    else:
        click.echo(got.tree(show=visible))
