"""What the browser shows, computed once from the IR: rows, search keys, page lines.

Nothing here imports Textual, so it is cheap to test and to time. Every row the
user can filter carries a precomputed lower-case key; `IncrementalFilter`
narrows the previous result when the query only grew, so a keystroke costs a
scan of the current matches rather than of the whole model.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelkit.analysis.units import human_bytes
from modelkit.ir import FuncRef, Graph, Model, Node, QuantParams, TensorData, Value

NODE, TENSOR, GRAPH = "node", "tensor", "graph"


@dataclass(frozen=True)
class Target:
    """A place the browser can show: a node, a tensor or a graph.

    Attributes:
        kind: NODE, TENSOR or GRAPH.
        graph: index of the graph in `Model.graphs`.
        index: position in `Graph.nodes` (node) or `Graph.values` (tensor); 0 for a graph.
    """

    kind: str
    graph: int
    index: int = 0

    @property
    def key(self) -> str:
        """A compact id usable as a widget option id: `n-0-3`, `t-0-12`, `g-1-0`."""
        return f"{self.kind[0]}-{self.graph}-{self.index}"

    @classmethod
    def parse(cls, key: str | None) -> Target | None:
        """The Target of a `key`, or None for anything else."""
        if not key:
            return None
        parts = key.split("-")
        kinds = {"n": NODE, "t": TENSOR, "g": GRAPH}
        if len(parts) != 3 or parts[0] not in kinds:
            return None
        try:
            return cls(kinds[parts[0]], int(parts[1]), int(parts[2]))
        except ValueError:
            return None


@dataclass
class Row:
    """One line of a filterable list: what it shows, where it leads, what it matches."""

    text: str
    target: Target | None
    key: str
    header: bool = False


@dataclass
class Line:
    """One line of a details page; `target` makes it a link."""

    text: str
    target: Target | None = None
    role: str = ""


@dataclass
class ChannelTable:
    """A per-channel quantization table offered for expansion."""

    title: str
    quant: QuantParams


@dataclass
class Page:
    """A details page: header lines, link lines, per-channel tables, tensor values."""

    target: Target
    title: str
    header: list[tuple[str, str]] = field(default_factory=list)
    links: list[Line] = field(default_factory=list)
    channels: list[ChannelTable] = field(default_factory=list)
    value: Value | None = None
    kind: str = ""


class IncrementalFilter:
    """Substring filtering of fixed keys, narrowing the last result when the query grows.

    A query is split on whitespace; a row matches when every term occurs in its key.
    Adding characters at the end of a query can only remove matches, so the new
    result is computed from the previous one. Recent results are cached so that
    deleting characters is as cheap as typing them.
    """

    def __init__(self, keys: list[str], cache_size: int = 64) -> None:
        self._keys = keys
        self._all = list(range(len(keys)))
        self._cache: dict[str, list[int]] = {}
        self._cache_size = cache_size
        self._last_query = ""
        self._last = self._all

    def filter(self, query: str) -> list[int]:
        """Indices of the keys matching `query` (case-insensitive), in key order."""
        query = " ".join(query.lower().split())
        if not query:
            result = self._all
        elif query in self._cache:
            result = self._cache[query]
        else:
            base = self._last if self._last_query and query.startswith(self._last_query) \
                else self._all
            terms = query.split()
            keys = self._keys
            if len(terms) == 1:
                term = terms[0]
                result = [i for i in base if term in keys[i]]
            else:
                result = [i for i in base if all(t in keys[i] for t in terms)]
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[query] = result
        self._last_query, self._last = query, result
        return result


def quant_range(q: QuantParams) -> tuple[np.ndarray, np.ndarray]:
    """Real range per channel as `QuantParams.describe` shows it: recorded, else representable."""
    if q.min is not None and q.max is not None and q.min.size == q.scale.size:
        return q.min, q.max
    return q.representable_range()


def quant_summary(q: QuantParams | None) -> str:
    """One line: the affine mapping per tensor, or the per-channel spread of scales."""
    if q is None or q.scale.size == 0:
        return ""
    if q.scale.size == 1:
        return q.describe()
    zps = np.unique(q.zero_point)
    zp = "" if zps.size == 1 and zps[0] == 0 else \
        f", zero point {int(zps[0])}" if zps.size == 1 else \
        f", zero points {int(zps.min())}..{int(zps.max())}"
    axis = f"axis {q.axis}" if q.axis is not None else "no axis"
    return (f"per-channel {axis}: {q.scale.size} scales "
            f"{float(q.scale.min()):.4g}..{float(q.scale.max()):.4g}{zp}")


def shape_str(shape: tuple | None) -> str:
    """`[1,8,8,1]`, `[?,10]`, `*` for unknown rank."""
    if shape is None:
        return "*"
    return "[" + ",".join("?" if d is None or d == -1 else str(d) for d in shape) + "]"


def attr_str(value: Any) -> str:
    """An attribute value as a short string (enums by name, arrays abbreviated)."""
    if isinstance(value, FuncRef):
        return f"function {value.name}"
    if isinstance(value, TensorData):
        return f"tensor {value.dtype}{list(value.shape)}"
    if isinstance(value, np.ndarray):
        flat = value.reshape(-1)
        body = ", ".join(str(x) for x in flat[:8].tolist())
        return f"[{body}{', ...' if flat.size > 8 else ''}]"
    if isinstance(value, (list, tuple)):
        body = ", ".join(attr_str(v) for v in value[:8])
        return f"[{body}{', ...' if len(value) > 8 else ''}]"
    if isinstance(value, bytes):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    return str(value)


class GraphRows(Sequence):
    """The graph pane's rows: per graph a header, its entry points, then its nodes.

    A row is made when it is first read (a screenful for the first screen), so a
    20,000-node graph does not make 20,000 rows before the browser shows anything;
    `keys()` makes them all, for filtering.

    Args:
        index: the model's lookups.
    """

    def __init__(self, index: ModelIndex) -> None:
        self._index = index
        self._starts: list[int] = []
        self._entries: list[list[Row]] = []
        total = 0
        for gi, g in enumerate(index.model.graphs):
            self._starts.append(total)
            entries = index.signature_rows(gi)
            self._entries.append(entries)
            total += 1 + len(entries) + len(g.nodes)
        self._len = total
        self._made: dict[int, Row] = {}

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._len))]
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(i)
        row = self._made.get(i)
        if row is None:
            gi = self.graph_of(i)
            k = i - self._starts[gi]
            entries = self._entries[gi]
            if k == 0:
                row = self._index.graph_header_row(gi)
            elif k <= len(entries):
                row = entries[k - 1]
            else:
                row = self._index.node_row(gi, k - 1 - len(entries))
            self._made[i] = row
        return row

    def graph_of(self, i: int) -> int:
        """The graph row `i` belongs to."""
        return bisect_right(self._starts, i) - 1

    def header_of(self, i: int) -> int:
        """The row of the header of row `i`'s graph."""
        return self._starts[self.graph_of(i)]

    def row_of(self, target: Target) -> int | None:
        """The first row leading to `target`, or None."""
        gi = target.graph
        if not 0 <= gi < len(self._starts):
            return None
        start, entries = self._starts[gi], self._entries[gi]
        if target.kind == GRAPH:
            return start
        if target.kind == NODE:
            if 0 <= target.index < len(self._index.model.graphs[gi].nodes):
                return start + 1 + len(entries) + target.index
            return None
        return next((start + 1 + k for k, r in enumerate(entries) if r.target == target), None)

    def keys(self) -> list[str]:
        """The filter key of every row, in order."""
        return [self[i].key for i in range(self._len)]


class ModelIndex:
    """Precomputed rows, keys and lookups of a Model for the browser.

    Args:
        model: the model to browse; it is only read.
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self._value_at: dict[int, tuple[int, int]] = {}
        self._node_at: dict[int, tuple[int, int]] = {}
        # NOTE: built from the last graph back to the first (and each graph's list
        # backwards), so a Value listed twice keeps its first position.
        for gi in reversed(range(len(model.graphs))):
            g = model.graphs[gi]
            n = len(g.values)
            self._value_at.update(zip(map(id, reversed(g.values)),
                                      ((gi, vi) for vi in range(n - 1, -1, -1))))
            self._node_at.update(zip(map(id, g.nodes), ((gi, ni) for ni in range(len(g.nodes)))))
        # NOTE: adapters list every tensor in Graph.values; a Value reachable only
        # through node edges is appended to its graph's positions here so it can
        # still be shown (never mutating the model).
        self._extra: dict[int, list[Value]] = {}
        value_at = self._value_at
        for gi, g in enumerate(model.graphs):
            for n in g.nodes:
                for vals in (n.inputs, n.outputs):
                    for v in vals:
                        if v is not None and id(v) not in value_at:
                            extra = self._extra.setdefault(gi, [])
                            value_at[id(v)] = (gi, len(g.values) + len(extra))
                            extra.append(v)
        self.graph_rows = GraphRows(self)
        self._graph_filter: IncrementalFilter | None = None
        self._graph_filter_lock = threading.Lock()
        self._search: tuple[list[Row], IncrementalFilter] | None = None
        self._search_lock = threading.Lock()

    @property
    def graph_filter(self) -> IncrementalFilter:
        """The filter over `graph_rows` (their keys are made on first use)."""
        with self._graph_filter_lock:
            if self._graph_filter is None:
                self._graph_filter = IncrementalFilter(self.graph_rows.keys())
            return self._graph_filter

    # NOTE: the search rows (every node and tensor) are not needed for the first
    # screen; the browser makes them in a worker right after it, or on first use.

    def prepare_search(self) -> None:
        """Make the search rows and their filter (once; thread-safe)."""
        with self._search_lock:
            if self._search is None:
                rows = self._search_rows()
                self._search = (rows, IncrementalFilter([r.key for r in rows]))

    @property
    def search_rows(self) -> list[Row]:
        """Every node and tensor as a search row."""
        self.prepare_search()
        return self._search[0]

    @property
    def search_filter(self) -> IncrementalFilter:
        """The filter over `search_rows`."""
        self.prepare_search()
        return self._search[1]

    # -- lookups -------------------------------------------------------------------------

    def values(self, graph: int) -> list[Value]:
        """Every tensor of graph `graph`, positions as Target.index counts them."""
        return self.model.graphs[graph].values + self._extra.get(graph, [])

    def value(self, target: Target) -> Value:
        """The Value a tensor Target points at."""
        return self.values(target.graph)[target.index]

    def node(self, target: Target) -> Node:
        """The Node a node Target points at."""
        return self.model.graphs[target.graph].nodes[target.index]

    def tensor_target(self, value: Value) -> Target | None:
        """Where `value` is shown, or None when the model does not hold it."""
        at = self._value_at.get(id(value))
        return None if at is None else Target(TENSOR, *at)

    def node_target(self, node: Node) -> Target | None:
        """Where `node` is shown, or None when no graph holds it."""
        at = self._node_at.get(id(node))
        return None if at is None else Target(NODE, *at)

    def exists(self, target: Target) -> bool:
        """True when `target` points inside the model."""
        if not 0 <= target.graph < len(self.model.graphs):
            return False
        if target.kind == NODE:
            return 0 <= target.index < len(self.model.graphs[target.graph].nodes)
        if target.kind == TENSOR:
            return 0 <= target.index < len(self.values(target.graph))
        return target.kind == GRAPH

    def graph_label(self, gi: int) -> str:
        """`subgraph 0 "main"` for TFLite, `graph 0 "name"` elsewhere."""
        g = self.model.graphs[gi]
        kind = "subgraph" if self.model.format == "tflite" else "graph"
        return f'{kind} {gi} "{g.name}"' if g.name else f"{kind} {gi}"

    def node_label(self, node: Node) -> str:
        """`CONV_2D #3 name`."""
        idx = "" if node.index is None else f" #{node.index}"
        return f"{node.op}{idx}  {node.name}"

    # -- filterable rows -----------------------------------------------------------------

    def graph_header_row(self, gi: int) -> Row:
        """The graph pane's header row of graph `gi`."""
        g = self.model.graphs[gi]
        label = self.graph_label(gi)
        return Row(f"{label}  ({len(g.nodes)} ops, {len(self.values(gi))} tensors)",
                   Target(GRAPH, gi), label.lower(), header=True)

    def node_row(self, gi: int, ni: int) -> Row:
        """The graph pane's row of node `ni` of graph `gi`: `  3  CONV_2D  name`."""
        g = self.model.graphs[gi]
        n = g.nodes[ni]
        width = len(str(max(len(g.nodes) - 1, 0)))
        idx = n.index if n.index is not None else ni
        text = f"{idx:>{width}}  {n.op}  {n.name}"
        return Row(text, Target(NODE, gi, ni), text.lower())

    def signature_rows(self, gi: int) -> list[Row]:
        """The graph pane's rows of the entry points of graph `gi`."""
        sigs = [sig for sig in self.model.signatures if sig.graph == gi]
        return self._entry_rows(gi, self.model.graphs[gi], sigs)

    def _entry_rows(self, gi: int, g: Graph, sigs: list) -> list[Row]:
        """Signature inputs and outputs of a graph (or its plain inputs/outputs)."""
        rows = []
        if sigs:
            for sig in sigs:
                for role, ios in (("in ", sig.inputs), ("out", sig.outputs)):
                    for io in ios:
                        v = io.value if io.value is not None else g.value(io.tensor_name)
                        t = self.tensor_target(v) if v is not None else None
                        typ = v.type_str() if v is not None else shape_str(io.shape)
                        text = f"{role} {sig.key}:{io.key}  {typ}  {io.tensor_name}"
                        rows.append(Row(text, t, text.lower()))
        else:
            for role, vals in (("in ", g.inputs), ("out", g.outputs)):
                for v in vals:
                    text = f"{role} {v.type_str()}  {v.name}"
                    rows.append(Row(text, self.tensor_target(v), text.lower()))
        return rows

    def _search_rows(self) -> list[Row]:
        """Search rows: every node (name, op) and every tensor (name, dtype, shape)."""
        rows: list[Row] = []
        multi = len(self.model.graphs) > 1
        for gi, g in enumerate(self.model.graphs):
            where = f"g{gi} " if multi else ""
            for ni, n in enumerate(g.nodes):
                idx = n.index if n.index is not None else ni
                text = f"node    {where}#{idx:<4} {n.op}  {n.name}"
                rows.append(Row(text, Target(NODE, gi, ni), f"{n.op} {n.name}".lower()))
            for vi, v in enumerate(self.values(gi)):
                idx = v.index if v.index is not None else vi
                typ = v.type_str()
                shape = typ[typ.index("["):]
                text = f"tensor  {where}#{idx:<4} {typ}  {v.name}"
                key = f"{v.name} {typ} {shape[1:-1]} {'x'.join(shape[1:-1].split(','))}"
                rows.append(Row(text, Target(TENSOR, gi, vi), key.lower()))
        return rows

    # -- details pages -------------------------------------------------------------------

    def page(self, target: Target) -> Page:
        """The details page of `target`."""
        if target.kind == NODE:
            return self.node_page(target)
        if target.kind == TENSOR:
            return self.tensor_page(target)
        return self.graph_page(target)

    def _io_lines(self, entries: list[tuple[str, Value | None]]) -> list[Line]:
        """`role  type  quantization  name` lines linking to each tensor."""
        typ_w = max((len(v.type_str()) for _, v in entries if v is not None), default=0)
        lines = []
        for role, v in entries:
            if v is None:
                lines.append(Line(f"{role:<6} (none: optional input omitted)", None, role))
                continue
            q = quant_summary(v.quant)
            cols = [f"{role:<6}", f"{v.type_str():<{typ_w}}"] + ([q] if q else []) + [v.name]
            lines.append(Line("  ".join(cols), self.tensor_target(v), role))
        return lines

    def node_page(self, target: Target) -> Page:
        """Type, location, attributes, then inputs and outputs of a node."""
        n = self.node(target)
        where = self.graph_label(target.graph)
        index = n.index if n.index is not None else target.index
        header = [("location", f"op {index} of {where}"), ("name", n.name or "(none)")]
        if n.version is not None:
            header.append(("version", str(n.version)))
        if n.custom:
            header.append(("custom", "yes (custom op)"))
        if n.device:
            header.append(("device", n.device))
        if n.attrs:
            header.append(("attributes", ""))
        for k, v in n.attrs.items():
            header.append((f"  {k}", attr_str(v)))
        if n.control_inputs:
            header.append(("after", ", ".join(n.control_inputs)))
        entries = [("input", v) for v in n.inputs] + [("output", v) for v in n.outputs]
        links = self._io_lines(entries)
        for sg in n.subgraphs:
            gi = sg if isinstance(sg, int) else next(
                (i for i, g in enumerate(self.model.graphs) if g.name == sg), None)
            if gi is not None and 0 <= gi < len(self.model.graphs):
                links.append(Line(f"calls   {self.graph_label(gi)}", Target(GRAPH, gi), "calls"))
            else:
                links.append(Line(f"calls   {sg}", None, "calls"))
        channels = []
        for role, v in entries:
            if v is not None and v.quant is not None and v.quant.per_channel:
                channels.append(ChannelTable(f"{role}: {v.name}", v.quant))
        return Page(target, n.op, header, links, channels, kind=f"node #{index}")

    def tensor_page(self, target: Target) -> Page:
        """Facts of a tensor, its producer and consumers, and (for constants) its values."""
        v = self.value(target)
        # NOTE: formats without tensor indices (GraphDef, Keras) number tensors by their
        # position in the graph, in the title, the index line and the search rows alike.
        index = v.index if v.index is not None else target.index
        header = [("name", v.name or "(none)"),
                  ("index", str(index) if v.index is not None
                   else f"{index} (position in the graph)"),
                  ("location", self.graph_label(target.graph)),
                  ("dtype", str(v.dtype) if v.dtype else "?"),
                  ("shape", shape_str(v.shape))]
        if v.shape_signature is not None:
            header.append(("shape signature", shape_str(v.shape_signature)))
        header.append(("bytes", "?" if v.nbytes is None else f"{v.nbytes:,}"))
        if "buffer" in v.meta:
            header.append(("buffer", str(v.meta["buffer"])))
        kind = "constant" if v.is_const else "variable" if v.is_variable else "activation"
        if v.is_const and v.is_variable:
            kind = "variable (with initial value)"
        header.append(("kind", kind))
        q = v.quant
        if q is not None and q.scale.size:
            if q.per_channel:
                header.append(("quantization", quant_summary(q)))
            else:
                header.append(("quantization", q.describe()))
                header.append(("  scale", f"{float(q.scale[0]):.9g}"))
                header.append(("  zero point", str(int(q.zero_point[0]))))
        else:
            header.append(("quantization", "none"))
        links = []
        if v.producer is not None:
            links.append(Line(f"producer  {self.node_label(v.producer)}",
                              self.node_target(v.producer), "producer"))
        else:
            g = self.model.graphs[target.graph]
            why = "graph input" if any(x is v for x in g.inputs) else \
                "constant" if v.is_const else "no producer"
            links.append(Line(f"producer  ({why})", None, "producer"))
        for node, pos in v.consumers:
            links.append(Line(f"consumer  {self.node_label(node)}  (input {pos})",
                              self.node_target(node), "consumer"))
        if not v.consumers:
            links.append(Line("consumer  (none)", None, "consumer"))
        channels = [ChannelTable(f"{v.name}", q)] if q is not None and q.per_channel else []
        return Page(target, v.name or "(unnamed)", header, links, channels,
                    v if v.is_const else None, kind=f"tensor #{index} {v.type_str()}")

    def graph_page(self, target: Target) -> Page:
        """A graph: its size, inputs and outputs, and the nodes that call it."""
        g = self.model.graphs[target.graph]
        consts = [v for v in g.values if v.is_const]
        const_bytes = human_bytes(sum(v.nbytes or 0 for v in consts))
        header = [("name", g.name or "(none)"), ("ops", str(len(g.nodes))),
                  ("tensors", str(len(self.values(target.graph)))),
                  ("constants", f"{len(consts)} ({const_bytes})")]
        for sig in self.model.signatures:
            if sig.graph == target.graph:
                header.append(("signature", sig.key))
        entries = [("input", v) for v in g.inputs] + [("output", v) for v in g.outputs]
        links = self._io_lines(entries)
        for gi, other in enumerate(self.model.graphs):
            for ni, n in enumerate(other.nodes):
                if target.graph in n.subgraphs or (g.name and g.name in n.subgraphs):
                    links.append(Line(f"called by  {self.node_label(n)}", Target(NODE, gi, ni),
                                      "caller"))
        return Page(target, self.graph_label(target.graph), header, links, [], kind="graph")
