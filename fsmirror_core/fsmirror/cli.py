"""The ``fsmirror`` command: a thin layer over the public API.

Every :class:`FSMirrorError` becomes one line on stderr and exit code 1; bad
arguments are click's usage errors, exit code 2.
"""

from __future__ import annotations

import json
import os
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


@cli.command()
@click.argument("address")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option(
    "--run-id",
    "-r",
    multiple=True,
    help=(
        "Run id (default: $FSMIRROR_RUN_ID, else a generated one). Give it twice for a scoped id, "
        "as Airflow's run slot <dag_id>@<run_id>: -r DAG_ID -r RUN_ID."
    ),
)
@click.option(
    "--partition",
    "-p",
    help="Partition segment (an Airflow map index, a Prefect partition, Luigi parameters).",
)
@click.option("--output/--no-output", default=True, show_default=True, help="Include the output file name.")
@click.option("--no-id", is_flag=True, help="Leave the run id out (the seed's with_id=False).")
@click.option("--json", "as_json", is_flag=True, help="Print every form as JSON.")
@click.pass_context
@_fails_cleanly
def resolve(
    ctx: click.Context,
    address: str,
    mirror: str | None,
    run_id: tuple[str, ...],
    partition: str | None,
    output: bool,
    no_id: bool,
    as_json: bool,
) -> None:
    """Print where the code at ADDRESS ('pkg/mod.py::Name') stores its artifact."""
    fm = _mirror(ctx, mirror)
    rid: Any = None if not run_id else run_id[0] if len(run_id) == 1 else tuple(run_id)
    kw: dict[str, Any] = {"with_id": not no_id, "run_id": rid, "partition": partition}
    if as_json:
        chosen = rid if rid is not None else fm.run_id
        _print_json(
            {
                "address": address,
                "mirror": fm.mirror,
                "run_id": list(chosen) if isinstance(chosen, tuple) else chosen,
                "run_segment": fm.run_segment(chosen),
                "partition": partition,
                "relative": fm.mirror_relative(address, **kw),
                "full": fm.mirror_full(address, **kw),
                "relative_output": fm.mirror_relative_output(address, **kw),
                "full_output": fm.mirror_full_output(address, **kw),
            }
        )
        return
    click.echo(fm.mirror_full_output(address, **kw) if output else fm.mirror_full(address, **kw))


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _run_option(value: str | None) -> Any:
    """A run id as printed by ``ls``/``runs`` (its path segment) or as the orchestrator wrote it."""
    from .runid import decode_run_id

    if value is None or value == "latest":
        return "latest"
    return decode_run_id(value)


def _tree(fm: FSMirror, artifacts: list[Any]) -> Any:
    from rich.tree import Tree

    from .catalog import age, series

    tree = Tree(f"[bold]{fm.base}[/]  (mirror {fm.mirror!r})")
    modules: dict[str, Any] = {}
    for (module, qualname, partition, output), runs in series(artifacts).items():
        node = modules.get(module)
        if node is None:
            node = modules[module] = tree.add(f"[bold blue]{module}[/]")
        label = qualname + (f" [dim]partition[/] {partition}" if partition is not None else "")
        if output != fm.settings.output_name:
            label += f" [dim]output[/] {output}"
        leaf = node.add(f"[bold]{label}[/]  [dim]{len(runs)} run(s)[/]")
        for a in runs:
            name = a.uri.rsplit("/", 1)[-1]
            mark = "  [green]latest[/]" if a.latest else ""
            leaf.add(f"{a.segment}  {name}  {_human_size(a.size)}  [dim]{age(a.created_at)}[/]{mark}")
    return tree


@cli.command("ls")
@click.argument("target", required=False, metavar="[ADDRESS|PREFIX]")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option("--json", "as_json", is_flag=True, help="Print the artifacts as JSON.")
@click.pass_context
@_fails_cleanly
def ls(ctx: click.Context, target: str | None, mirror: str | None, as_json: bool) -> None:
    """The tree of committed artifacts under a code path ('pkg/sub', 'pkg/mod.py' or 'pkg/mod.py::Name')."""
    from .catalog import scan

    fm = _mirror(ctx, mirror)
    artifacts = scan(fm, target)
    if as_json:
        _print_json([a.to_json() for a in artifacts])
        return
    if not artifacts:
        click.echo(f"no committed artifacts under {fm.base}" + (f" for {target}" if target else ""))
        return
    from rich.console import Console

    Console(highlight=False, soft_wrap=True).print(_tree(fm, artifacts))


@cli.command()
@click.argument("address")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@click.pass_context
@_fails_cleanly
def runs(ctx: click.Context, address: str, mirror: str | None, as_json: bool) -> None:
    """Every committed run of the code at ADDRESS, oldest first."""
    from .catalog import age, scan

    if "::" not in address:
        raise click.BadParameter("give a code address 'pkg/mod.py::Name'", param_hint="ADDRESS")
    fm = _mirror(ctx, mirror)
    artifacts = scan(fm, address)
    if as_json:
        _print_json([a.to_json() for a in artifacts])
        return
    if not artifacts:
        click.echo(f"no committed runs of {address} in mirror {fm.mirror!r}")
        return
    for a in artifacts:
        extra = (f"  partition={a.partition}" if a.partition is not None else "") + (
            f"  output={a.output_name}" if a.output_name != fm.settings.output_name else ""
        )
        mark = "  latest" if a.latest else ""
        click.echo(
            f"{a.segment}  {a.created_at}  ({age(a.created_at)})  {_human_size(a.size)}  {a.format}{extra}{mark}"
        )


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
@_fails_cleanly
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
    fm = _mirror(ctx, mirror)
    man = fm.manifest(address, run_id=_run_option(run_id), partition=partition, output_name=output_name)
    if as_json:
        _print_json(man)
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
        ("size", f"{_human_size(int(man.get('size', 0)))} ({man.get('size')} bytes)"),
        ("sha256", man.get("sha256")),
        ("created", man.get("created_at")),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        if value is not None:
            click.echo(f"{key.ljust(width)}  {value}")


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
@_fails_cleanly
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
    from .catalog import scan, series

    if (address is None) == (not all_):
        raise click.UsageError("give an ADDRESS or --all (not both)")
    if address is not None and "::" not in address:
        raise click.BadParameter("give a code address 'pkg/mod.py::Name'", param_hint="ADDRESS")
    fm = _mirror(ctx, mirror)
    groups = list(series(scan(fm, address)))
    plan = []
    for module, qualname, partition, output in groups:
        code = f"{module}.py::{qualname}"
        doomed = fm.gc(code, keep=keep, dry_run=True, partition=partition, output_name=output)
        plan.append((code, partition, output, doomed))
    total = sum(len(d) for *_, d in plan)
    done: list[dict[str, Any]] = []
    if dry_run or total == 0:
        done = [
            {"address": c, "partition": p, "output_name": o, "run_id": r} for c, p, o, d in plan for r in d
        ]
    else:
        from rich.progress import Progress

        with Progress(transient=True, disable=as_json or total < 20) as progress:
            bar = progress.add_task("deleting old runs", total=total)
            for code, partition, output, _ in plan:
                for r in fm.gc(
                    code,
                    keep=keep,
                    partition=partition,
                    output_name=output,
                    on_delete=lambda _r: progress.advance(bar),
                ):
                    done.append({"address": code, "partition": partition, "output_name": output, "run_id": r})
    if as_json:
        _print_json({"dry_run": dry_run, "deleted": done})
        return
    verb = "would delete" if dry_run else "deleted"
    for d in done:
        seg = fm.run_segment(d["run_id"])
        click.echo(
            f"{verb} {d['address']} run {seg}" + (f" partition {d['partition']}" if d["partition"] else "")
        )
    skipped = total - len(done) if not dry_run else 0
    click.echo(
        f"{verb} {len(done)} run(s) of {len(plan)} series"
        + (f"; {skipped} skipped (being written or now latest)" if skipped else "")
    )


@cli.command()
@click.option(
    "--dir",
    "directory",
    default=".",
    type=click.Path(file_okay=False),
    help="Where to create fsmirror-demo/.",
)
@_fails_cleanly
def demo(directory: str) -> None:
    """Run a small example pipeline into ./fsmirror-demo (local disk) and print the tree."""
    from rich.console import Console

    from .catalog import scan
    from .demo import DEMO_DIR, run_demo

    fm, uris = run_demo(directory)
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"wrote {len(uris)} artifacts for run {fm.run_id}:")
    for uri in uris:
        console.print(f"  {uri}")
    console.print(_tree(fm, scan(fm)))
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
