"""Which node and tensor of graph A is which of graph B, and why.

`match_graphs(graph_a, graph_b)` pairs nodes and tensors of two graphs of any
formats. The evidence is taken in order of trust, and each pair keeps the reason
it was made:

1. the graph's inputs and outputs (and signature tensors given as `pairs`);
2. names: equal node names with the same op, equal names of tensors no node
   writes (constants, inputs), and a TFLite op whose name lists the source nodes
   it fused (`conv1/Relu;conv1/BiasAdd;conv1/Conv2D` against a GraphDef);
3. structure, from what is already matched: the producer of the same input
   position of two matched nodes, the only consumer with the same op of two
   matched tensors, the same output of two matched nodes;
4. a neighbourhood signature for what is left: op, attributes, output types,
   and inputs (matched partners, constants by content hash, producers' ops);
   then equal names with another op (an op was changed), then the only node
   between the same matched neighbours, then constants by content hash.

Each step is followed by structural propagation, so a renamed tensor or node is
matched through its neighbours and reported as a rename, not as a removal plus
an addition. Ops of different domains meet through `ops.op_key` (`Conv2D` and
`CONV_2D`); there, nodes that only stand for a tensor (`Const`, `Placeholder`)
are matched through their tensor, and pass-through ops (`Identity`) a converter
drops are stepped over.

Node reasons: `input`, `output`, `name`, `fused name`, `structure`, `signature`,
`position`. Tensor reasons: `signature`, `input`, `output`, `name`, `producer`
(the same output of matched nodes), `consumer` (the same input of matched
nodes), `content` (the same data).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from modelkit.diff.attrs import attr_token
from modelkit.diff.ops import PASS_THROUGH_OPS, SOURCE_OPS, graph_domain, op_key
from modelkit.ir import Graph, Node, TensorData, Value

NODE_REASONS = ("input", "output", "name", "fused name", "structure", "signature", "position")
VALUE_REASONS = ("signature", "input", "output", "name", "producer", "consumer", "content")


@dataclass(frozen=True, eq=False)
class NodeMatch:
    """Node `a` of graph A is node `b` of graph B.

    Attributes:
        reason: why (one of NODE_REASONS).
        fused_a: other nodes of A that B computes inside `b` (a TFLite op that fused
            its source's BiasAdd and Relu); empty within one format.
        fused_b: other nodes of B that A computes inside `a`.
    """

    a: Node
    b: Node
    reason: str
    fused_a: tuple[Node, ...] = ()
    fused_b: tuple[Node, ...] = ()


@dataclass(frozen=True, eq=False)
class ValueMatch:
    """Tensor `a` of graph A is tensor `b` of graph B, for `reason` (one of VALUE_REASONS)."""

    a: Value
    b: Value
    reason: str


class Matching:
    """The node and tensor correspondences between two graphs.

    Attributes:
        graph_a, graph_b: the graphs.
        cross_domain: the graphs' ops are in different vocabularies (TF vs TFLite).
        nodes: node pairs, in A's node order.
        values: tensor pairs, in A's tensor order.
    """

    def __init__(self, graph_a: Graph, graph_b: Graph, cross_domain: bool,
                 nodes: list[NodeMatch], values: list[ValueMatch], *,
                 _sides: tuple[_Side, _Side] | None = None) -> None:
        self._side_a, self._side_b = _sides or (_Side(graph_a, cross_domain),
                                                _Side(graph_b, cross_domain))
        self.graph_a = graph_a
        self.graph_b = graph_b
        self.cross_domain = cross_domain
        self.nodes = nodes
        self.values = values
        self._node_a = {id(m.a): m for m in nodes}
        self._node_b = {id(m.b): m for m in nodes}
        self._fused_a = {id(n): m for m in nodes for n in m.fused_a}
        self._fused_b = {id(n): m for m in nodes for n in m.fused_b}
        self._value_a = {id(m.a): m for m in values}
        self._value_b = {id(m.b): m for m in values}

    def node_match_a(self, node: Node) -> NodeMatch | None:
        """The pair whose A node is `node` (or that fused it), else None."""
        return self._node_a.get(id(node)) or self._fused_a.get(id(node))

    def node_match_b(self, node: Node) -> NodeMatch | None:
        """The pair whose B node is `node` (or that fused it), else None."""
        return self._node_b.get(id(node)) or self._fused_b.get(id(node))

    def node_b(self, node: Node) -> Node | None:
        """B's node for A's `node`, or None."""
        m = self.node_match_a(node)
        return None if m is None else m.b

    def node_a(self, node: Node) -> Node | None:
        """A's node for B's `node`, or None."""
        m = self.node_match_b(node)
        return None if m is None else m.a

    def value_b(self, value: Value | None) -> Value | None:
        """B's tensor for A's `value`, or None."""
        m = None if value is None else self._value_a.get(id(value))
        return None if m is None else m.b

    def value_a(self, value: Value | None) -> Value | None:
        """A's tensor for B's `value`, or None."""
        m = None if value is None else self._value_b.get(id(value))
        return None if m is None else m.a

    def value_match_a(self, value: Value) -> ValueMatch | None:
        return self._value_a.get(id(value))

    def value_match_b(self, value: Value) -> ValueMatch | None:
        return self._value_b.get(id(value))

    def producer_a(self, value: Value | None) -> Node | None:
        """The node of A that computes `value`: None for inputs and constants, also
        across domains for a tensor a `Const` or `Placeholder` node stands for."""
        return self._side_a.producer(value)

    def producer_b(self, value: Value | None) -> Node | None:
        """The node of B that computes `value` (see `producer_a`)."""
        return self._side_b.producer(value)

    def unmatched_nodes_a(self) -> list[Node]:
        """Nodes of A with no counterpart (removed), in A's order."""
        return [n for n in self.graph_a.nodes if self.node_match_a(n) is None]

    def unmatched_nodes_b(self) -> list[Node]:
        """Nodes of B with no counterpart (added), in B's order."""
        return [n for n in self.graph_b.nodes if self.node_match_b(n) is None]

    def unmatched_values_a(self) -> list[Value]:
        return [v for v in self.graph_a.values if id(v) not in self._value_a]

    def unmatched_values_b(self) -> list[Value]:
        return [v for v in self.graph_b.values if id(v) not in self._value_b]

    @property
    def empty(self) -> bool:
        """Nothing at all was matched."""
        return not self.nodes and not self.values

    def __repr__(self) -> str:
        return (f"Matching({len(self.nodes)} nodes, {len(self.values)} tensors; "
                f"{len(self.unmatched_nodes_a())} only in A, "
                f"{len(self.unmatched_nodes_b())} only in B)")


def match_graphs(graph_a: Graph, graph_b: Graph, *,
                 pairs: Iterable[tuple[Value, Value]] = (),
                 digest: Callable[[TensorData], bytes | None] | None = None,
                 digest_b: Callable[[TensorData], bytes | None] | None = None) -> Matching:
    """Pair the nodes and tensors of two graphs (see the module docstring for how).

    Args:
        graph_a: the first graph (the "old" side).
        graph_b: the second graph.
        pairs: tensors known to correspond (a model signature's inputs/outputs),
            matched first with the reason `signature`.
        digest: content digest of A's constant data (e.g. `hashing.Hashes(path).of`);
            None matches constants by name and structure only, reading no data.
        digest_b: the same for B; defaults to `digest`.

    Returns:
        the Matching; its unmatched nodes are the removed (A) and added (B) ones.
    """
    m = _Matcher(graph_a, graph_b, digest, digest_b or digest)
    m.run(list(pairs))
    return m.result()


class _Side:
    """One graph's lookup tables."""

    def __init__(self, graph: Graph, cross: bool) -> None:
        self.graph = graph
        self.cross = cross
        self.node_ids = {id(n) for n in graph.nodes}
        self.order = {id(n): i for i, n in enumerate(graph.nodes)}
        self.value_order = {id(v): i for i, v in enumerate(graph.values)}
        self.key = {id(n): (op_key(n) if cross else n.op) for n in graph.nodes}
        self.source = {id(n) for n in graph.nodes if cross and n.op in SOURCE_OPS}
        self.pass_through = {id(n) for n in graph.nodes if cross and n.op in PASS_THROUGH_OPS}
        self.domain = graph_domain(graph.nodes)

    def producer(self, v: Value | None) -> Node | None:
        """The node that computes `v`; None for inputs and constants (also a `Const`
        node's tensor across domains)."""
        if v is None:
            return None
        p = v.producer
        if p is None or id(p) not in self.node_ids or id(p) in self.source:
            return None
        return p

    def through(self, v: Value | None) -> Value | None:
        """`v`, or across domains the tensor a chain of pass-through ops forwards."""
        seen = 0
        while v is not None and seen < 64:
            p = self.producer(v)
            if p is None or id(p) not in self.pass_through or not p.inputs:
                return v
            v = p.inputs[0]
            seen += 1
        return v

    def consumers(self, v: Value) -> Iterator[tuple[Node, int]]:
        """(node, position) reading `v`; across domains, through pass-through ops."""
        todo, seen = [v], {id(v)}
        while todo:
            for n, pos in todo.pop().consumers:
                if id(n) not in self.node_ids:
                    continue
                if id(n) in self.pass_through and pos == 0 and n.outputs:
                    # NOTE: iterative, with a seen set: a corrupt graph may loop.
                    if id(n.outputs[0]) not in seen:
                        seen.add(id(n.outputs[0]))
                        todo.append(n.outputs[0])
                    continue
                yield n, pos


class _Matcher:
    def __init__(self, graph_a: Graph, graph_b: Graph, digest_a, digest_b) -> None:
        da, db = graph_domain(graph_a.nodes), graph_domain(graph_b.nodes)
        self.cross = bool(da and db and da != db)
        self.A = _Side(graph_a, self.cross)
        self.B = _Side(graph_b, self.cross)
        self.digest_a = digest_a
        self.digest_b = digest_b
        self.n_ab: dict[int, Node] = {}
        self.n_ba: dict[int, Node] = {}
        self.taken_a: set[int] = set()
        self.taken_b: set[int] = set()
        self.node_matches: list[NodeMatch] = []
        self.v_ab: dict[int, Value] = {}
        self.v_ba: dict[int, Value] = {}
        self.value_matches: list[ValueMatch] = []
        self.work: list = []

    # -- recording -------------------------------------------------------------

    def free_a(self, n: Node) -> bool:
        return id(n) not in self.taken_a and id(n) not in self.A.source

    def free_b(self, n: Node) -> bool:
        return id(n) not in self.taken_b and id(n) not in self.B.source

    def add_node(self, a: Node, b: Node, reason: str, fused_a=(), fused_b=()) -> bool:
        if not self.free_a(a) or not self.free_b(b):
            return False
        fused_a = tuple(n for n in fused_a if self.free_a(n) and n is not a)
        fused_b = tuple(n for n in fused_b if self.free_b(n) and n is not b)
        m = NodeMatch(a, b, reason, fused_a, fused_b)
        self.node_matches.append(m)
        self.n_ab[id(a)] = b
        self.n_ba[id(b)] = a
        self.taken_a.update(id(n) for n in (a, *fused_a))
        self.taken_b.update(id(n) for n in (b, *fused_b))
        if not (self.cross or fused_a or fused_b):
            # NOTE: outputs at once, so that every tensor a name-matched node computes
            # is paired before input positions are followed.
            for oa, ob in zip(a.outputs, b.outputs):
                self.add_value(oa, ob, "producer")
        self.work.append(m)
        return True

    def add_value(self, a: Value | None, b: Value | None, reason: str) -> bool:
        if a is None or b is None or id(a) in self.v_ab or id(b) in self.v_ba:
            return False
        m = ValueMatch(a, b, reason)
        self.value_matches.append(m)
        self.v_ab[id(a)] = b
        self.v_ba[id(b)] = a
        self.work.append(m)
        return True

    def same_key(self, a: Node, b: Node) -> bool:
        return self.A.key[id(a)] == self.B.key[id(b)]

    # -- phases ------------------------------------------------------------------

    def run(self, hints: list[tuple[Value, Value]]) -> None:
        for a, b in hints:
            self.anchor(a, b, "signature")
        self.io()
        self.names()
        self.propagate()
        for step in (self.signatures, self.renamed_ops, self.positions, self.contents):
            step()
            self.propagate()

    def io(self) -> None:
        for a, b in pair_by_name(self.A.graph.inputs, self.B.graph.inputs):
            self.anchor(a, b, "input")
        for a, b in pair_by_name(self.A.graph.outputs, self.B.graph.outputs):
            self.anchor(a, b, "output")

    def anchor(self, a: Value, b: Value, reason: str) -> None:
        """Pair two tensors a graph or signature names alike, and the nodes computing
        them when they have the same op."""
        pa, pb = self.A.producer(a), self.B.producer(b)
        if pa is None and pb is None:
            self.add_value(a, b, reason)
        elif pa is not None and pb is not None and self.same_key(pa, pb):
            # NOTE: tensors whose producers differ (a DEQUANTIZE appended, a SOFTMAX
            # removed) are not paired: the producers' own neighbours place them.
            if self.add_node(pa, pb, "input" if reason == "input" else "output"):
                self.add_value(a, b, reason)

    def names(self) -> None:
        by_a = _unique(self.A.graph.nodes, lambda n: n.name)
        by_b = _unique(self.B.graph.nodes, lambda n: n.name)
        for name, a in by_a.items():
            b = by_b.get(name)
            if b is not None and self.same_key(a, b):
                self.add_node(a, b, "name")
        if self.cross:
            if self.B.domain == "tflite":
                self.fused_names(self.B, self.A, b_is_tflite=True)
            elif self.A.domain == "tflite":
                self.fused_names(self.A, self.B, b_is_tflite=False)
        self.value_names()

    def fused_names(self, lite: _Side, src: _Side, *, b_is_tflite: bool) -> None:
        """A TFLite op named `a;b;c` matches source nodes a, b and c: the one with the
        same op is its pair, the others are fused into it."""
        by_name = _unique(src.graph.nodes, lambda n: n.name)
        for t in lite.graph.nodes:
            if ";" not in t.name:
                continue
            members = []
            for part in t.name.split(";"):
                n = by_name.get(part)
                if n is not None and id(n) not in src.source and n not in members:
                    members.append(n)
            primary = next((n for n in members if src.key[id(n)] == lite.key[id(t)]), None)
            if primary is None:
                continue
            others = tuple(n for n in members if n is not primary)
            if b_is_tflite:
                self.add_node(primary, t, "fused name", fused_a=others)
            else:
                self.add_node(t, primary, "fused name", fused_b=others)

    def value_names(self) -> None:
        strip = _strip_port if self.cross else (lambda s: s)
        free_a = [v for v in self.A.graph.values
                  if self.A.producer(v) is None and id(v) not in self.v_ab]
        free_b = [v for v in self.B.graph.values
                  if self.B.producer(v) is None and id(v) not in self.v_ba]
        by_a = _unique(free_a, lambda v: strip(v.name))
        by_b = _unique(free_b, lambda v: strip(v.name))
        for name, a in by_a.items():
            b = by_b.get(name)
            if b is not None and (a.data is None) == (b.data is None):
                self.add_value(a, b, "name")

    # -- propagation ---------------------------------------------------------------

    def propagate(self) -> None:
        while self.work:
            item = self.work.pop()
            if isinstance(item, NodeMatch):
                self.from_nodes(item)
            else:
                self.from_values(item)

    def from_nodes(self, m: NodeMatch) -> None:
        if m.fused_a or m.fused_b or self.cross:
            self.from_group(m)
            return
        for va, vb in zip(m.a.inputs, m.b.inputs):
            self.pair_inputs(va, vb)

    def from_group(self, m: NodeMatch) -> None:
        """Across domains: a node and the nodes fused into it form a group whose
        outside inputs and outputs are paired."""
        group_a = [m.a, *m.fused_a]
        group_b = [m.b, *m.fused_b]
        exits_a = _exits(group_a, self.A)
        exits_b = _exits(group_b, self.B)
        if len(exits_a) == len(exits_b):
            for oa, ob in zip(exits_a, exits_b):
                self.add_value(oa, ob, "producer")
        ins_a = _entries(group_a, self.A)
        ins_b = _entries(group_b, self.B)
        done_a: set[int] = set()
        done_b: set[int] = set()
        prim_a = [self.A.through(v) for v in m.a.inputs]
        prim_b = [self.B.through(v) for v in m.b.inputs]
        for va, vb in zip(prim_a, prim_b):
            if va is None or vb is None or not _same_size(va, vb):
                continue
            self.pair_inputs(va, vb)
            done_a.add(id(va))
            done_b.add(id(vb))
        rest_a = [v for v in ins_a if id(v) not in done_a and v.data is not None]
        rest_b = [v for v in ins_b if id(v) not in done_b and v.data is not None]
        for va in rest_a:
            fits = [vb for vb in rest_b if _same_size(va, vb) and _size(vb) is not None]
            if len(fits) == 1 and sum(_same_size(x, fits[0]) for x in rest_a) == 1:
                self.pair_inputs(va, fits[0])

    def pair_inputs(self, va: Value | None, vb: Value | None) -> None:
        if va is None or vb is None:
            return
        if id(va) in self.v_ab or id(vb) in self.v_ba:
            return
        pa, pb = self.A.producer(va), self.B.producer(vb)
        if pa is None and pb is None:
            if (va.data is None) == (vb.data is None) and (not self.cross or _same_size(va, vb)):
                self.add_value(va, vb, "consumer")
        elif pa is not None and pb is not None and self.same_key(pa, pb):
            if self.add_node(pa, pb, "structure"):
                ja = pa.outputs.index(va) if va in pa.outputs else -1
                jb = pb.outputs.index(vb) if vb in pb.outputs else -1
                if ja == jb:
                    self.add_value(va, vb, "producer")

    def from_values(self, m: ValueMatch) -> None:
        a, b = m.a, m.b
        pa, pb = self.A.producer(a), self.B.producer(b)
        if pa is not None and pb is not None and self.free_a(pa) and self.free_b(pb) \
                and self.same_key(pa, pb):
            self.add_node(pa, pb, "structure")
        groups_a: dict = defaultdict(list)
        groups_b: dict = defaultdict(list)
        for n, pos in self.A.consumers(a):
            if self.free_a(n):
                groups_a[(self.A.key[id(n)], None if self.cross else pos)].append(n)
        for n, pos in self.B.consumers(b):
            if self.free_b(n):
                groups_b[(self.B.key[id(n)], None if self.cross else pos)].append(n)
        for key, ns in groups_a.items():
            other = groups_b.get(key)
            if other is not None and len(ns) == 1 and len(other) == 1:
                self.add_node(ns[0], other[0], "structure")

    # -- what is left ------------------------------------------------------------

    def signatures(self) -> None:
        """Nodes with the only equal neighbourhood signature, strictest first."""
        for tier in (0, 1, 2):
            while True:
                free_a = [n for n in self.A.graph.nodes if self.free_a(n)]
                free_b = [n for n in self.B.graph.nodes if self.free_b(n)]
                if not free_a or not free_b:
                    return
                sig_a = _unique(free_a, lambda n: self.signature(n, self.A, tier))
                sig_b = _unique(free_b, lambda n: self.signature(n, self.B, tier))
                found = False
                for sig, a in sig_a.items():
                    b = sig_b.get(sig)
                    if b is not None and self.add_node(a, b, "signature"):
                        found = True
                self.propagate()
                if not found:
                    break

    def pair_key(self, v: Value, side: _Side) -> int | None:
        """The same key on both sides for a matched value (the id of its A side), None
        for a value of `side` not matched yet."""
        partner = self.v_ab.get(id(v)) if side is self.A else self.v_ba.get(id(v))
        if partner is None:
            return None
        return id(v) if side is self.A else id(partner)

    def signature(self, n: Node, side: _Side, tier: int):
        ins = []
        for v in n.inputs:
            v = side.through(v)
            if v is None:
                ins.append(None)
                continue
            key = self.pair_key(v, side)
            if key is not None:
                ins.append(("m", key))
            elif tier == 2:
                ins.append("?")
            elif v.data is not None:
                digest = self.digest_a if side is self.A else self.digest_b
                d = digest(v.data) if digest is not None else None
                ins.append(("c", d if d is not None and tier == 0 else
                            (str(v.dtype), v.shape if not self.cross else _size(v))))
            else:
                p = side.producer(v)
                ins.append(("p", side.key[id(p)]) if p is not None else ("x",))
        sig: tuple = (side.key[id(n)], len(n.outputs), tuple(ins))
        if tier == 0 and not self.cross:
            digest = self.digest_a if side is self.A else self.digest_b
            attrs = attr_token(n.attrs, digest)
            outs = tuple((str(o.dtype), o.shape) for o in n.outputs)
            sig += (attrs, outs)
        if tier == 2 and all(x == "?" or x is None for x in ins):
            return None
        return sig

    def renamed_ops(self) -> None:
        """Equal names, another op: the op of a node was changed."""
        free_a = [n for n in self.A.graph.nodes if self.free_a(n)]
        free_b = [n for n in self.B.graph.nodes if self.free_b(n)]
        by_b = _unique(free_b, lambda n: n.name)
        for name, a in _unique(free_a, lambda n: n.name).items():
            b = by_b.get(name)
            if b is not None:
                self.add_node(a, b, "name")

    def positions(self) -> None:
        """The only unmatched node between the same matched inputs and consumers."""
        def place(n: Node, side: _Side):
            mine = side is self.A
            ins = []
            for v in n.inputs:
                v = side.through(v)
                if v is None:
                    ins.append(None)
                    continue
                ins.append(self.pair_key(v, side))
            outs = set()
            for o in n.outputs:
                for c, pos in side.consumers(o):
                    other = self.n_ab.get(id(c)) if mine else self.n_ba.get(id(c))
                    if other is not None:
                        outs.add((id(c) if mine else id(other), pos))
            if not outs and all(x is None for x in ins):
                return None
            return (tuple(ins), frozenset(outs))

        free_a = [n for n in self.A.graph.nodes if self.free_a(n)]
        free_b = [n for n in self.B.graph.nodes if self.free_b(n)]
        by_b = _unique(free_b, lambda n: place(n, self.B))
        for key, a in _unique(free_a, lambda n: place(n, self.A)).items():
            b = by_b.get(key)
            if b is not None:
                self.add_node(a, b, "position")

    def contents(self) -> None:
        """Constants nothing else placed, by equal data."""
        if self.digest_a is None or self.digest_b is None:
            return
        free_a = [v for v in self.A.graph.values
                  if v.data is not None and self.A.producer(v) is None and id(v) not in self.v_ab]
        free_b = [v for v in self.B.graph.values
                  if v.data is not None and self.B.producer(v) is None and id(v) not in self.v_ba]
        if not free_a or not free_b:
            return
        by_b = _unique(free_b, lambda v: self.digest_b(v.data))
        for d, a in _unique(free_a, lambda v: self.digest_a(v.data)).items():
            b = by_b.get(d)
            if b is not None:
                self.add_value(a, b, "content")

    def result(self) -> Matching:
        nodes = sorted(self.node_matches, key=lambda m: self.A.order.get(id(m.a), 0))
        values = sorted(self.value_matches, key=lambda m: self.A.value_order.get(id(m.a), 0))
        return Matching(self.A.graph, self.B.graph, self.cross, nodes, values,
                        _sides=(self.A, self.B))


def _unique(items: Iterable, key) -> dict:
    """{key: item} for keys exactly one item has (None keys skipped)."""
    seen: dict = {}
    dup: set = set()
    for it in items:
        k = key(it)
        if k is None:
            continue
        if k in seen:
            dup.add(k)
        else:
            seen[k] = it
    for k in dup:
        del seen[k]
    return seen


def _strip_port(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def _size(v: Value) -> int | None:
    shape = v.data.shape if v.data is not None else v.shape
    if shape is None or any(d is None for d in shape):
        return None
    n = 1
    for d in shape:
        n *= d
    return n


def _same_size(a: Value, b: Value) -> bool:
    """Element counts agree, or one is unknown."""
    sa, sb = _size(a), _size(b)
    return sa is None or sb is None or sa == sb


def _exits(group: list[Node], side: _Side) -> list[Value]:
    """Outputs of a node group read outside it (or graph outputs)."""
    ids = {id(n) for n in group}
    outs = {id(v) for v in side.graph.outputs}
    exits = []
    for n in group:
        for v in n.outputs:
            if id(v) in outs or any(id(c) not in ids for c, _ in side.consumers(v)):
                exits.append(v)
    return exits


def _entries(group: list[Node], side: _Side) -> list[Value]:
    """Inputs of a node group that come from outside it, through pass-through ops."""
    ids = {id(n) for n in group}
    out = []
    for n in group:
        for v in n.inputs:
            v = side.through(v)
            if v is None or (v.producer is not None and id(v.producer) in ids):
                continue
            if v not in out:
                out.append(v)
    return out


def pair_by_name(a: list[Value], b: list[Value]) -> list[tuple[Value, Value]]:
    """Pair two tensor lists (graph inputs or outputs): equal names, then names
    equal but for `:0` and `serving_default_` (runtime.match_key), then what is
    left in order, when the ranks agree."""
    pairs: list[tuple[Value, Value]] = []
    rest_a, rest_b = list(a), list(b)

    def take(key) -> None:
        by_b = _unique(rest_b, key)
        for va in list(rest_a):
            k = key(va)
            vb = by_b.get(k) if k is not None else None
            if vb is not None and vb in rest_b:
                pairs.append((va, vb))
                rest_a.remove(va)
                rest_b.remove(vb)

    take(lambda v: v.name)
    if rest_a and rest_b:
        from modelkit.runtime.base import match_key

        take(lambda v: match_key(v.name))
    for va, vb in zip(list(rest_a), list(rest_b)):
        if va.shape is None or vb.shape is None or len(va.shape) == len(vb.shape):
            pairs.append((va, vb))
    return pairs


def pair_graphs(graphs_a: list[Graph], graphs_b: list[Graph]) -> list[tuple[int, int]]:
    """Which graph of model A is which of model B (TFLite subgraphs, TF functions).

    Equal names first; then the pairs sharing the most node names (a TFLite op's
    fused name counts each source node it lists), best first; then the main
    graphs (index 0) with each other, and the rest in order when both models
    have as many graphs. Returns (index in A, index in B) pairs; graphs left out
    were added or removed.
    """
    if len(graphs_a) == 1 and len(graphs_b) == 1:
        return [(0, 0)]
    pairs: list[tuple[int, int]] = []
    free_a = set(range(len(graphs_a)))
    free_b = set(range(len(graphs_b)))

    def take(i: int, j: int) -> None:
        pairs.append((i, j))
        free_a.discard(i)
        free_b.discard(j)

    by_a = _unique(range(len(graphs_a)), lambda i: graphs_a[i].name or None)
    by_b = _unique(range(len(graphs_b)), lambda j: graphs_b[j].name or None)
    for name, i in by_a.items():
        if name in by_b:
            take(i, by_b[name])

    def node_names(g: Graph) -> set[str]:
        out: set[str] = set()
        for n in g.nodes:
            out.update(n.name.split(";"))
        return out

    if free_a and free_b:
        sets_a = {i: node_names(graphs_a[i]) for i in free_a}
        sets_b = {j: node_names(graphs_b[j]) for j in free_b}
        scores = sorted(((len(sets_a[i] & sets_b[j]), i, j) for i in free_a for j in free_b),
                        key=lambda t: (-t[0], t[1], t[2]))
        for score, i, j in scores:
            if score and i in free_a and j in free_b:
                take(i, j)
    if 0 in free_a and 0 in free_b:
        take(0, 0)
    if len(graphs_a) == len(graphs_b):
        for i in sorted(free_a):
            if i in free_b:
                take(i, i)
    return sorted(pairs)
