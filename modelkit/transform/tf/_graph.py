"""Helpers the numeric TF passes share (on top of `_tfgraph`): constant data,
attr copies, output names, pruning to what the outputs need.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import numpy as np

from modelkit.ir import DType, Graph, Node, TensorData, Value
from modelkit.ir.edit import prune_values, remove_nodes
from modelkit.transform.base import PassContext, TransformError
from modelkit.transform.tf._tfgraph import canonical_input, node_name, tensor_of


def rename(node: Node, name: str) -> None:
    """Give `node` a new name; its output Values follow (`name:port`)."""
    node.name = name
    for port, v in enumerate(node.outputs):
        v.name = f"{name}:{port}"


def set_const(node: Node, array, dtype: DType | None = None) -> None:
    """Give Const `node` new data (and dtype)."""
    data = tensor_of(array, dtype)
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


# ----------------------------------------------------------------------------- pattern matching

Pattern = tuple  # (ops "A|B" or "*", [input patterns...])


class Match:
    """A subgraph matched by a pattern (TF's NodeMatch): the node and its inputs' matches."""

    __slots__ = ("node", "inputs")

    def __init__(self, node: Node, inputs: list[Match] | None = None) -> None:
        self.node = node
        self.inputs = inputs or []

    def nodes(self) -> list[Node]:
        """Every matched node once, root first."""
        out: list[Node] = []
        seen: set[int] = set()
        stack = [self]
        while stack:
            m = stack.pop(0)
            if id(m.node) not in seen:
                seen.add(id(m.node))
                out.append(m.node)
            stack.extend(m.inputs)
        return out


def _matches(node: Node, pattern: Pattern, taken: set[int]) -> Match | None:
    if id(node) in taken:
        return None
    ops, subs = pattern[0], pattern[1] if len(pattern) > 1 else []
    if ops != "*" and node.op not in ops.split("|"):
        return None
    match = Match(node)
    if not subs:
        return match
    if len(node.inputs) != len(subs):
        return None
    for v, sub in zip(node.inputs, subs):
        if v is None or v.producer is None:
            return None
        got = _matches(v.producer, sub, taken)
        if got is None:
            return None
        match.inputs.append(got)
    return match


def find_matches(graph: Graph, pattern: Pattern) -> list[Match]:
    """Disjoint matches of `pattern`, found as TF's GraphMatcher finds them.

    Nodes are visited in execution order; a node that is part of an earlier match
    (even as a leaf) cannot be part of a later one.
    """
    taken: set[int] = set()
    found = []
    for node in execution_order(graph.nodes):
        if id(node) in taken:
            continue
        m = _matches(node, pattern, taken)
        if m is not None:
            taken |= {id(n) for n in m.nodes()}
            found.append(m)
    return found


def used_outside(graph: Graph, match: Match) -> set[str]:
    """Names of matched nodes that a node outside the match reads (data or control input).

    These are the nodes TF's ReplaceMatchingOpTypes insists the replacement keeps.
    """
    nodes = match.nodes()
    inside = {id(n) for n in nodes}
    names = {n.name for n in nodes}
    out = {n.name for n in nodes
           if any(id(c) not in inside for v in n.outputs for c, _ in v.consumers)}
    for other in graph.nodes:
        if id(other) not in inside and other.control_inputs:
            out |= names.intersection(other.control_inputs)
    return out


# ----------------------------------------------------------------------------- TF's node hash

_MASK = (1 << 64) - 1
_M = 0xC6A4A7935BD1E995


def tf_hash64(data: bytes, seed: int = 0xDECAFCAFFE) -> int:
    """TensorFlow's Hash64 (core/lib/hash/hash.cc, a MurmurHash64A variant)."""
    n = len(data)
    h = (seed ^ (n * _M)) & _MASK
    full = n - n % 8
    for (k,) in struct.iter_unpack("<Q", data[:full]):
        k = (k * _M) & _MASK
        k ^= k >> 47
        k = (k * _M) & _MASK
        h ^= k
        h = (h * _M) & _MASK
    rest = data[full:]
    if rest:
        for i in range(len(rest) - 1, -1, -1):
            h ^= rest[i] << (8 * i)
        h = (h * _M) & _MASK
    h ^= h >> 47
    h = (h * _M) & _MASK
    h ^= h >> 47
    return h


def tf_hash_combine(a: int, b: int) -> int:
    """TensorFlow's Hash64Combine."""
    return (a ^ ((b + 0x9E3779B97F4A7800 + (a << 10) + (a >> 4)) & _MASK)) & _MASK


def tf_node_hash(nd, nameless: bool) -> int:
    """TF's HashNodeDef of a NodeDef message (graph_transforms/transform_utils.cc)."""
    h = tf_hash64(nd.op.encode())
    h = tf_hash_combine(h, tf_hash64(b"" if nameless else nd.name.encode()))
    for text in nd.input:
        h = tf_hash_combine(h, tf_hash64(canonical_input(text).encode()))
    h = tf_hash_combine(h, tf_hash64(nd.device.encode()))
    for key in sorted(nd.attr):
        h = tf_hash_combine(h, tf_hash64(nd.attr[key].SerializeToString()))
    return h


_BIG_NODE = 4096


def merge_duplicates_tf(graph: Graph, keep: set[str]) -> int:
    """TF's MergeDuplicateNodes with its exact choice of survivors.

    Each round TF groups nodes by HashNodeDef (names ignored, except for `keep`),
    walks the groups in hash order and keeps the first stateless node of each group;
    the next round sees the nodes in that order. Only nodes that share op, device,
    attrs and input count with another node can ever merge, so only those are hashed.

    Returns:
        how many nodes were removed.
    """
    import hashlib

    from modelkit.formats._tfproto import node_to_proto, pb
    from modelkit.transform.tf._tfgraph import op_is_stateful, rename_controls

    def cheap_key(n: Node, nd) -> tuple:
        attrs = hashlib.blake2b(digest_size=16)
        for key in sorted(nd.attr):
            attrs.update(key.encode() + b"\0" + nd.attr[key].SerializeToString() + b"\0")
        return (n.op, n.device, len(nd.input), attrs.digest())

    groups: dict[tuple, list[Node]] = {}
    for n in graph.nodes:
        if op_is_stateful(n.op) is not False:
            continue
        nd = pb().node_def.NodeDef()
        node_to_proto(n, nd)
        groups.setdefault(cheap_key(n, nd), []).append(n)
    candidates = {id(n) for members in groups.values() if len(members) > 1 for n in members}
    removed = 0
    while candidates:
        buckets: dict[tuple, list[Node]] = {}
        for n in graph.nodes:
            if id(n) in candidates:
                nd = pb().node_def.NodeDef()
                node_to_proto(n, nd)
                nameless = n.name not in keep
                if not nd.input and nd.ByteSize() > _BIG_NODE:
                    # NOTE: a node without inputs merges in the first round or never, and
                    # where its group sorts changes no later choice; hashing its (large)
                    # tensor with TF's byte-at-a-time hash would cost seconds.
                    if nameless:
                        nd.name = ""
                    key: tuple = (1, hashlib.blake2b(nd.SerializeToString(deterministic=True),
                                                     digest_size=16).digest())
                else:
                    key = (0, tf_node_hash(nd, nameless))
                buckets.setdefault(key, []).append(n)
        doomed: list[Node] = []
        controls: dict[str, str] = {}
        ordered: list[Node] = []
        for h in sorted(buckets):
            first, *rest = buckets[h]
            ordered.append(first)
            for n in rest:
                for port, v in enumerate(n.outputs):
                    if port < len(first.outputs):
                        reroute_spelled(v, first.outputs[port], graph)
                controls[n.name] = first.name
                doomed.append(n)
        if not doomed:
            break
        others = [n for n in graph.nodes if id(n) not in candidates]
        graph.nodes = others + ordered + doomed
        rename_controls(graph, controls)
        remove_nodes(graph, doomed)
        candidates -= {id(n) for n in doomed}
        removed += len(doomed)
    graph._by_name = None
    return removed


def spelled_inputs(node: Node) -> list[str]:
    """The data input strings of `node` as its NodeDef will spell them."""
    from modelkit.formats._tfproto import _input_string

    original = [s for s in node.meta.get("tf_inputs", []) if not s.startswith("^")]
    return [_input_string(v, original[i] if i < len(original) else None, False)
            for i, v in enumerate(node.inputs)]


def set_spelling(node: Node, texts: dict[int, str]) -> None:
    """Record how some data inputs of `node` are spelled (`x:0` rather than `x`)."""
    data = spelled_inputs(node)
    for i, text in texts.items():
        data[i] = text
    node.meta["tf_inputs"] = data + ["^" + c for c in node.control_inputs]


def reroute_spelled(old: Value, new: Value, graph: Graph) -> None:
    """Move `old`'s users to `new`, keeping each user's `:port` spelling style
    (TF's RenameNodeInputs with `name:*` keeps the suffix as written)."""
    head, _, port = new.name.rpartition(":")
    for node, pos in list(old.consumers):
        explicit = ":" in spelled_inputs(node)[pos]
        node.set_input(pos, new)
        set_spelling(node, {pos: f"{head}:{port}" if explicit else
                            (head if port == "0" else new.name)})
    graph.outputs = [new if v is old else v for v in graph.outputs]


def execution_order(nodes: list[Node]) -> list[Node]:
    """TF's SortByExecutionOrder (transform_utils.cc): a topological order, using a
    stack of ready nodes exactly as TF does, so the order matches TF's node for node.

    Raises:
        TransformError: an input names a missing node, or the graph has a cycle.
    """
    index = {n.name: i for i, n in enumerate(nodes)}
    pending: list[int] = []
    outputs: list[list[int]] = [[] for _ in nodes]
    ready: list[int] = []
    for i, n in enumerate(nodes):
        names = [_input_node(v) for v in n.inputs] + list(n.control_inputs)
        if n.op in ("Merge", "RefMerge", "_XlaMerge"):
            pending.append(len(n.control_inputs) + 1)
        else:
            pending.append(len(names))
        if not names:
            ready.append(i)
            continue
        for src in names:
            j = index.get(src)
            if j is None:
                raise TransformError(f"Node '{n.name}': Unknown input node '{src}'")
            outputs[j].append(i)
    order: list[Node] = []
    while ready:
        o = ready.pop()
        order.append(nodes[o])
        for k in outputs[o]:
            pending[k] -= 1
            if pending[k] == 0:
                ready.append(k)
    if len(order) < len(nodes):
        raise TransformError(f"{len(nodes) - len(order)} nodes in a cycle")
    return order


def _input_node(v: Value | None) -> str:
    if v is None:
        return ""
    return v.producer.name if v.producer is not None else node_name(v.name)
