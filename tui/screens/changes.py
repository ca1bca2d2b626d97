"""The changes of `browse --diff`: the nodes of this model the diff marks, then the
nodes only the other model has; Enter jumps to a marked node."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.model_index import NODE, ModelIndex, Target
from tui.overlays import DIFF_SYMBOL, DiffOverlay

KIND_STYLE = {"added": "bold $text-success", "changed": "bold $text-warning",
              "removed": "bold $text-error"}


class ChangesScreen(ModalScreen[Target | None]):
    """Every node the diff marks, and a "removed" group of the nodes only the other
    model has; dismisses with the node chosen (None for a removed one: it is not in
    this model).

    Args:
        index: the model's lookups.
        diff: the changes against the other model.
    """

    BINDINGS = [Binding("escape,v", "cancel", "Close")]

    def __init__(self, index: ModelIndex, diff: DiffOverlay) -> None:
        super().__init__()
        self.index = index
        self.diff = diff
        self.rows: list[Target | None] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="findings-box"):
            yield Static(id="changes-count")
            yield OptionList(id="changes-list")

    def on_mount(self) -> None:
        diff = self.diff
        multi = len(self.index.model.graphs) > 1
        options: list = []
        for gi, ni in diff.targets():
            entry = diff.on_nodes.by_node[(gi, ni)]
            n = self.index.model.graphs[gi].nodes[ni]
            idx = n.index if n.index is not None else ni
            where = (f"g{gi} " if multi else "") + f"#{idx} {n.op}  {n.name}"
            fields = ", ".join(dict.fromkeys(entry.fields)) if entry.kind == "changed" else ""
            options.append(Option(Content.assemble(
                (f"{DIFF_SYMBOL[entry.kind]} {entry.kind:<8}", KIND_STYLE[entry.kind]),
                where + (f"  [{fields}]" if fields else ""))))
            self.rows.append(Target(NODE, gi, ni))
        removed = diff.on_nodes.removed
        if removed:
            options.append(Option(Content.styled(
                f"removed in B: only in {diff.other_name} ({len(removed)})", "bold"),
                disabled=True))
            self.rows.append(None)
            for c in removed:
                options.append(Option(Content.assemble(
                    (f"{DIFF_SYMBOL['removed']} removed ", KIND_STYLE["removed"]),
                    diff.removed_text(c))))
                self.rows.append(None)
        ol = self.query_one("#changes-list", OptionList)
        ol.add_options(options)
        first = next((i for i, o in enumerate(options) if not o.disabled), None)
        if first is not None:
            ol.highlighted = first
        ol.focus()
        self.query_one("#changes-count", Static).update(Content.styled(
            f"{diff.counts_text()}; Enter opens the node", "$text-muted"))

    @on(OptionList.OptionSelected, "#changes-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        target = self.rows[event.option_index]
        if target is None:
            self.notify(f"only {self.diff.other_name} has this node", severity="warning")
            return
        self.dismiss(target)

    def action_cancel(self) -> None:
        """Close without jumping."""
        self.dismiss(None)
