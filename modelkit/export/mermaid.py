"""The `mermaid` export: a flowchart for Markdown (GitHub, GitLab and most wikis draw it).

Mermaid is for small graphs: its renderer refuses more than 500 edges by default and
a long chain is unreadable anyway, so a graph over MAX_NODES nodes or MAX_EDGES edges
is refused with a usage error that points to `--graph N` and the HTML export. Node ids
are `nI` (I the node's position), graph inputs `inK`, outputs `outK`; marks are symbols
in the label, with one class per kind of mark.
"""

from __future__ import annotations

from modelkit.errors import UsageError
from modelkit.export.document import Document, GraphDoc

MAX_NODES = 300
MAX_EDGES = 500

_CLASSES = {"error": "fill:#fde7e4,stroke:#b3261e,stroke-width:2px",
            "warning": "fill:#fff3d6,stroke:#b35c00,stroke-width:2px",
            "added": "fill:#e3f4e8,stroke:#1b7f3b,stroke-width:2px",
            "changed": "fill:#f1e8fa,stroke:#7a3fb0,stroke-width:2px",
            "q3": "fill:#fde7e4,stroke:#b3261e,stroke-width:2px",
            "q2": "fill:#fff0e0,stroke:#b35c00,stroke-width:2px"}
_ORDER = ("error", "q3", "added", "changed", "warning", "q2")


def text(s: str) -> str:
    """Text safe inside a quoted Mermaid label (entity codes for what Mermaid parses)."""
    return (s.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;").replace("|", "#124;"))


def check_size(gd: GraphDoc, out: str | None = None) -> None:
    """Refuse a graph too large for Mermaid.

    Raises:
        UsageError: more than MAX_NODES nodes or MAX_EDGES edges.
    """
    n, e = len(gd.nodes), len(gd.edges)
    if n > MAX_NODES or e > MAX_EDGES:
        raise UsageError(f"{gd.label} has {n:,} nodes and {e:,} edges: too large for "
                         f"Mermaid (at most {MAX_NODES} nodes and {MAX_EDGES} edges); export "
                         "--to html (or svg) for this graph, or pick a smaller one with "
                         "--graph N", out)


def render_mermaid(doc: Document, gd: GraphDoc, fenced: bool = False) -> str:
    """The flowchart of one graph; `fenced` wraps it in a ```mermaid block for Markdown."""
    check_size(gd)
    lines = ["flowchart TB"]
    used: dict[str, list[str]] = {}
    for ni, n in enumerate(gd.nodes):
        marks = gd.marks.of(gd.index, ni)
        label = "<br/>".join(text(x) for x in [n.op, n.name] + [m.short for m in marks])
        lines.append(f'  n{ni}["{label}"]')
        classes = {m.css for m in marks}
        css = next((c for c in _ORDER if c in classes), None)
        if css:
            used.setdefault(css, []).append(f"n{ni}")
    for k, tid in enumerate(gd.input_ids):
        v = gd.tensors[tid]
        if gd.producer(tid) is None:
            lines.append(f'  in{k}(["input<br/>{text(v.name)}<br/>{text(v.type_str())}"])')
    for k, tid in enumerate(gd.output_ids):
        v = gd.tensors[tid]
        lines.append(f'  out{k}(["output<br/>{text(v.name)}<br/>{text(v.type_str())}"])')
    input_pos = {tid: k for k, tid in enumerate(gd.input_ids)}
    for e in gd.edges:
        v = gd.tensors[e.tensor]
        src = f"n{e.src}" if e.src is not None else f"in{input_pos[e.tensor]}"
        dst = f"n{e.dst}" if e.dst is not None else f"out{e.input}"
        lines.append(f'  {src} -->|"{text(v.type_str())}"| {dst}')
    for css, ids in used.items():
        lines.append(f"  classDef {css} {_CLASSES[css]}")
        lines.append(f"  class {','.join(ids)} {css}")
    for sym, _, meaning in doc.marks.legend:
        lines.append(f"  %% {sym} {meaning}")
    body = "\n".join(lines) + "\n"
    if not fenced:
        return body
    notes = "".join(f"- {n}\n" for n in doc.marks.notes)
    legend = "".join(f"- {sym} {meaning}\n" for sym, _, meaning in doc.marks.legend)
    head = f"# {doc.title}: {gd.label}\n\n{notes}{legend}" + ("\n" if notes or legend else "")
    return f"{head}```mermaid\n{body}```\n"
