"""``fsmirror show``: what made an artifact."""

from __future__ import annotations

import json

import click

from ._app import cli, fails_cleanly, human_size, open_mirror, print_json, run_option


@cli.command()
@click.argument("address")
@click.option(
    "--run-id", "-r", default="latest", show_default=True, help="The run (as `runs` prints it), or 'latest'."
)
@click.option("--partition", "-p", help="The partition, for partitioned outputs.")
@click.option("--output-name", "-o", help="The output name (default: the mirror's).")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the manifest as JSON (the default is a summary)."
)
@click.pass_context
@fails_cleanly
def show(
    ctx: click.Context,
    address: str,
    run_id: str,
    partition: str | None,
    output_name: str | None,
    mirror: str | None,
    as_json: bool,
) -> None:
    """The manifest of ADDRESS's artifact: what code, commit and run made it."""
    fm = open_mirror(ctx, mirror)
    man = fm.manifest(address, run_id=run_option(run_id), partition=partition, output_name=output_name)
    if as_json:
        print_json(man)
        return
    code, run, git = man.get("code", {}), man.get("run", {}), man.get("git") or {}
    rows = [
        ("artifact", man.get("uri")),
        ("code", code.get("address")),
        ("source sha256", code.get("source_sha256")),
        ("git", f"{git.get('commit')}{' (dirty)' if git.get('dirty') else ''}" if git else None),
        ("run", f"{run.get('segment')} (from {run.get('source')})"),
        ("orchestrator", json.dumps(man["orchestrator"]) if man.get("orchestrator") else None),
        ("partition", man.get("partition")),
        (
            "format",
            str(man.get("format"))
            + (f" (fell back from {man.get('requested_format')})" if man.get("fell_back") else ""),
        ),
        ("python type", man.get("python_type")),
        ("size", f"{human_size(int(man.get('size', 0)))} ({man.get('size')} bytes)"),
        ("sha256", man.get("sha256")),
        ("created", man.get("created_at")),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        if value is not None:
            click.echo(f"{key.ljust(width)}  {value}")
