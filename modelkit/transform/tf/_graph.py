"""Helpers the TF graph passes share: new nodes, lookups, pruning, ordering.

New nodes carry what the GraphDef writer needs (`tf_attr_kinds` for attrs whose
kind cannot be guessed from the Python value), so they write back as TF would
write them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from modelkit.ir import ArrayData, DType, Graph, Node, TensorData, Value
from modelkit.ir.edit import add_node, prune_values, remove_nodes
from modelkit.transform.base import PassContext, TransformError


def new_node(graph: Graph, name: str, op: str, inputs: Iterable[Value | None] = (), *,
             attrs: dict | None = None, outputs: int = 1,
             out_dtypes: list[DType | None] | None = None,
             kinds: dict[str, str] | None = None, control_inputs: list[str] | None = None,
             device: str = "", before: Node | None = None) -> Node:
    """Add a TF node with `outputs` output Values named `name:port`.

    Args:
        kinds: AttrValue kinds of attrs whose kind the writer cannot guess
            (e.g. an empty list).
        before: insert before this node; default at the end.
    """
    dtypes = out_dtypes or [None] * outputs
    node = Node(name, op, "tf", attrs=dict(attrs or {}), device=device,
                control_inputs=list(control_inputs or []),
                meta={"tf_attr_kinds": dict(kinds or {})})
    for v in inputs:
        node.append_input(v)
    for port in range(outputs):
        node.add_output(Value(f"{name}:{port}", dtypes[port] if port < len(dtypes) else None))
    return add_node(graph, node, before=before)


def const_node(graph: Graph, name: str, array, dtype: DType | None = None, *,
               control_inputs: list[str] | None = None, before: Node | None = None) -> Node:
    """Add a Const node holding `array` (written as tensor_content)."""
    arr = np.asarray(array)
    data = ArrayData(arr, dtype) if dtype is not None else ArrayData(arr)
    node = new_node(graph, name, "Const", attrs={"dtype": data.dtype, "value": data},
                    out_dtypes=[data.dtype], control_inputs=control_inputs, before=before)
    out = node.outputs[0]
    out.data = data
    out.shape = data.shape
    return node


def set_const(node: Node, array, dtype: DType | None = None) -> None:
    """Give Const `node` new data (and dtype)."""
    arr = np.asarray(array)
    data = ArrayData(arr, dtype) if dtype is not None else ArrayData(arr)
    node.attrs["value"] = data
    node.attrs["dtype"] = data.dtype
    node.meta.setdefault("tf_attr_kinds", {}).update({"value": "tensor", "dtype": "type"})
    out = node.outputs[0]
    out.data = data
    out.dtype = data.dtype
    out.shape = data.shape


def const_array(value: Value | None) -> np.ndarray | None:
    """The data of a Const node's output (looking through nothing else), or None."""
    if value is None or value.producer is None or value.producer.op != "Const":
        return None
    data = value.producer.attrs.get("value")
    if not isinstance(data, TensorData):
        return None
    try:
        return data.numpy()
    except ValueError:
        return None


def copy_attrs(src: Node, dst: Node, names: Iterable[str]) -> None:
    """Copy attrs (and their recorded kinds) that `src` has."""
    kinds = src.meta.get("tf_attr_kinds", {})
    dkinds = dst.meta.setdefault("tf_attr_kinds", {})
    for name in names:
        if name in src.attrs:
            dst.attrs[name] = src.attrs[name]
            if name in kinds:
                dkinds[name] = kinds[name]


def node_name(tensor: str) -> str:
    """`^a`, `a:1`, `a` -> `a`."""
    tensor = tensor.lstrip("^")
    head, sep, port = tensor.rpartition(":")
    return head if sep and port.isdigit() else tensor


def output_names(graph: Graph, ctx: PassContext) -> list[str]:
    """The output node names: given ones, else the graph's detected outputs."""
    if ctx.outputs:
        return [node_name(o) for o in ctx.outputs]
    return [v.producer.name for v in graph.outputs if v.producer is not None]


def input_names(ctx: PassContext) -> list[str]:
    return [node_name(i) for i in ctx.inputs]


def unique_name(graph: Graph, base: str, taken: set[str] | None = None) -> str:
    """`base`, or `base_1`, `base_2`... when a node already has that name."""
    names = taken if taken is not None else {n.name for n in graph.nodes}
    if base not in names:
        return base
    i = 1
    while f"{base}_{i}" in names:
        i += 1
    return f"{base}_{i}"


def prune_unreachable(graph: Graph, outputs: list[str], inputs: list[str] = ()) -> int:
    """Remove nodes the outputs do not need (data and control inputs), stopping at inputs.

    Returns:
        how many nodes were removed.

    Raises:
        TransformError: an output names no node.
    """
    by_name = {n.name: n for n in graph.nodes}
    stop = set(inputs)
    for name in outputs:
        if name not in by_name:
            raise TransformError(f"output node '{name}' is not in the graph")
    keep: set[str] = {name for name in stop if name in by_name}
    visited: set[str] = set()
    stack = list(outputs)
    while stack:
        name = stack.pop()
        if name in visited:
            continue
        visited.add(name)
        keep.add(name)
        if name in stop:
            continue
        node = by_name[name]
        for v in node.inputs:
            if v is not None and v.producer is not None and v.producer.name not in visited:
                stack.append(v.producer.name)
        for c in node.control_inputs:
            if c in by_name and c not in visited:
                stack.append(c)
    doomed = [n for n in graph.nodes if n.name not in keep]
    removed = remove_nodes(graph, doomed)
    graph.outputs = [v for v in graph.outputs if v.producer is None or v.producer.name in keep]
    prune_values(graph)
    return removed


def topo_order(graph: Graph) -> None:
    """Order nodes so every node follows its inputs (stable: ties keep their order)."""
    import heapq

    position = {id(n): i for i, n in enumerate(graph.nodes)}
    by_name = {n.name: n for n in graph.nodes}
    deps: dict[int, set[int]] = {}
    users: dict[int, list[Node]] = {}
    for n in graph.nodes:
        srcs = {id(v.producer) for v in n.inputs
                if v is not None and v.producer is not None and id(v.producer) in position}
        srcs |= {id(by_name[c]) for c in n.control_inputs if c in by_name}
        srcs.discard(id(n))
        deps[id(n)] = srcs
        for s in srcs:
            users.setdefault(s, []).append(n)
    ready = [(position[id(n)], id(n), n) for n in graph.nodes if not deps[id(n)]]
    heapq.heapify(ready)
    out: list[Node] = []
    while ready:
        _, key, n = heapq.heappop(ready)
        out.append(n)
        for u in users.get(key, []):
            d = deps[id(u)]
            d.discard(key)
            if not d:
                heapq.heappush(ready, (position[id(u)], id(u), u))
    if len(out) != len(graph.nodes):
        # NOTE: a cycle (TF loops: NextIteration -> Merge); keep the rest in source order.
        placed = {id(n) for n in out}
        out.extend(n for n in graph.nodes if id(n) not in placed)
    graph.nodes = out


def consumers_of(node: Node) -> list[tuple[Node, int]]:
    """Every (consumer, input position) of any output of `node`."""
    return [c for v in node.outputs for c in v.consumers]


def float_attr(node: Node, name: str = "T") -> bool:
    """True when `node`'s type attr `name` is float32."""
    return node.attrs.get(name) == DType.FLOAT32
