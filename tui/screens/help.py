"""The help screen: every key binding of the browser, read from the bindings themselves."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

# Keys handled by Textual's own widgets, which have no binding of ours.
NAVIGATION = [
    ("up / down, page up / down, home / end", "move in lists and tables"),
    ("enter", "open the highlighted row; follow a link; expand a per-channel table"),
    ("tab / shift+tab", "move between the filter, the graph list and the details"),
    ("mouse", "click rows and links, click table headers to sort, scroll with the wheel"),
    ("mouse in the graph", "click a box to select it, drag to pan, wheel to scroll"),
]

KEY_NAMES = {"slash": "/", "question_mark": "?", "escape": "esc", "left_square_bracket": "[",
             "right_square_bracket": "]", "plus": "+", "equals_sign": "=", "minus": "-",
             "period": "."}


def key_text(keys: str) -> str:
    """`b,backspace` -> `b / backspace`, with symbol names shown as the symbol."""
    return " / ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


def binding_rows() -> list[tuple[str, str, str]]:
    """(where, keys, what) for every binding of the browser's app, screens and widgets."""
    from tui.app import ModelBrowser
    from tui.screens.changes import ChangesScreen
    from tui.screens.findings import FindingsScreen
    from tui.screens.main import MainScreen
    from tui.screens.search import SearchScreen
    from tui.screens.summary import SummaryScreen
    from tui.screens.tensors import TensorsScreen
    from tui.widgets.graph_pane import GraphPane
    from tui.widgets.graph_view import GraphView

    rows = []
    for where, cls in (("anywhere", ModelBrowser), ("main", MainScreen),
                       ("filter box", GraphPane), ("graph view", GraphView),
                       ("findings", FindingsScreen), ("changes (--diff)", ChangesScreen),
                       ("search", SearchScreen),
                       ("tensors", TensorsScreen), ("summary", SummaryScreen)):
        for b in cls.BINDINGS:
            if isinstance(b, Binding):
                rows.append((where, key_text(b.key), b.description))
    return rows


class HelpScreen(ModalScreen):
    """Lists every key binding; any of escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        rows = binding_rows()
        width = max(len(k) for _, k, _ in rows)
        lines = [Content.styled("Keys", "bold $text-accent")]
        last = None
        for where, keys, what in rows:
            if where != last:
                lines.append(Content.styled(f"\n{where}", "bold"))
                last = where
            lines.append(Content.assemble((f"  {keys:<{width}}  ", "$text-accent"), what))
        lines.append(Content.styled("\nnavigation", "bold"))
        for keys, what in NAVIGATION:
            lines.append(Content.assemble((f"  {keys}", "$text-accent"), f"\n      {what}"))
        with VerticalScroll(id="help-box"):
            yield Static(Content("\n").join(lines), id="help-text")

    def action_close(self) -> None:
        """Back to where help was opened."""
        self.dismiss()
