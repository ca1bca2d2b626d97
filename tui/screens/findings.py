"""The findings of `check`: one line each, errors first; Enter jumps to the node."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.model_index import GRAPH, NODE, ModelIndex, Target
from tui.overlays import SEVERITY_MARK, Overlays

SEVERITY_STYLE = {"error": "bold $text-error", "warning": "bold $text-warning",
                  "info": "$text-primary"}


def finding_text(index: ModelIndex, f) -> str:
    """`✖ error    #3 CONV_2D name  [rule] message` (the node part left out when none)."""
    where = ""
    if f.node is not None:
        multi = len(index.model.graphs) > 1
        where = (f"g{f.graph} " if multi else "") + f"#{f.node} {f.op}  {f.node_name}  "
    elif len(index.model.graphs) > 1:
        where = f"g{f.graph}  "
    return f"{where}[{f.rule}] {f.message}"


class FindingsScreen(ModalScreen[Target | None]):
    """Every finding of the check run; dismisses with the node chosen.

    Args:
        index: the model's lookups.
        overlays: the findings.
    """

    BINDINGS = [Binding("escape,e", "cancel", "Close")]

    def __init__(self, index: ModelIndex, overlays: Overlays) -> None:
        super().__init__()
        self.index = index
        self.overlays = overlays

    def compose(self) -> ComposeResult:
        with Vertical(id="findings-box"):
            yield Static(id="findings-count")
            yield OptionList(id="findings-list")

    def on_mount(self) -> None:
        ov = self.overlays
        options = []
        for f in ov.findings:
            mark = f"{SEVERITY_MARK.get(f.severity, '?')} {f.severity:<8}"
            options.append(Option(Content.assemble(
                (mark, SEVERITY_STYLE.get(f.severity, "")), finding_text(self.index, f))))
        ol = self.query_one("#findings-list", OptionList)
        ol.add_options(options)
        if options:
            ol.highlighted = 0
        ol.focus()
        self.query_one("#findings-count", Static).update(Content.styled(
            f"{ov.header_text()}; Enter opens the node", "$text-muted"))

    @on(OptionList.OptionSelected, "#findings-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        f = self.overlays.findings[event.option_index]
        if f.node is not None and self.index.exists(Target(NODE, f.graph, f.node)):
            self.dismiss(Target(NODE, f.graph, f.node))
        else:
            self.dismiss(Target(GRAPH, f.graph))

    def action_cancel(self) -> None:
        """Close without jumping."""
        self.dismiss(None)
