"""The ``fsmirror`` group and what its commands share: one-line errors, global options, the mirror.

Exit codes, the same for every command: 0 done; 1 an :class:`FSMirrorError` (the
store, the config, an artifact that is not there, a mismatch ``verify`` found),
printed as one line on stderr; 2 a usage error (a bad option, a missing
argument, a malformed ADDRESS), printed as one line naming ``--help``.

Global options. ``--config PATH`` and ``--json`` belong to the group and are
accepted anywhere on the command line, before or after the subcommand's name
(``fsmirror --json ls`` = ``fsmirror ls --json``; ``fsmirror ls --config X``):
:class:`_FSMirrorGroup` lifts them in front of the subcommand before click
parses anything. A command gets them without declaring anything:

- the config: :func:`open_mirror` (or ``ctx.obj["config_path"]``);
- ``--json``: call :func:`wants_json` (``if wants_json(ctx): print_json(...)``).
  A command that declares its own ``--json`` flag for its help text (any
  parameter name) has it set too, through click's ``default_map``.

Messages: the core phrases its hints for Python callers (``pass run_id=...``);
:func:`cli_message` rewrites them into the command's options (``--run-id``)
through the table :data:`CLI_HINTS`, so both audiences read their own words.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any, TypeVar

import click

from .. import FSMirror, FSMirrorError, __version__
from ..errors import ErrorKind, ResolveError
from ..services.sizes import human_size as human_size  # re-exported: the commands import it from here
from .safe import visible

__all__ = [
    "cli",
    "fails_cleanly",
    "open_mirror",
    "print_json",
    "wants_json",
    "progress",
    "human_size",
    "run_option",
    "cli_message",
    "is_usage_error",
    "USAGE_KINDS",
    "CLI_HINTS",
]

F = TypeVar("F", bound=Callable[..., Any])

GLOBAL_FLAGS = ("--json",)
GLOBAL_VALUED = ("--config",)

# Python phrasing in core messages -> the CLI's options. Applied in order, each a regex.
CLI_HINTS: tuple[tuple[str, str], ...] = (
    (r"pass mirror=\.\.\.", "pass -m/--mirror NAME"),
    (r"read\(run_id='latest'\)", "--run-id latest"),
    (r"pass run_id=\.\.\.", "pass --run-id RUN (as `fsmirror runs` prints it)"),
    (r"\brun_id=\.\.\.", "--run-id RUN"),
    (r"\bpartition=\.\.\.", "--partition P"),
    (r"\boutput_name=\.\.\.", "--output-name NAME"),
    (r"call load_config\(path\)", "pass --config PATH"),
)

# The kinds of ResolveError that say an argument is malformed (not that the store lacks it).
USAGE_KINDS: frozenset[ErrorKind] = frozenset({"malformed-address"})


def cli_message(message: str) -> str:
    """A core error message with its Python-API hints rewritten as the CLI's options."""
    for pattern, repl in CLI_HINTS:
        message = re.sub(pattern, repl, message)
    return message


def is_usage_error(e: FSMirrorError) -> bool:
    """Whether ``e`` says a command-line argument is malformed (exit 2), not a failure (exit 1).

    Decided by the error's ``kind``, set where it is raised: never by its message.
    """
    return isinstance(e, ResolveError) and e.kind in USAGE_KINDS


def _fail(e: FSMirrorError, command_path: str) -> None:
    # a message quotes what it is about (a URI, a path read from the store): data, one line
    if is_usage_error(e):
        click.echo(f"fsmirror: error: {visible(cli_message(str(e)))} (see '{command_path} --help')", err=True)
        sys.exit(2)
    click.echo(f"fsmirror: error: {visible(cli_message(str(e)))}", err=True)
    sys.exit(1)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """A warning as one line on stderr: a StoreWarning names files found in the store (data)."""
    click.echo(f"fsmirror: warning: {category.__name__}: {visible(message)}", err=True)


def fails_cleanly(fn: F) -> F:
    """Turn fsmirror's own errors into a one-line message instead of a traceback.

    The group does the same for any command without it; keeping it on a command
    names that command in a usage error's ``--help`` hint.
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FSMirrorError as e:
            ctx = click.get_current_context(silent=True)
            _fail(e, ctx.command_path if ctx is not None else "fsmirror")

    return wrapper  # type: ignore[return-value]


def open_mirror(ctx: click.Context, mirror: str | None) -> FSMirror:
    return FSMirror(config=_root_obj(ctx).get("config_path"), mirror=mirror)


def _root_obj(ctx: click.Context) -> dict[str, Any]:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, dict) else {}


def wants_json(ctx: click.Context, flag: bool = False) -> bool:
    """Whether the command should print JSON: its own ``--json`` flag, or the global one."""
    return bool(flag or _root_obj(ctx).get("json"))


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


class Bar:
    """What :func:`progress` yields: ``update(done, total)`` or ``advance(n)``; thread-safe."""

    def __init__(self, what: str, shown: bool) -> None:
        self.what = what
        self.shown = shown
        self._lock = threading.Lock()
        self._progress: Any = None
        self._task: Any = None

    def _start(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(self.what, total=total)

    def update(self, done: int, total: int) -> None:
        if not self.shown or total < PROGRESS_MIN:
            return
        with self._lock:
            if self._progress is None:
                self._start(total)
            self._progress.update(self._task, completed=done, total=total)

    def total(self, total: int) -> None:
        self.update(0, total)

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            with self._lock:
                self._progress.advance(self._task, n)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


PROGRESS_MIN = 20  # shorter work finishes before a bar is worth drawing


@contextlib.contextmanager
def progress(what: str, *, quiet: bool = False) -> Iterator[Bar]:
    """A transient progress bar on stderr for long store work (``ls``, ``gc``, ``verify``).

    Drawn only when stderr is a terminal (never in a pipe, a log or CI), the output is
    not JSON (``quiet``) and there are at least :data:`PROGRESS_MIN` steps; it starts at
    the first ``update(done, total)`` and disappears when the work ends.
    """
    from rich.console import Console

    bar = Bar(what, shown=not quiet and Console(stderr=True).is_terminal)
    try:
        yield bar
    finally:
        bar.close()


def _lift_globals(args: list[str]) -> list[str]:
    """Move ``--json`` and ``--config X`` (anywhere before ``--``) in front, where the group parses them."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            rest.extend(args[i:])
            break
        if a in GLOBAL_FLAGS:
            front.append(a)
        elif a in GLOBAL_VALUED and i + 1 < len(args):
            front.extend((a, args[i + 1]))
            i += 1
        elif any(a.startswith(g + "=") for g in GLOBAL_VALUED):
            front.append(a)
        else:
            rest.append(a)
        i += 1
    return front + rest


def _json_defaults(group: click.Group) -> dict[str, Any]:
    """A ``default_map`` that turns on every subcommand's own ``--json`` flag, at any depth."""
    out: dict[str, Any] = {}
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out[name] = _json_defaults(cmd)
        else:
            flags = {p.name: True for p in cmd.params if isinstance(p, click.Option) and "--json" in p.opts}
            if flags:
                out[name] = flags
    return out


class _FSMirrorGroup(click.Group):
    """One line per error with the exit codes of the module doc; global options anywhere.

    Scripts and CI logs grep for one line; the full usage is a ``--help`` away.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _lift_globals(list(args)))

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return self._main(args, prog_name, complete_var, standalone_mode, **extra)

    def _main(
        self, args: Any, prog_name: str | None, complete_var: str | None, standalone_mode: bool, **extra: Any
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as e:
            cmd = e.ctx.command_path if e.ctx is not None else (prog_name or "fsmirror")
            click.echo(f"fsmirror: error: {visible(e.format_message())} (see '{cmd} --help')", err=True)
            sys.exit(2)
        except click.ClickException as e:
            click.echo(f"fsmirror: error: {visible(e.format_message())}", err=True)
            sys.exit(e.exit_code)
        except FSMirrorError as e:  # a command without @fails_cleanly
            _fail(e, prog_name or "fsmirror")
        except click.Abort:
            click.echo("fsmirror: aborted", err=True)
            sys.exit(1)
        except BrokenPipeError:  # `fsmirror ls | head`: the reader left; not an error
            sys.stderr.close()
            sys.exit(0)
        sys.exit(rv if isinstance(rv, int) else 0)


_OneLineErrors = _FSMirrorGroup  # the old name, for modules that subclass it


@click.group(cls=_FSMirrorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="FSMIRROR_CONFIG_PATH",
    help="Config file (default: $FSMIRROR_CONFIG_PATH). Accepted before or after the subcommand.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON instead of text, for every subcommand. Accepted before or after the subcommand.",
)
@click.version_option(__version__, prog_name="fsmirror")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, as_json: bool) -> None:
    """Find an artifact from the code, and the code from an artifact.

    Exit codes: 0 done, 1 an fsmirror error (one line on stderr), 2 a usage error.
    """
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["json"] = as_json
    if as_json:
        ctx.default_map = {**_json_defaults(cli), **(ctx.default_map or {})}


def partition_option(value: str | None) -> Any:
    """An instance as ``ls`` prints it: a partition, or parts joined by ``@`` (``add_1_2@2026-11-05``)."""
    from ..paths.identity import parse_instance_segment

    if value is None:
        return None
    try:
        return parse_instance_segment(value)
    except ResolveError as e:  # '~FF': a malformed argument, exit 2 like any other
        raise click.BadParameter(visible(str(e)), param_hint="'--partition'") from None


def run_option(value: str | None) -> Any:
    """A run id as printed by ``ls``/``runs`` (its path segment) or as the orchestrator wrote it."""
    from ..paths.runid import decode_run_id

    if value is None or value == "latest":
        return "latest"
    try:
        return decode_run_id(value)
    except ResolveError as e:  # '~FF', 'é~41': a malformed argument, exit 2 like any other
        raise click.BadParameter(visible(str(e)), param_hint="'--run-id'") from None
