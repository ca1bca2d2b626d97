"""The `html` export: one self-contained page that works from disk, offline.

As coverage.py's htmlcov and pytest-html's self-contained report do, the data is
embedded as JSON (`<script type="application/json" id="mk-data">`) and a small inline
script makes the page interactive; style and script are inline, and nothing is ever
requested from a network or a server. Weights are summarized (min, max, mean, std),
never embedded.

The drawing is the SVG of modelkit.export.svg (the layered layout the terminal browser
uses). The first part of the first graph is inline in the page, so it is drawn as the
page is parsed; a graph over the whole-layout limit is cut into parts
(modelkit.layout.parts), each kept as inert text (`<script type="text/x-mk-part">`)
and drawn when it is shown, so a 20,000-node graph costs its markup's size but not
its drawing at load.
"""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from modelkit.export.document import Document, GraphDoc, json_safe, quant_lines
from modelkit.export.html_assets import PAGE_SCRIPT, PAGE_STYLE
from modelkit.export.svg import CH, CW, DEFS, STYLE, draw_part


def _short(stats: dict) -> dict:
    """Statistics with floats in 7 significant digits (the page shows 6)."""
    return {k: (_short(v) if isinstance(v, dict) else
                float(f"{v:.7g}") if isinstance(v, float) and math.isfinite(v) else v)
            for k, v in stats.items()}


def graph_data(gd: GraphDoc) -> dict:
    """The embedded JSON of one graph: nodes, tensors, boxes and parts."""
    st = gd.structure
    box_of = gd.box_of_node
    nodes = []
    for ni, n in enumerate(gd.nodes):
        rec: dict[str, Any] = {
            "n": n.name, "op": n.op, "d": n.domain,
            "i": gd.ids(n.inputs, missing=-1), "o": gd.ids(n.outputs),
            "a": [list(a) for a in gd.attrs_text(n)],
            "b": box_of[ni] if box_of[ni] is not None else -1,
        }
        if n.index is not None and n.index != ni:
            rec["x"] = n.index
        if n.version:
            rec["v"] = n.version
        marks = gd.node_marks(ni)
        if marks:
            rec["m"] = marks
        nodes.append(rec)
    tensors = []
    for tid, v in enumerate(gd.tensors):
        rec = {"n": v.name, "t": v.type_str(), "p": gd.producer(tid)}
        if rec["p"] is None:
            rec["p"] = -1
        q = quant_lines(v)
        if q:
            rec["q"] = q
        if v.is_const:
            rec["c"] = 1
            s = gd.stats(tid)
            if s is not None:
                rec["s"] = _short(s)
        tensors.append(rec)
    boxes = [ni if kind == "node" else -1 for kind, ni, _ in st.kinds]
    bio = [gd.tensor_id[id(v)] if kind != "node" else -1 for kind, _, v in st.kinds]
    sizes = []
    for p in range(len(gd.parts)):
        lay = gd.layout(p)
        sizes.append([lay.width * CW, lay.height * CH])
    return {"index": gd.index, "label": gd.label, "nodes": nodes, "tensors": tensors,
            "boxes": boxes, "bio": bio, "bpart": gd.part_of_box, "parts": len(gd.parts),
            "sizes": sizes, "inputs": gd.input_ids, "outputs": gd.output_ids}


def _script_json(data: Any) -> str:
    """JSON safe inside a `<script>` element (no `</`, no `<!--`)."""
    text = json.dumps(json_safe(data), ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def render_html(doc: Document) -> str:
    """The page of `doc` (every graph it holds)."""
    first = doc.graphs[0]
    parts_markup: list[str] = []
    first_body = ""
    # NOTE: graphs are numbered by their position in the page (`--graph` may keep one).
    for gi, gd in enumerate(doc.graphs):
        for p in range(len(gd.parts)):
            body, _, _ = draw_part(gd, p, titles=False)
            if gd is first and p == 0:
                first_body = body
                continue
            # NOTE: the markup escapes every `<` of its text, so it holds no `</script`.
            parts_markup.append(f'<script type="text/x-mk-part" id="mk-g{gi}p{p}">'
                                f'{body}</script>')
    data = {"title": doc.title, "format": doc.model.format, "legend": doc.marks.legend,
            "notes": doc.marks.notes, "first": [0, 0],
            "part_size": max((len(p) for gd in doc.graphs for p in gd.parts), default=0),
            "graphs": [graph_data(gd) for gd in doc.graphs]}
    first_size = data["graphs"][0]["sizes"][0]
    selector = ""
    if len(doc.graphs) > 1:
        options = "".join(f'<option value="{i}">{escape(gd.label)} ({len(gd.nodes):,} nodes)'
                          "</option>" for i, gd in enumerate(doc.graphs))
        selector = f'<select id="mk-graph" aria-label="graph">{options}</select>'
    notes = "".join(f"<div>{escape(n)}</div>" for n in doc.marks.notes)
    title = escape(f"{doc.title}: {doc.model.format} model")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="modelkit export">
<title>{title}</title>
<style>{PAGE_STYLE}{STYLE}</style>
</head><body>
<header><h1>{escape(doc.title)}</h1>{selector}
<input id="mk-search" type="search" placeholder="search name, op or dtype (/)" aria-label="search">
<button id="mk-fit" title="fit (0)">fit</button>
<button id="mk-in" title="zoom in (+)">+</button>
<button id="mk-out" title="zoom out (-)">&minus;</button>
<button id="mk-prev" title="previous part (PageUp)" hidden>&lsaquo; part</button>
<span id="mk-part"></span>
<button id="mk-next" title="next part (PageDown)" hidden>part &rsaquo;</button>
</header>
<div id="mk-notes">{notes}</div>
<main><div id="mk-view" tabindex="0" data-first="0,0"><svg width="{first_size[0]}"
 height="{first_size[1]}">{first_body}</svg></div>
<aside><div id="mk-results"></div><div id="mk-side"></div></aside></main>
<svg width="0" height="0" style="position:absolute" aria-hidden="true">{DEFS}</svg>
{"".join(parts_markup)}
<script type="application/json" id="mk-data">{_script_json(data)}</script>
<script>{PAGE_SCRIPT}</script>
</body></html>
"""
