"""The main screen: node list or drawn graph on the left, details on the right, jump history."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import get_current_worker

from modelkit.errors import ModelkitError
from tui.model_index import NODE, TENSOR, ModelIndex, Target
from tui.overlays import DIFF_SYMBOL, ERROR_LEVELS, Overlays
from tui.widgets.details import DetailsView
from tui.widgets.graph_pane import GraphPane
from tui.widgets.graph_view import GraphLayouts, GraphView


# Styles of the diff's marks (each has its symbol too).
DIFF_STYLE = {"added": "bold $text-success", "changed": "bold $text-warning",
              "removed": "bold $text-error"}

# Seconds between opening the graph view and starting the whole-graph layouts.
LAYOUT_DELAY = 0.5
# Terminals narrower than this many columns get the narrow layout (app.tcss): the
# graph view then takes the whole width and the details pane is hidden.
NARROW = 64


class MainScreen(Screen):
    """Browse graphs, nodes and tensors; every jump is recorded so `b` goes back.

    Args:
        index: the model's precomputed rows and pages.
    """

    BINDINGS = [
        Binding("g", "graph", "Graph/list"),
        Binding("slash", "search", "Search"),
        Binding("f", "filter", "Filter"),
        Binding("p", "producer", "Producer"),
        Binding("c", "consumers", "Consumers"),
        Binding("left_square_bracket", "step(-1)", "Previous op", show=False),
        Binding("right_square_bracket", "step(1)", "Next op", show=False),
        Binding("e", "findings", "Findings"),
        Binding("n", "next_finding(1)", "Next finding", show=False),
        Binding("N", "next_finding(-1)", "Previous finding", show=False),
        Binding("d", "next_change(1)", "Next change (--diff)", show=False),
        Binding("D", "next_change(-1)", "Previous change (--diff)", show=False),
        Binding("v", "changes", "Changes (--diff)", show=False),
        Binding("t", "tensors", "Tensors"),
        Binding("s", "summary", "Summary"),
        Binding("b,backspace", "back", "Back"),
    ]

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW, "-wide")]

    def __init__(self, index: ModelIndex, overlays: Overlays | None = None) -> None:
        super().__init__()
        self.index = index
        self.overlays = overlays if overlays is not None else Overlays()
        self.layouts = GraphLayouts(index)
        self.current: Target | None = None
        # The node shown last: `[` / `]` step from it while a tensor is shown.
        self.last_node: Target | None = None
        self.history: list[Target] = []
        self._layouts_started = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield GraphPane(self.index, id="graph-pane",
                            mark=self._diff_mark if self.overlays.diff is not None else None)
            with Vertical(id="graph-box"):
                yield Static(id="graph-status")
                yield GraphView(self.index, self.layouts, self.overlays, id="graph-view")
                yield Static(id="graph-legend")
            yield DetailsView(self.index, id="details")
        yield Static(id="diff-legend")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#graph-box").display = False
        self.query_one("#graph-list").focus()
        target = self.query_one(GraphPane).highlighted_target
        if target is not None:
            self.show(target, record=False)
        self._show_header()
        self._show_legend()
        self._show_diff_legend()
        debug = self.overlays.debug
        if debug is not None and debug.warning:
            self.notify(debug.match_text(), severity="warning", timeout=10)
        # NOTE: background work starts once the first screen is out, so it does not
        # compete with it; the whole-graph layouts wait until the graph view is opened.
        self.call_after_refresh(self._start_background)
        if getattr(self.app, "start_in_graph", False):
            self.action_graph()

    def _start_background(self) -> None:
        first_screen = getattr(self.app, "first_screen_shown", None)
        if first_screen is not None:
            first_screen()
        if getattr(self.app, "run_check", True):
            self._run_check()
        self._prepare()

    # -- background work -------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="graph-layout")
    def _lay_out_graphs(self) -> None:
        """Lay out every graph whole, the shown one first, each once (slow for big graphs)."""
        worker = get_current_worker()
        graphs = list(range(len(self.index.model.graphs)))
        for _ in graphs:
            shown = self.current.graph if self.current is not None else 0
            todo = [g for g in graphs if self.layouts.full(g) is None]
            if not todo:
                break
            gi = shown if shown in todo else todo[0]
            self.layouts.compute_full(gi, should_stop=lambda: worker.is_cancelled)
            if worker.is_cancelled:
                return
            self.app.call_from_thread(self._layout_ready, gi)

    @work(thread=True, exclusive=True, group="prepare")
    def _prepare(self) -> None:
        """Make the search rows, the list filter's keys and the drawable structure of the
        first graph, so `/`, `f` and `g` answer at once."""
        self.index.prepare_search()
        self.index.graph_filter  # noqa: B018 (made on first use: now, off the UI thread)
        if self.index.model.graphs:
            self.layouts.structure(self.current.graph if self.current is not None else 0)

    def _layout_ready(self, graph: int) -> None:
        view = self.query_one(GraphView)
        if self.graph_shown:
            view.full_ready(graph)

    @work(thread=True, exclusive=True, group="check")
    def _run_check(self) -> None:
        """Run `check` on the model and mark the nodes with what it finds."""
        ov = self.overlays
        target = ov.target or "tflite"
        ov.state = "running"
        self.app.call_from_thread(self._show_header)
        # NOTE: `check` is an optional part of an installation; when it (or one of the
        # rule modules it loads on first use) is missing, the overlay is simply absent.
        try:
            from modelkit.check import check_model

            report = check_model(self.index.model, target=target)
        except ImportError:
            ov.state = "unavailable"
        except ModelkitError as e:
            ov.state = str(e)
        else:
            ov.set_findings(target, report.findings)
        self.app.call_from_thread(self._check_done)

    def _check_done(self) -> None:
        self._show_header()
        self.query_one(GraphView).overlays_changed()
        cur = self.current
        # NOTE: the page is redrawn only when the findings add to it, so the cursor in
        # its links stays where the user left it otherwise.
        if cur is not None and cur.kind == NODE and \
                self.overlays.node_findings(cur.graph, cur.index):
            self.details.show(self._page(cur))

    def _show_header(self) -> None:
        """Header: the file name, then the check's error and warning counts."""
        name = self.app.model_name
        check = self.overlays.header_text()
        self.app.sub_title = f"{name} · {check}" if check and name else (check or name)

    def _diff_mark(self, target: Target) -> tuple[str, str]:
        """(symbol, style) of a node's row in the list: its diff mark."""
        diff = self.overlays.diff
        text, kind = diff.node_mark(target.graph, target.index) if diff is not None else ("", "")
        return (text[:1], DIFF_STYLE.get(kind, "")) if text else ("", "")

    def _show_diff_legend(self) -> None:
        legend = self.query_one("#diff-legend", Static)
        diff = self.overlays.diff
        if diff is None:
            legend.display = False
            return
        parts: list = [(f"diff vs {diff.other_name}: ", "bold")]
        for kind in ("added", "changed", "removed"):
            n = diff.on_nodes.count(kind)
            word = "removed (only there, v lists)" if kind == "removed" else kind
            parts.append((f"{DIFF_SYMBOL[kind]} {n} {word}", DIFF_STYLE[kind]))
            parts.append("  ")
        parts.append(("d/D next/previous change", "$text-muted"))
        legend.update(Content.assemble(*parts))
        for note in diff.notes:
            self.notify(note, severity="warning", timeout=10)

    def _show_legend(self) -> None:
        legend = self.query_one("#graph-legend", Static)
        if self.overlays.debug is None:
            legend.display = False
            return
        parts: list = [("rmse/scale  ", "bold")]
        lows = [0.0] + [hi for hi, _, _ in ERROR_LEVELS[:-1]]
        for i, ((hi, sym, _), lo) in enumerate(zip(ERROR_LEVELS, lows)):
            span = f"<= {hi:g}" if hi != float("inf") else f"> {lo:g}"
            parts.append((f"{sym} {span}", f"$text-{('success', 'primary', 'warning', 'error')[i]}"))
            parts.append("   ")
        legend.update(Content.assemble(*parts))

    # -- the graph view --------------------------------------------------------------------

    @property
    def graph_shown(self) -> bool:
        """True when the drawn graph is shown instead of the node list."""
        return bool(self.query_one("#graph-box").display)

    def action_graph(self) -> None:
        """Switch between the node list and the drawn graph."""
        box = self.query_one("#graph-box")
        pane = self.query_one(GraphPane)
        view = self.query_one(GraphView)
        if self.graph_shown:
            box.display = False
            pane.display = True
            self.remove_class("-graph")
            self.query_one("#graph-list").focus()
            return
        pane.display = False
        box.display = True
        self.add_class("-graph")
        if not self._layouts_started:
            self._layouts_started = True
            # NOTE: a moment after the first drawing is out, so it does not share the
            # CPU with the worker; the neighbourhood is drawn meanwhile.
            self.set_timer(LAYOUT_DELAY, self._lay_out_graphs)
        if self.current is not None:
            view.show(self.current, centre=False)
        view.focus()
        # NOTE: the view knows its size only after this refresh; centre then.
        self.call_after_refresh(view.centre)

    @on(GraphView.Changed)
    def _graph_changed(self, event: GraphView.Changed) -> None:
        event.stop()
        self.query_one("#graph-status", Static).update(
            Content.styled(self.query_one(GraphView).status(), "$text-muted"))

    @on(GraphView.Selected)
    def _graph_clicked(self, event: GraphView.Selected) -> None:
        event.stop()
        if event.target != self.current:
            self.show(event.target, record=True)

    def _page(self, target: Target):
        """The details page of `target`, with the findings and per-layer error added."""
        page = self.index.page(target)
        ov = self.overlays
        if target.kind == NODE:
            extra = ov.finding_lines(target.graph, target.index)
            if ov.debug is not None:
                layer = ov.debug.of_node(target.graph, target.index)
                if layer is not None:
                    extra += ov.debug.lines(layer)
            if ov.diff is not None:
                extra += ov.diff.lines(target.graph, target.index)
            page.header = page.header + extra
        elif target.kind == TENSOR and ov.debug is not None:
            layer = ov.debug.of_tensor(target.graph, self.index.value(target))
            if layer is not None:
                page.header = page.header + ov.debug.lines(layer)
        return page

    @property
    def details(self) -> DetailsView:
        return self.query_one(DetailsView)

    def show(self, target: Target, record: bool = True) -> None:
        """Show `target`; with `record`, remember where we were for `back`."""
        if not self.index.exists(target) or target == self.current:
            return
        if record and self.current is not None:
            self.history.append(self.current)
        self.current = target
        if target.kind == NODE:
            self.last_node = target
        self.details.show(self._page(target))
        self.query_one(GraphPane).show_target(target)
        if self.graph_shown:
            self.query_one(GraphView).show(target)

    def jump(self, target: Target) -> None:
        """Follow a link: show `target`, record the jump and put the cursor on its links
        (in the graph view the cursor stays in the drawing, which follows the jump)."""
        self.show(target, record=True)
        if not self.graph_shown:
            self.details.links.focus()

    @on(GraphPane.Highlighted)
    def _pane_highlighted(self, event: GraphPane.Highlighted) -> None:
        # NOTE: a move the list has left already (a burst of keys) is skipped: showing it
        # would pull the list back under the keys still coming.
        if event.target == self.query_one(GraphPane).highlighted_target:
            self.show(event.target, record=False)

    @on(GraphPane.Selected)
    def _pane_selected(self, event: GraphPane.Selected) -> None:
        if event.target != self.current:
            self.show(event.target, record=True)
        self.details.links.focus()

    @on(DetailsView.Jump)
    def _jump(self, event: DetailsView.Jump) -> None:
        self.jump(event.target)

    # -- actions ---------------------------------------------------------------------------

    def action_back(self) -> None:
        """Return to where the last jump started."""
        if not self.history:
            self.notify("no earlier place to go back to", severity="warning")
            return
        target = self.history.pop()
        self.show(target, record=False)

    def action_filter(self) -> None:
        """Focus the graph pane's filter box."""
        self.query_one(GraphPane).focus_filter()

    def _focus_value(self):
        """What the producer/consumer keys act on: (tensor or node, highlighted line).

        Says so and gives (None, None) when neither a node nor a tensor is shown.
        """
        if self.current is not None and self.current.kind == TENSOR:
            return self.index.value(self.current), None
        if self.current is None or self.current.kind != NODE:
            self.notify("select a node or a tensor first", severity="warning")
            return None, None
        node = self.index.node(self.current)
        line = self.details.highlighted_line() if self.details.links.has_focus else None
        return node, line

    def action_producer(self) -> None:
        """Jump to the node that produces the tensor (or the highlighted input of a node)."""
        obj, line = self._focus_value()
        if obj is None:
            return
        if self.current.kind == TENSOR:
            value = obj
        else:
            value = None
            if line is not None and line.role == "input" and line.target is not None:
                value = self.index.value(line.target)
            else:
                # NOTE: in the drawing, folded constants (TF `Const` -> `read`) are inside
                # the box, so the first input drawn as an edge is the one to follow.
                produced = [v for v in obj.inputs if v is not None and v.producer is not None]
                if self.graph_shown:
                    st = self.layouts.structure(self.current.graph)
                    drawn = [v for v in produced
                             if st.node_pos.get(id(v.producer)) not in st.folded]
                    produced = drawn or produced
                value = produced[0] if produced else None
            if value is None:
                self.notify("no input of this node is produced by another node",
                            severity="warning")
                return
        target = self.index.node_target(value.producer) if value.producer else None
        if target is None:
            self.notify(f"{value.name} has no producer (graph input or constant)",
                        severity="warning")
            return
        self.jump(target)

    def action_consumers(self) -> None:
        """Jump to the consumer of the tensor (or of a node's output); list them when several."""
        obj, line = self._focus_value()
        if obj is None:
            return
        if self.current.kind == TENSOR:
            value = obj
        elif line is not None and line.role == "output" and line.target is not None:
            value = self.index.value(line.target)
        else:
            value = next((v for v in obj.outputs if v.consumers), None) or \
                (obj.outputs[0] if obj.outputs else None)
        if value is None or not value.consumers:
            self.notify("no node consumes this tensor (graph output)", severity="warning")
            return
        if len(value.consumers) == 1:
            target = self.index.node_target(value.consumers[0][0])
            if target is not None:
                self.jump(target)
            return
        tensor = self.index.tensor_target(value)
        if tensor is not None and tensor != self.current:
            self.show(tensor, record=True)
        self.details.highlight_role("consumer")

    def action_step(self, step: int) -> None:
        """Select the previous or next op in execution order: from the node shown, or,
        while a tensor is shown (`c` on several consumers, a link), from the node shown
        before it in the same graph; from a graph, its first op."""
        cur = self.current
        gi = cur.graph if cur is not None else 0
        base = cur if cur is not None and cur.kind == NODE else \
            self.last_node if cur is not None and cur.kind == TENSOR else None
        if base is None or base.graph != gi or not self.index.exists(base):
            if self.index.model.graphs and self.index.model.graphs[gi].nodes:
                self.show(Target(NODE, gi, 0), record=True)
            return
        n = len(self.index.model.graphs[gi].nodes)
        index = base.index + step
        if not 0 <= index < n:
            self.notify("no op " + ("before" if step < 0 else "after") + " this one",
                        severity="warning")
            return
        self.show(Target(NODE, gi, index), record=True)

    def _finding_targets(self) -> list[Target]:
        """Nodes with findings, in graph and node order."""
        seen = sorted({(f.graph, f.node) for f in self.overlays.findings if f.node is not None})
        return [Target(NODE, g, n) for g, n in seen if self.index.exists(Target(NODE, g, n))]

    def _jump_cyclic(self, targets: list, step: int) -> None:
        """Jump to the first of `targets` (in graph, node order) after the current node,
        or before it when `step` < 0, wrapping around."""
        cur = self.current
        key = (cur.graph, cur.index) if cur is not None and cur.kind == NODE else (-1, -1)
        if step > 0:
            nxt = next((t for t in targets if (t.graph, t.index) > key), targets[0])
        else:
            nxt = next((t for t in reversed(targets) if (t.graph, t.index) < key), targets[-1])
        self.jump(nxt)

    def action_next_finding(self, step: int) -> None:
        """Jump to the next (or previous) node with a finding."""
        targets = self._finding_targets()
        if not targets:
            self.notify(self._no_findings(), severity="warning")
            return
        self._jump_cyclic(targets, step)

    def action_next_change(self, step: int) -> None:
        """Jump to the next (or previous) node the diff marks (`--diff`)."""
        diff = self.overlays.diff
        if diff is None:
            self.notify("no diff: start with `modelkit browse MODEL --diff OTHER`",
                        severity="warning")
            return
        targets = [Target(NODE, g, n) for g, n in diff.targets()
                   if self.index.exists(Target(NODE, g, n))]
        if not targets:
            self.notify(f"no node of this model differs from {diff.other_name}"
                        + (f" ({diff.on_nodes.count('removed')} only there: v lists them)"
                           if diff.on_nodes.count("removed") else ""), severity="warning")
            return
        self._jump_cyclic(targets, step)

    def action_changes(self) -> None:
        """Open the list of changes of the diff: marked nodes, then those only the other
        model has."""
        from tui.screens.changes import ChangesScreen

        if self.overlays.diff is None:
            self.notify("no diff: start with `modelkit browse MODEL --diff OTHER`",
                        severity="warning")
            return
        self.app.push_screen(ChangesScreen(self.index, self.overlays.diff), self._arrive)

    def _no_findings(self) -> str:
        state = self.overlays.state
        if state == "running":
            return "the check is still running"
        if state == "unavailable":
            return "check is not available in this installation"
        if state and state != "done":
            return f"check failed: {state}"
        return "the check found nothing at any node"

    def action_findings(self) -> None:
        """Open the list of check findings."""
        from tui.screens.findings import FindingsScreen

        if not self.overlays.findings:
            self.notify(self._no_findings(), severity="warning")
            return
        self.app.push_screen(FindingsScreen(self.index, self.overlays), self._arrive)

    def action_search(self) -> None:
        """Open the search box."""
        from tui.screens.search import SearchScreen

        self.app.push_screen(SearchScreen(self.index), self._arrive)

    def action_tensors(self) -> None:
        """Open the table of every tensor."""
        from tui.screens.tensors import TensorsScreen

        self.app.push_screen(TensorsScreen(self.index), self._arrive)

    def action_summary(self) -> None:
        """Open the summary of the model."""
        from tui.screens.summary import SummaryScreen

        self.app.push_screen(SummaryScreen(self.index.model))

    def _arrive(self, target: Target | None) -> None:
        """Jump to what a search or the tensors view chose."""
        if target is not None:
            self.jump(target)
