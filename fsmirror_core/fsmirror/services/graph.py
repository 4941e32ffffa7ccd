"""Walk lineage through the store: what an artifact was made from, and what was made from it.

Every manifest lists its inputs (:attr:`fsmirror.record.Manifest.inputs`), so the
store itself is the lineage graph: walking *upstream* follows those lists,
one manifest read per artifact; walking *downstream* inverts them over every
committed manifest of the mirror (one listing, one concurrent read of the
manifests, as :func:`fsmirror.catalog.scan`). Every orchestrator writes the
same layout, so a walk crosses from a Luigi task to a Dagster asset to a plain
``fm.run`` block without knowing which wrote what.

An input is matched by its URI *and* its content hash: an input whose artifact
was overwritten since (other bytes at the URI) or deleted (gc) shows as
``replaced`` or ``gone``, and the walk does not go on through bytes that are
not the ones read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ArtifactNotFoundError, FSMirrorError
from ..model.record import ContentHash, Input, Manifest
from ..paths.identity import Instance, instance_json, instance_label

if TYPE_CHECKING:
    from ..mirror import FSMirror

__all__ = ["Node", "Edge", "Lineage", "Direction", "walk", "resolve", "manifest_at"]

Direction = Literal["upstream", "downstream"]
State = Literal["committed", "replaced", "gone"]


@dataclass(frozen=True)
class Node:
    """One artifact in a lineage walk, as the manifest (or, when gone, the input record) names it."""

    uri: str
    address: str
    run: str
    output_name: str
    partition: Instance | None  # the instance (fsmirror.identity)
    hash: ContentHash | None
    created_at: str | None
    state: State = "committed"

    @classmethod
    def of(cls, x: Manifest | Input, state: State = "committed") -> Node:
        run = x.segment if isinstance(x, Manifest) else x.run
        return cls(x.uri, x.address, run, x.output_name, x.partition, x.hash, x.created_at, state)

    def to_json(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "address": self.address,
            "run": self.run,
            "output_name": self.output_name,
            "partition": instance_json(self.partition),
            "hash": None
            if self.hash is None
            else {"algorithm": self.hash.algorithm, "digest": self.hash.digest},
            "created_at": self.created_at,
            "state": self.state,
        }

    def label(self, show: Callable[[str], str] = str) -> str:
        """``address [run]`` (``[run, partition=p]``): what a person reads a node by.

        ``show`` renders each field read from the store (the CLI passes its terminal sanitiser).
        """
        extra = (
            f", partition={show(str(instance_label(self.partition)))}" if self.partition is not None else ""
        )
        return f"{show(self.address)} [{show(self.run)}{extra}]"


@dataclass(frozen=True)
class Edge:
    """``source`` (an input) was read by the step that wrote ``target``: data flows source -> target."""

    source: str
    target: str

    def to_json(self) -> dict[str, str]:
        return {"from": self.source, "to": self.target}


_NOTES = {
    "replaced": "replaced: other bytes are committed there now",
    "gone": "gone: no committed artifact there now",
}


@dataclass(frozen=True)
class Lineage:
    """The result of a walk: nodes in the order found (the root first) and the edges between them."""

    root: str
    direction: Direction
    depth: int | None
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def node(self, uri: str) -> Node:
        return next(n for n in self.nodes if n.uri == uri)

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "direction": self.direction,
            "depth": self.depth,
            "nodes": [n.to_json() for n in self.nodes],
            "edges": [e.to_json() for e in self.edges],
        }

    def _children(self, uri: str) -> list[str]:
        if self.direction == "upstream":
            return [e.source for e in self.edges if e.target == uri]
        return [e.target for e in self.edges if e.source == uri]

    def tree(self, show: Callable[[str], str] = str) -> str:
        """The walk as an indented tree from the root; a node reached twice is expanded once.

        ``show`` renders each field read from the store: one field holding a newline or an
        escape sequence must not fake or redraw a line (``fsmirror lineage`` passes
        ``fsmirror.cli.safe.visible``).
        """
        lines: list[str] = []
        seen: set[str] = set()

        def line(uri: str, prefix: str, branch: str) -> None:
            n = self.node(uri)
            notes = [_NOTES[n.state]] if n.state in _NOTES else []
            again = uri in seen
            if again:
                notes.append("shown above")
            tail = f"  ({'; '.join(notes)})" if notes else ""
            lines.append(f"{prefix}{branch}{n.label(show)}  {show(n.uri)}{tail}")
            seen.add(uri)
            if again:
                return
            kids = self._children(uri)
            inner = prefix + ("" if not branch else ("    " if branch == "└── " else "│   "))
            for k, kid in enumerate(kids):
                line(kid, inner, "└── " if k == len(kids) - 1 else "├── ")

        line(self.root, "", "")
        return "\n".join(lines)

    def mermaid(self, show: Callable[[str], str] = str) -> str:
        """A Mermaid ``graph LR`` diagram: data flows left to right, the root drawn bold.

        ``show`` renders each field read from the store, as for :meth:`tree`.
        """
        ids = {n.uri: f"n{k}" for k, n in enumerate(self.nodes)}
        out = ["graph LR"]
        for n in self.nodes:
            text = f"{show(n.address)}<br/>{show(n.run)}"
            if n.partition is not None:
                text += f"<br/>partition {show(str(instance_label(n.partition)))}"
            if n.state != "committed":
                text += f"<br/>({n.state})"
            out.append(f'  {ids[n.uri]}["{_mermaid_escape(text)}"]')
        out.extend(f"  {ids[e.source]} --> {ids[e.target]}" for e in self.edges)
        out.append(f"  style {ids[self.root]} stroke-width:3px")
        return "\n".join(out)


def _mermaid_escape(text: str) -> str:
    return text.replace('"', "#quot;")


def manifest_at(fm: FSMirror, uri: str) -> Manifest | None:
    """The committed manifest of the artifact at exactly ``uri`` in ``fm``'s store, else None.

    Reads the manifest beside the data file (one GET) and checks it names ``uri``;
    unlike :meth:`FSMirror.manifest_uri` it does not re-derive the path from the
    code address, so it also finds artifacts whose task names are not Python names
    (Airflow's ``load-orders``) and artifacts of other mirrors on the same store.
    """
    from ..model.record import parse_cell, visible_manifest
    from ..paths import names
    from ..paths.layout import base_uri

    st = fm.config.storage
    root = base_uri(st.provider, st.tenant, None, None).rstrip("/")
    if not uri.startswith(root + "/") or "/../" in uri or "/./" in uri:
        return None  # an input URI read from a (maybe tampered) manifest never leads out of the tenant
    directory, _, filename = uri.rpartition("/")
    stem = filename.rpartition(".")[0] or filename
    if not directory or not stem or stem.startswith("_"):
        return None
    backend = fm.store.backend
    try:
        backend.check_inside(directory)
    except FSMirrorError:
        return None
    try:
        blob = backend.get(names.manifest_file(directory, stem))
    except (FSMirrorError, OSError, ValueError):
        return None
    if blob is None:
        return None
    try:
        cell = parse_cell(blob.data, uri)
    except FSMirrorError:
        return None
    man = visible_manifest(cell)
    if man is None or man.uri != uri:
        return None
    return man


def _same_bytes(a: ContentHash | None, b: ContentHash | None) -> bool:
    return a is None or b is None or a == b


def _all_manifests(fm: FSMirror) -> list[Manifest]:
    """Every committed manifest of the mirror: the catalog's scan, which reads each one once."""
    from .catalog import scan_manifests

    return [m for _, m, _ in scan_manifests(fm)]


def walk(
    fm: FSMirror,
    start: Manifest,
    *,
    direction: Direction = "upstream",
    depth: int | None = None,
    manifests: Iterable[Manifest] | None = None,
) -> Lineage:
    """Walk lineage from ``start``, at most ``depth`` edges (None: all the way).

    ``manifests`` (downstream only) is the set to invert; default: every committed
    manifest of ``fm``'s mirror.
    """
    if depth is not None and depth < 0:
        raise ValueError(f"depth must be 0 or more, got {depth}")
    nodes: dict[str, Node] = {start.uri: Node.of(start)}
    edges: dict[tuple[str, str], Edge] = {}
    queue: deque[tuple[Manifest, int]] = deque([(start, 0)])
    made_from: dict[str, list[Manifest]] = {}
    if direction == "downstream":
        for m in _all_manifests(fm) if manifests is None else manifests:
            for i in m.inputs:
                made_from.setdefault(i.uri, []).append(m)
    while queue:
        man, level = queue.popleft()
        if depth is not None and level >= depth:
            continue
        if direction == "upstream":
            for i in man.inputs:
                edges.setdefault((i.uri, man.uri), Edge(i.uri, man.uri))
                if i.uri in nodes:
                    continue  # a node reached twice (a diamond) is walked once: no cycle can loop
                now = manifest_at(fm, i.uri)
                if now is None:
                    nodes[i.uri] = Node.of(i, "gone")
                elif not _same_bytes(now.hash, i.hash):
                    nodes[i.uri] = Node.of(i, "replaced")
                else:
                    nodes[i.uri] = Node.of(now)
                    queue.append((now, level + 1))
        else:
            for m in made_from.get(man.uri, []):
                read = next(i for i in m.inputs if i.uri == man.uri)
                if not _same_bytes(read.hash, man.hash):
                    continue  # made from bytes once at this URI, not these
                edges.setdefault((man.uri, m.uri), Edge(man.uri, m.uri))
                if m.uri in nodes:
                    continue
                nodes[m.uri] = Node.of(m)
                queue.append((m, level + 1))
    return Lineage(start.uri, direction, depth, tuple(nodes.values()), tuple(edges.values()))


def resolve(fm: FSMirror, target: str, **where: Any) -> Manifest:
    """The manifest a walk starts from: ``pkg/mod.py::Name`` (its run, default the latest) or an artifact URI."""
    if "::" in target:
        return Manifest.from_json(fm.manifest(target, **where))
    import os

    if "://" not in target and os.path.exists(target):  # a local store's file, given relative to here
        target = os.path.abspath(target)
    found = manifest_at(fm, target)
    if found is None:
        raise ArtifactNotFoundError(
            f"{target} is not a committed artifact of mirror {fm.mirror!r} (give its URI as `fsmirror ls` "
            "prints it, or a code address 'pkg/mod.py::Name')"
        )
    return found
