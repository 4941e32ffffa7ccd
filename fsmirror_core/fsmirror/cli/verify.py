"""``fsmirror verify``: do the committed artifacts still hold the bytes their manifests vouch for?"""

from __future__ import annotations

import click

from ._app import cli, fails_cleanly, human_size, open_mirror, print_json, progress, wants_json
from .safe import visible


@cli.command()
@click.argument("target", required=False, metavar="[ADDRESS|PREFIX]")
@click.option("--mirror", "-m", help="Mirror to use (default: the only one, or $FSMIRROR_MIRROR).")
@click.option("--json", "as_json", is_flag=True, help="Print every artifact's check as JSON.")
@click.pass_context
@fails_cleanly
def verify(ctx: click.Context, target: str | None, mirror: str | None, as_json: bool) -> None:
    """Check size and content hash of every committed artifact under a code path; exit 1 on a mismatch.

    TARGET is what `ls` takes ('pkg/sub', 'pkg/mod.py', 'pkg/mod.py::Name'; default: the
    whole mirror). Nothing is written. A progress bar shows on a terminal only.
    """
    from ..errors import IntegrityError
    from ..services.verify import verify as verify_all

    fm = open_mirror(ctx, mirror)
    as_json = wants_json(ctx, as_json)
    with progress("verifying artifacts", quiet=as_json) as bar:
        results = verify_all(fm, target, on_progress=bar.update)
    bad = [r for r in results if not r.ok]
    if as_json:
        print_json(
            {
                "checked": len(results),
                "mismatches": len(bad),
                "ok": not bad,
                "artifacts": [r.to_json() for r in results],
            }
        )
        if bad:
            ctx.exit(1)
        return
    for r in bad:
        click.echo(visible(f"MISMATCH {r.uri}: {r.problem}"))
    size = human_size(sum(r.size for r in results))
    if bad:
        raise IntegrityError(
            f"{len(bad)} of {len(results)} artifact(s) under {fm.base}"
            + (f" for {target}" if target else "")
            + " do not match their manifests (listed above)"
        )
    if not results:
        click.echo(visible(f"no committed artifacts under {fm.base}" + (f" for {target}" if target else "")))
        return
    algos = ", ".join(sorted({r.algorithm for r in results}))
    click.echo(
        f"verified {len(results)} artifact(s), {size}: every size and {algos} hash matches its manifest"
    )
