"""The layered drawing as SVG: the `svg` export, and the drawing inside the `html` export.

The geometry is modelkit.layout's, in character cells; one cell is CW x CH pixels and
text is set in a monospace font whose advance fits a cell, so a box fits its text as in
the terminal browser. Every op's box is a `<g data-node=INDEX data-op=OP>`; a node folded
into another's box (a constant, the Identity reading it) is a `<g class="folded"
data-node data-op>` inside that box; graph inputs and outputs are boxes with `data-io`.
Edges are `<path data-from=BOX data-to=BOX data-tensor=NAME>`. Marks are drawn as
symbols on the box border (check and diff on top, per-layer error at the bottom).
"""

from __future__ import annotations

from html import escape

from modelkit.export.document import Document, GraphDoc
from modelkit.export.marks import Mark

CW, CH = 8, 18
FONT = 12.5
# Rows of text above the drawing in a standalone picture: title, notes, legend.
LINE_H = 18

STYLE = """
.mk-graph { font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace;
  font-size: 12.5px; }
.mk-graph .box > rect { fill: #fff; stroke: #5f6b7a; stroke-width: 1.2; }
.mk-graph .io > rect { fill: #eef3fb; stroke: #3f6fb5; stroke-dasharray: 4 2; }
.mk-graph .t { font-weight: bold; fill: #1b2733; }
.mk-graph .n { fill: #1b2733; }
.mk-graph .c { fill: #5b6675; }
.mk-graph .e { fill: none; stroke: #7d8794; stroke-width: 1.2; marker-end: url(#mk-arrow); }
.mk-graph .l { fill: #5b6675; font-size: 11px; }
.mk-graph .h { fill: #7d8794; font-size: 11px; text-anchor: end; }
.mk-graph .mk { font-size: 11.5px; paint-order: stroke; stroke: #fff; stroke-width: 4px; }
.mk-graph .error { fill: #b3261e; } .mk-graph .warning { fill: #8a5a00; }
.mk-graph .info { fill: #1d5fa8; } .mk-graph .added { fill: #1b7f3b; }
.mk-graph .changed { fill: #7a3fb0; } .mk-graph .q0 { fill: #2f7d32; }
.mk-graph .q1 { fill: #8a6d00; } .mk-graph .q2 { fill: #b35c00; } .mk-graph .q3 { fill: #b3261e; }
.mk-graph .qx { fill: #5b6675; }
.mk-graph .s-error > rect, .mk-graph .s-q3 > rect { stroke: #b3261e; stroke-width: 2.4; }
.mk-graph .s-warning > rect, .mk-graph .s-q2 > rect { stroke: #b35c00; stroke-width: 2; }
.mk-graph .s-added > rect { stroke: #1b7f3b; stroke-width: 2.4; }
.mk-graph .s-changed > rect { stroke: #7a3fb0; stroke-width: 2.4; }
.mk-graph .note { fill: #1b2733; }
"""

DEFS = ('<defs><marker id="mk-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0 0L10 5L0 10z" fill="#7d8794"/></marker></defs>')

# The order in which a box's marks decide its frame's colour (worst first).
_SEVERITY = ("error", "q3", "added", "changed", "warning", "q2", "info", "q1", "q0", "qx")


def _x(col: float) -> str:
    return f"{col * CW:g}"


def _y(row: float) -> str:
    return f"{row * CH:g}"


def frame_class(marks: list[Mark]) -> str:
    """The style class of a box frame: its worst mark's."""
    classes = {m.css for m in marks}
    return next((f" s-{c}" for c in _SEVERITY if c in classes), "")


def _mark_text(marks: list[Mark]) -> str:
    return "".join(f'<tspan class="{m.css}">{escape(m.short)} </tspan>' for m in marks)


def _corners(pts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The points of an orthogonal path without those in the middle of a straight run."""
    out = [pts[0]]
    for i in range(1, len(pts) - 1):
        (ax, ay), (bx, by), (cx, cy) = out[-1], pts[i], pts[i + 1]
        if (ax == bx == cx) or (ay == by == cy):
            continue
        out.append(pts[i])
    out.append(pts[-1])
    return out


def draw_part(gd: GraphDoc, part: int, *, dy: int = 0,
              titles: bool = True) -> tuple[str, int, int]:
    """The `<g>` of one part's drawing (boxes, edges, labels, marks), `dy` pixels down;
    `titles` adds a tooltip (`<title>`) to every box (the page shows details instead).

    Returns:
        (markup, width in pixels, height in pixels).
    """
    lay = gd.layout(part)
    st = gd.structure
    out: list[str] = [f'<g class="mk-graph" transform="translate(0,{dy})">' if dy else
                      '<g class="mk-graph">']
    folded_in: dict[int, list[int]] = {}
    for ni, vid in enumerate(gd.box_of_node):
        if vid is not None and st.kinds[vid][1] != ni:
            folded_in.setdefault(vid, []).append(ni)
    for vid, b in lay.boxes.items():
        kind, ni, value = st.kinds[vid]
        vx = st.vertex(vid)
        marks = gd.marks.of(gd.index, ni) if ni is not None else []
        if kind == "node":
            node = gd.nodes[ni]
            attrs = f'class="box node{frame_class(marks)}" data-node="{ni}" ' \
                    f'data-op="{escape(node.op)}"'
            tip = f"{node.op} {node.name}"
        else:
            attrs = f'class="box io" data-io="{kind}" data-tensor="{escape(value.name)}"'
            tip = f"{kind} {value.name} {value.type_str()}"
        out.append(f'<g {attrs} data-box="{vid}" transform="translate({_x(b.x)},{_y(b.y)})">'
                   + (f'<title>{escape(tip)}</title>' if titles else "") +
                   f'<rect x="{CW // 2}" y="{CH // 2}" width="{_x(b.w - 1)}" '
                   f'height="{_y(b.h - 1)}" rx="3"/>')
        out.append(f'<text class="t" x="{2 * CW}" y="{_y(1.75)}">{escape(vx.title)}</text>')
        for i, line in enumerate(vx.lines):
            cls = "n" if i == 0 and kind == "node" else "c"
            out.append(f'<text class="{cls}" x="{2 * CW}" y="{_y(i + 2.75)}">'
                       f'{escape(line)}</text>')
        top = [m for m in marks if m.kind != "debug"]
        bottom = [m for m in marks if m.kind == "debug"]
        if top:
            out.append(f'<text class="mk" x="{2 * CW}" y="{_y(0.85)}">{_mark_text(top)}</text>')
        if bottom:
            out.append(f'<text class="mk" x="{2 * CW}" y="{_y(b.h - 0.15)}">'
                       f'{_mark_text(bottom)}</text>')
        if b.hidden_in:
            out.append(f'<text class="h" x="{_x(b.w - 1)}" y="{_y(0.35)}">+{b.hidden_in} in'
                       '</text>')
        if b.hidden_out:
            out.append(f'<text class="h" x="{_x(b.w - 1)}" y="{_y(b.h + 0.55)}">'
                       f'+{b.hidden_out} out</text>')
        for fi in folded_in.get(vid, ()):
            fn = gd.nodes[fi]
            tip = f'<title>{escape(fn.op)} {escape(fn.name)} (drawn in this box)</title>' \
                if titles else ""
            out.append(f'<g class="folded" data-node="{fi}" data-op="{escape(fn.op)}">{tip}</g>')
        out.append("</g>")
    # NOTE: edges never enter a box, only touch its border: drawn after the boxes, their
    # arrowheads stay visible over the marks written on the border.
    for route in lay.routes:
        e = st.edges[route.edge]
        pts = list(route.points)
        upper, lower = (lay.boxes[e.dst], lay.boxes[e.src]) if route.back else \
            (lay.boxes[e.src], lay.boxes[e.dst])
        (x0, _), (x1, _) = pts[0], pts[-1]
        pts[0] = (x0, upper.bottom - 1)
        pts[-1] = (x1, lower.y)
        if route.back:
            pts.reverse()
        d = "M" + "L".join(f"{_x(x + 0.5)} {_y(y + 0.5)}" for x, y in _corners(pts))
        out.append(f'<path class="e" data-from="{e.src}" data-to="{e.dst}" '
                   f'data-tensor="{escape(e.value.name)}" d="{d}"/>')
    for y, labels in lay.labels.items():
        for x, text, _ in labels:
            out.append(f'<text class="l" x="{_x(x)}" y="{_y(y + 0.75)}">{escape(text)}</text>')
    out.append("</g>")
    return "\n".join(out), lay.width * CW, lay.height * CH


def unplaced_nodes(gd: GraphDoc) -> list[int]:
    """Nodes no box draws: constants that no drawn op reads."""
    return [ni for ni, vid in enumerate(gd.box_of_node) if vid is None]


def svg_document(doc: Document, gd: GraphDoc) -> str:
    """A standalone SVG picture of one graph: a title, the notes and the legend of the
    marks, then the drawing (the first part only, with a note, for a graph laid out in
    parts)."""
    head: list[str] = [f"{doc.title}: {gd.label}, {len(gd.nodes):,} nodes"]
    if len(gd.parts) > 1:
        head.append(f"too large to draw whole ({len(gd.structure):,} boxes): this picture "
                    f"shows the first {len(gd.parts[0]):,} in topological order (part 1 of "
                    f"{len(gd.parts)}); `modelkit export MODEL OUT.html` shows every node")
    head += doc.marks.notes
    legend = doc.marks.legend
    lost = unplaced_nodes(gd)
    if lost:
        head.append(f"{len(lost):,} constant node(s) no drawn op reads, not drawn: "
                    + ", ".join(gd.nodes[i].name for i in lost[:10])
                    + (" ..." if len(lost) > 10 else ""))
    rows = len(head) + len(legend)
    dy = rows * LINE_H + LINE_H // 2
    body, w, h = draw_part(gd, 0, dy=dy) if gd.structure.kinds else ("", 0, 0)
    text = [f'<text class="note" x="{CW}" y="{(i + 1) * LINE_H}">{escape(t)}</text>'
            for i, t in enumerate(head)]
    for j, (sym, css, meaning) in enumerate(legend):
        y = (len(head) + j + 1) * LINE_H
        text.append(f'<text class="note" x="{CW}" y="{y}"><tspan class="{css}">'
                    f'{escape(sym)}</tspan> {escape(meaning)}</text>')
    if lost:
        text.append("".join(f'<g class="folded unplaced" data-node="{i}" '
                            f'data-op="{escape(gd.nodes[i].op)}"><title>'
                            f'{escape(gd.nodes[i].op)} {escape(gd.nodes[i].name)}</title></g>'
                            for i in lost))
    width = max(w, 8 * max(len(t) for t in head) + 2 * CW)
    height = dy + h
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" class="mk-graph">\n<style>{STYLE}</style>\n{DEFS}\n'
            f'<rect width="100%" height="100%" fill="#fff"/>\n'
            + "\n".join(text) + "\n" + body + "\n</svg>\n")
