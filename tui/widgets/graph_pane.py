"""The graph pane: every graph with its entry points and nodes, filtered as you type."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input

from tui.model_index import ModelIndex, Row, Target
from tui.widgets.row_list import RowList


def _position(shown: list[int], row: int) -> int | None:
    """Where `row` is in the ascending list `shown`, or None."""
    pos = bisect_left(shown, row)
    return pos if pos < len(shown) and shown[pos] == row else None


class GraphPane(Vertical):
    """A filter box over a list of graphs, signature inputs/outputs and nodes in execution order.

    Args:
        index: the precomputed rows of the model.
        mark: (symbol, style) to put before a node's row (`✎`, the diff's), or ("", "");
            None: no column for marks.
    """

    BINDINGS = [Binding("escape", "leave_filter", "List", show=False)]

    class Highlighted(Message):
        """The cursor moved onto a row that leads somewhere."""

        def __init__(self, target: Target) -> None:
            super().__init__()
            self.target = target

    class Selected(Message):
        """Enter (or a click) on a row that leads somewhere."""

        def __init__(self, target: Target) -> None:
            super().__init__()
            self.target = target

    def __init__(self, index: ModelIndex, *, id: str | None = None,
                 mark: Callable[[Target], tuple[str, str]] | None = None) -> None:
        super().__init__(id=id)
        self.index = index
        self.mark = mark
        self._contents: dict[int, Content] = {}
        self._shown: list[int] = []

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: op, name or index (f)", id="graph-filter")
        yield RowList(self._content, id="graph-list")

    def on_mount(self) -> None:
        box = self.query_one("#graph-filter", Input)
        box.cursor_blink = self.app.cursor_blink
        # NOTE: a watcher runs in the keystroke's own call, so the typed character and
        # the filtered list are drawn in the same frame.
        self.watch(box, "value", self._apply, init=True)

    def _content(self, i: int) -> Content:
        """The (cached) text of row `i`, made when the row is first drawn."""
        content = self._contents.get(i)
        if content is None:
            row: Row = self.index.graph_rows[i]
            if row.header:
                content = Content.assemble((row.text, "bold $text-accent"))
            elif row.target is not None and row.target.kind != "node":
                content = Content.assemble((row.text, "$text-secondary"))
            else:
                content = Content(row.text)
            if self.mark is not None:
                symbol, style = ("", "") if row.target is None or row.target.kind != "node" \
                    else self.mark(row.target)
                content = Content.assemble((f"{symbol or ' '} ", style), content)
            self._contents[i] = content
        return content

    def _apply(self, query: str) -> None:
        """Show the rows matching `query`, keeping the highlighted row when it still matches."""
        ol = self.query_one("#graph-list", RowList)
        current = self.highlighted_target
        rows = self.index.graph_rows
        # NOTE: no query, no filter: its keys (every row made) are not needed for the
        # first screen.
        shown = self.index.graph_filter.filter(query) if query.strip() else \
            list(range(len(rows)))
        # NOTE: graph headers stay visible above their matching rows so every match
        # keeps its context; a header alone (no match in the graph) is dropped.
        if query.strip():
            keep: list[int] = []
            last_header = -1
            for i in shown:
                header = rows.header_of(i)
                if header != last_header:
                    if header != i:
                        keep.append(header)
                    last_header = header
                keep.append(i)
            shown = keep
        self._shown = shown
        ol.set_rows(shown)
        if not shown:
            return
        pos = None
        if current is not None:
            row = rows.row_of(current)
            if row is not None:
                pos = _position(shown, row)
        if pos is None:
            pos = next((p for p, i in enumerate(shown) if rows[i].target is not None
                        and rows[i].target.kind == "node"), 0)
        ol.highlighted = pos

    @property
    def highlighted_target(self) -> Target | None:
        """The target of the highlighted row, or None."""
        ol = self.query_one("#graph-list", RowList)
        if ol.highlighted is None or ol.highlighted >= len(self._shown):
            return None
        return self.index.graph_rows[self._shown[ol.highlighted]].target

    def show_target(self, target: Target) -> None:
        """Move the highlight to `target` when it is listed, without announcing it.

        The list follows what the screen shows and never answers back: only the user's
        own moves in the list are announced (`Highlighted`), so the two cannot echo.
        """
        row = self.index.graph_rows.row_of(target)
        if row is None:
            return
        pos = _position(self._shown, row)
        if pos is None:
            return
        self.query_one("#graph-list", RowList).highlight(pos, announce=False)

    @on(Input.Submitted, "#graph-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#graph-list", RowList).focus()

    def action_leave_filter(self) -> None:
        """Escape from the filter box to the list."""
        self.query_one("#graph-list", RowList).focus()

    def focus_filter(self) -> None:
        """Put the cursor in the filter box."""
        self.query_one("#graph-filter", Input).focus()

    @on(RowList.Highlighted, "#graph-list")
    def _highlighted(self, event: RowList.Highlighted) -> None:
        event.stop()
        # NOTE: of a burst of moves (key repeat) only the last one is shown: the others
        # are stale by the time they arrive.
        if event.stale:
            return
        target = self.index.graph_rows[event.row].target
        if target is not None:
            self.post_message(self.Highlighted(target))

    @on(RowList.Selected, "#graph-list")
    def _selected(self, event: RowList.Selected) -> None:
        event.stop()
        target = self.index.graph_rows[event.row].target
        if target is not None:
            self.post_message(self.Selected(target))
