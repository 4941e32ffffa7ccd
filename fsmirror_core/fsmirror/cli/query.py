"""``fsmirror query``: SQL over every manifest of the store (DuckDB, the ``query`` extra)."""

from __future__ import annotations

import sys

import click

from ._app import cli, fails_cleanly, open_mirror, print_json


@cli.command()
@click.argument("sql")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON list of objects.")
@click.pass_context
@fails_cleanly
def query(ctx: click.Context, sql: str, mirror: str | None, as_json: bool) -> None:
    """Run SQL over the table 'artifacts': one row per committed artifact (columns: docs/query.md).

    \b
    fsmirror query "SELECT uri, size FROM artifacts WHERE size > 1e9
                    AND created_at < date_trunc('week', current_date)"
    fsmirror query "SELECT git_commit, count(*) AS runs FROM artifacts
                    WHERE address = 'project/etl/lift_data.py::extract' GROUP BY git_commit"
    """
    from ..services.query import query as run_query

    fm = open_mirror(ctx, mirror)
    result = run_query(fm, sql)
    if as_json:
        print_json(result.records())
        return
    from rich.console import Console
    from rich.table import Table

    from .safe import text

    # Cells are store content: Text, never markup ('manual__[/x]' is a run id, not a closing tag).
    table = Table(header_style="bold")
    for name in result.columns:
        table.add_column(text(name), overflow="fold")
    for row in result.rows:
        table.add_row(*(text("" if v is None else v) for v in row))
    # In a pipe, whole values (a script cuts them, not us); on a terminal, folded to its width.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 10_000)
    console.print(table)
    console.print(f"{len(result.rows)} row(s)", style="dim")
