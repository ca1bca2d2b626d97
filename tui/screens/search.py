"""Search by node name, op type, tensor name, dtype or shape; Enter jumps to the result."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tui.model_index import ModelIndex, Target
from tui.widgets.row_list import RowList

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
        self._contents: dict[int, Content] = {}
        self._shown: list[int] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Input(placeholder="search: node name, op type, tensor name, dtype or shape",
                        id="search-input")
            yield Static(id="search-count")
            yield RowList(self._content, id="search-results")

    def on_mount(self) -> None:
        box = self.query_one("#search-input", Input)
        box.cursor_blink = self.app.cursor_blink
        box.focus()
        # NOTE: a watcher runs in the keystroke's own call, so the typed character and
        # the new results are drawn in the same frame (a Changed message would wait
        # for the next one).
        self.watch(box, "value", self.update, init=True)

    def _content(self, i: int) -> Content:
        """The text of search row `i`, made when it is first drawn."""
        content = self._contents.get(i)
        if content is None:
            row = self.index.search_rows[i]
            kind, rest = row.text.split(" ", 1)
            style = "$text-accent" if kind == "node" else "$text-secondary"
            content = self._contents[i] = Content.assemble((kind, style), " ", rest)
        return content

    def update(self, query: str) -> None:
        """List the rows matching `query` (the first MAX_RESULTS)."""
        matches = self.index.search_filter.filter(query) if query.strip() else []
        self._shown = matches[:MAX_RESULTS]
        results = self.query_one("#search-results", RowList)
        results.set_rows(self._shown)
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
        results = self.query_one("#search-results", RowList)
        if results.highlighted is not None and self._shown:
            self._choose(results.highlighted)

    @on(RowList.Selected, "#search-results")
    def _selected(self, event: RowList.Selected) -> None:
        event.stop()
        self._choose(event.index)

    @on(RowList.Highlighted, "#search-results")
    def _highlighted(self, event: RowList.Highlighted) -> None:
        event.stop()

    def _choose(self, position: int) -> None:
        self.dismiss(self.index.search_rows[self._shown[position]].target)

    def action_move(self, step: int) -> None:
        """Move the result highlight while typing."""
        results = self.query_one("#search-results", RowList)
        if results.has_focus:
            return
        results.action_move(step)

    def action_cancel(self) -> None:
        """Close without jumping."""
        self.dismiss(None)
