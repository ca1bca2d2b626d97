"""The `dot` export: the graph for Graphviz (`dot -Tsvg model.dot -o model.svg`).

Every node of the IR is a DOT node `gG_nI` (G the graph, I the node's position) with
`op` and `index` attributes beside its label; a graph input no node writes is
`gG_inK`, a graph output `gG_outK`. Every edge of the IR is a DOT edge carrying the
tensor's name and, as its label, its type. A model of several graphs gets one cluster
per graph. Marks are symbols in the node's label and a legend node lists them.
"""

from __future__ import annotations

from modelkit.export.document import Document, GraphDoc
from modelkit.export.marks import Mark

_COLOURS = {"error": "#b3261e", "q3": "#b3261e", "warning": "#b35c00", "q2": "#b35c00",
            "added": "#1b7f3b", "changed": "#7a3fb0", "info": "#1d5fa8", "q1": "#8a6d00",
            "q0": "#2f7d32"}
_ORDER = ("error", "q3", "added", "changed", "warning", "q2", "info", "q1", "q0")


def quote(text: str) -> str:
    """A DOT double-quoted string (backslashes and quotes escaped, newlines as `\\n`)."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\r", "").replace("\n", "\\n") + '"'


def node_id(gi: int, ni: int) -> str:
    return f"g{gi}_n{ni}"


def _label(lines: list[str]) -> str:
    # NOTE: `\l` would left-justify; centred lines read better in boxes.
    return quote("\n".join(lines))


def _colour(marks: list[Mark]) -> str:
    classes = {m.css for m in marks}
    css = next((c for c in _ORDER if c in classes), None)
    return f', color={quote(_COLOURS[css])}, penwidth=2' if css else ""


def _graph(gd: GraphDoc, gi: int, indent: str) -> list[str]:
    out = []
    for ni, n in enumerate(gd.nodes):
        marks = gd.marks.of(gd.index, ni)
        lines = [n.op, n.name] + [m.short for m in marks]
        shape = "note" if not any(v is not None for v in n.inputs) and n.outputs and \
            all(v.is_const for v in n.outputs) else "box"
        out.append(f"{indent}{node_id(gi, ni)} [label={_label(lines)}, shape={shape}, "
                   f"op={quote(n.op)}, index={ni}{_colour(marks)}];")
    for k, tid in enumerate(gd.input_ids):
        v = gd.tensors[tid]
        if gd.producer(tid) is None:
            out.append(f"{indent}g{gi}_in{k} [label={_label(['input', v.name, v.type_str()])}, "
                       f"shape=oval, tensor={quote(v.name)}];")
    for k, tid in enumerate(gd.output_ids):
        v = gd.tensors[tid]
        out.append(f"{indent}g{gi}_out{k} [label={_label(['output', v.name, v.type_str()])}, "
                   f"shape=oval, tensor={quote(v.name)}];")
    input_pos = {tid: k for k, tid in enumerate(gd.input_ids)}
    for e in gd.edges:
        v = gd.tensors[e.tensor]
        src = node_id(gi, e.src) if e.src is not None else f"g{gi}_in{input_pos[e.tensor]}"
        dst = node_id(gi, e.dst) if e.dst is not None else f"g{gi}_out{e.input}"
        out.append(f"{indent}{src} -> {dst} [label={quote(v.type_str())}, "
                   f"tensor={quote(v.name)}];")
    return out


def render_dot(doc: Document) -> str:
    """The DOT text of `doc` (every graph it holds)."""
    lines = [f"digraph {quote(doc.title)} {{",
             '  graph [rankdir=TB, fontname="Helvetica"];',
             '  node [shape=box, style="rounded", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8, color="#7d8794"];']
    if len(doc.graphs) == 1:
        lines += _graph(doc.graphs[0], 0, "  ")
    else:
        for gi, gd in enumerate(doc.graphs):
            lines.append(f"  subgraph cluster_{gi} {{")
            lines.append(f"    label={quote(gd.label)};")
            lines += _graph(gd, gi, "    ")
            lines.append("  }")
    legend = [f"{sym} {meaning}" for sym, _, meaning in doc.marks.legend]
    if legend or doc.marks.notes:
        lines.append(f"  legend [shape=note, label={_label(doc.marks.notes + legend)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
