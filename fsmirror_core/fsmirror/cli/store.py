"""Commands over the store: where an artifact lives, what is there, and old runs' removal."""

from __future__ import annotations

from typing import Any

import click

from .. import FSMirror
from ..paths.identity import instance_json, instance_label
from ._app import cli, fails_cleanly, human_size, open_mirror, partition_option, print_json, wants_json
from .safe import text, visible
from .show import logical_date_option


@cli.command()
@click.argument("address")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option(
    "--run-id",
    "-r",
    multiple=True,
    help=(
        "Run id (default: $FSMIRROR_RUN_ID, else a generated one). Give it twice for a scoped id, "
        "as Airflow's run slot <dag_id>@<run_id>: -r DAG_ID -r RUN_ID (or -r DAG_ID@RUN_ID with --airflow)."
    ),
)
@click.option(
    "--partition",
    "-p",
    help="Partition segment (an Airflow map index, a Prefect partition, Luigi parameters).",
)
@click.option(
    "--airflow",
    is_flag=True,
    help=(
        "Airflow's slot, as FSMirrorXComBackend and macros.fsmirror.path() write it: -r DAG_ID@RUN_ID, "
        "the partition is the DAG id (DAG_ID@N with --map-index N), ADDRESS may end in a task id."
    ),
)
@click.option("--map-index", type=int, help="With --airflow: the mapped task instance's map index.")
@click.option(
    "--output-name", help="The file stem instead of the mirror's output_name (an XCom key, an output)."
)
@click.option("--format", "output_format", help="The file extension instead of the mirror's output_format.")
@click.option("--output/--no-output", default=True, show_default=True, help="Include the output file name.")
@click.option("--no-id", is_flag=True, help="Leave the run id out (the seed's with_id=False).")
@click.option("--json", "as_json", is_flag=True, help="Print every form as JSON.")
@click.pass_context
@fails_cleanly
def resolve(
    ctx: click.Context,
    address: str,
    mirror: str | None,
    run_id: tuple[str, ...],
    partition: str | None,
    airflow: bool,
    map_index: int | None,
    output_name: str | None,
    output_format: str | None,
    output: bool,
    no_id: bool,
    as_json: bool,
) -> None:
    """Print where the code at ADDRESS ('pkg/mod.py::Name') stores its artifact.

    Each orchestrator's run slot: Airflow ``--airflow -r DAG_ID@RUN_ID [--map-index N]``;
    Dagster ``-r RUN_ID``; Prefect ``-r FLOW_RUN_ID [-p PARTITION]``; Luigi ``-r TASK_ID``, or
    the run-id parameter's value with ``-p`` the other parameters' segment.
    """
    from ..paths.address import CodeAddress

    fm = open_mirror(ctx, mirror)
    instance: Any = partition_option(partition)
    parts = run_id
    if airflow and len(run_id) == 1:
        dag, sep, run = run_id[0].partition("@")  # a DAG id never holds '@'
        if not sep or not dag or not run:
            raise click.BadParameter(f"{run_id[0]!r} is not DAG_ID@RUN_ID", param_hint="'--run-id'")
        parts = (dag, run)
    if airflow:
        if len(parts) != 2:
            raise click.BadParameter("--airflow takes -r DAG_ID@RUN_ID (or -r DAG_ID -r RUN_ID)")
        if instance is None:
            # the XCom backend's instance: the DAG id, and the map index of a mapped task
            instance = parts[0] if map_index is None or map_index < 0 else (parts[0], str(map_index))
    elif map_index is not None:
        raise click.BadParameter("--map-index is Airflow's: give --airflow too")
    rid: Any = None if not parts else parts[0] if len(parts) == 1 else tuple(parts)
    obj: Any = address
    if airflow and "::" in address:
        # Airflow task ids ('load-orders') are not Python names: a task id after the DAG file
        path, _, name = address.rpartition("::")
        obj = CodeAddress(tuple(p for p in path.replace("\\", "/").split("/") if p), name)
    kw: dict[str, Any] = {"with_id": not no_id, "run_id": rid, "partition": instance}
    out_kw: dict[str, Any] = {**kw, "output_name": output_name, "output_format": output_format}
    if as_json:
        chosen = rid if rid is not None else fm.run_id
        print_json(
            {
                "address": address,
                "mirror": fm.mirror,
                "run_id": list(chosen) if isinstance(chosen, tuple) else chosen,
                "run_segment": fm.run_segment(chosen),
                "partition": instance_json(instance),
                "relative": fm.mirror_relative(obj, **kw),
                "full": fm.mirror_full(obj, **kw),
                "relative_output": fm.mirror_relative_output(obj, **out_kw),
                "full_output": fm.mirror_full_output(obj, **out_kw),
            }
        )
        return
    click.echo(fm.mirror_full_output(obj, **out_kw) if output else fm.mirror_full(obj, **kw))


def tree(
    fm: FSMirror,
    artifacts: list[Any],
    totals: dict[Any, int] | None = None,
    pins: dict[str, Any] | None = None,
) -> Any:
    """The rich Tree of ``ls``: module, then code (partitions sorted by key), then its runs, oldest first.

    Every label is a ``Text`` built from :func:`~fsmirror.cli.safe.text` pieces: names read
    from the store are shown as they are, never read as markup (``[bold]``, ``[link=...]``).
    """
    from rich.text import Text
    from rich.tree import Tree

    from ..services.catalog import age, series

    tree = Tree(Text.assemble(text(fm.base, "bold"), "  (mirror ", text(repr(fm.mirror)), ")"))
    modules: dict[str, Any] = {}
    for (module, qualname, partition, output), runs in series(artifacts).items():
        node = modules.get(module)
        if node is None:
            node = modules[module] = tree.add(text(module, "bold blue"))
        label = Text.assemble(text(qualname, "bold"))
        if partition is not None:
            label.append_text(
                Text.assemble(" ", ("partition", "dim"), " ", text(instance_label(partition), "bold"))
            )
        if output != fm.settings.output_name:
            label.append_text(Text.assemble(" ", ("output", "dim"), " ", text(output, "bold")))
        total = (totals or {}).get((module, qualname, partition, output), len(runs))
        count = f"{len(runs)} run(s)" if total == len(runs) else f"newest {len(runs)} of {total} runs"
        leaf = node.add(Text.assemble(label, "  ", (count, "dim")))
        for a in runs:
            name = a.uri.rsplit("/", 1)[-1]
            line = Text.assemble(
                text(a.segment), "  ", text(name), f"  {human_size(a.size)}  ", (age(a.created_at), "dim")
            )
            if a.latest:
                line.append_text(Text.assemble("  ", ("latest", "green")))
            pin = (pins or {}).get(a.uri)
            if pin is not None:
                line.append_text(Text.assemble("  ", ("pinned", "yellow")))
                if pin.reason:
                    line.append_text(Text.assemble(": ", text(pin.reason)))
            leaf.add(line)
    return tree


def print_tree(renderable: Any) -> None:
    """Whole lines, on a terminal and in a pipe: never cropped to a width (the terminal wraps)."""
    from rich.console import Console

    Console(highlight=False, soft_wrap=True, width=1_000_000).print(renderable)


def scan_with_progress(ctx: click.Context, fm: FSMirror, target: str | None) -> list[Any]:
    """``catalog.scan`` with a progress bar on a terminal (stderr), silent in a pipe or with --json."""
    from ..services.catalog import scan
    from ._app import progress

    with progress("reading manifests", quiet=wants_json(ctx)) as bar:
        return scan(fm, target, on_progress=bar.update)


@cli.command("ls")
@click.argument("target", required=False, metavar="[ADDRESS|PREFIX]")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Only the newest N runs of each task, partition and output.",
)
@click.option(
    "--logical-date",
    callback=logical_date_option,
    help="Only artifacts whose data is of this logical date (a UTC day, 2026-11-20, or an ISO 8601 instant).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the artifacts as JSON.")
@click.pass_context
@fails_cleanly
def ls(
    ctx: click.Context,
    target: str | None,
    mirror: str | None,
    limit: int | None,
    logical_date: Any,
    as_json: bool,
) -> None:
    """The tree of committed artifacts under a code path ('pkg/sub', 'pkg/mod.py' or 'pkg/mod.py::Name').

    Partitions are sorted by key (numbers by value); each task's runs oldest first, the
    latest marked. Lines are never cropped, also when piped.
    """
    from ..services.catalog import newest, on_logical_date, series

    fm = open_mirror(ctx, mirror)
    found = scan_with_progress(ctx, fm, target)
    if logical_date is not None:
        found = on_logical_date(found, logical_date)
    artifacts = newest(found, limit)
    if wants_json(ctx, as_json):
        print_json([a.to_json() for a in artifacts])
        return
    if not artifacts:
        click.echo(
            visible(
                f"no committed artifacts under {fm.base}"
                + (f" for {target}" if target else "")
                + (f" of logical date {logical_date.isoformat()}" if logical_date is not None else "")
            )
        )
        return
    from ..services.retention import read_pins

    pins = read_pins(fm, artifacts)
    print_tree(tree(fm, artifacts, {k: len(v) for k, v in series(found).items()}, pins))


@cli.command()
@click.argument("address")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@click.pass_context
@fails_cleanly
def runs(ctx: click.Context, address: str, mirror: str | None, as_json: bool) -> None:
    """Every committed run of the code at ADDRESS, oldest first."""
    from ..services.catalog import age

    if "::" not in address:
        raise click.BadParameter("give a code address 'pkg/mod.py::Name'", param_hint="ADDRESS")
    fm = open_mirror(ctx, mirror)
    artifacts = scan_with_progress(ctx, fm, address)
    if wants_json(ctx, as_json):
        print_json([a.to_json() for a in artifacts])
        return
    if not artifacts:
        click.echo(visible(f"no committed runs of {address} in mirror {fm.mirror!r}"))
        return
    for a in artifacts:
        extra = (f"  partition={instance_label(a.partition)}" if a.partition is not None else "") + (
            f"  output={a.output_name}" if a.output_name != fm.settings.output_name else ""
        )
        mark = "  latest" if a.latest else ""
        click.echo(
            visible(
                f"{a.segment}  {a.created_at}  ({age(a.created_at)})  {human_size(a.size)}  {a.format}{extra}{mark}"
            )
        )


@cli.command()
@click.argument("address", required=False)
@click.option("--all", "all_", is_flag=True, help="Every code address in the mirror.")
@click.option(
    "--keep",
    "-k",
    type=click.IntRange(min=0),
    help="Newest runs to keep (the latest always stays); default: the mirror's retention.keep.",
)
@click.option(
    "--min-age",
    help="Keep runs younger than this (7d, 12h, 30m); default: the mirror's retention.min_age.",
)
@click.option(
    "--keep-inputs/--no-keep-inputs",
    default=None,
    help="Keep every run a kept run read, through the lineage records (default: retention.keep_inputs, on).",
)
@click.option("--dry-run", "-n", is_flag=True, help="Say what would be deleted and why the rest stays.")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option("--json", "as_json", is_flag=True, help="Print what was (or would be) deleted as JSON.")
@click.pass_context
@fails_cleanly
def gc(
    ctx: click.Context,
    address: str | None,
    all_: bool,
    keep: int | None,
    min_age: str | None,
    keep_inputs: bool | None,
    dry_run: bool,
    mirror: str | None,
    as_json: bool,
) -> None:
    """Delete old runs of ADDRESS (or --all) by the retention policy; never the latest.

    A run stays when it is one of the newest --keep, pinned (`fsmirror pin`), younger than
    --min-age, or an input of a run that stays (transitively, through the manifests'
    lineage). Flags left out come from the mirror's `retention` config (per code prefix).
    """
    from ..services.retention import apply, configured, parse_age, plan
    from ._app import progress

    as_json = wants_json(ctx, as_json)
    if (address is None) == (not all_):
        raise click.UsageError("give an ADDRESS or --all (not both)")
    if address is not None and "::" not in address:
        raise click.BadParameter("give a code address 'pkg/mod.py::Name'", param_hint="ADDRESS")
    if min_age is not None:
        try:
            parse_age(min_age)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--min-age'") from None
    fm = open_mirror(ctx, mirror)
    if keep is None and fm.settings.retention.keep is None:
        raise click.UsageError("give --keep N, or set retention.keep in the mirror's config")
    with progress("reading manifests", quiet=as_json):
        decisions = plan(fm, address, configured(fm, keep=keep, min_age=min_age, keep_inputs=keep_inputs))
    doomed = [d for d in decisions if d.doomed]
    if not dry_run and doomed:
        with progress("deleting old runs", quiet=as_json) as bar:
            bar.total(len(doomed))
            apply(fm, decisions, on_delete=lambda d: bar.advance() if d.doomed else None)
    series = {d.artifact.series for d in decisions}
    gone = doomed if dry_run else [d for d in doomed if d.deleted]

    def entry(d: Any) -> dict[str, Any]:
        return {
            "address": d.artifact.address,
            "partition": instance_json(d.artifact.partition),
            "output_name": d.artifact.output_name,
            "run_id": list(d.artifact.run_id) if isinstance(d.artifact.run_id, tuple) else d.artifact.run_id,
        }

    if as_json:
        kept = [{**entry(d), "why": list(d.reasons)} for d in decisions if not d.doomed]
        print_json({"dry_run": dry_run, "deleted": [entry(d) for d in gone], "kept": kept})
        return
    verb = "would delete" if dry_run else "deleted"
    gone_ids = {id(d) for d in gone}
    for d in decisions:
        a = d.artifact
        where = f"{a.address} run {a.segment}" + (
            f" partition {instance_label(a.partition)}" if a.partition is not None else ""
        )
        if id(d) in gone_ids:
            click.echo(visible(f"{verb} {where}"))
        elif dry_run and not d.doomed:
            click.echo(visible(f"keep {where}: {'; '.join(d.reasons)}"))
    skipped = len(doomed) - len(gone)
    click.echo(
        f"{verb} {len(gone)} run(s) of {len(series)} series"
        + (f"; {skipped} skipped (pinned, being written or now latest)" if skipped else "")
    )


@cli.command()
@click.argument("target", metavar="TARGET")
@click.option(
    "--run-id", "-r", default="latest", show_default=True, help="For an ADDRESS: the run, or 'latest'."
)
@click.option("--partition", "-p", help="For an ADDRESS: the partition, for partitioned outputs.")
@click.option("--output-name", "-o", help="For an ADDRESS: the output name (default: the mirror's).")
@click.option("--reason", help="Why the run must stay (shown by show, ls and gc --dry-run).")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.pass_context
@fails_cleanly
def pin(
    ctx: click.Context,
    target: str,
    run_id: str,
    partition: str | None,
    output_name: str | None,
    reason: str | None,
    mirror: str | None,
) -> None:
    """Pin a run so that no gc deletes it. TARGET is what `show` takes (an address, a URI, a path)."""
    from ._app import run_option

    fm = open_mirror(ctx, mirror)
    uri = fm.pin(
        target,
        run_id=run_option(run_id),
        partition=partition_option(partition),
        output_name=output_name,
        reason=reason,
    )
    click.echo(visible(f"pinned {uri}" + (f": {reason}" if reason else "")))


@cli.command()
@click.argument("target", metavar="TARGET")
@click.option(
    "--run-id", "-r", default="latest", show_default=True, help="For an ADDRESS: the run, or 'latest'."
)
@click.option("--partition", "-p", help="For an ADDRESS: the partition, for partitioned outputs.")
@click.option("--output-name", "-o", help="For an ADDRESS: the output name (default: the mirror's).")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.pass_context
@fails_cleanly
def unpin(
    ctx: click.Context,
    target: str,
    run_id: str,
    partition: str | None,
    output_name: str | None,
    mirror: str | None,
) -> None:
    """Remove a run's pin (gc may then delete it). TARGET is what `show` takes."""
    from ._app import run_option

    fm = open_mirror(ctx, mirror)
    found = fm.unpin(
        target, run_id=run_option(run_id), partition=partition_option(partition), output_name=output_name
    )
    click.echo("unpinned" if found else "it was not pinned")
