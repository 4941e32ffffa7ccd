"""``fsmirror ui``: the read-only web view of a mirror (:mod:`fsmirror.web`), on 127.0.0.1 by default."""

from __future__ import annotations

import ipaddress

import click

from ..errors import ConfigError
from ._app import cli, fails_cleanly, open_mirror
from .safe import visible


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0: a free one.")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option(
    "--source-root",
    type=click.Path(file_okay=False),
    help="Where today's code is, as for `stale` (default: the source file each manifest recorded).",
)
@click.pass_context
@fails_cleanly
def ui(ctx: click.Context, host: str, port: int, mirror: str | None, source_root: str | None) -> None:
    """Browse the mirror in a web browser: the tree, artifacts, lineage, stale and verify. Read-only.

    Listens on 127.0.0.1 unless --host says otherwise: anyone who can reach the address
    reads what the store holds. Needs the `ui` extra (pip install 'fsmirror[ui]').
    """
    try:
        from ..web import serve
    except ImportError as e:
        raise ConfigError(f"fsmirror ui needs Flask: pip install 'fsmirror[ui]' ({e})") from e
    fm = open_mirror(ctx, mirror)
    if not _loopback(host):
        click.echo(
            visible(f"fsmirror: warning: listening on {host}: anyone who can reach it reads this store"),
            err=True,
        )

    def ready(url: str) -> None:
        click.echo(visible(f"fsmirror ui: mirror {fm.mirror!r} at {url} (read-only; Ctrl-C stops it)"))

    serve(fm, host, port, source_root=source_root, on_ready=ready)
