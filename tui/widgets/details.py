"""The details pane: a node, a tensor or a graph, with links that jump."""

from __future__ import annotations

import weakref

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Collapsible, DataTable, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from modelkit.errors import ModelkitError
from modelkit.ir import QuantParams, Value
from tui.model_index import ModelIndex, Page, Target, quant_range
from tui.tensor_stats import fmt_num, render_values, tensor_values

# Labels of the facts are padded to this width; longer ones take their own room.
LABEL_WIDTH = 16
# Tensors up to this many elements are summarized at once; bigger ones in a worker thread.
SYNC_ELEMENTS = 1 << 14


class ChannelTable(DataTable):
    """Per-channel quantization: channel, scale, zero point, real range."""

    def __init__(self, quant: QuantParams, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.quant = quant

    def on_mount(self) -> None:
        q = self.quant
        lows, highs = quant_range(q)
        self.add_columns("channel", "scale", "zero point", "range")
        self.add_rows(
            (i, f"{float(q.scale[i]):.9g}", int(q.zero_point[i]),
             f"{fmt_num(float(lows[i]))} .. {fmt_num(float(highs[i]))}")
            for i in range(q.scale.size))


class DetailsView(VerticalScroll):
    """Shows one Page: title, facts, link lines, per-channel tables, tensor values.

    Args:
        index: the model's precomputed pages and lookups.
    """

    class Jump(Message):
        """A link was followed."""

        def __init__(self, target: Target) -> None:
            super().__init__()
            self.target = target

    def __init__(self, index: ModelIndex, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.index = index
        self.page: Page | None = None
        self._quant_of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def compose(self) -> ComposeResult:
        yield Static(id="details-title")
        yield Static(id="details-facts")
        yield OptionList(id="details-links")
        yield Vertical(id="details-channels")
        yield Static(id="details-values")

    @property
    def links(self) -> OptionList:
        """The list of input/output/producer/consumer lines."""
        return self.query_one("#details-links", OptionList)

    def show(self, page: Page) -> None:
        """Replace the content with `page`."""
        self.page = page
        self.query_one("#details-title", Static).update(Content.assemble(
            (page.kind, "$text-muted"), "  ", (page.title, "bold $text-accent")))
        # NOTE: one long label (an attribute name) must not push every value right.
        width = min(max((len(k) for k, _ in page.header), default=0), LABEL_WIDTH)
        facts = Content("\n").join(
            Content.assemble((f"{k:<{width}}  ", "$text-muted"), v) for k, v in page.header)
        self.query_one("#details-facts", Static).update(facts)
        options = []
        for line in page.links:
            if line.target is None:
                # NOTE: lines that lead nowhere are disabled so the cursor skips them.
                options.append(Option(Content(line.text), disabled=True))
            else:
                options.append(Option(Content(line.text)))
        links = self.links
        links.set_options(options)
        links.display = bool(options)
        first = next((i for i, o in enumerate(options) if not o.disabled), None)
        if first is not None:
            links.highlighted = first
        self._show_channels(page)
        self._show_values(page.value)
        self.scroll_home(animate=False)

    def _show_channels(self, page: Page) -> None:
        box = self.query_one("#details-channels", Vertical)
        box.remove_children()
        box.display = bool(page.channels)
        widgets = []
        for ch in page.channels:
            q = ch.quant
            title = f"per-channel, axis {q.axis}, {q.scale.size} channels: {ch.title}"
            # NOTE: no ids: the previous page's tables are still being removed. The table
            # is made when the box is first expanded: a DataTable costs a frame to mount.
            box_widget = Collapsible(title=title, collapsed=True)
            self._quant_of[box_widget] = q
            widgets.append(box_widget)
        if widgets:
            box.mount_all(widgets)

    @on(Collapsible.Expanded)
    def _fill_channels(self, event: Collapsible.Expanded) -> None:
        quant = self._quant_of.pop(event.collapsible, None)
        if quant is not None:
            event.collapsible.query_one(Collapsible.Contents).mount(ChannelTable(quant))

    def _show_values(self, value: Value | None) -> None:
        out = self.query_one("#details-values", Static)
        out.display = value is not None
        if value is None or value.data is None:
            out.update("")
            return
        if value.data.size <= SYNC_ELEMENTS:
            out.update(self._values_text(value))
        else:
            out.update(Content.assemble(
                ("values    ", "$text-muted"),
                (f"summarizing {value.data.size:,} elements...", "$text-muted")))
            self._summarize(self.page.target, value)

    @staticmethod
    def _values_text(value: Value, should_stop=None) -> Content | None:
        """The values section; None when `should_stop` interrupted it."""
        try:
            vals = tensor_values(value.data, value.quant, should_stop=should_stop)
        except ModelkitError as e:
            return Content(f"values not shown: {e}")
        if vals is None:
            return None
        return Content.assemble(("values\n", "bold"),
                                "\n".join(render_values(vals, value.data.size)))

    @work(thread=True, exclusive=True, group="tensor-values")
    def _summarize(self, target: Target, value: Value) -> None:
        """Compute the values section of a big tensor off the UI thread."""
        worker = get_current_worker()
        text = self._values_text(value, should_stop=lambda: worker.is_cancelled)
        if text is not None and not worker.is_cancelled:
            self.app.call_from_thread(self._values_ready, target, text)

    def _values_ready(self, target: Target, text: Content) -> None:
        if self.page is not None and self.page.target == target:
            self.query_one("#details-values", Static).update(text)

    def highlighted_line(self):
        """The highlighted link line of the page, or None."""
        links = self.links
        if self.page is None or links.highlighted is None:
            return None
        return self.page.links[links.highlighted]

    def highlight_role(self, role: str) -> bool:
        """Highlight and focus the first link line with `role`; False when none."""
        if self.page is None:
            return False
        for i, line in enumerate(self.page.links):
            if line.role == role and line.target is not None:
                self.links.highlighted = i
                self.links.focus()
                return True
        return False

    @on(OptionList.OptionSelected, "#details-links")
    def _follow(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.page is None:
            return
        target = self.page.links[event.option_index].target
        if target is not None:
            self.post_message(self.Jump(target))

    @on(OptionList.OptionHighlighted, "#details-links")
    def _stay(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
