"""Search by node name, op type, tensor name, dtype or shape; Enter jumps to the result."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.model_index import ModelIndex, Target

# Results listed at once; a longer list asks for a narrower query.
MAX_RESULTS = 200


class SearchScreen(ModalScreen[Target | None]):
    """A query box over every node and tensor; dismisses with the chosen Target.

    Args:
        index: the model's precomputed search rows.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Close"),
        Binding("down", "move(1)", "Next result", show=False),
        Binding("up", "move(-1)", "Previous result", show=False),
    ]

    def __init__(self, index: ModelIndex) -> None:
        super().__init__()
        self.index = index
        self._options: dict[int, Option] = {}
        self._shown: list[int] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Input(placeholder="search: node name, op type, tensor name, dtype or shape",
                        id="search-input")
            yield Static(id="search-count")
            yield OptionList(id="search-results")

    def on_mount(self) -> None:
        box = self.query_one("#search-input", Input)
        box.cursor_blink = self.app.cursor_blink
        box.focus()
        # NOTE: a watcher runs in the keystroke's own call, so the typed character and
        # the new results are drawn in the same frame (a Changed message would wait
        # for the next one).
        self.watch(box, "value", self.update, init=True)

    def _option(self, i: int) -> Option:
        opt = self._options.get(i)
        if opt is None:
            row = self.index.search_rows[i]
            kind, rest = row.text.split(" ", 1)
            style = "$text-accent" if kind == "node" else "$text-secondary"
            opt = self._options[i] = Option(Content.assemble((kind, style), " ", rest))
        return opt

    def update(self, query: str) -> None:
        """List the rows matching `query` (the first MAX_RESULTS)."""
        matches = self.index.search_filter.filter(query) if query.strip() else []
        self._shown = matches[:MAX_RESULTS]
        results = self.query_one("#search-results", OptionList)
        results.set_options([self._option(i) for i in self._shown])
        if self._shown:
            results.highlighted = 0
        count = self.query_one("#search-count", Static)
        if not query.strip():
            count.update(Content.styled("type to search; Enter opens the highlighted result",
                                        "$text-muted"))
        elif len(matches) > MAX_RESULTS:
            count.update(Content.styled(
                f"{len(matches):,} matches, first {MAX_RESULTS} shown: refine the query",
                "$text-muted"))
        else:
            n = len(matches)
            count.update(Content.styled(f"{n} match{'es' if n != 1 else ''}", "$text-muted"))

    @on(Input.Submitted, "#search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        results = self.query_one("#search-results", OptionList)
        if results.highlighted is not None and self._shown:
            self._choose(results.highlighted)

    @on(OptionList.OptionSelected, "#search-results")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(event.option_index)

    def _choose(self, position: int) -> None:
        self.dismiss(self.index.search_rows[self._shown[position]].target)

    def action_move(self, step: int) -> None:
        """Move the result highlight while typing."""
        results = self.query_one("#search-results", OptionList)
        if results.has_focus:
            return
        if step > 0:
            results.action_cursor_down()
        else:
            results.action_cursor_up()

    def action_cancel(self) -> None:
        """Close without jumping."""
        self.dismiss(None)
