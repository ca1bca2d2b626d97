"""The summary view: the same facts and text as `modelkit summarize`."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from modelkit.errors import ModelkitError
from modelkit.ir import Model


def summary_text(model: Model) -> str:
    """What `modelkit summarize` prints for `model`.

    Raises:
        ModelkitError: the summary could not be computed.
    """
    from modelkit.analysis.render import render_summary
    from modelkit.analysis.summary import summarize

    return render_summary(summarize(model))


class SummaryScreen(Screen):
    """Scrollable text of the model summary, computed off the UI thread.

    Args:
        model: the model to summarize.
    """

    BINDINGS = [Binding("escape,b,backspace,s", "close", "Back")]

    def __init__(self, model: Model) -> None:
        super().__init__()
        self.model = model

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="summary-scroll"):
            yield Static(Content.styled("summarizing...", "$text-muted"), id="summary-text")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "summary"
        self.query_one("#summary-scroll").focus()
        self._compute()

    @work(thread=True, exclusive=True)
    def _compute(self) -> None:
        """Summarize in a thread: the parameter count reads every constant."""
        try:
            text = Content(summary_text(self.model))
        except ModelkitError as e:
            text = Content(f"summary not available: {e}")
        self.app.call_from_thread(self.query_one("#summary-text", Static).update, text)

    def action_close(self) -> None:
        """Back to the main screen."""
        self.dismiss()
