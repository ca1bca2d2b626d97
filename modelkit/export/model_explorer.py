"""The `model-explorer` export: Google's Model Explorer graph JSON and node data.

The graph file is a `GraphCollection` (`{"label", "graphs": [Graph]}`), which Model
Explorer's JSON loader takes as is (google-ai-edge/model-explorer,
src/ui/src/common/utils.ts `loadGraphsJson`; the types in
src/server/package/src/model_explorer/graph_builder.py). Each `GraphNode` has an `id`
(the node's position), a `label` (its op), a `namespace` (its name scope, so Model
Explorer nests nodes by scope), `attrs` (`[{key, value}]`), `incomingEdges`
(`sourceNodeId`, `sourceNodeOutputId`, `targetNodeInputId`) and `outputsMetadata`
(`[{id, attrs}]` with `tensor_name`, `tensor_index`, `tensor_shape` as its TFLite
adapter writes them, e.g. `int8[1,16,16,8]` with -1 for a dynamic dim, `dtype` and
`quantization`). Graph inputs no node writes are `Inputs`-labelled nodes `input_K`,
graph outputs `Outputs` nodes `output_K`.

Node data (the per-node values Model Explorer overlays on a graph, loaded from a
JSON file in its "node data" panel) is `{graph id: {"results": {node id: {"value",
"bgColor"}}, "gradient"}}` (node_data_builder.py `ModelNodeData`): one file per kind
of mark, the check findings as text, the per-layer error as rmse/scale on a gradient,
the diff marks as text.
"""

from __future__ import annotations

import json
import math

from modelkit.export.document import Document, GraphDoc, quant_lines, scope_of

_BG = {"error": "#f4b6ae", "warning": "#ffe0a3", "info": "#cfe1f7", "added": "#bfe7cb",
       "changed": "#e2cff4"}


def graph_id(gd: GraphDoc) -> str:
    """The Model Explorer id of a graph: its name, or `graph_I`."""
    return gd.graph.name or f"graph_{gd.index}"


def tensor_shape(v) -> str:
    """`int8[1,16,16,8]` as Model Explorer's TFLite adapter writes it (-1: dynamic)."""
    dt = str(v.dtype) if v.dtype else "?"
    if v.shape is None:
        return dt
    sig = v.shape_signature
    dims = []
    for i, d in enumerate(v.shape):
        dynamic = d is None or (sig is not None and i < len(sig) and sig[i] == -1)
        dims.append("-1" if dynamic else str(d))
    return f"{dt}[{','.join(dims)}]"


def _kv(key: str, value) -> dict:
    return {"key": key, "value": str(value)}


def _tensor_attrs(gd: GraphDoc, tid: int) -> list[dict]:
    v = gd.tensors[tid]
    attrs = [_kv("tensor_name", v.name)]
    if v.index is not None:
        attrs.append(_kv("tensor_index", v.index))
    attrs += [_kv("tensor_shape", tensor_shape(v)), _kv("dtype", v.dtype or "?")]
    q = quant_lines(v)
    if q:
        attrs.append(_kv("quantization", "\n".join(q)))
        if v.quant is not None and v.quant.per_channel:
            attrs.append(_kv("quantized_dimension", v.quant.axis))
    return attrs


def _ids(doc: Document) -> list[str]:
    """Unique graph ids (a name shared by two graphs gets its index)."""
    seen: dict[str, int] = {}
    for gd in doc.graphs:
        seen[graph_id(gd)] = seen.get(graph_id(gd), 0) + 1
    return [graph_id(gd) if seen[graph_id(gd)] == 1 else f"{graph_id(gd)}_{gd.index}"
            for gd in doc.graphs]


def graph_json(gd: GraphDoc, gid: str, subgraph_ids: dict) -> dict:
    """One Model Explorer `Graph`."""
    nodes = []
    inputs_of: dict[int, list[dict]] = {}
    input_pos = {tid: k for k, tid in enumerate(gd.input_ids)}
    to_outputs = []
    for e in gd.edges:
        if e.src is not None:
            v = gd.tensors[e.tensor]
            src_node = gd.nodes[e.src]
            out_k = next(k for k, o in enumerate(src_node.outputs) if o is v)
            edge = {"sourceNodeId": str(e.src), "sourceNodeOutputId": str(out_k)}
        else:
            edge = {"sourceNodeId": f"input_{input_pos[e.tensor]}", "sourceNodeOutputId": "0"}
        if e.dst is None:
            to_outputs.append((e.input, edge))
            continue
        edge["targetNodeInputId"] = str(e.input)
        inputs_of.setdefault(e.dst, []).append(edge)
    for k, tid in enumerate(gd.input_ids):
        if gd.producer(tid) is None:
            nodes.append({"id": f"input_{k}", "label": "Inputs", "namespace": "",
                          "attrs": [_kv("name", gd.tensors[tid].name)], "incomingEdges": [],
                          "outputsMetadata": [{"id": "0", "attrs": _tensor_attrs(gd, tid)}]})
    for ni, n in enumerate(gd.nodes):
        attrs = [_kv("name", n.name)] + [_kv(k, v) for k, v in gd.attrs_text(n, 500)]
        node = {"id": str(ni), "label": n.op, "namespace": scope_of(n.name),
                "attrs": attrs, "incomingEdges": inputs_of.get(ni, []),
                "outputsMetadata": [{"id": str(k), "attrs": _tensor_attrs(gd, gd.tensor_id[id(v)])}
                                    for k, v in enumerate(n.outputs)]}
        inputs_meta = []
        for pos, v in enumerate(n.inputs):
            if v is None:
                continue
            tid = gd.tensor_id[id(v)]
            meta = [_kv("__tensor_tag", f"input {pos}")] + _tensor_attrs(gd, tid)
            s = gd.stats(tid) if v.is_const else None
            if s is not None:
                meta.append(_kv("weight_stats", f"min {s['min']:.6g}, max {s['max']:.6g}, "
                                                f"mean {s['mean']:.6g}, std {s['std']:.6g}"))
            inputs_meta.append({"id": str(pos), "attrs": meta})
        if inputs_meta:
            node["inputsMetadata"] = inputs_meta
        subs = [subgraph_ids[s] for s in n.subgraphs if s in subgraph_ids]
        if subs:
            node["subgraphIds"] = subs
        nodes.append(node)
    for k, edge in sorted(to_outputs, key=lambda t: t[0]):
        edge = dict(edge, targetNodeInputId="0")
        tid = gd.output_ids[k]
        nodes.append({"id": f"output_{k}", "label": "Outputs", "namespace": "",
                      "attrs": [_kv("name", gd.tensors[tid].name)], "incomingEdges": [edge]})
    return {"id": gid, "nodes": nodes}


def render_graphs(doc: Document) -> str:
    """The GraphCollection JSON of `doc`."""
    ids = _ids(doc)
    subgraph_ids: dict = {}
    for gd, gid in zip(doc.graphs, ids):
        subgraph_ids[gd.index] = gid
        if gd.graph.name:
            subgraph_ids.setdefault(gd.graph.name, gid)
    collection = {"label": doc.title,
                  "graphs": [graph_json(gd, gid, subgraph_ids) for gd, gid in zip(doc.graphs, ids)]}
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n"


def node_data(doc: Document, kind: str) -> dict:
    """The ModelNodeData of one kind of mark (`check`, `debug`, `diff`): per graph id,
    `results` keyed by node id."""
    out = {}
    for gd, gid in zip(doc.graphs, _ids(doc)):
        results = {}
        for ni in range(len(gd.nodes)):
            marks = [m for m in gd.marks.of(gd.index, ni) if m.kind == kind]
            if not marks:
                continue
            m = marks[0]
            if kind == "debug":
                if m.value is not None and math.isfinite(m.value):
                    results[str(ni)] = {"value": m.value}
            else:
                text = "; ".join(f"{x.short}: {x.lines[0][1]}" if x.lines else x.short
                                 for x in marks)
                results[str(ni)] = {"value": text, "bgColor": _BG.get(m.css, "#eeeeee")}
        data: dict = {"name": {"check": "modelkit check", "debug": "rmse/scale (modelkit debug)",
                               "diff": "modelkit diff"}[kind], "results": results}
        if kind == "debug":
            data["gradient"] = [{"stop": 0, "bgColor": "#d9f0d3"},
                                {"stop": 0.5, "bgColor": "#fee08b"},
                                {"stop": 1, "bgColor": "#d73027"}]
        out[gid] = data
    return out


def render_node_data(doc: Document, kind: str) -> str:
    return json.dumps(node_data(doc, kind), ensure_ascii=False, indent=1) + "\n"
