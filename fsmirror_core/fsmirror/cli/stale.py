"""``fsmirror stale``: which latest runs were not made by today's code from today's inputs."""

from __future__ import annotations

import click

from ._app import cli, fails_cleanly, open_mirror, print_json
from .safe import visible


@cli.command()
@click.argument("target", required=False, metavar="[ADDRESS|PREFIX]")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option(
    "--source-root",
    type=click.Path(file_okay=False),
    help=(
        "Where today's code is: the directory holding the mirror's root directory "
        "(default: the source file each manifest recorded, else the current directory)."
    ),
)
@click.option("--json", "as_json", is_flag=True, help="Print every latest artifact, stale or not, as JSON.")
@click.pass_context
@fails_cleanly
def stale(
    ctx: click.Context, target: str | None, mirror: str | None, source_root: str | None, as_json: bool
) -> None:
    """Latest artifacts made by other code than today's, or from inputs that moved on.

    One line per task, partition and output whose latest run is stale, with why:
    'code changed', 'source missing', 'input X is stale', 'input X has a newer run'.
    Exit code 0 when nothing is stale, 1 when something is (like 'git diff --exit-code').
    """
    from ..services.staleness import staleness

    fm = open_mirror(ctx, mirror)
    found = staleness(fm, target, source_root=source_root)
    bad = [s for s in found if s.stale]
    if as_json:
        print_json([s.to_json() for s in found])
    elif not found:
        click.echo(visible(f"no committed artifacts under {fm.base}" + (f" for {target}" if target else "")))
    else:
        for s in bad:
            where = (f"  partition {s.partition}" if s.partition is not None else "") + (
                f"  output {s.output_name}" if s.output_name != fm.settings.output_name else ""
            )
            click.echo(visible(f"{s.address}{where}  run {s.run}: {'; '.join(s.reasons)}"))
        if bad:
            click.echo(f"{len(bad)} of {len(found)} latest artifact(s) stale")
        else:
            click.echo(
                f"nothing stale: {len(found)} latest artifact(s) made by today's code from their inputs' latest runs"
            )
    if bad:
        ctx.exit(1)
