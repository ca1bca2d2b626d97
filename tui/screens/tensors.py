"""Every tensor in one sortable table, like the interpreter's tensor dump."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header

from tui.model_index import TENSOR, ModelIndex, Target, quant_summary, shape_str


def _shape_key(text: str) -> tuple:
    """Sort shapes by rank, then dims (`?` and `*` first)."""
    dims = text.strip("[]").split(",") if text not in ("*", "[]") else []
    return (len(dims), tuple(int(d) if d.isdigit() else -1 for d in dims))


class TensorsScreen(Screen[Target | None]):
    """A DataTable of every tensor; Enter opens the tensor, `o` sorts by the cursor's column.

    Args:
        index: the model's lookups.
    """

    BINDINGS = [
        Binding("o", "sort", "Sort by column"),
        Binding("escape,b,backspace", "close", "Back"),
    ]

    def __init__(self, index: ModelIndex) -> None:
        super().__init__()
        self.index = index
        self._sorted: tuple[str, bool] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="tensors", cursor_type="cell", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "tensors"
        table = self.query_one(DataTable)
        multi = len(self.index.model.graphs) > 1
        columns = (["graph"] if multi else []) + \
            ["index", "name", "type", "shape", "bytes", "buffer", "quantization"]
        for c in columns:
            table.add_column(c, key=c)
        for gi, _ in enumerate(self.index.model.graphs):
            for vi, v in enumerate(self.index.values(gi)):
                cells = [gi] if multi else []
                cells += [v.index if v.index is not None else vi, v.name,
                          str(v.dtype) if v.dtype else "?", shape_str(v.shape),
                          v.nbytes if v.nbytes is not None else "?",
                          v.meta.get("buffer", ""), quant_summary(v.quant)]
                table.add_row(*cells, key=Target(TENSOR, gi, vi).key)
        table.focus()

    def action_sort(self) -> None:
        """Sort by the column under the cursor; again to reverse."""
        table = self.query_one(DataTable)
        column = table.ordered_columns[table.cursor_column].key.value
        reverse = self._sorted == (column, False)
        key = _shape_key if column == "shape" else (lambda x: (str(type(x)), x))
        table.sort(column, key=key, reverse=reverse)
        self._sorted = (column, reverse)
        self.notify(f"sorted by {column}{' (descending)' if reverse else ''}", timeout=2)

    @on(DataTable.HeaderSelected, "#tensors")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        table = self.query_one(DataTable)
        table.move_cursor(column=event.column_index)
        self.action_sort()

    @on(DataTable.CellSelected, "#tensors")
    def _open(self, event: DataTable.CellSelected) -> None:
        event.stop()
        self.dismiss(Target.parse(event.cell_key.row_key.value))

    def action_close(self) -> None:
        """Back to the main screen."""
        self.dismiss(None)
