"""What every export renders: a model's graphs as nodes, tensors and edges, with marks.

`Document` gathers, once, what the renderers need: per graph the nodes, every tensor
they touch (type, quantization formula, weight statistics), the edges of the IR (one
per input of a node that another node or a graph input feeds, and one per graph
output), the marks, and, for the drawn formats, the layered layout of modelkit.layout
(whole, or in parts for a graph too large to lay out at once). Renderers only format it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from modelkit.export.marks import Marks
from modelkit.ir import Graph, Model, Node, Value

# Per-channel quantization formulas listed per tensor at most (one line per channel).
MAX_QUANT_LINES = 256


@dataclass(frozen=True)
class Edge:
    """One edge of the IR: tensor `tensor` from node `src` into input `input` of `dst`.

    `src` is None for a graph input no node writes; `dst` is None for a graph output
    (then `input` is its position among the graph's outputs).
    """

    src: int | None
    dst: int | None
    tensor: int
    input: int


def scope_of(name: str) -> str:
    """The name scope of a node name (`a/b` of `a/b/c`); TFLite's fused names
    (`a/b/c;d/e`) by their first part."""
    first = name.split(";", 1)[0]
    head, _, _ = first.rpartition("/")
    return head


def json_safe(x: Any) -> Any:
    """`x` with non-finite floats as the strings `nan`, `inf`, `-inf` (JSON has none)."""
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


def quant_lines(value: Value) -> list[str]:
    """`QuantParams.describe()` of a tensor, one line per channel (at most
    MAX_QUANT_LINES, then a line saying how many more)."""
    q = value.quant
    if q is None or not q.scale.size:
        return []
    lines = q.describe().splitlines()
    if len(lines) > MAX_QUANT_LINES:
        more = len(lines) - MAX_QUANT_LINES
        lines = lines[:MAX_QUANT_LINES] + [f"... {more:,} more channels"]
    return lines


class GraphDoc:
    """One graph of the model as the renderers see it.

    Args:
        model: the model.
        index: the graph's index in `model.graphs`.
        marks: the export's marks.
    """

    def __init__(self, model: Model, index: int, marks: Marks) -> None:
        self.model = model
        self.index = index
        self.graph: Graph = model.graphs[index]
        self.marks = marks
        nodes = self.graph.nodes
        self.node_pos = {id(n): i for i, n in enumerate(nodes)}
        self.tensors: list[Value] = []
        self.tensor_id: dict[int, int] = {}
        for v in self.graph.values:
            self._tid(v)
        for n in nodes:
            for v in n.inputs:
                if v is not None:
                    self._tid(v)
            for v in n.outputs:
                self._tid(v)
        for v in (*self.graph.inputs, *self.graph.outputs):
            self._tid(v)
        self.input_ids = self.ids(self.graph.inputs)
        self.output_ids = self.ids(self.graph.outputs)
        graph_inputs = set(self.input_ids)
        edges: list[Edge] = []
        for ci, n in enumerate(nodes):
            for pos, v in enumerate(n.inputs):
                if v is None:
                    continue
                tid = self.tensor_id[id(v)]
                src = self.node_pos.get(id(v.producer)) if v.producer is not None else None
                if src is not None or tid in graph_inputs:
                    edges.append(Edge(src, ci, tid, pos))
        for k, tid in enumerate(self.output_ids):
            v = self.tensors[tid]
            src = self.node_pos.get(id(v.producer)) if v.producer is not None else None
            if src is not None or tid in graph_inputs:
                edges.append(Edge(src, None, tid, k))
        self.edges = edges
        self._stats: dict[int, dict | None] = {}

    def _tid(self, v: Value) -> int:
        tid = self.tensor_id.get(id(v))
        if tid is None:
            tid = self.tensor_id[id(v)] = len(self.tensors)
            self.tensors.append(v)
        return tid

    def ids(self, values: list[Value | None], missing: int | None = None) -> list[int | None]:
        """The tensor ids of `values`; `missing` for an absent optional input."""
        return [self.tensor_id[id(v)] if v is not None else missing for v in values]

    def node_marks(self, node: int) -> list[dict]:
        """The marks of node `node` (its position in `nodes`) as JSON."""
        return [m.to_dict() for m in self.marks.of(self.index, node)]

    @property
    def nodes(self) -> list[Node]:
        return self.graph.nodes

    @property
    def label(self) -> str:
        """`graph 0 (main)`."""
        return f"graph {self.index}" + (f" ({self.graph.name})" if self.graph.name else "")

    def producer(self, tid: int) -> int | None:
        v = self.tensors[tid]
        return self.node_pos.get(id(v.producer)) if v.producer is not None else None

    def stats(self, tid: int) -> dict | None:
        """Weight statistics of tensor `tid` (None for activations), computed once."""
        if tid not in self._stats:
            from modelkit.export.stats import weight_stats

            self._stats[tid] = weight_stats(self.tensors[tid])
        return self._stats[tid]

    def attrs_text(self, node: Node, limit: int = 200) -> list[tuple[str, str]]:
        """(name, display text) of a node's attributes, in name order."""
        from modelkit.diff.attrs import attr_text

        return [(str(k), attr_text(node.attrs[k], limit)) for k in sorted(node.attrs, key=str)]

    # -- layout -------------------------------------------------------------------------

    @cached_property
    def structure(self):
        """The boxes and drawn edges of modelkit.layout (constants folded into their reader)."""
        from modelkit.layout import GraphStructure

        return GraphStructure(self.graph)

    @cached_property
    def parts(self) -> list[list[int]]:
        """The boxes of each part (one part when the graph is laid out whole)."""
        from modelkit.layout.parts import split

        return split(self.structure)

    @cached_property
    def part_of_box(self) -> list[int]:
        out = [0] * len(self.structure)
        for pi, vids in enumerate(self.parts):
            for v in vids:
                out[v] = pi
        return out

    @cached_property
    def box_of_node(self) -> list[int | None]:
        """The box that draws each node: its own, or for a node folded into another's
        box (a constant, the Identity reading it), its first reader's."""
        st = self.structure
        return [st.vertex_of(ni) for ni in range(len(self.nodes))]

    def layout(self, part: int):
        """The layout of part `part` (computed once)."""
        cache = self.__dict__.setdefault("_layouts", {})
        lay = cache.get(part)
        if lay is None:
            lay = cache[part] = self.structure.layout(self.parts[part])
        return lay


@dataclass
class Document:
    """A model ready to render.

    Attributes:
        model: the model.
        graphs: the graphs to render (all, or the one `--graph` picked).
        marks: check findings, per-layer error and diff marks.
        title: the model's file name.
    """

    model: Model
    graphs: list[GraphDoc]
    marks: Marks
    title: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, model: Model, marks: Marks | None = None,
              graph: int | None = None) -> Document:
        """The document of `model`, with every graph or only graph `graph`.

        Raises:
            UsageError: `graph` is not a graph of the model.
        """
        from modelkit.errors import UsageError

        marks = marks or Marks()
        n = len(model.graphs)
        if graph is not None and not 0 <= graph < n:
            raise UsageError(f"--graph {graph} is out of range: the model has {n} graph"
                             f"{'s' if n != 1 else ''} (0 to {n - 1})", model.path)
        indices = range(n) if graph is None else [graph]
        title = Path(model.path).name if model.path else "model"
        return cls(model, [GraphDoc(model, i, marks) for i in indices], marks, title)
