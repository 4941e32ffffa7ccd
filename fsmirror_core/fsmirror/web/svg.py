"""A lineage graph drawn server-side as SVG: layered left to right, data flowing rightwards.

Server-side because the UI must work offline (no CDN, nothing to vendor): a layered
layout of a small DAG is a few lines. Each node's layer is its longest path from a
source, its row the order it was found in; edges are straight arrows. Every label comes
from the store and is escaped here (``markupsafe.escape``), since the result is inserted
into the page as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Box", "draw"]

WIDTH, HEIGHT, GAP_X, GAP_Y, PAD = 260, 58, 70, 22, 12
MAX_CHARS = 38  # a label line longer than this is cut with an ellipsis (the full text is its tooltip)


@dataclass(frozen=True)
class Box:
    """One node: its key (the artifact's URI), the lines shown, a link, and how it is drawn."""

    key: str
    lines: tuple[str, ...]
    href: str | None
    root: bool = False
    state: str = "committed"


def _layers(boxes: Sequence[Box], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest path from a source; a cycle (a tampered store) stops after one pass per node."""
    layer = {b.key: 0 for b in boxes}
    for _ in range(len(boxes)):
        moved = False
        for src, dst in edges:
            if src in layer and dst in layer and layer[dst] < layer[src] + 1:
                layer[dst] = layer[src] + 1
                moved = True
        if not moved:
            break
    return layer


def _cut(line: str) -> str:
    return line if len(line) <= MAX_CHARS else line[: MAX_CHARS - 1] + "\u2026"


def draw(boxes: Sequence[Box], edges: Sequence[tuple[str, str]]) -> Markup:
    """The graph as one ``<svg>`` element, every store-read text escaped."""
    layer = _layers(boxes, edges)
    rows: dict[int, int] = {}
    pos: dict[str, tuple[int, int]] = {}
    for b in boxes:
        col = layer[b.key]
        row = rows.get(col, 0)
        rows[col] = row + 1
        pos[b.key] = (PAD + col * (WIDTH + GAP_X), PAD + row * (HEIGHT + GAP_Y))
    w = PAD * 2 + (max(layer.values(), default=0) + 1) * (WIDTH + GAP_X) - GAP_X
    h = PAD * 2 + max(rows.values(), default=1) * (HEIGHT + GAP_Y) - GAP_Y
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="lineage graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>',
    ]
    for src, dst in edges:
        if src not in pos or dst not in pos:
            continue
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        out.append(
            f'<line class="edge" x1="{x1 + WIDTH}" y1="{y1 + HEIGHT // 2}" x2="{x2}" '
            f'y2="{y2 + HEIGHT // 2}" marker-end="url(#arrow)"/>'
        )
    for b in boxes:
        x, y = pos[b.key]
        cls = "node" + (" root" if b.root else "") + ("" if b.state == "committed" else f" {b.state}")
        texts = "".join(
            f'<text x="{x + 10}" y="{y + 20 + 17 * k}">{escape(_cut(line))}</text>'
            for k, line in enumerate(b.lines)
        )
        title = escape("\n".join(b.lines))
        shape = (
            f'<g class="{escape(cls)}"><title>{title}</title>'
            f'<rect x="{x}" y="{y}" width="{WIDTH}" height="{HEIGHT}" rx="6"/>{texts}</g>'
        )
        out.append(f'<a href="{escape(b.href)}">{shape}</a>' if b.href else shape)
    out.append("</svg>")
    return Markup("".join(out))
