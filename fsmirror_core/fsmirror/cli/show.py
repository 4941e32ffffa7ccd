"""``fsmirror show``: what made an artifact, from its code address, URI, path or hash."""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import NotAnArtifactError
from ..paths.identity import instance_from_json, instance_label
from ._app import cli, fails_cleanly, human_size, open_mirror, partition_option, print_json, run_option
from .safe import visible

# What an orchestrator's record calls its ids, in the order a person looks for them.
_ID_KEYS = (
    "name", "run_id", "flow_run_id", "task_run_id", "dag_id", "task_id", "map_index", "try_number",
    "job_name", "step_key", "asset_key", "task_family", "xcom_key",
)  # fmt: skip


def logical_date_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """``--logical-date``: a UTC day (``2026-11-20``) or an ISO 8601 instant; a usage error otherwise."""
    if value is None:
        return None
    from ..model.record import parse_day_or_instant

    try:
        return parse_day_or_instant(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


LOGICAL_DATE_HELP = (
    "For an ADDRESS: the newest run whose data is of this logical date (a UTC day, 2026-11-20, "
    "or an ISO 8601 instant), as the orchestrator scheduled it."
)


def _cli_hint(e: NotAnArtifactError) -> str:
    """The core's message with the CLI's flags in place of the Python API's keyword arguments."""
    msg = str(e)
    for api, flag in (
        ("(partition=...)", "(--partition/-p)"),
        ("(output_name=...)", "(--output-name/-o)"),
        ("choose that mirror", f"pass --mirror {e.choices[0] if e.choices else ''}".rstrip()),
    ):
        msg = msg.replace(api, flag)
    if e.kind == "runs":
        msg += " (pass one with --run-id/-r)"
    return msg


def _orchestrator(orch: dict[str, Any]) -> str | None:
    if not orch:
        return None
    keys = [k for k in _ID_KEYS if orch.get(k) not in (None, "")]
    keys += sorted(k for k in orch if k not in _ID_KEYS and orch[k] not in (None, ""))
    return "  ".join(
        f"{k}={v if isinstance(v, (str, int)) else json.dumps(v)}" for k, v in ((k, orch[k]) for k in keys)
    )


def _interval(interval: Any) -> str | None:
    if not isinstance(interval, dict):
        return None
    return f"{interval.get('start')} .. {interval.get('end')}"


def _inputs(inputs: list[dict[str, Any]]) -> list[str]:
    out = []
    for i in inputs:
        h = i.get("hash") or {}
        inst = instance_label(instance_from_json(i.get("partition")))
        part = f" partition={inst}" if inst is not None else ""
        digest = f"  {h.get('algorithm')}:{str(h.get('digest'))[:12]}" if h else ""
        out.append(f"{i.get('address') or i.get('uri')} run {i.get('run')}{part}{digest}")
    return out


@cli.command()
@click.argument("target", metavar="TARGET")
@click.option(
    "--run-id",
    "-r",
    default="latest",
    show_default=True,
    help="For an ADDRESS: the run (as `runs` prints it), or 'latest'.",
)
@click.option("--partition", "-p", help="For an ADDRESS: the partition, for partitioned outputs.")
@click.option("--output-name", "-o", help="For an ADDRESS: the output name (default: the mirror's).")
@click.option("--logical-date", callback=logical_date_option, help=LOGICAL_DATE_HELP)
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the manifest as JSON (the default is a summary)."
)
@click.pass_context
@fails_cleanly
def show(
    ctx: click.Context,
    target: str,
    run_id: str,
    partition: str | None,
    output_name: str | None,
    logical_date: Any,
    mirror: str | None,
    as_json: bool,
) -> None:
    """What made an artifact: its code, run, orchestrator ids, commit, source blob and inputs.

    TARGET is a code address ('pkg/mod.py::Name'), an artifact URI (s3://, gs://, az://,
    file://), a local path, a path relative to the mirror's base, or a content-hash prefix
    (6+ hex digits). A local copy of an artifact is found by its content. An ADDRESS
    whose artifacts all have one partition needs no --partition.
    """
    fm = open_mirror(ctx, mirror)
    try:
        found = fm.lookup(
            target,
            run_id=run_option(run_id),
            partition=partition_option(partition),
            output_name=output_name,
            logical_date=logical_date,
        )
    except NotAnArtifactError as e:
        raise NotAnArtifactError(_cli_hint(e), kind=e.kind, subject=e.subject, choices=e.choices) from e
    man = found.manifest.to_json()
    if as_json:
        print_json(man)
        return
    code, run, git = man.get("code", {}), man.get("run", {}), man.get("git") or {}
    blob = code.get("source_git_blob")
    h = man.get("hash") or {}
    inputs = _inputs(man.get("inputs") or [])
    from ..services.links import bases_from_env, links

    pages = links(man.get("orchestrator") or {}, bases_from_env())
    rows: list[tuple[str, Any]] = [
        ("artifact", found.uri),
        ("code", code.get("address")),
        ("run", f"{run.get('segment')} (from {run.get('source')})"),
        ("attempt", man.get("attempt") or None),  # a retry that replaced an earlier attempt's commit
        ("logical date", man.get("logical_date")),  # the data's day, as the orchestrator scheduled it
        ("data interval", _interval(man.get("data_interval"))),
        ("orchestrator", _orchestrator(man.get("orchestrator") or {})),
        *(("link", page) for page in pages),
        ("commit", f"{git.get('commit')}{' (dirty)' if git.get('dirty') else ''}" if git else None),
        ("source", code.get("source_file")),
        ("source blob", f"{blob}  (git log --all --find-object={blob})" if blob else None),
        ("source sha256", code.get("source_sha256")),
        ("partition", instance_label(instance_from_json(man.get("partition")))),
        ("output", man.get("output_name") if man.get("output_name") != fm.settings.output_name else None),
        (
            "format",
            str(man.get("format"))
            + (f" (fell back from {man.get('requested_format')})" if man.get("fell_back") else ""),
        ),
        ("python type", man.get("python_type")),
        ("size", f"{human_size(int(man.get('size', 0)))} ({man.get('size')} bytes)"),
        ("hash", f"{h.get('algorithm')}:{h.get('digest')}" if h else None),
        ("created", man.get("created_at")),
        ("inputs", f"{len(inputs)}" if inputs else "none recorded"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        if value is not None:
            click.echo(f"{key.ljust(width)}  {visible(value)}")
    for line in inputs:
        click.echo(f"{''.ljust(width)}    {visible(line)}")
