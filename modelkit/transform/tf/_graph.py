"""Helpers the numeric TF passes share (on top of `_tfgraph`): constant data,
attr copies, output names, pruning to what the outputs need.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from modelkit.ir import ArrayData, DType, Graph, Node, TensorData, Value
from modelkit.ir.edit import prune_values, remove_nodes
from modelkit.transform.base import PassContext, TransformError
from modelkit.transform.tf._tfgraph import node_name


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


def consumers_of(node: Node) -> list[tuple[Node, int]]:
    """Every (consumer, input position) of any output of `node`."""
    return [c for v in node.outputs for c in v.consumers]


def float_attr(node: Node, name: str = "T") -> bool:
    """True when `node`'s type attr `name` is float32."""
    return node.attrs.get(name) == DType.FLOAT32
