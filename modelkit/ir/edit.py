"""Editing the IR: copy a model, add and remove nodes, reroute uses.

Passes are pure (they never change the model they are given), so they start
from `clone_model`, which copies the structure (models, graphs, nodes, values,
signatures) and shares the constant data, which is immutable.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from modelkit.ir.graph import Graph, Model, Node, Signature, SignatureIO, Value


def _copy_plain(obj):
    """A copy of attrs/meta dicts: containers copied, leaves (TensorData, enums) shared."""
    if isinstance(obj, dict):
        return {k: _copy_plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy_plain(v) for v in obj]
    return obj


def _clone_value(v: Value) -> Value:
    out = Value(v.name, v.dtype, v.shape, shape_signature=v.shape_signature, quant=v.quant,
                data=v.data, index=v.index, is_variable=v.is_variable,
                meta=_copy_plain(v.meta))
    return out


def clone_graph(graph: Graph) -> tuple[Graph, dict[int, Value]]:
    """A structural copy of `graph`; also the map id(old value) -> new value."""
    vmap: dict[int, Value] = {}

    def value(v: Value | None) -> Value | None:
        if v is None:
            return None
        nv = vmap.get(id(v))
        if nv is None:
            nv = vmap[id(v)] = _clone_value(v)
        return nv

    new = Graph(graph.name, meta=_copy_plain(graph.meta))
    new.values = [value(v) for v in graph.values]  # type: ignore[misc]
    for n in graph.nodes:
        nn = Node(n.name, n.op, n.domain, attrs=_copy_plain(n.attrs), index=n.index,
                  subgraphs=list(n.subgraphs), control_inputs=list(n.control_inputs),
                  device=n.device, version=n.version, custom=n.custom,
                  meta=_copy_plain(n.meta))
        for v in n.inputs:
            nn.append_input(value(v))
        for v in n.outputs:
            nn.add_output(value(v))  # type: ignore[arg-type]
        new.nodes.append(nn)
    new.inputs = [value(v) for v in graph.inputs]  # type: ignore[misc]
    new.outputs = [value(v) for v in graph.outputs]  # type: ignore[misc]
    return new, vmap


def clone_model(model: Model) -> Model:
    """A structural copy of `model` that passes may edit freely; data is shared."""
    graphs = []
    vmap: dict[int, Value] = {}
    for g in model.graphs:
        ng, m = clone_graph(g)
        graphs.append(ng)
        vmap.update(m)

    def sig_io(io: SignatureIO) -> SignatureIO:
        v = vmap.get(id(io.value)) if io.value is not None else None
        return SignatureIO(io.key, io.tensor_name, io.dtype, io.shape, v)

    sigs = [Signature(s.key, [sig_io(i) for i in s.inputs], [sig_io(o) for o in s.outputs],
                      s.graph, s.method_name, _copy_plain(s.meta)) for s in model.signatures]
    return Model(model.format, model.path, graphs, sigs, copy.deepcopy(model.metadata),
                 _copy_plain(model.meta))


def replace_uses(old: Value, new: Value, *, graph: Graph | None = None) -> int:
    """Point every consumer of `old` at `new` (and graph outputs, when `graph` is given).

    Returns:
        how many uses moved.
    """
    moved = 0
    for node, pos in list(old.consumers):
        node.set_input(pos, new)
        moved += 1
    if graph is not None:
        for i, v in enumerate(graph.outputs):
            if v is old:
                graph.outputs[i] = new
                moved += 1
    return moved


def remove_nodes(graph: Graph, nodes: Iterable[Node]) -> int:
    """Remove `nodes` from `graph`, detaching their inputs and dropping their output values.

    The caller reroutes the outputs' consumers first; values still consumed by
    a remaining node are kept.

    Returns:
        how many nodes were removed.
    """
    doomed = {id(n) for n in nodes}
    if not doomed:
        return 0
    for n in graph.nodes:
        if id(n) in doomed:
            for i in range(len(n.inputs)):
                n.set_input(i, None)
    keep_values = []
    for v in graph.values:
        if v.producer is not None and id(v.producer) in doomed and not v.consumers \
                and v not in graph.outputs:
            continue
        keep_values.append(v)
    before = len(graph.nodes)
    graph.nodes = [n for n in graph.nodes if id(n) not in doomed]
    graph.values = keep_values
    graph._by_name = None
    return before - len(graph.nodes)


def add_node(graph: Graph, node: Node, *, before: Node | None = None) -> Node:
    """Insert `node` (its inputs and outputs already set) and register its output values.

    Args:
        before: insert before this node (keeps execution order); default: at the end.
    """
    if before is not None:
        graph.nodes.insert(graph.nodes.index(before), node)
    else:
        graph.nodes.append(node)
    # NOTE: the name index makes this O(1) per value; a pass adding thousands of
    # nodes would otherwise rescan every value of the graph each time.
    graph.value("")
    index = graph._by_name
    assert index is not None
    for v in (*node.inputs, *node.outputs):
        if v is None:
            continue
        known = index.get(v.name)
        if known is v or (known is not None and any(x is v for x in graph.values)):
            continue
        graph.values.append(v)
        index.setdefault(v.name, v)
    return node


def prune_values(graph: Graph) -> int:
    """Drop values no node produces or consumes and that are not graph inputs/outputs.

    Returns:
        how many values were dropped.
    """
    io = {id(v) for v in graph.inputs} | {id(v) for v in graph.outputs}
    before = len(graph.values)
    graph.values = [v for v in graph.values
                    if v.producer is not None or v.consumers or id(v) in io]
    graph._by_name = None
    return before - len(graph.values)
