"""A list that draws only its visible rows: the node list of a 20,000-node graph costs a screen.

Textual's OptionList measures every option when its options change, which is
seconds for tens of thousands of rows; `RowList` holds row ids and asks for a
row's text only when the row is on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip


class RowList(ScrollView, can_focus=True):
    """Rows (ids into the owner's data) drawn on demand, with a highlighted row.

    Args:
        render_row: the Content of a row id, called for visible rows only.
    """

    COMPONENT_CLASSES = {"row-list--cursor"}

    DEFAULT_CSS = """
    RowList { background: $surface; }
    RowList > .row-list--cursor { background: $block-cursor-blurred-background; }
    RowList:focus > .row-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    """

    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "move(-1000000000)", "First", show=False),
        Binding("end", "move(1000000000)", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    class Highlighted(Message):
        """The highlight moved to position `index` of the shown rows (row id `row`)."""

        def __init__(self, row_list: RowList, index: int, row: int) -> None:
            super().__init__()
            self.row_list = row_list
            self.index = index
            self.row = row

        @property
        def stale(self) -> bool:
            """True when the highlight has moved on (or the rows changed) since: a later
            message, or a quiet move, says where it is now."""
            rl = self.row_list
            return rl.highlighted != self.index or rl.rows[self.index] != self.row

        @property
        def control(self) -> RowList:
            return self.row_list

    class Selected(Message):
        """Enter (or a click) on position `index` of the shown rows (row id `row`)."""

        def __init__(self, row_list: RowList, index: int, row: int) -> None:
            super().__init__()
            self.row_list = row_list
            self.index = index
            self.row = row

        @property
        def control(self) -> RowList:
            return self.row_list

    def __init__(self, render_row: Callable[[int], Content], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._render_row = render_row
        self._rows: list[int] = []
        self._highlighted: int | None = None
        self._styles: dict[str, Style] = {}

    # -- content ---------------------------------------------------------------------------

    def set_rows(self, rows: list[int]) -> None:
        """Show these row ids (the highlight is cleared)."""
        self._rows = rows
        self._highlighted = None
        width = self.scrollable_content_region.width or 1
        self.virtual_size = Size(width, len(rows))
        self.refresh()

    @property
    def rows(self) -> list[int]:
        """The shown row ids."""
        return self._rows

    @property
    def option_count(self) -> int:
        """How many rows are shown."""
        return len(self._rows)

    def get_option_at_index(self, index: int) -> SimpleNamespace:
        """The row at position `index` (`.prompt` is its Content), as OptionList gives it."""
        return SimpleNamespace(prompt=self._render_row(self._rows[index]))

    @property
    def highlighted(self) -> int | None:
        """Position of the highlighted row, or None."""
        return self._highlighted

    @highlighted.setter
    def highlighted(self, index: int | None) -> None:
        self.highlight(index)

    def highlight(self, index: int | None, *, announce: bool = True) -> None:
        """Move the highlight to position `index` (clamped to the rows).

        Args:
            index: the position, or None for no highlight.
            announce: post `Highlighted` when the highlight moves. Moves made to follow
                the rest of the app pass False, so nothing echoes back.
        """
        if index is not None:
            if not self._rows:
                index = None
            else:
                index = max(0, min(index, len(self._rows) - 1))
        if index == self._highlighted:
            return
        self._highlighted = index
        if index is not None:
            self._reveal(index)
            if announce:
                self.post_message(self.Highlighted(self, index, self._rows[index]))
        self.refresh()

    def _reveal(self, index: int) -> None:
        """Scroll so row `index` is visible."""
        height = self.scrollable_content_region.height
        if height <= 0:
            # NOTE: before the first layout the size is unknown; reveal once known.
            self.call_after_refresh(self._reveal_later, index)
            return
        top = int(self.scroll_y)
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False, immediate=True)

    def _reveal_later(self, index: int) -> None:
        if self.scrollable_content_region.height > 0 and index == self._highlighted:
            self._reveal(index)

    # -- keys and mouse ----------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        """Move the highlight by `step` rows."""
        if not self._rows:
            return
        cur = self._highlighted if self._highlighted is not None else (-1 if step > 0 else 0)
        self.highlighted = cur + step

    def action_page(self, direction: int) -> None:
        """Move the highlight by a screenful."""
        self.action_move(direction * max(1, self.scrollable_content_region.height - 1))

    def action_select(self) -> None:
        """Announce the highlighted row."""
        if self._highlighted is not None:
            self.post_message(self.Selected(self, self._highlighted,
                                            self._rows[self._highlighted]))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = int(self.scroll_y) + offset.y
        if 0 <= index < len(self._rows):
            self.highlighted = index
            self.post_message(self.Selected(self, index, self._rows[index]))

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width or 1, len(self._rows))

    # -- drawing ------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = int(self.scroll_y) + y
        base = self.rich_style
        if not 0 <= index < len(self._rows):
            return Strip.blank(width, base)
        content = self._render_row(self._rows[index])
        if content.cell_length > width:
            content = content.truncate(width, ellipsis=True)
        segments = list(content.render_segments(self.visual_style))
        strip = Strip(segments).apply_style(base)
        if index == self._highlighted:
            cursor = self.get_component_rich_style("row-list--cursor")
            strip = Strip([Segment(s.text, (s.style or Style()) + cursor, s.control)
                           for s in strip]).extend_cell_length(width, base + cursor)
        return strip.extend_cell_length(width, base).crop(0, width)
