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
