"""The main screen: graph pane on the left, details on the right, and the jump history."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header

from tui.model_index import NODE, TENSOR, ModelIndex, Target
from tui.widgets.details import DetailsView
from tui.widgets.graph_pane import GraphPane


class MainScreen(Screen):
    """Browse graphs, nodes and tensors; every jump is recorded so `b` goes back.

    Args:
        index: the model's precomputed rows and pages.
    """

    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("f", "filter", "Filter"),
        Binding("p", "producer", "Producer"),
        Binding("c", "consumers", "Consumers"),
        Binding("t", "tensors", "Tensors"),
        Binding("s", "summary", "Summary"),
        Binding("b,backspace", "back", "Back"),
    ]

    def __init__(self, index: ModelIndex) -> None:
        super().__init__()
        self.index = index
        self.current: Target | None = None
        self.history: list[Target] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield GraphPane(self.index, id="graph-pane")
            yield DetailsView(self.index, id="details")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#graph-list").focus()
        target = self.query_one(GraphPane).highlighted_target
        if target is not None:
            self.show(target, record=False)

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
        self.details.show(self.index.page(target))
        self.query_one(GraphPane).show_target(target)

    def jump(self, target: Target) -> None:
        """Follow a link: show `target`, record the jump and put the cursor on its links."""
        self.show(target, record=True)
        self.details.links.focus()

    @on(GraphPane.Highlighted)
    def _pane_highlighted(self, event: GraphPane.Highlighted) -> None:
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
                value = next((v for v in obj.inputs if v is not None and v.producer is not None),
                             None)
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
