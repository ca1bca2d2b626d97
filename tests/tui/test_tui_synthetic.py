"""The browser on models built in code: big tensors summarized off the UI thread, odd graphs."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pilot_helpers import details_facts, details_links, details_title, settle, static_text

from modelkit.ir import ArrayData, DType, Graph, Model, Node, QuantParams, Value
from tui.app import ModelBrowser
from tui.widgets.details import SYNC_ELEMENTS

SIZE = (120, 36)


def big_constant_model(n: int) -> tuple[Model, np.ndarray, QuantParams]:
    rng = np.random.default_rng(3)
    raw = rng.integers(-128, 128, size=(n,), dtype=np.int8)
    q = QuantParams(0.02, 5, storage=DType.INT8)
    x = Value("x", DType.INT8, (n,), quant=q, index=0)
    big = Value("big", DType.INT8, (n,), quant=q, data=ArrayData(raw), index=1)
    y = Value("y", DType.INT8, (n,), quant=q, index=2)
    node = Node("y", "ADD", "tflite", [x, big], [y], index=0)
    return Model("tflite", None, [Graph("main", [node], [x, big, y], [x], [y])]), raw, q


@pytest.mark.asyncio
async def test_big_tensor_is_summarized_in_a_worker():
    n = SYNC_ELEMENTS * 64
    model, raw, q = big_constant_model(n)
    app = ModelBrowser(model, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter", "down", "enter")  # node -> its links -> input 1 ("big")
        # The page is there before the values: the UI did not wait for them.
        assert details_facts(app)["name"] == "big"
        await settle(pilot)
        values = static_text(app, "#details-values")
        real = 0.02 * (raw.astype(np.float64) - 5)
        stats = dict(re.findall(r"(min|max|mean|std) (-?[0-9.e+-]+)", values))
        assert float(stats["min"]) == pytest.approx(real.min(), rel=1e-3)
        assert float(stats["max"]) == pytest.approx(real.max(), rel=1e-3)
        assert float(stats["mean"]) == pytest.approx(real.mean(), rel=1e-3)
        assert float(stats["std"]) == pytest.approx(real.std(), rel=1e-3)
        assert f"({n - 24:,} more)" in values
        # Leaving before a summary is done: the late result must not land on the new page.
        await pilot.press("b")
        await pilot.press("down", "enter")
        await pilot.press("b")
        await settle(pilot)
        assert details_title(app) == "node #0  ADD"
        assert not app.screen.query_one("#details-values").display


@pytest.mark.asyncio
async def test_graph_without_signatures_and_an_omitted_input():
    from synth_models import small_int8_model

    model = small_int8_model()
    model.signatures = []
    app = ModelBrowser(model, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")  # FULLY_CONNECTED, its bias omitted
        await settle(pilot)
        assert details_title(app) == "node #2  FULLY_CONNECTED"
        links = details_links(app)
        assert links[2] == "input  (none: optional input omitted)"
        # `p` on the node goes to the producer of its first produced input.
        await pilot.press("p")
        await settle(pilot)
        assert details_title(app) == "node #1  RESHAPE"


@pytest.mark.asyncio
async def test_node_list_keys_and_click_on_a_long_list():
    """The node list of 3,000 ops: page keys, home/end, a click, Enter into the links."""
    from synth_models import chain_model

    from tui.model_index import GRAPH, Target
    from tui.widgets.row_list import RowList

    model = chain_model(3000)
    app = ModelBrowser(model, cursor_blink=False, run_check=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        rows = app.screen.query_one("#graph-list", RowList)
        # Header, signature input and output, then op 0 highlighted.
        assert rows.option_count == 3 + 3000 and rows.highlighted == 3
        page = rows.scrollable_content_region.height - 1
        await pilot.press("pagedown")
        await settle(pilot)
        assert details_title(app) == f"node #{page}  {model.graphs[0].nodes[page].op}"
        assert rows.scroll_y <= rows.highlighted < rows.scroll_y + page + 1
        await pilot.press("end")
        await settle(pilot)
        assert details_title(app).startswith("node #2999  ")
        await pilot.press("pageup", "up")
        await settle(pilot)
        assert details_title(app).startswith(f"node #{2999 - page - 1}  ")
        await pilot.press("home")
        await settle(pilot)
        assert app.screen.current == Target(GRAPH, 0) and rows.highlighted == 0
        # A click on the 6th visible row selects it and puts the cursor in the links.
        await pilot.click(RowList, offset=(3, 5))
        await settle(pilot)
        assert details_title(app).startswith("node #2  ")
        assert app.screen.query_one("#details-links").has_focus


@pytest.mark.asyncio
async def test_first_screen_of_a_big_graph_makes_a_screenful_of_rows():
    from synth_models import chain_model

    made_at_first_screen = []
    app = ModelBrowser(chain_model(3000), cursor_blink=False, run_check=False,
                       on_first_screen=lambda: made_at_first_screen.append(
                           len(app.index.graph_rows._made)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # Called once; by then only the rows on screen were made (36 lines at most).
        assert len(made_at_first_screen) == 1 and 0 < made_at_first_screen[0] <= 36
        # The filter's keys are made in the background afterwards: `f` answers at once.
        assert len(app.index.graph_rows._made) == 3 + 3000
        await pilot.press("f", *"block_7/")
        await settle(pilot)
        shown = [app.index.graph_rows[r].text for r in app.screen.query_one("#graph-list").rows]
        assert shown[1:] == [r.text for r in app.index.graph_rows if "block_7/" in r.key]
