"""The graph view: the drawn graph around the selected node, scrolled and panned in cells.

The whole-graph layout of every graph is computed once in a worker thread
(`GraphLayouts.full`); until it is there, and for graphs too big to lay out whole,
the view draws the neighbourhood of the selection (N hops, `+`/`-`). Only the
visible rows are drawn (`render_line`), so a big drawing costs what a screen costs.
"""

from __future__ import annotations

import threading
import time

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.graph_drawing import Decoration, GraphStructure, Layout
from tui.model_index import GRAPH, NODE, TENSOR, ModelIndex, Target
from tui.overlays import Overlays

# The whole graph is laid out (in a worker) up to this many boxes; beyond it the view
# draws neighbourhoods only (grandalf's layered layout grows faster than linearly).
FULL_LAYOUT_LIMIT = 2500
# Boxes drawn around the selection at most, whatever the number of hops.
NEIGHBOURHOOD_CAP = 160
DEFAULT_HOPS = 3
# The whole-graph worker works this long (s), then sleeps this long, leaving the UI room.
YIELD_EVERY = 0.004
YIELD_FOR = 0.004

ROLES = ("edge", "edge-lit", "label", "label-lit", "box", "io", "sel", "title", "name",
         "muted", "error", "warning", "info", "lvl0", "lvl1", "lvl2", "lvl3", "added",
         "changed")


class GraphLayouts:
    """Structures and layouts of a model's graphs, shared by the view and the worker.

    Args:
        index: the model's lookups.
    """

    def __init__(self, index: ModelIndex) -> None:
        self.index = index
        self._structures: dict[int, GraphStructure] = {}
        self._full: dict[int, Layout | str] = {}
        self._lock = threading.Lock()

    def structure(self, graph: int) -> GraphStructure:
        """The drawable structure of graph `graph` (built on first use)."""
        with self._lock:
            st = self._structures.get(graph)
            if st is None:
                st = self._structures[graph] = GraphStructure(self.index.model.graphs[graph])
            return st

    def full(self, graph: int) -> Layout | str | None:
        """The whole-graph layout; a reason string when it will not be made; None: not yet."""
        return self._full.get(graph)

    def compute_full(self, graph: int, should_stop=None) -> None:
        """Lay out graph `graph` whole (slow: run it in a worker)."""
        if graph in self._full:
            return
        st = self.structure(graph)
        if len(st) > FULL_LAYOUT_LIMIT:
            self._full[graph] = (f"{len(st):,} boxes: too many to lay out whole "
                                 f"(limit {FULL_LAYOUT_LIMIT:,})")
            return
        last = time.perf_counter()

        def pause_and_ask() -> bool:
            # NOTE: the layout is pure Python and shares the GIL with the UI thread;
            # stepping aside every few milliseconds keeps keystrokes answered at once.
            nonlocal last
            now = time.perf_counter()
            if now - last > YIELD_EVERY:
                time.sleep(YIELD_FOR)
                last = time.perf_counter()
            return should_stop is not None and should_stop()

        layout = st.layout(should_stop=pause_and_ask)
        if layout is not None:
            self._full[graph] = layout


class GraphView(ScrollView, can_focus=True):
    """Boxes and edges of one graph in cells; the selected node drawn in heavy lines.

    Args:
        index: the model's lookups.
        layouts: structures and layouts (shared with the worker that fills them).
        overlays: findings and per-layer error to mark the boxes with.
    """

    COMPONENT_CLASSES = {f"graph--{r}" for r in ROLES}

    DEFAULT_CSS = """
    GraphView { background: $surface; }
    GraphView > .graph--edge { color: $foreground 55%; }
    GraphView > .graph--edge-lit { color: $accent; text-style: bold; }
    GraphView > .graph--label { color: $text-muted; }
    GraphView > .graph--label-lit { color: $text-accent; }
    GraphView > .graph--box { color: $primary; }
    GraphView > .graph--io { color: $secondary; }
    GraphView > .graph--sel { color: $accent; text-style: bold; }
    GraphView > .graph--title { color: $foreground; text-style: bold; }
    GraphView > .graph--name { color: $text-secondary; }
    GraphView > .graph--muted { color: $text-muted; }
    GraphView > .graph--error { color: $text-error; text-style: bold; }
    GraphView > .graph--warning { color: $text-warning; text-style: bold; }
    GraphView > .graph--info { color: $text-primary; }
    GraphView > .graph--lvl0 { color: $text-success; }
    GraphView > .graph--lvl1 { color: $text-primary; }
    GraphView > .graph--lvl2 { color: $text-warning; text-style: bold; }
    GraphView > .graph--lvl3 { color: $text-error; text-style: bold; }
    GraphView > .graph--added { color: $text-success; text-style: bold reverse; }
    GraphView > .graph--changed { color: $text-warning; text-style: bold reverse; }
    """

    BINDINGS = [
        Binding("left,h", "pan(-4, 0)", "Pan left", show=False),
        Binding("right,l", "pan(4, 0)", "Pan right", show=False),
        Binding("up,k", "pan(0, -2)", "Pan up", show=False),
        Binding("down,j", "pan(0, 2)", "Pan down", show=False),
        Binding("shift+left,H", "pan(-24, 0)", "Pan left fast", show=False),
        Binding("shift+right,L", "pan(24, 0)", "Pan right fast", show=False),
        Binding("shift+up,K,pageup", "pan(0, -12)", "Pan up fast", show=False),
        Binding("shift+down,J,pagedown", "pan(0, 12)", "Pan down fast", show=False),
        Binding("z,period", "centre", "Centre"),
        Binding("plus,equals_sign", "hops(1)", "More hops"),
        Binding("minus", "hops(-1)", "Fewer hops"),
        Binding("a", "whole", "Whole graph/nearby"),
    ]

    class Selected(Message):
        """A box was clicked."""

        def __init__(self, target: Target) -> None:
            super().__init__()
            self.target = target

    class Changed(Message):
        """What is drawn changed (mode, hops, graph): the status line should follow."""

    def __init__(self, index: ModelIndex, layouts: GraphLayouts, overlays: Overlays, *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.index = index
        self.layouts = layouts
        self.overlays = overlays
        self.hops = DEFAULT_HOPS
        self.whole = True
        self.graph: int | None = None
        self.drawing: Layout | None = None
        self.selected: int | None = None
        self.lit: set[int] = set()
        self.target: Target | None = None
        self.neighbourhood = False
        self._decorations: dict[int, Decoration] = {}
        self._near_key: tuple | None = None
        self._styles: dict[str, Style] = {}
        self._drag: tuple[int, int, float, float] | None = None
        self._dragged = False

    # -- what is drawn -----------------------------------------------------------------------

    def locate(self, target: Target) -> tuple[int, int | None, set[int]]:
        """(graph, box, lit edges) of a target: a node's box, a tensor's writer, a graph's first."""
        gi = target.graph
        st = self.layouts.structure(gi)
        lit: set[int] = set()
        if target.kind == NODE:
            vid = st.vertex_of(target.index)
        elif target.kind == TENSOR:
            value = self.index.value(target)
            vid = st.vertex_of_value(value)
            lit = {ei for ei, e in enumerate(st.edges) if e.value is value}
        else:
            vid = 0 if len(st) else None
        if vid is not None and not lit and target.kind == NODE:
            lit = set(st.in_edges[vid]) | set(st.out_edges[vid])
        return gi, vid, lit

    def show(self, target: Target, *, centre: bool = True) -> None:
        """Draw `target`'s graph around it and centre the view on it."""
        if target.kind not in (NODE, TENSOR, GRAPH):
            return
        self.target = target
        gi, vid, lit = self.locate(target)
        self.graph, self.selected, self.lit = gi, vid, lit
        self._pick_layout()
        if centre:
            self.centre()
        self.refresh()

    def _pick_layout(self) -> None:
        """The whole-graph layout when there is one and it is wanted, else the neighbourhood."""
        if self.graph is None:
            return
        full = self.layouts.full(self.graph)
        st = self.layouts.structure(self.graph)
        if self.whole and isinstance(full, Layout):
            layout, near = full, False
        elif self.selected is None:
            layout, near = None, True
        else:
            key = (st, self.selected, self.hops)
            if self.drawing is not None and self.neighbourhood and self._near_key == key:
                layout = self.drawing
            else:
                layout = st.layout(st.neighbourhood(self.selected, self.hops, NEIGHBOURHOOD_CAP))
                self._near_key = key
            near = True
        self.drawing, self.neighbourhood = layout, near
        self._decorate()
        self.virtual_size = Size(layout.width, layout.height) if layout else Size(0, 0)
        self.post_message(self.Changed())

    def full_ready(self, graph: int) -> None:
        """The worker finished graph `graph`: redraw it whole when that is what is shown."""
        if graph == self.graph and self.whole and self.target is not None:
            self.show(self.target)

    def _decorate(self) -> None:
        """Marks per drawn box from the findings and the per-layer error."""
        self._decorations = {}
        if self.drawing is None or self.graph is None:
            return
        st = self.drawing.structure
        ov = self.overlays
        if not ov.findings and ov.debug is None and ov.diff is None:
            return
        for vid in self.drawing.boxes:
            kind, ni, _ = st.kinds[vid]
            if kind != "node":
                continue
            top, sev = ov.node_mark(self.graph, ni)
            bottom, lvl = ov.error_mark(self.graph, ni)
            tag, change = ov.diff.node_mark(self.graph, ni) if ov.diff is not None else ("", "")
            if top or bottom or tag:
                self._decorations[vid] = Decoration(top, sev, bottom,
                                                    f"lvl{lvl}" if lvl is not None else "",
                                                    tag, change)

    def overlays_changed(self) -> None:
        """Findings or per-layer error arrived: redraw the marks."""
        self._decorate()
        self.refresh()

    def selected_box(self):
        """The placed box of the selection, or None when it is not drawn."""
        if self.drawing is None or self.selected is None:
            return None
        return self.drawing.boxes.get(self.selected)

    def status(self) -> str:
        """One line: what is drawn and how to change it."""
        if self.graph is None or self.drawing is None:
            return "nothing to draw"
        st = self.layouts.structure(self.graph)
        where = self.index.graph_label(self.graph)
        full = self.layouts.full(self.graph)
        n = len(self.drawing.boxes)
        if not self.neighbourhood:
            return f"{where}: whole graph, {n:,} boxes (a: neighbourhood)"
        text = f"{where}: {n} of {len(st):,} boxes within {self.hops} hops (+/-)"
        if isinstance(full, str):
            text += f"; {full}"
        elif full is None:
            text += "; whole-graph layout in progress"
        elif not self.whole:
            text += " (a: whole graph)"
        return text

    # -- moving --------------------------------------------------------------------------------

    def centre(self) -> None:
        """Scroll so the selected box is in the middle of the view."""
        box = self.selected_box()
        if box is None:
            return
        cx, cy = box.center
        cx += self.pad
        width, height = self.scrollable_content_region.size
        x = max(0, cx - width // 2)
        y = max(0, cy - height // 2)
        self.scroll_to(x, y, animate=False, force=True, immediate=True)

    def action_centre(self) -> None:
        """Bring the selection back to the middle."""
        self.centre()

    def action_pan(self, dx: int, dy: int) -> None:
        """Move the view by (dx, dy) cells."""
        self.scroll_to(self.scroll_x + dx, self.scroll_y + dy, animate=False, immediate=True)

    def action_hops(self, step: int) -> None:
        """Draw more (or fewer) hops around the selection."""
        self.hops = max(1, min(self.hops + step, 12))
        self.whole = False
        if self.target is not None:
            self.show(self.target)
        self.notify(f"neighbourhood: {self.hops} hops", timeout=2)

    def action_whole(self) -> None:
        """Switch between the whole graph and the neighbourhood of the selection."""
        self.whole = not self.whole
        if self.whole and self.graph is not None and not isinstance(
                self.layouts.full(self.graph), Layout):
            full = self.layouts.full(self.graph)
            self.notify(full if isinstance(full, str) else
                        "the whole-graph layout is still being computed", timeout=3)
        if self.target is not None:
            self.show(self.target)

    # -- drawing -------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}

    def _style(self, role: str) -> Style:
        style = self._styles.get(role)
        if style is None:
            base = self.rich_style
            style = base if not role else base + self.get_component_rich_style(f"graph--{role}")
            self._styles[role] = style
        return style

    @property
    def pad(self) -> int:
        """Blank columns left of a drawing narrower than the view, which centre it."""
        if self.drawing is None:
            return 0
        return max(0, (self.scrollable_content_region.width - self.drawing.width) // 2)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if self.drawing is None:
            return Strip.blank(width, self.rich_style)
        sx, sy = self.scroll_offset
        runs = self.drawing.render_row(sy + y, sx - self.pad, width, self.selected,
                                       self._decorations, self.lit)
        return Strip([Segment(text, self._style(role)) for text, role in runs], width)

    # -- mouse ---------------------------------------------------------------------------------

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self._drag = (event.screen_x, event.screen_y, self.scroll_x, self.scroll_y)
        self._dragged = False
        self.capture_mouse()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag is None or not event.button:
            return
        x0, y0, sx, sy = self._drag
        dx, dy = event.screen_x - x0, event.screen_y - y0
        if dx or dy:
            self._dragged = True
            self.scroll_to(sx - dx, sy - dy, animate=False, immediate=True)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        self.release_mouse()
        drag, self._drag = self._drag, None
        if drag is None or self._dragged or self.drawing is None or self.graph is None:
            return
        offset = event.get_content_offset(self)
        if offset is None:
            return
        vid = self.drawing.box_at(offset.x + int(self.scroll_x) - self.pad,
                                  offset.y + int(self.scroll_y))
        if vid is None:
            return
        kind, ni, value = self.drawing.structure.kinds[vid]
        if kind == "node":
            target = Target(NODE, self.graph, ni)
        else:
            target = self.index.tensor_target(value)
        if target is not None:
            self.post_message(self.Selected(target))
