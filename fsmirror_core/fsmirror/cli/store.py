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


def tree(fm: FSMirror, artifacts: list[Any], totals: dict[Any, int] | None = None) -> Any:
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
    print_tree(tree(fm, artifacts, {k: len(v) for k, v in series(found).items()}))


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
    required=True,
    help="Newest runs to keep (the latest always stays).",
)
@click.option("--dry-run", "-n", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option("--json", "as_json", is_flag=True, help="Print what was (or would be) deleted as JSON.")
@click.pass_context
@fails_cleanly
def gc(
    ctx: click.Context,
    address: str | None,
    all_: bool,
    keep: int,
    dry_run: bool,
    mirror: str | None,
    as_json: bool,
) -> None:
    """Delete old runs of ADDRESS (or --all), keeping the newest --keep; never the latest."""
    from ..services.catalog import series
    from ._app import progress

    as_json = wants_json(ctx, as_json)
    if (address is None) == (not all_):
        raise click.UsageError("give an ADDRESS or --all (not both)")
    if address is not None and "::" not in address:
        raise click.BadParameter("give a code address 'pkg/mod.py::Name'", param_hint="ADDRESS")
    fm = open_mirror(ctx, mirror)
    groups = list(series(scan_with_progress(ctx, fm, address)))
    plan = []
    for module, qualname, partition, output in groups:
        code = f"{module}.py::{qualname}"
        doomed = fm.gc(code, keep=keep, dry_run=True, partition=partition, output_name=output)
        plan.append((code, partition, output, doomed))
    total = sum(len(d) for *_, d in plan)
    done: list[dict[str, Any]] = []
    if dry_run or total == 0:
        done = [
            {"address": c, "partition": instance_json(p), "output_name": o, "run_id": r}
            for c, p, o, d in plan
            for r in d
        ]
    else:
        with progress("deleting old runs", quiet=as_json) as bar:
            bar.total(total)
            for code, partition, output, _ in plan:
                for r in fm.gc(
                    code,
                    keep=keep,
                    partition=partition,
                    output_name=output,
                    on_delete=lambda _r: bar.advance(),
                ):
                    done.append(
                        {
                            "address": code,
                            "partition": instance_json(partition),
                            "output_name": output,
                            "run_id": r,
                        }
                    )
    if as_json:
        print_json({"dry_run": dry_run, "deleted": done})
        return
    verb = "would delete" if dry_run else "deleted"
    for d in done:
        seg = fm.run_segment(d["run_id"])
        click.echo(
            visible(
                f"{verb} {d['address']} run {seg}"
                + (f" partition {d['partition']}" if d["partition"] else "")
            )
        )
    skipped = total - len(done) if not dry_run else 0
    click.echo(
        f"{verb} {len(done)} run(s) of {len(plan)} series"
        + (f"; {skipped} skipped (being written or now latest)" if skipped else "")
    )
