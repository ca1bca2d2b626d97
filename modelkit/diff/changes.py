"""The change list of two models: what was added, removed and changed, each once.

`diff_models(a, b)` pairs the graphs (`match.pair_graphs`), matches each pair
(`match.match_graphs`) and lists the differences as `Change`s:

- a node's own properties (op, attributes, wiring, op version, device, what it
  fuses) and the type and shape of the tensors it computes are on the node;
- a tensor's name, quantization and data, and the type and shape of a tensor no
  node computes (constants, graph inputs), are on the tensor;
- a weight edit is one change on the tensor, not one per node reading it; the
  tensors an added or removed node computes or alone reads, and the rewiring of
  its neighbours, come with that node and are not listed again;
- a name that follows from another (a TFLite op is named after its first output,
  a TF tensor `node:0` after its node) is reported where it is set.

Nothing here prints; `render` formats a ModelDiff.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from modelkit.diff.attrs import attr_json, attr_token
from modelkit.diff.hashing import Hashes
from modelkit.diff.match import Matching, NodeMatch, match_graphs, pair_graphs
from modelkit.diff.ops import SOURCE_OPS, graph_domain, op_key
from modelkit.errors import UsageError
from modelkit.ir import Graph, Model, Node, QuantParams, Value

KINDS = ("added", "removed", "changed")
WHATS = ("graph", "signature", "input", "output", "node", "tensor")


@dataclass
class Ref:
    """Where a node, tensor, input/output, signature or graph is in one model.

    Attributes:
        graph: graph index.
        index: node index (operator index), tensor index, position among the graph's
            inputs/outputs, signature position or graph index.
        name: its name (a signature's key).
        op: the op, for nodes.
    """

    graph: int
    index: int | None
    name: str
    op: str | None = None

    def to_dict(self) -> dict:
        out: dict = {"graph": self.graph, "index": self.index, "name": self.name}
        if self.op is not None:
            out["op"] = self.op
        return out


@dataclass
class Change:
    """One difference.

    Attributes:
        kind: `added`, `removed` or `changed`.
        what: `node`, `tensor`, `input`, `output`, `signature` or `graph`.
        graph: the graph index (A's, or B's for something only B has).
        a: where it is in A (None when added).
        b: where it is in B (None when removed).
        fields: what changed (`op`, `attrs.<name>`, `inputs`, `dtype`, `shape`,
            `quantization`, `weights`, `name`...); empty when added or removed.
        details: per field, the old and new values (`{"a": ..., "b": ...}`) or the
            weight statistics.
    """

    kind: str
    what: str
    graph: int
    a: Ref | None
    b: Ref | None
    fields: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    order: tuple = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "what": self.what, "graph": self.graph,
                "a": None if self.a is None else self.a.to_dict(),
                "b": None if self.b is None else self.b.to_dict(),
                "fields": list(self.fields), "details": self.details}


@dataclass
class GraphPair:
    """Graph `a` of model A compared with graph `b` of model B."""

    a: int
    b: int
    matching: Matching


@dataclass
class ModelDiff:
    """The differences of two models.

    Attributes:
        model_a, model_b: the models.
        pairs: the graphs compared with each other.
        changes: every change, in a stable order (graph, then location).
        notes: one-line remarks (nothing matched, formats compared across domains).
        stats: op histogram, parameter and size deltas (see `stats`).
    """

    model_a: Model
    model_b: Model
    pairs: list[GraphPair]
    changes: list[Change]
    notes: list[str]
    stats: dict

    @property
    def same(self) -> bool:
        return not self.changes


def diff_models(model_a: Model, model_b: Model, *, weights: bool = True,
                graph: int | None = None) -> ModelDiff:
    """Compare two models of any formats.

    Args:
        model_a: the first ("old") model.
        model_b: the second model.
        weights: compare constant data (hashing every constant); False compares
            structure, types and quantization only and reads no data.
        graph: compare only this graph index of both models.

    Raises:
        UsageError: `graph` is not a graph of both models.
        ModelReadError: constant data of a model cannot be read.
    """
    graphs_a, graphs_b = model_a.graphs, model_b.graphs
    if graph is not None:
        for m in (model_a, model_b):
            if not 0 <= graph < len(m.graphs):
                raise UsageError(f"--graph {graph} is out of range: {m.path} has "
                                 f"{len(m.graphs)} graph(s), 0 to {len(m.graphs) - 1}")
        index_pairs = [(graph, graph)]
    else:
        index_pairs = pair_graphs(graphs_a, graphs_b)
    hashes_a = Hashes(model_a.path) if weights else None
    hashes_b = Hashes(model_b.path) if weights else None
    pairs = []
    for ia, ib in index_pairs:
        hints = _signature_pairs(model_a, model_b, ia, ib)
        m = match_graphs(graphs_a[ia], graphs_b[ib], pairs=hints,
                         digest=hashes_a.of if hashes_a else None,
                         digest_b=hashes_b.of if hashes_b else None)
        pairs.append(GraphPair(ia, ib, m))
    changes: list[Change] = []
    notes: list[str] = []
    graph_map = {p.a: p.b for p in pairs}
    graph_diffs = {}
    for p in pairs:
        gd = graph_diffs[p.a] = _GraphDiff(p, graph_map, hashes_a, hashes_b)
        changes.extend(gd.changes())
        notes.extend(_notes(p))
    if graph is None:
        changes.extend(_graph_changes(graphs_a, graphs_b, pairs))
        changes.extend(_signature_changes(model_a, model_b, pairs, graph_diffs))
    changes.sort(key=lambda c: c.order)
    compared_a = [graphs_a[p.a] for p in pairs] if graph is not None else graphs_a
    compared_b = [graphs_b[p.b] for p in pairs] if graph is not None else graphs_b
    return ModelDiff(model_a, model_b, pairs, changes, notes,
                     stats(model_a, model_b, compared_a, compared_b, changes))


# -- per graph ----------------------------------------------------------------------

def _signature_pairs(model_a: Model, model_b: Model, ia: int, ib: int):
    """Tensors of two graphs that signatures with the same key name."""
    by_key = {s.key: s for s in model_b.signatures if s.graph == ib}
    pairs = []
    for sa in model_a.signatures:
        sb = by_key.get(sa.key)
        if sa.graph != ia or sb is None:
            continue
        for ios_a, ios_b in ((sa.inputs, sb.inputs), (sa.outputs, sb.outputs)):
            io_b = {io.key: io for io in ios_b}
            for io in ios_a:
                other = io_b.get(io.key)
                if other is not None and io.value is not None and other.value is not None:
                    pairs.append((io.value, other.value))
    return pairs


def _notes(p: GraphPair) -> list[str]:
    m = p.matching
    ga, gb = m.graph_a, m.graph_b
    notes = []
    if m.empty and (ga.nodes or ga.values) and (gb.nodes or gb.values):
        notes.append(f"graph {p.a} ({ga.name or 'unnamed'}) and graph {p.b} "
                     f"({gb.name or 'unnamed'}): nothing matched (no common input, name or "
                     "structure); everything is reported as removed and added")
    if m.cross_domain:
        notes.append(f"graph {p.a}: {graph_domain(ga.nodes)} and {graph_domain(gb.nodes)} ops "
                     "are matched through the op-name table; of the attributes, only the "
                     "activation and the padding are compared across formats")
    return notes


def _shape(v: Value) -> list | None:
    """Shape with dynamic dims as None (from the TFLite shape signature)."""
    if v.shape is None:
        return None
    sig = v.shape_signature
    return [None if d is None or (sig is not None and i < len(sig) and sig[i] == -1) else d
            for i, d in enumerate(v.shape)]


def _dtype(d) -> str | None:
    return None if d is None else d.value


def _quant_json(q: QuantParams | None) -> dict | None:
    if q is None:
        return None
    out = q.to_dict()
    out["axis"] = q.axis
    out["describe"] = q.describe().splitlines()
    return out


def _same_quant(a: QuantParams | None, b: QuantParams | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    import numpy as np

    axis_a = a.axis if a.per_channel else None
    axis_b = b.axis if b.per_channel else None
    return (axis_a == axis_b and a.scale.shape == b.scale.shape
            and bool(np.array_equal(a.scale, b.scale))
            and bool(np.array_equal(a.zero_point, b.zero_point)))


# Across formats, the attributes every format spells: the activation an op applies
# (TFLite's fused_activation_function, a Keras layer's `activation`, the TF op fused
# into it) and its padding.
_KERAS_ACTIVATIONS = {"linear": "NONE", "relu": "RELU", "relu6": "RELU6", "tanh": "TANH",
                      "sigmoid": "SIGMOID"}
_TF_ACTIVATIONS = {"Relu": "RELU", "Relu6": "RELU6", "Tanh": "TANH", "Sigmoid": "SIGMOID"}


def common_attr(m: NodeMatch, name: str, side_a: bool) -> str | None:
    """`activation` or `padding` of one side of a cross-format pair, in TFLite's
    spelling (`RELU`, `SAME`), or None where that side does not say."""
    node = m.a if side_a else m.b
    fused = m.fused_a if side_a else m.fused_b
    if name == "padding":
        v = node.attrs.get("padding")
        return None if v is None else str(v).upper()
    if node.domain == "tflite":
        v = node.attrs.get("fused_activation_function")
        return None if v is None else str(v)
    if node.domain == "keras":
        v = node.attrs.get("activation")
        return None if not isinstance(v, str) else _KERAS_ACTIVATIONS.get(v, v.upper())
    if node.domain == "tf" and m.reason == "fused name":
        # NOTE: only where the TFLite op names what it fused; else a TF Relu is its
        # own node, matched or removed on its own.
        acts = [_TF_ACTIVATIONS[n.op] for n in fused if n.op in _TF_ACTIVATIONS]
        return acts[-1] if acts else "NONE"
    return None


def _strip_port(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


class _GraphDiff:
    """The changes within one pair of graphs."""

    def __init__(self, pair: GraphPair, graph_map: dict[int, int], hashes_a: Hashes | None,
                 hashes_b: Hashes | None) -> None:
        self.p = pair
        self.m = pair.matching
        self.ga, self.gb = self.m.graph_a, self.m.graph_b
        self.graph_map = graph_map
        self.hashes_a, self.hashes_b = hashes_a, hashes_b
        self.cross = self.m.cross_domain
        self.npos_a = {id(n): (n.index if n.index is not None else i)
                       for i, n in enumerate(self.ga.nodes)}
        self.npos_b = {id(n): (n.index if n.index is not None else i)
                       for i, n in enumerate(self.gb.nodes)}
        self.vpos_a = {id(v): (v.index if v.index is not None else i)
                       for i, v in enumerate(self.ga.values)}
        self.vpos_b = {id(v): (v.index if v.index is not None else i)
                       for i, v in enumerate(self.gb.values)}
        removed = self.m.unmatched_nodes_a()
        added = self.m.unmatched_nodes_b()
        # NOTE: across domains a Const/Placeholder node stands for its tensor; when
        # the tensor is matched, the node is not a removal.
        self.removed = [n for n in removed if not self._stands_for_matched(n, True)]
        self.added = [n for n in added if not self._stands_for_matched(n, False)]
        self.removed_ids = {id(n) for n in self.removed}
        self.added_ids = {id(n) for n in self.added}
        self._names_a: dict[str, Node] | None = None

    def _stands_for_matched(self, n: Node, side_a: bool) -> bool:
        if not self.cross:
            return False
        if n.op not in SOURCE_OPS or not n.outputs:
            return False
        find = self.m.value_b if side_a else self.m.value_a
        return all(find(v) is not None for v in n.outputs)

    # -- locations and order ------------------------------------------------------

    def node_ref(self, n: Node, side_a: bool) -> Ref:
        pos = self.npos_a if side_a else self.npos_b
        return Ref(self.p.a if side_a else self.p.b, pos.get(id(n)), n.name, n.op)

    def value_ref(self, v: Value, side_a: bool) -> Ref:
        pos = self.vpos_a if side_a else self.vpos_b
        return Ref(self.p.a if side_a else self.p.b, pos.get(id(v)), v.name)

    def _b_order(self, items_b, partner, pos_a) -> dict[int, float]:
        """A position in A's order for every item of B: its partner's, or just after
        the last matched item before it, so added items fall where they are."""
        out: dict[int, float] = {}
        last = -1.0
        for k, x in enumerate(items_b):
            other = partner(x)
            if other is not None and id(other) in pos_a:
                last = float(pos_a[id(other)])
                out[id(x)] = last
            else:
                out[id(x)] = last + 0.5 + k * 1e-9
        return out

    def changes(self) -> list[Change]:
        self.order_nodes_b = self._b_order(self.gb.nodes, self.m.node_a,
                                           {id(n): i for i, n in enumerate(self.ga.nodes)})
        self.order_values_b = self._b_order(self.gb.values, self.m.value_a,
                                            {id(v): i for i, v in enumerate(self.ga.values)})
        self.order_nodes_a = {id(n): float(i) for i, n in enumerate(self.ga.nodes)}
        self.order_values_a = {id(v): float(i) for i, v in enumerate(self.ga.values)}
        out: list[Change] = []
        out.extend(self.io_changes("input", self.ga.inputs, self.gb.inputs))
        out.extend(self.io_changes("output", self.ga.outputs, self.gb.outputs))
        on_node = self._outputs_by_match()
        for m in self.m.nodes:
            c = self.node_change(m, on_node.get(id(m), []))
            if c is not None:
                out.append(c)
        for n in self.removed:
            out.append(self.change("removed", "node", self.node_ref(n, True), None,
                                   order=self.order_nodes_a[id(n)]))
        for n in self.added:
            out.append(self.change("added", "node", None, self.node_ref(n, False),
                                   order=self.order_nodes_b[id(n)]))
        for vm in self.m.values:
            c = self.value_change(vm.a, vm.b)
            if c is not None:
                out.append(c)
        inputs_a = {id(v) for v in self.ga.inputs}
        inputs_b = {id(v) for v in self.gb.inputs}
        for v in self.m.unmatched_values_a():
            if self._lone_value(v, True, inputs_a):
                out.append(self.change("removed", "tensor", self.value_ref(v, True), None,
                                       order=self.order_values_a[id(v)]))
        for v in self.m.unmatched_values_b():
            if self._lone_value(v, False, inputs_b):
                out.append(self.change("added", "tensor", None, self.value_ref(v, False),
                                       order=self.order_values_b[id(v)]))
        return out

    def change(self, kind: str, what: str, a: Ref | None, b: Ref | None,
               fields: list[str] | None = None, details: dict | None = None, *,
               order: float = 0.0) -> Change:
        graph = a.graph if a is not None else b.graph  # type: ignore[union-attr]
        rank = WHATS.index(what)
        name = (a or b).name  # type: ignore[union-attr]
        return Change(kind, what, graph, a, b, fields or [], details or {},
                      order=(self.p.a, rank, order, KINDS.index(kind), name))

    # -- graph inputs and outputs -------------------------------------------------

    def io_changes(self, what: str, list_a: list[Value], list_b: list[Value]) -> list[Change]:
        out = []
        pos_b = {id(v): j for j, v in enumerate(list_b)}
        pos_a = {id(v): i for i, v in enumerate(list_a)}
        explained_a: set[int] = set()
        explained_b: set[int] = set()
        if what == "output":
            for i, (va, wb) in enumerate(zip(list_a, list_b)):
                if self.m.value_b(va) is not wb and self.explained_move(va, wb):
                    explained_a.add(i)
                    explained_b.add(i)
        for i, va in enumerate(list_a):
            vb = self.m.value_b(va)
            j = pos_b.get(id(vb)) if vb is not None else None
            ref_a = Ref(self.p.a, i, va.name)
            if j is None:
                if i not in explained_a:
                    out.append(self.change("removed", what, ref_a, None, order=float(i)))
            elif j != i:
                out.append(self.change("changed", what, ref_a, Ref(self.p.b, j, vb.name),
                                       ["index"], {"index": {"a": i, "b": j}}, order=float(i)))
        for j, vb in enumerate(list_b):
            va = self.m.value_a(vb)
            if (va is None or id(va) not in pos_a) and j not in explained_b:
                out.append(self.change("added", what, None, Ref(self.p.b, j, vb.name),
                                       order=float(j) + 0.5))
        return out

    def explained_move(self, va: Value, wb: Value) -> bool:
        """A graph or signature output that moved from A's `va` to B's `wb` only
        because nodes were added after it or removed before it."""
        partner = self.m.value_b(va)
        if partner is not None and self._reaches(wb, partner, False):
            return True
        back = self.m.value_a(wb)
        return back is not None and self._reaches(va, back, True)

    def _reaches(self, start: Value, target: Value, side_a: bool) -> bool:
        """`start` is computed from `target` through added (B) or removed (A) nodes only."""
        chain = self.removed_ids if side_a else self.added_ids
        producer = self.m.producer_a if side_a else self.m.producer_b
        todo, seen = [start], set()
        while todo:
            v = todo.pop()
            if v is target:
                return True
            p = producer(v)
            if p is None or id(p) not in chain or id(p) in seen:
                continue
            seen.add(id(p))
            todo.extend(x for x in p.inputs if x is not None)
        return False

    # -- nodes --------------------------------------------------------------------

    def _outputs_by_match(self) -> dict[int, list[tuple[Value, Value]]]:
        """Tensor pairs computed by matched nodes, by their NodeMatch: their type and
        shape are reported on the node."""
        out: dict[int, list[tuple[Value, Value]]] = {}
        for vm in self.m.values:
            pa, pb = self.m.producer_a(vm.a), self.m.producer_b(vm.b)
            if pa is None or pb is None:
                continue
            ma = self.m.node_match_a(pa)
            if ma is not None and ma is self.m.node_match_b(pb):
                out.setdefault(id(ma), []).append((vm.a, vm.b))
        return out

    def node_change(self, m: NodeMatch, outputs: list[tuple[Value, Value]]) -> Change | None:
        a, b = m.a, m.b
        fields: list[str] = []
        details: dict[str, Any] = {}

        def put(name: str, old, new) -> None:
            fields.append(name)
            details[name] = {"a": old, "b": new}

        if (op_key(a) != op_key(b)) if self.cross else (a.op != b.op or a.custom != b.custom):
            put("op", a.op, b.op)
        derived = a.outputs and b.outputs and a.name == a.outputs[0].name \
            and b.name == b.outputs[0].name
        if a.name != b.name and not derived and not (self.cross and m.reason == "fused name"):
            put("name", a.name, b.name)
        if self.cross:
            for name in ("activation", "padding"):
                x, y = common_attr(m, name, True), common_attr(m, name, False)
                if x is not None and y is not None and x != y:
                    put(name, x, y)
        else:
            self._attrs(a, b, put)
            self._inputs(a, b, fields, details)
            if a.version != b.version:
                put("version", a.version, b.version)
            if a.device != b.device:
                put("device", a.device, b.device)
            if a.control_inputs or b.control_inputs:
                ctrl_a = sorted(self._map_node_name(c) for c in a.control_inputs)
                if ctrl_a != sorted(b.control_inputs):
                    put("control_inputs", list(a.control_inputs), list(b.control_inputs))
            if a.subgraphs or b.subgraphs:
                subs_a = [self._map_graph_ref(x) for x in a.subgraphs]
                if subs_a != list(b.subgraphs):
                    put("subgraphs", list(a.subgraphs), list(b.subgraphs))
            if len(a.outputs) != len(b.outputs):
                put("outputs", len(a.outputs), len(b.outputs))
        if m.fused_a or m.fused_b:
            put("fused", [n.name for n in m.fused_a], [n.name for n in m.fused_b])
        dtype_changed = shape_changed = False
        for va, vb in outputs:
            if va.dtype is not vb.dtype and \
                    (va.dtype is not None and vb.dtype is not None or not self.cross):
                dtype_changed = True
            if va.shape != vb.shape or va.shape_signature != vb.shape_signature:
                sa, sb = _shape(va), _shape(vb)
                if sa != sb and (sa is not None and sb is not None or not self.cross):
                    shape_changed = True
        names = [vb.name for _, vb in outputs]
        if dtype_changed:
            fields.append("dtype")
            details["dtype"] = {"a": [_dtype(va.dtype) for va, _ in outputs],
                                "b": [_dtype(vb.dtype) for _, vb in outputs],
                                "tensors": names}
        if shape_changed:
            fields.append("shape")
            details["shape"] = {"a": [_shape(va) for va, _ in outputs],
                                "b": [_shape(vb) for _, vb in outputs], "tensors": names}
        if not fields:
            return None
        return self.change("changed", "node", self.node_ref(a, True), self.node_ref(b, False),
                           fields, details, order=self.order_nodes_a[id(a)])

    def _attrs(self, a: Node, b: Node, put) -> None:
        own_a = {id(v.data) for v in a.outputs if v.data is not None}
        own_b = {id(v.data) for v in b.outputs if v.data is not None}
        da = self.hashes_a.of if self.hashes_a else None
        db = self.hashes_b.of if self.hashes_b else None
        for key in sorted(set(a.attrs) | set(b.attrs)):
            x, y = a.attrs.get(key), b.attrs.get(key)
            # NOTE: a Const's `value` attr is its tensor's data: reported on the tensor.
            if id(x) in own_a or id(y) in own_b:
                continue
            if (key not in a.attrs or key not in b.attrs) and x is None and y is None:
                # NOTE: a key absent on one side and None on the other says the same
                # (Keras configs of two versions).
                continue
            if key in a.attrs and key in b.attrs and attr_token(x, da) == attr_token(y, db):
                continue
            put(f"attrs.{key}", attr_json(x) if key in a.attrs else None,
                attr_json(y) if key in b.attrs else None)

    def _inputs(self, a: Node, b: Node, fields: list[str], details: dict) -> None:
        ins_a, ins_b = a.inputs, b.inputs
        positions = []
        for i in range(max(len(ins_a), len(ins_b))):
            va = ins_a[i] if i < len(ins_a) else None
            vb = ins_b[i] if i < len(ins_b) else None
            if va is None and vb is None:
                continue
            if va is not None and vb is not None and self.m.value_b(va) is vb:
                continue
            if i < len(ins_a) and i < len(ins_b) and self._explained(va, vb):
                continue
            positions.append(i)
        if positions:
            fields.append("inputs")
            details["inputs"] = {"a": [v.name if v is not None else None for v in ins_a],
                                 "b": [v.name if v is not None else None for v in ins_b],
                                 "positions": positions}

    def _explained(self, va: Value | None, vb: Value | None) -> bool:
        """A rewired input that an added or removed node accounts for."""
        pa = self.m.producer_a(va) if va is not None else None
        pb = self.m.producer_b(vb) if vb is not None else None
        return (pa is not None and id(pa) in self.removed_ids) or \
            (pb is not None and id(pb) in self.added_ids)

    def _map_node_name(self, name: str) -> str:
        """B's name for the node A calls `name` (control inputs)."""
        if self._names_a is None:
            self._names_a = {n.name: n for n in self.ga.nodes}
        n = self._names_a.get(name)
        other = self.m.node_b(n) if n is not None else None
        return other.name if other is not None else name

    def _map_graph_ref(self, ref):
        if isinstance(ref, int):
            return self.graph_map.get(ref, ref)
        return ref

    # -- tensors ------------------------------------------------------------------

    def value_change(self, va: Value, vb: Value) -> Change | None:
        fields: list[str] = []
        details: dict[str, Any] = {}

        def put(name: str, old, new) -> None:
            fields.append(name)
            details[name] = {"a": old, "b": new}

        pa, pb = self.m.producer_a(va), self.m.producer_b(vb)
        name_a, name_b = (_strip_port(va.name), _strip_port(vb.name)) if self.cross \
            else (va.name, vb.name)
        derived = (pa is not None and pb is not None and va.name.startswith(pa.name + ":")
                   and vb.name.startswith(pb.name + ":")
                   and va.name[len(pa.name):] == vb.name[len(pb.name):])
        if name_a != name_b and not derived:
            put("name", va.name, vb.name)
        computed = pa is not None and pb is not None
        if not computed:
            if va.dtype is not vb.dtype:
                put("dtype", _dtype(va.dtype), _dtype(vb.dtype))
            if va.shape != vb.shape or va.shape_signature != vb.shape_signature:
                sa, sb = _shape(va), _shape(vb)
                if sa != sb and not (self.cross and (sa is None or sb is None)):
                    put("shape", sa, sb)
        if not _same_quant(va.quant, vb.quant):
            put("quantization", _quant_json(va.quant), _quant_json(vb.quant))
        if va.is_variable != vb.is_variable:
            put("variable", va.is_variable, vb.is_variable)
        if (va.data is None) != (vb.data is None):
            put("constant", va.data is not None, vb.data is not None)
        elif va.data is not None and self.hashes_a is not None and self.hashes_b is not None:
            self._weights(va, vb, fields, details)
        if not fields:
            return None
        return self.change("changed", "tensor", self.value_ref(va, True),
                           self.value_ref(vb, False), fields, details,
                           order=self.order_values_a[id(va)])

    def _weights(self, va: Value, vb: Value, fields: list[str], details: dict) -> None:
        assert self.hashes_a is not None and self.hashes_b is not None
        if self.hashes_a.of(va.data) == self.hashes_b.of(vb.data) and \
                _same_quant(va.quant, vb.quant):
            return
        from modelkit.diff.weights import compare_values

        stats = compare_values(va, vb, path_a=self.hashes_a.path, path_b=self.hashes_b.path)
        if stats is None:
            same_shape = _shape(va) == _shape(vb)
            if same_shape:
                fields.append("weights")
                details["weights"] = {"compared": False,
                                      "reason": "the values are not numbers or do not fit "
                                                "their quantization"}
            return
        if stats.changed == 0:
            return
        fields.append("weights")
        details["weights"] = {"compared": True, **stats.to_dict()}

    def _lone_value(self, v: Value, side_a: bool, io_ids: set[int]) -> bool:
        """An unmatched tensor to report by itself: not a graph input (reported as
        such), not computed by an added/removed node, not read only by those."""
        if id(v) in io_ids:
            return False
        producer = self.m.producer_a(v) if side_a else self.m.producer_b(v)
        if producer is not None:
            return False
        if v.producer is not None:
            # NOTE: a Const node's tensor across domains: the node is reported.
            return False
        chain = self.removed_ids if side_a else self.added_ids
        in_graph = self.npos_a if side_a else self.npos_b
        users = [n for n, _ in v.consumers if id(n) in in_graph]
        if users and all(id(n) in chain for n in users):
            return False
        return True


# -- graphs and signatures ----------------------------------------------------------

def _graph_changes(graphs_a: list[Graph], graphs_b: list[Graph],
                   pairs: list[GraphPair]) -> list[Change]:
    out = []
    paired_a = {p.a for p in pairs}
    paired_b = {p.b for p in pairs}
    for i, g in enumerate(graphs_a):
        if i not in paired_a:
            out.append(Change("removed", "graph", i, Ref(i, i, g.name), None,
                              order=(i, 0, 0.0, 1, g.name)))
    for j, g in enumerate(graphs_b):
        if j not in paired_b:
            out.append(Change("added", "graph", j, None, Ref(j, j, g.name),
                              order=(j, 0, 0.5, 0, g.name)))
    for p in pairs:
        ga, gb = graphs_a[p.a], graphs_b[p.b]
        fields, details = [], {}
        if ga.name != gb.name:
            fields.append("name")
            details["name"] = {"a": ga.name, "b": gb.name}
        if p.a != p.b:
            fields.append("index")
            details["index"] = {"a": p.a, "b": p.b}
        if fields:
            out.append(Change("changed", "graph", p.a, Ref(p.a, p.a, ga.name),
                              Ref(p.b, p.b, gb.name), fields, details,
                              order=(p.a, 0, 0.0, 2, ga.name)))
    return out


def _signature_changes(model_a: Model, model_b: Model, pairs: list[GraphPair],
                       graph_diffs: dict[int, _GraphDiff]) -> list[Change]:
    graph_map = {p.a: p.b for p in pairs}
    value_map: dict[int, Value] = {}
    for p in pairs:
        for vm in p.matching.values:
            value_map[id(vm.a)] = vm.b
    out = []
    keys_b = {s.key: (j, s) for j, s in enumerate(model_b.signatures)}
    keys_a = {s.key for s in model_a.signatures}
    for i, sa in enumerate(model_a.signatures):
        ref_a = Ref(sa.graph, i, sa.key)
        order = (sa.graph, 1, float(i))
        if sa.key not in keys_b:
            out.append(Change("removed", "signature", sa.graph, ref_a, None,
                              order=(*order, 1, sa.key)))
            continue
        j, sb = keys_b[sa.key]
        fields, details = [], {}
        if graph_map.get(sa.graph, sa.graph) != sb.graph:
            fields.append("graph")
            details["graph"] = {"a": sa.graph, "b": sb.graph}
        if sa.method_name != sb.method_name:
            fields.append("method_name")
            details["method_name"] = {"a": sa.method_name, "b": sb.method_name}
        for role, ios_a, ios_b in (("inputs", sa.inputs, sb.inputs),
                                   ("outputs", sa.outputs, sb.outputs)):
            ka, kb = [io.key for io in ios_a], [io.key for io in ios_b]
            if sorted(ka) != sorted(kb):
                fields.append(role)
                details[role] = {"a": ka, "b": kb}
            by_b = {io.key: io for io in ios_b}
            for io in ios_a:
                other = by_b.get(io.key)
                if other is None:
                    continue
                if io.value is not None and other.value is not None:
                    moved = value_map.get(id(io.value)) is not other.value
                    gd = graph_diffs.get(sa.graph)
                    if moved and gd is not None and graph_map.get(sa.graph) == sb.graph:
                        moved = not gd.explained_move(io.value, other.value)
                else:
                    moved = io.tensor_name != other.tensor_name
                if moved:
                    name = f"{role}.{io.key}"
                    fields.append(name)
                    details[name] = {"a": io.tensor_name, "b": other.tensor_name}
        if fields:
            out.append(Change("changed", "signature", sa.graph, ref_a, Ref(sb.graph, j, sb.key),
                              fields, details, order=(*order, 2, sa.key)))
    for j, sb in enumerate(model_b.signatures):
        if sb.key not in keys_a:
            out.append(Change("added", "signature", sb.graph, None, Ref(sb.graph, j, sb.key),
                              order=(sb.graph, 1, j + 0.5, 0, sb.key)))
    return out


# -- summary ------------------------------------------------------------------------

def stats(model_a: Model, model_b: Model, graphs_a: list[Graph], graphs_b: list[Graph],
          changes: list[Change]) -> dict:
    """Counts of changes, op histogram delta, parameter and file size deltas."""
    from modelkit.analysis.summary import _parameters, path_size

    counts: dict[str, dict[str, int]] = {}
    for c in changes:
        entry = counts.setdefault(c.what, {k: 0 for k in KINDS})
        entry[c.kind] += 1
    ops_a = Counter(n.op for g in graphs_a for n in g.nodes)
    ops_b = Counter(n.op for g in graphs_b for n in g.nodes)
    ops = {op: ops_b[op] - ops_a[op] for op in sorted(set(ops_a) | set(ops_b))
           if ops_b[op] != ops_a[op]}
    pa, pb = _parameters(graphs_a), _parameters(graphs_b)
    size_a, size_b = path_size(model_a.path), path_size(model_b.path)

    def delta(x, y) -> dict:
        return {"a": x, "b": y, "delta": None if x is None or y is None else y - x}

    return {"changes": len(changes),
            "counts": {w: counts[w] for w in WHATS if w in counts},
            "nodes": delta(sum(len(g.nodes) for g in graphs_a),
                           sum(len(g.nodes) for g in graphs_b)),
            "ops": ops,
            "parameters": delta(pa["count"], pb["count"]),
            "parameter_bytes": delta(pa["bytes"], pb["bytes"]),
            "file_size": delta(size_a, size_b)}
