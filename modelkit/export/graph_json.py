"""The `json` export: modelkit's own graph document (nodes, tensors, edges, layout).

    {"schema_version": 1, "model": "digits_int8.tflite", "format": "tflite",
     "notes": [...], "legend": [{"symbol", "class", "meaning"}],
     "graphs": [{"index", "name",
        "nodes": [{"index", "name", "op", "domain", "inputs": [tensor or null],
                   "outputs": [tensor], "attrs": {name: value}, "box", "marks": [...]}],
        "tensors": [{"id", "name", "type", "dtype", "shape", "quantization": [lines],
                     "stats": {...}, "producer"}],
        "inputs": [tensor], "outputs": [tensor],
        "edges": [{"src": node or null, "dst": node or null, "tensor", "input"}],
        "layout": {"unit": "cell", "parts": [{"width", "height",
            "boxes": [{"box", "kind", "node", "tensor", "x", "y", "w", "h", "layer"}],
            "edges": [{"from", "to", "tensor", "back", "points": [[x, y], ...]}]}]}}]}

Tensors are referred to by `id` (their position in `tensors`), nodes by their position
in `nodes`; `box` is the layout box that draws a node (a constant is drawn in the box
of the op that reads it). `quantization` is `QuantParams.describe()`, one line per
channel; `stats` are the weight statistics (min, max, mean, std of the stored values,
and of the real values under `real` for a quantized tensor). Non-finite floats are
written as the strings "nan", "inf", "-inf".
"""

from __future__ import annotations

import json

from modelkit.diff.attrs import attr_json
from modelkit.export.document import Document, GraphDoc, json_safe, quant_lines

SCHEMA_VERSION = 1


def _layout(gd: GraphDoc) -> dict:
    st = gd.structure
    parts = []
    for p in range(len(gd.parts)):
        lay = gd.layout(p)
        boxes = []
        for vid, b in sorted(lay.boxes.items()):
            kind, ni, v = st.kinds[vid]
            boxes.append({"box": vid, "kind": kind, "node": ni,
                          "tensor": gd.tensor_id[id(v)] if v is not None else None,
                          "x": b.x, "y": b.y, "w": b.w, "h": b.h, "layer": b.layer})
        edges = []
        for r in lay.routes:
            e = st.edges[r.edge]
            edges.append({"from": e.src, "to": e.dst, "tensor": gd.tensor_id[id(e.value)],
                          "back": r.back, "points": [list(p) for p in r.points]})
        parts.append({"width": lay.width, "height": lay.height, "boxes": boxes, "edges": edges})
    return {"unit": "cell", "parts": parts}


def graph_doc(gd: GraphDoc, layout: bool = True) -> dict:
    nodes = []
    for ni, n in enumerate(gd.nodes):
        rec = {"index": ni, "name": n.name, "op": n.op, "domain": n.domain,
               "inputs": gd.ids(n.inputs), "outputs": gd.ids(n.outputs),
               "attrs": {str(k): attr_json(v) for k, v in n.attrs.items()},
               "box": gd.box_of_node[ni] if layout else None}
        if n.index is not None:
            rec["source_index"] = n.index
        marks = gd.node_marks(ni)
        if marks:
            rec["marks"] = marks
        nodes.append(rec)
    tensors = []
    for tid, v in enumerate(gd.tensors):
        rec = {"id": tid, "name": v.name, "type": v.type_str(),
               "dtype": str(v.dtype) if v.dtype else None,
               "shape": list(v.shape) if v.shape is not None else None,
               "producer": gd.producer(tid)}
        q = quant_lines(v)
        if q:
            rec["quantization"] = q
        if v.is_const:
            rec["stats"] = gd.stats(tid)
        tensors.append(rec)
    out = {"index": gd.index, "name": gd.graph.name, "nodes": nodes, "tensors": tensors,
           "inputs": gd.input_ids, "outputs": gd.output_ids,
           "edges": [{"src": e.src, "dst": e.dst, "tensor": e.tensor, "input": e.input}
                     for e in gd.edges]}
    if layout:
        out["layout"] = _layout(gd)
    return out


def render_json(doc: Document) -> str:
    data = {"schema_version": SCHEMA_VERSION, "model": doc.title, "format": doc.model.format,
            "notes": doc.marks.notes,
            "legend": [{"symbol": s, "class": c, "meaning": m} for s, c, m in doc.marks.legend],
            "graphs": [graph_doc(gd) for gd in doc.graphs]}
    return json.dumps(json_safe(data), ensure_ascii=False, indent=1) + "\n"
