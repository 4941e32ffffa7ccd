"""The Flask app of ``fsmirror ui``: one page per thing the CLI shows, over the same services.

Pages: ``/`` the tree (``ls``), ``/artifact?uri=`` one artifact (``show``, its source and
a preview of its rows), ``/lineage?uri=`` its graph up and down (``lineage``), ``/stale``
(``stale``), ``/verify`` (``verify``) and ``/search?q=`` (what ``show`` takes: an address,
a URI, a path, a hash prefix). Every page is rendered by Jinja2 with autoescape on.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Flask, abort, redirect, render_template, request
from werkzeug.wrappers import Response

from ..errors import FSMirrorError
from ..paths.identity import instance_label
from ..services.sizes import human_size
from .svg import Box, draw

if TYPE_CHECKING:
    from ..mirror import FSMirror
    from ..model.record import Manifest

__all__ = ["create_app", "serve", "PREVIEW_MAX_BYTES", "PREVIEW_ROWS"]

PREVIEW_MAX_BYTES = 8_000_000
"""A parquet/csv artifact larger than this is not read for a preview (a page must stay quick)."""
PREVIEW_ROWS = 20
_COMMIT = re.compile(r"^[0-9a-f]{7,64}$")
_TABULAR = ("parquet", "csv")


def _artifact_href(uri: str) -> str:
    return "/artifact?" + urlencode({"uri": uri})


def _lineage_href(uri: str) -> str:
    return "/lineage?" + urlencode({"uri": uri})


def _tree(fm: FSMirror, target: str | None) -> list[dict[str, Any]]:
    """``ls``'s tree as nested dicts: module -> series (code, partition, output) -> runs, oldest first."""
    from ..services.catalog import age, scan, series

    modules: dict[str, dict[str, Any]] = {}
    for (module, qualname, partition, output), runs in series(scan(fm, target)).items():
        mod = modules.setdefault(module, {"module": module, "series": [], "runs": 0, "size": 0})
        mod["runs"] += len(runs)
        mod["size"] += sum(a.size for a in runs)
        mod["series"].append(
            {
                "qualname": qualname,
                "partition": None if partition is None else instance_label(partition),
                "output": output if output != fm.settings.output_name else None,
                "count": len(runs),
                "size": human_size(sum(a.size for a in runs)),
                "runs": [
                    {
                        "segment": a.segment,
                        "name": a.uri.rsplit("/", 1)[-1],
                        "size": human_size(a.size),
                        "age": age(a.created_at),
                        "created_at": a.created_at,
                        "latest": a.latest,
                        "href": _artifact_href(a.uri),
                    }
                    for a in runs
                ],
            }
        )
    for mod in modules.values():
        mod["size"] = human_size(mod["size"])
    return list(modules.values())


def _git(args: list[str], cwd: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=10, check=False, text=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _source(man: Manifest, source_root: str | None) -> dict[str, Any]:
    """The code that made ``man``: at its recorded commit when this checkout has it, else today's file.

    The file is found as ``stale`` finds it (:func:`~fsmirror.services.staleness.find_source`)
    and must be the module's own ``.py`` file: a tampered manifest naming ``/etc/passwd`` as
    its source file shows nothing.
    """
    from ..services.staleness import find_source

    module = str(man.code.get("module") or "")
    below = (module.split("/", 1)[1] if "/" in module else module) + ".py"
    src = find_source(man.code, source_root)
    commit = str((man.git or {}).get("commit") or "")
    if (
        src is None
        or not module
        or ".." in module.split("/")
        or not os.path.realpath(src).replace(os.sep, "/").endswith("/" + below)
    ):
        return {"label": f"source not found on this machine ({module}.py)", "text": None}
    src = os.path.realpath(src)
    if _COMMIT.match(commit):
        top = _git(["rev-parse", "--show-toplevel"], os.path.dirname(src))
        if top is not None:
            rel = os.path.relpath(src, os.path.realpath(top.strip())).replace(os.sep, "/")
            text = _git(["show", f"{commit}:{rel}"], top.strip())
            if text is not None:
                return {"label": f"{rel} at commit {commit} (git show)", "text": text}
    why = f"this checkout has no commit {commit}" if commit else "no commit recorded"
    try:
        with open(src, encoding="utf-8", errors="replace") as f:
            return {"label": f"current source of {src} ({why}): may differ from what ran", "text": f.read()}
    except OSError as e:
        return {"label": f"source unreadable: {e}", "text": None}


def _preview(fm: FSMirror, uri: str, man: Manifest) -> dict[str, Any]:
    """The first rows of a parquet or csv artifact, read through the format layer (``read_uri``)."""
    if man.format not in _TABULAR:
        return {"note": f"no preview for the {man.format} format"}
    if man.size > PREVIEW_MAX_BYTES:
        return {"note": f"no preview: {human_size(man.size)} is over {human_size(PREVIEW_MAX_BYTES)}"}
    try:
        value = fm.read_uri(uri)
    except FSMirrorError as e:
        return {"note": f"no preview: {e}"}
    columns: list[str]
    rows: list[list[Any]]
    if hasattr(value, "iloc"):  # pandas
        head = value.head(PREVIEW_ROWS)
        columns = [str(c) for c in head.columns]
        rows = [list(r) for r in head.itertuples(index=False)]
        total = len(value)
    elif hasattr(value, "to_pylist") and hasattr(value, "slice"):  # pyarrow
        columns = [str(c) for c in value.column_names]
        rows = [list(r.values()) for r in value.slice(0, PREVIEW_ROWS).to_pylist()]
        total = value.num_rows
    elif hasattr(value, "to_dicts"):  # polars
        columns = [str(c) for c in value.columns]
        rows = [list(r.values()) for r in value.head(PREVIEW_ROWS).to_dicts()]
        total = value.height
    elif isinstance(value, list):  # csv as a list of dicts
        columns = list(dict.fromkeys(str(k) for r in value[:PREVIEW_ROWS] for k in r))
        rows = [[r.get(c) for c in columns] for r in value[:PREVIEW_ROWS]]
        total = len(value)
    else:
        return {"note": f"no preview for a {type(value).__name__}"}
    return {"columns": columns, "rows": rows, "total": total}


def _graph(fm: FSMirror, man: Manifest) -> tuple[Any, list[dict[str, Any]]]:
    """Lineage up and down from ``man`` (two walks of services.graph), merged and drawn."""
    from ..services.graph import walk

    up = walk(fm, man, direction="upstream")
    down = walk(fm, man, direction="downstream")
    nodes = {n.uri: n for n in (*up.nodes, *down.nodes)}
    edges = list(dict.fromkeys((e.source, e.target) for e in (*up.edges, *down.edges)))
    boxes = []
    for n in nodes.values():
        lines = [n.address, f"run {n.run}"]
        if n.partition is not None:
            lines[1] += f"  partition {instance_label(n.partition)}"
        if n.state != "committed":
            lines[1] += f"  ({n.state})"
        boxes.append(
            Box(
                n.uri,
                tuple(lines),
                _lineage_href(n.uri) if n.state == "committed" else None,
                n.uri == man.uri,
                n.state,
            )
        )
    rows = [
        {
            "address": n.address,
            "run": n.run,
            "uri": n.uri,
            "state": n.state,
            "href": _artifact_href(n.uri) if n.state == "committed" else None,
            "side": "this"
            if n.uri == man.uri
            else ("upstream" if n.uri in {x.uri for x in up.nodes} else "downstream"),
        }
        for n in nodes.values()
    ]
    return draw(boxes, edges), rows


def create_app(fm: FSMirror, *, source_root: str | None = None) -> Flask:
    """The app over one mirror. Read-only: every route is a GET that reads the store."""
    app = Flask(__name__)
    app.jinja_env.autoescape = True  # every template, whatever its extension

    @app.context_processor
    def _common() -> dict[str, Any]:
        return {"mirror": fm.mirror, "base": fm.base, "q": request.args.get("q", "")}

    def _found(target: str) -> Any:
        from ..services.lookup import lookup

        return lookup(fm, target)

    def _failed(title: str, e: FSMirrorError, status: int) -> tuple[str, int]:
        return render_template("error.html", title=title, message=str(e)), status

    @app.get("/")
    def tree() -> Any:
        target = request.args.get("target") or None
        try:
            modules = _tree(fm, target)
        except FSMirrorError as e:
            return _failed("tree", e, 400)
        return render_template("tree.html", title="tree", modules=modules, target=target)

    @app.get("/artifact")
    def artifact() -> Any:
        uri = request.args.get("uri") or abort(400)
        try:
            found = _found(uri)
        except FSMirrorError as e:
            return _failed("artifact", e, 404)
        man = found.manifest
        return render_template(
            "artifact.html",
            title=man.address,
            found=found,
            man=man,
            manifest=man.to_json(),
            size=human_size(man.size),
            partition=None if man.partition is None else instance_label(man.partition),
            source=_source(man, source_root),
            preview=_preview(fm, found.uri, man),
            lineage_href=_lineage_href(found.uri),
        )

    @app.get("/lineage")
    def lineage() -> Any:
        uri = request.args.get("uri") or abort(400)
        try:
            found = _found(uri)
            svg, rows = _graph(fm, found.manifest)
        except FSMirrorError as e:
            return _failed("lineage", e, 404)
        return render_template(
            "lineage.html",
            title=f"lineage of {found.address}",
            found=found,
            svg=svg,
            rows=rows,
            artifact_href=_artifact_href(found.uri),
        )

    @app.get("/stale")
    def stale() -> Any:
        from ..services.staleness import staleness

        target = request.args.get("target") or None
        try:
            found = staleness(fm, target, source_root=source_root)
        except FSMirrorError as e:
            return _failed("stale", e, 400)
        rows = [
            {
                "address": s.address,
                "partition": None if s.partition is None else instance_label(s.partition),
                "run": s.run,
                "href": _artifact_href(s.uri),
                "stale": s.stale,
                "reasons": s.reasons,
            }
            for s in found
        ]
        return render_template("stale.html", title="stale", rows=rows, target=target)

    @app.get("/verify")
    def verify() -> Any:
        from ..services.verify import verify as verify_all

        target = request.args.get("target") or None
        try:
            results = verify_all(fm, target)
        except FSMirrorError as e:
            return _failed("verify", e, 400)
        return render_template(
            "verify.html",
            title="verify",
            results=results,
            bad=[r for r in results if not r.ok],
            size=human_size(sum(r.size for r in results)),
            target=target,
            href=_artifact_href,
        )

    @app.get("/search")
    def search() -> Any:
        q = request.args.get("q", "").strip()
        if not q:
            return redirect("/")
        try:
            found = _found(q)
        except FSMirrorError as e:
            return _failed("search", e, 404)
        return redirect(_artifact_href(found.uri))

    @app.after_request
    def _headers(response: Response) -> Response:
        # no script runs on these pages: a store name that slipped past escaping still could not
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app


def serve(
    fm: FSMirror,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    source_root: str | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the app until interrupted (Werkzeug's threaded server: one user, on this machine).

    ``on_ready(url)`` is called once the socket listens (port 0 picks a free one).
    """
    from werkzeug.serving import make_server

    server = make_server(host, port, create_app(fm, source_root=source_root), threaded=True)
    shown = f"[{host}]" if ":" in host else host
    if on_ready is not None:
        on_ready(f"http://{shown}:{server.server_port}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
