"""The layered graph layout: boxes and edges placed in layers, in character cells.

Geometry only; the terminal browser draws it with box characters (tui/graph_drawing.py)
and the exporters scale it to SVG. `GraphStructure` turns one IR graph into what is
drawn (one box per op, graph inputs and outputs as boxes of their own, constants and
weights folded into their consumer's box as Netron does, edges labelled with the tensor
type). `GraphStructure.layout` places a set of boxes with grandalf's Sugiyama layered
layout (layers top to bottom) and routes every edge orthogonally in the gaps between
layers, one cell per grid square.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from modelkit.ir import Graph, Node, Value

# Box width limits (cells, borders included) and how many folded constants a box lists.
MIN_BOX_W = 14
MAX_BOX_W = 30
MAX_CONST_LINES = 3
# Cells between boxes of a layer, between components, and around the drawing.
X_SPACE = 4
MARGIN = 1

# Ops whose outputs are constants or variables read as constants: drawn inside the
# box of the op that reads them, not as boxes of their own.
SOURCE_OPS = frozenset({"Const", "HostConst", "VariableV2", "Variable", "VarHandleOp"})
# Ops that only pass a folded value on (`kernel/read` in TF1 graphs): folded too.
PASS_OPS = frozenset({"Identity", "Snapshot", "ReadVariableOp"})

# Names of the inputs of common ops, by position, for the folded-constant lines.
INPUT_NAMES: dict[str, tuple[str, ...]] = {
    "CONV_2D": ("input", "filter", "bias"),
    "DEPTHWISE_CONV_2D": ("input", "filter", "bias"),
    "TRANSPOSE_CONV": ("output_shape", "filter", "input", "bias"),
    "FULLY_CONNECTED": ("input", "weights", "bias"),
    "Conv2D": ("input", "filter"),
    "DepthwiseConv2dNative": ("input", "filter"),
    "MatMul": ("a", "b"),
    "BiasAdd": ("value", "bias"),
    "Conv2D@keras": ("input", "kernel", "bias"),
    "Dense": ("input", "kernel", "bias"),
    "RESHAPE": ("input", "shape"),
    "Reshape": ("tensor", "shape"),
}

# Which of up/down/left/right an edge cell connects to (bits of `Layout.cells`).
U, D, L, R = 1, 2, 4, 8
# The arrowhead a cell carries: into the box below, or up into the box above (back edge).
HEAD_DOWN, HEAD_UP = "down", "up"


def short_name(name: str, op: str = "") -> str:
    """The part of a node name worth showing in a box: the last path components.

    TFLite joins the names of fused TF ops with `;`: the first is kept.
    """
    first = name.split(";", 1)[0]
    parts = [p for p in first.split("/") if p]
    if not parts:
        return ""
    last = parts[-1].split(":", 1)[0]
    if len(parts) > 1 and (last.lower() == op.lower() or len(last) < 6):
        return "/".join(parts[-2:])
    return last


def shape_text(value: Value) -> str:
    """`int8[16,3,3,8]` with unknown dims as `?`."""
    return value.type_str()


def clip(text: str, width: int) -> str:
    """`text` cut to `width` cells with an ellipsis."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…" if width > 0 else ""


@dataclass
class Vertex:
    """One box of the drawing.

    Attributes:
        kind: "node", "input" or "output".
        node: index in `Graph.nodes` for a node box, else None.
        value: the tensor of an input or output box, else None.
        title: first line (op type, `input`, `output`).
        lines: the other lines (short name, folded constants).
        w: width in cells, borders included.
        h: height in cells, borders included.
    """

    kind: str
    node: int | None
    value: Value | None
    title: str
    lines: list[str]
    w: int
    h: int


@dataclass
class Edge:
    """A tensor from one box to another: `value` written by `src`, read by `dst`."""

    src: int
    dst: int
    value: Value


class GraphStructure:
    """What is drawn of one IR graph: boxes, folded constants and edges.

    Args:
        graph: the IR graph; only read.
    """

    # NOTE: the class `layout` returns; a drawing subclass adds its renderer to it.
    layout_type: type[Layout]

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        nodes = graph.nodes
        node_pos = {id(n): i for i, n in enumerate(nodes)}
        self.node_pos = node_pos
        folded = self._folded_nodes(nodes, node_pos)
        self.folded = folded
        # NOTE: (kind, node index, value) per box; the text and size of a box are made
        # when it is first drawn (`vertex`), so a 20,000-node graph is ready at once.
        self.kinds: list[tuple[str, int | None, Value | None]] = []
        self._made: dict[int, Vertex] = {}
        self.vid_of_node: dict[int, int] = {}
        for ni in range(len(nodes)):
            if ni not in folded:
                self.vid_of_node[ni] = len(self.kinds)
                self.kinds.append(("node", ni, None))
        self.edges: list[Edge] = []
        input_vid: dict[int, int] = {}
        graph_inputs = {id(v) for v in graph.inputs}
        for ni, n in enumerate(nodes):
            dst = self.vid_of_node.get(ni)
            if dst is None:
                continue
            seen: set[tuple[int, int]] = set()
            for v in n.inputs:
                if v is None:
                    continue
                src = None
                if v.producer is not None:
                    pi = node_pos.get(id(v.producer))
                    src = self.vid_of_node.get(pi) if pi is not None else None
                    if src is None:
                        continue  # folded constant: listed in the box
                elif v.is_const and id(v) not in graph_inputs:
                    continue
                else:
                    src = input_vid.get(id(v))
                    if src is None:
                        src = input_vid[id(v)] = len(self.kinds)
                        self.kinds.append(("input", None, v))
                key = (src, id(v))
                if key not in seen:
                    seen.add(key)
                    self.edges.append(Edge(src, dst, v))
        for v in graph.outputs:
            pi = node_pos.get(id(v.producer)) if v.producer is not None else None
            src = self.vid_of_node.get(pi) if pi is not None else input_vid.get(id(v))
            if src is None:
                continue
            dst = len(self.kinds)
            self.kinds.append(("output", None, v))
            self.edges.append(Edge(src, dst, v))
        n_v = len(self.kinds)
        self.out_edges: list[list[int]] = [[] for _ in range(n_v)]
        self.in_edges: list[list[int]] = [[] for _ in range(n_v)]
        for ei, e in enumerate(self.edges):
            self.out_edges[e.src].append(ei)
            self.in_edges[e.dst].append(ei)
        self.vid_of_value = input_vid

    def vertex(self, vid: int) -> Vertex:
        """Box `vid`: its kind, text and size."""
        vx = self._made.get(vid)
        if vx is None:
            kind, ni, v = self.kinds[vid]
            if kind == "node":
                vx = self._node_vertex(ni, self.graph.nodes[ni])
            else:
                vx = self._io_vertex(kind, v)
            self._made[vid] = vx
        return vx

    # -- building --------------------------------------------------------------------------

    @staticmethod
    def _folded_nodes(nodes: list[Node], node_pos: dict[int, int]) -> set[int]:
        """Nodes drawn inside their consumers: constant sources and what only passes them on."""
        folded: set[int] = set()
        for ni, n in enumerate(nodes):
            ins = [v for v in n.inputs if v is not None]
            if not ins:
                if n.op in SOURCE_OPS or (n.outputs and all(v.is_const for v in n.outputs)):
                    folded.add(ni)
            elif n.op in PASS_OPS and len(ins) == 1 and ins[0].producer is not None \
                    and node_pos.get(id(ins[0].producer)) in folded:
                folded.add(ni)
        return folded

    def _const_source(self, v: Value) -> Value:
        """The constant a folded value reads (through Identity and the like)."""
        seen = 0
        while v.producer is not None and v.producer.op in PASS_OPS and seen < 8:
            ins = [x for x in v.producer.inputs if x is not None]
            if not ins:
                break
            v = ins[0]
            seen += 1
        return v

    def _node_vertex(self, ni: int, n: Node) -> Vertex:
        title = n.op
        act = n.attrs.get("fused_activation_function")
        if act is not None and str(act) not in ("NONE", ""):
            title = f"{n.op} +{act}"
        lines = []
        name = short_name(n.name, n.op)
        if name:
            lines.append(name)
        consts = []
        names = INPUT_NAMES.get(f"{n.op}@{n.domain}") or INPUT_NAMES.get(n.op, ())
        for pos, v in enumerate(n.inputs):
            if v is None:
                continue
            is_folded = v.producer is None and v.is_const or \
                v.producer is not None and self.node_pos.get(id(v.producer)) in self.folded
            if is_folded:
                role = names[pos] if pos < len(names) else f"in{pos}"
                consts.append(f"{role} {shape_text(self._const_source(v))}")
        if len(consts) > MAX_CONST_LINES:
            consts = consts[: MAX_CONST_LINES - 1] + [f"+{len(consts) - MAX_CONST_LINES + 1} "
                                                      "more constants"]
        lines += consts
        return self._vertex("node", ni, None, title, lines)

    def _io_vertex(self, kind: str, v: Value) -> Vertex:
        return self._vertex(kind, None, v, kind, [clip(v.name, MAX_BOX_W - 4), shape_text(v)])

    @staticmethod
    def _vertex(kind: str, ni: int | None, v: Value | None, title: str,
                lines: list[str]) -> Vertex:
        inner = max([len(title)] + [len(s) for s in lines]) + 2
        w = min(max(inner + 2, MIN_BOX_W), MAX_BOX_W)
        lines = [clip(s, w - 4) for s in lines]
        return Vertex(kind, ni, v, clip(title, w - 4), lines, w, len(lines) + 3)

    # -- questions -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.kinds)

    def vertex_of(self, node_index: int) -> int | None:
        """The box of node `node_index`; a folded node's first drawn consumer."""
        vid = self.vid_of_node.get(node_index)
        if vid is not None:
            return vid
        if not 0 <= node_index < len(self.graph.nodes):
            return None
        todo = deque(self.graph.nodes[node_index].outputs)
        seen = 0
        while todo and seen < 64:
            v = todo.popleft()
            seen += 1
            for consumer, _ in v.consumers:
                ci = self.node_pos.get(id(consumer))
                if ci is None:
                    continue
                if ci in self.vid_of_node:
                    return self.vid_of_node[ci]
                todo.extend(consumer.outputs)
        return None

    def vertex_of_value(self, v: Value) -> int | None:
        """The box that writes tensor `v` (its producer or its input box), else a reader's."""
        if v.producer is not None:
            ni = self.node_pos.get(id(v.producer))
            if ni is not None:
                return self.vertex_of(ni)
        vid = self.vid_of_value.get(id(v))
        if vid is not None:
            return vid
        for consumer, _ in v.consumers:
            ni = self.node_pos.get(id(consumer))
            if ni is not None:
                return self.vertex_of(ni)
        return None

    def neighbourhood(self, center: int, hops: int, cap: int = 160) -> list[int]:
        """Boxes within `hops` edges of `center` (either direction), nearest first, at most `cap`."""
        dist = {center: 0}
        order = [center]
        todo = deque([center])
        while todo and len(order) < cap:
            v = todo.popleft()
            if dist[v] >= hops:
                continue
            for ei in (*self.in_edges[v], *self.out_edges[v]):
                e = self.edges[ei]
                u = e.src if e.dst == v else e.dst
                if u not in dist:
                    dist[u] = dist[v] + 1
                    order.append(u)
                    todo.append(u)
                    if len(order) >= cap:
                        break
        return order

    def layout(self, vids: Iterable[int] | None = None,
               should_stop: Callable[[], bool] | None = None) -> Layout | None:
        """Lay out the boxes `vids` (all when None) and the edges between them.

        Returns:
            The layout, or None when `should_stop` asked to give up.
        """
        return _lay_out(self, list(range(len(self.kinds))) if vids is None else list(vids),
                        should_stop)


# -- layout ---------------------------------------------------------------------------------


@dataclass
class Box:
    """A placed box: top-left corner, size, and how many edges leave the drawing."""

    vid: int
    x: int
    y: int
    w: int
    h: int
    layer: int
    hidden_in: int = 0
    hidden_out: int = 0

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def center(self) -> tuple[int, int]:
        return self.x + self.w // 2, self.y + self.h // 2


@dataclass
class Route:
    """The cells an edge runs through, from below its upper box to above its lower box.

    Attributes:
        edge: index in `GraphStructure.edges`.
        back: the edge points up (it closes a cycle).
        points: the corners of the orthogonal path, upper end first.
    """

    edge: int
    back: bool
    points: list[tuple[int, int]]


@dataclass
class Layout:
    """Boxes and routed edges in cells.

    Attributes:
        structure: what was laid out.
        boxes: the placed boxes by vertex id.
        routes: one per drawn edge.
        width: columns of the drawing.
        height: rows of the drawing.
        cells: row -> column -> [bits (U|D|L|R it connects), edge index, head ("",
            HEAD_DOWN or HEAD_UP)] for every cell an edge runs through.
        labels: row -> (column, text, edge index) of the tensor types written beside ports.
        row_boxes: row -> the boxes that cover it.
    """

    structure: GraphStructure
    boxes: dict[int, Box]
    routes: list[Route]
    width: int
    height: int
    cells: dict[int, dict[int, list]] = field(default_factory=dict)
    labels: dict[int, list[tuple[int, str, int]]] = field(default_factory=dict)
    row_boxes: dict[int, list[int]] = field(default_factory=dict)

    def box_at(self, x: int, y: int) -> int | None:
        """The box under cell (x, y), or None."""
        for vid in self.row_boxes.get(y, ()):
            b = self.boxes[vid]
            if b.x <= x < b.right:
                return vid
        return None

def _back_edges(vids: list[int], edges: list[tuple[int, int, int]]) -> set[int]:
    """Edges (by position in `edges`) that close a cycle, found by an iterative DFS."""
    out: dict[int, list[tuple[int, int]]] = {v: [] for v in vids}
    indeg = {v: 0 for v in vids}
    for k, (s, d, _) in enumerate(edges):
        out[s].append((d, k))
        indeg[d] += 1
    state: dict[int, int] = {}
    back: set[int] = set()
    starts = [v for v in vids if indeg[v] == 0] + vids
    for root in starts:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(out[root]))]
        while stack:
            v, it = stack[-1]
            step = next(it, None)
            if step is None:
                state[v] = 2
                stack.pop()
                continue
            d, k = step
            s = state.get(d)
            if s == 1:
                back.add(k)
            elif s is None:
                state[d] = 1
                stack.append((d, iter(out[d])))
    return back


def _components(vids: list[int], edges: list[tuple[int, int, int]]) -> list[list[int]]:
    """Weakly connected components, each in the order of `vids`, largest first."""
    parent = {v: v for v in vids}

    def find(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for s, d, _ in edges:
        a, b = find(s), find(d)
        if a != b:
            parent[b] = a
    groups: dict[int, list[int]] = {}
    for v in vids:
        groups.setdefault(find(v), []).append(v)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


class _View:
    """grandalf's view of a vertex: its size, then its position."""

    __slots__ = ("w", "h", "xy")

    def __init__(self, w: float, h: float) -> None:
        self.w, self.h, self.xy = w, h, (0.0, 0.0)


def _sugiyama(comp: list[int], edges: list[tuple[int, int, int]], sizes: dict[int, tuple],
              should_stop) -> tuple[dict[int, tuple[int, float]], dict[int, dict[int, float]]] | None:
    """Ranks and x centres of a component's boxes, and x of each long edge's bends per rank.

    Edges are (upper, lower, k) with back edges already turned to point down.
    """
    from grandalf.graphs import Edge as GEdge
    from grandalf.graphs import Vertex as GVertex
    from grandalf.graphs import graph_core
    from grandalf.layouts import SugiyamaLayout

    if len(comp) == 1:
        return {comp[0]: (0, 0.0)}, {}
    gv = {}
    for v in comp:
        gv[v] = GVertex(v)
        gv[v].view = _View(*sizes[v])
    gedges = []
    for s, d, k in edges:
        e = GEdge(gv[s], gv[d], data=k)
        gedges.append(e)
    core = graph_core(list(gv.values()), gedges)
    sug = SugiyamaLayout(core)
    sug.xspace = X_SPACE
    sug.yspace = 1
    # NOTE: a long edge bends through dummy vertices; one cell wide keeps them narrow.
    sug.dw, sug.dh = 1, 1
    roots = [gv[v] for v in comp if not gv[v].e_in()]
    sug.init_all(roots=roots, inverted_edges=[])
    if should_stop is not None and should_stop():
        return None
    for _ in sug.ordering_step():
        if should_stop is not None and should_stop():
            return None
    sug.setxy()
    place = {v: (sug.grx[gv[v]].rank, gv[v].view.xy[0]) for v in comp}
    bends: dict[int, dict[int, float]] = {}
    for e in gedges:
        ctrl = sug.ctrls.get(e)
        if ctrl:
            bends[e.data] = {r: dv.view.xy[0] for r, dv in ctrl.items()
                             if r not in (place[e.v[0].data][0], place[e.v[1].data][0])}
    return place, bends


def _port(x: int, w: int, i: int, n: int) -> int:
    """Column of port i of n spread over the inside of a box at x, w wide."""
    return x + 1 + (2 * i + 1) * (w - 2) // (2 * n)


def _lay_out(st: GraphStructure, vids: list[int], should_stop) -> Layout | None:
    """Place `vids` in layers and route the edges between them (see GraphStructure.layout)."""
    chosen = set(vids)
    edges: list[tuple[int, int, int]] = []
    hidden_in = dict.fromkeys(vids, 0)
    hidden_out = dict.fromkeys(vids, 0)
    for ei, e in enumerate(st.edges):
        a, b = e.src in chosen, e.dst in chosen
        if a and b:
            if e.src != e.dst:
                edges.append((e.src, e.dst, ei))
        elif a:
            hidden_out[e.src] += 1
        elif b:
            hidden_in[e.dst] += 1
    back = _back_edges(vids, edges)
    down = [((d, s, k) if i in back else (s, d, k)) for i, (s, d, k) in enumerate(edges)]
    back_ids = {edges[i][2] for i in back}
    # NOTE: every edge gets its own port cell on the border, so a box with many
    # inputs or outputs is widened to fit them apart.
    n_in = dict.fromkeys(vids, 0)
    out_values: dict[int, set[int]] = {v: set() for v in vids}
    for s, d, k in down:
        n_in[d] += 1
        out_values[s].add(id(st.edges[k].value))
    sizes = {v: (max(st.vertex(v).w, 2 * max(n_in[v], len(out_values[v])) + 2), st.vertex(v).h)
             for v in vids}
    # Rank and x centre per box, and x of each long edge's bend per rank, per component
    # side by side.
    rank: dict[int, int] = {}
    xc: dict[int, float] = {}
    bend_x: dict[int, dict[int, float]] = {}
    offset = MARGIN
    by_comp = _components(vids, down)
    comp_of = {v: ci for ci, comp in enumerate(by_comp) for v in comp}
    comp_edges: list[list[tuple[int, int, int]]] = [[] for _ in by_comp]
    for e in down:
        comp_edges[comp_of[e[0]]].append(e)
    for comp, cedges in zip(by_comp, comp_edges):
        res = _sugiyama(comp, cedges, sizes, should_stop)
        if res is None:
            return None
        place, bends = res
        left = min(x - sizes[v][0] / 2 for v, (_, x) in place.items())
        right = max(x + sizes[v][0] / 2 for v, (_, x) in place.items())
        for bx in bends.values():
            if bx:
                left = min(left, min(bx.values()))
                right = max(right, max(bx.values()) + 1)
        shift = offset - left
        for v, (r, x) in place.items():
            rank[v] = r
            xc[v] = x + shift
        for k, bx in bends.items():
            bend_x[k] = {r: x + shift for r, x in bx.items()}
        offset += int(right - left + 0.999) + X_SPACE
    # Integer columns; keep at least one blank cell (two for boxes) between neighbours.
    layers: dict[int, list[tuple[float, str, int]]] = {}
    for v in vids:
        layers.setdefault(rank[v], []).append((xc[v] - sizes[v][0] / 2, "box", v))
    for k, bx in bend_x.items():
        for r, x in bx.items():
            layers.setdefault(r, []).append((x, "bend", k))
    box_x: dict[int, int] = {}
    bend_col: dict[tuple[int, int], int] = {}
    for r, items in layers.items():
        items.sort(key=lambda t: t[0])
        edge_right = 0
        for x, kind, key in items:
            col = max(int(round(x)), edge_right)
            if kind == "box":
                box_x[key] = col
                edge_right = col + sizes[key][0] + 2
            else:
                bend_col[(key, r)] = col
                edge_right = col + 2
    n_layers = max(rank.values()) + 1 if rank else 0
    layer_h = [0] * n_layers
    for v in vids:
        layer_h[rank[v]] = max(layer_h[rank[v]], sizes[v][1])
    for (_, r) in bend_col:
        layer_h[r] = max(layer_h[r], 1)
    # Ports: where each edge leaves its upper box and enters its lower box.
    upper_of = {k: (s, d) for s, d, k in down}
    out_ports: dict[int, list[int]] = {}
    for s, d, k in down:
        key = id(st.edges[k].value)
        out_ports.setdefault(s, [])
        if key not in out_ports[s]:
            out_ports[s].append(key)
    out_port_x: dict[tuple[int, int], int] = {}
    for s, keys in out_ports.items():
        w = sizes[s][0]
        for i, key in enumerate(keys):
            out_port_x[(s, key)] = _port(box_x[s], w, i, len(keys))

    def col_at(k: int, r: int) -> int:
        """Column of edge k at rank r (its upper port, a bend or its lower port)."""
        s, d = upper_of[k]
        if r == rank[s]:
            return out_port_x[(s, id(st.edges[k].value))]
        if r == rank[d]:
            return in_port_x[k]
        return bend_col[(k, r)]

    in_port_x: dict[int, int] = {}
    ins: dict[int, list[int]] = {}
    for s, d, k in down:
        ins.setdefault(d, []).append(k)
    for d, ks in ins.items():
        def prev_col(k: int) -> float:
            s, _ = upper_of[k]
            r = rank[d] - 1
            return out_port_x[(s, id(st.edges[k].value))] if r == rank[s] \
                else bend_col.get((k, r), 0)
        ks.sort(key=prev_col)
        w = sizes[d][0]
        if len(ks) == 1 and box_x[d] + 1 <= prev_col(ks[0]) <= box_x[d] + w - 2:
            # NOTE: a single input straight above needs no jog.
            in_port_x[ks[0]] = int(prev_col(ks[0]))
            continue
        for i, k in enumerate(ks):
            in_port_x[k] = _port(box_x[d], w, i, len(ks))
    # Per gap (between rank r and r+1): the groups of edges leaving one column at r,
    # each needing a horizontal track when it spreads.
    gaps: list[dict[tuple, list[tuple[int, int]]]] = [dict() for _ in range(max(n_layers - 1, 0))]
    for s, d, k in down:
        for r in range(rank[s], rank[d]):
            b = col_at(k, r + 1)
            group = ("port", s, id(st.edges[k].value)) if r == rank[s] else ("bend", k, r)
            gaps[r].setdefault(group, []).append((k, b))
    tracks: list[dict[tuple, int]] = []
    gap_h: list[int] = []
    for r, groups in enumerate(gaps):
        spans = []
        for group, dests in groups.items():
            k0 = dests[0][0]
            a = col_at(k0, r)
            xs = [a] + [b for _, b in dests]
            if min(xs) != max(xs):
                spans.append((min(xs), max(xs), group))
        spans.sort()
        ends: list[int] = []
        assign: dict[tuple, int] = {}
        for lo, hi, group in spans:
            t = next((i for i, e in enumerate(ends) if e < lo - 1), None)
            if t is None:
                t = len(ends)
                ends.append(hi)
            else:
                ends[t] = hi
            assign[group] = t
        tracks.append(assign)
        gap_h.append(2 + max(len(ends), 1))
    top = [0] * n_layers
    y = MARGIN
    for r in range(n_layers):
        top[r] = y
        y += layer_h[r] + (gap_h[r] if r < n_layers - 1 else 0)
    height = y + MARGIN
    boxes = {v: Box(v, box_x[v], top[rank[v]], sizes[v][0], sizes[v][1], rank[v],
                    hidden_in[v], hidden_out[v]) for v in vids}
    width = max([b.right for b in boxes.values()] + [c + 1 for c in bend_col.values()] + [0])
    layout = st.layout_type(st, boxes, [], width + MARGIN, height)
    cells = layout.cells

    def put(x: int, yy: int, bits: int, k: int, head: str = "") -> None:
        row = cells.setdefault(yy, {})
        cell = row.get(x)
        if cell is None:
            row[x] = [bits, k, head]
        else:
            cell[0] |= bits
            if head:
                cell[2] = head

    def vline(x: int, y0: int, y1: int, k: int) -> None:
        """A vertical run from row y0 down to y1 (inclusive), joined at both ends."""
        for yy in range(y0, y1 + 1):
            put(x, yy, (U if yy > y0 else 0) | (D if yy < y1 else 0) | (U | D if y0 == y1 else 0),
                k)

    def hline(x0: int, x1: int, yy: int, k: int) -> None:
        lo, hi = min(x0, x1), max(x0, x1)
        for x in range(lo, hi + 1):
            put(x, yy, (L if x > lo else 0) | (R if x < hi else 0), k)

    for s, d, k in down:
        pts: list[tuple[int, int]] = []
        for r in range(rank[s], rank[d]):
            a, b = col_at(k, r), col_at(k, r + 1)
            # start: below the upper box (or the top of the bend's band)
            if r == rank[s]:
                y_start = boxes[s].bottom
            else:
                y_start = top[r]
            gap_top = top[r] + layer_h[r]
            y_end = top[r + 1] - 1
            group = ("port", s, id(st.edges[k].value)) if r == rank[s] else ("bend", k, r)
            t = tracks[r].get(group)
            if t is None or a == b:
                vline(a, y_start, y_end, k)
                pts += [(a, y_start), (a, y_end)]
            else:
                ty = gap_top + 1 + t
                vline(a, y_start, ty, k)
                put(a, ty, 0, k)
                hline(a, b, ty, k)
                vline(b, ty, y_end, k)
                pts += [(a, y_start), (a, ty), (b, ty), (b, y_end)]
            if r + 1 < rank[d]:
                # through the band of the next rank, beside its boxes
                band_end = top[r + 1] + layer_h[r + 1] - 1
                vline(b, top[r + 1], band_end, k)
                put(b, top[r + 1] - 1, D, k)
                put(b, top[r + 1], U, k)
        # The arrowhead: into the lower box, or up into the upper one for a back edge.
        if k in back_ids:
            put(col_at(k, rank[s]), boxes[s].bottom, 0, k, HEAD_UP)
        else:
            put(in_port_x[k], top[rank[d]] - 1, 0, k, HEAD_DOWN)
        layout.routes.append(Route(k, k in back_ids, pts))
    for v, b in boxes.items():
        for yy in range(b.y, b.bottom):
            layout.row_boxes.setdefault(yy, []).append(v)
    # Labels: the tensor type beside each port's first cells, where it fits.
    edge_cols: dict[int, set[int]] = {}
    for yy, row in cells.items():
        edge_cols[yy] = set(row)
    for yy, vs in layout.row_boxes.items():
        cols = edge_cols.setdefault(yy, set())
        for v in vs:
            cols.update(range(boxes[v].x, boxes[v].right))
    edge_of_port = {(s, id(st.edges[k].value)): k for s, _, k in down}
    for s, keys in out_ports.items():
        b = boxes[s]
        if b.layer >= n_layers - 1:
            continue
        yy = b.bottom
        # NOTE: the label row must stay above the arrowheads of the next layer.
        if yy >= top[b.layer + 1] - 1:
            continue
        taken = edge_cols.setdefault(yy, set())
        for key in keys:
            k = edge_of_port[(s, key)]
            x = out_port_x[(s, key)] + 2
            full = shape_text(st.edges[k].value)
            shorter = "[" + full.split("[", 1)[1] if "[" in full else ""
            for text in (full, shorter):
                span = range(x - 1, x + len(text) + 1)
                if text and all(c not in taken for c in span):
                    layout.labels.setdefault(yy, []).append((x, text, k))
                    layout.width = max(layout.width, x + len(text) + MARGIN)
                    taken.update(span)
                    break
    return layout


GraphStructure.layout_type = Layout
