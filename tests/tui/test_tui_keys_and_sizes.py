"""The browser under bursts of keys (key repeat, a slow link) and at small terminal sizes.

Keys are sent the way a terminal delivers a burst: all at once, before the app has
handled the first. After each burst the app must go quiet (every message queue empty)
within a few pauses, with the selection the keys imply, computed by hand from the
model's node order (the interpreter's op list for the sample).
"""

from __future__ import annotations

import asyncio
import functools

import pytest
from pilot_helpers import details_facts, details_title, load_browser, screen_text, settle
from synth_models import chain_model
from textual import events

from modelkit.ir import Model
from tui.app import ModelBrowser
from tui.model_index import GRAPH, NODE, Target
from tui.screens.help import HelpScreen
from tui.widgets.graph_view import GraphView

# The characters a terminal sends with these keys.
CHARS = {"down": None, "up": None, "pagedown": None, "pageup": None,
         "right_square_bracket": "]", "left_square_bracket": "[", "q": "q"}


def bounded(test):
    """Fail a test that has not finished within a minute (a locked-up app), not hang."""
    @functools.wraps(test)
    async def run(*args, **kwargs):
        await asyncio.wait_for(test(*args, **kwargs), timeout=60)
    return run


def browser(model: Model, **options) -> ModelBrowser:
    options.setdefault("run_check", False)
    return ModelBrowser(model, cursor_blink=False, **options)


def busy(app) -> bool:
    """True while any message queue of the app or its screen holds a message."""
    pumps = [app, *app.screen.walk_children(with_self=True)]
    return any(not p._message_queue.empty() for p in pumps)


async def burst(pilot, key: str, count: int = 20, bound: int = 10) -> None:
    """Send `count` presses of `key` at once; then wait until the app is quiet, which
    must take at most `bound` pauses of at most 5 s each."""
    app = pilot.app
    for _ in range(count):
        event = events.Key(key, CHARS[key])
        event.set_sender(app)
        app._driver.send_message(event)
    for _ in range(bound):
        await asyncio.wait_for(pilot.pause(), timeout=5)
        if not busy(app):
            await settle(pilot)
            return
    raise AssertionError(f"the app was still busy after {count} x {key} and {bound} pauses")


def list_row(app) -> int:
    return app.screen.query_one("#graph-list").highlighted


def node_rows_start(app) -> int:
    """Row of node #0 in the list: after the graph header and the signature rows."""
    rows = app.index.graph_rows
    return next(i for i, r in enumerate(rows) if r.target == Target(NODE, 0, 0))


async def assert_quits_with(pilot, key: str) -> None:
    await pilot.press(key)
    await asyncio.wait_for(pilot.app._shutdown(), timeout=10)
    assert pilot.app.return_code == 0
    assert pilot.app.crash is None


# -- bursts of keys ----------------------------------------------------------------------


@pytest.mark.asyncio
@bounded
async def test_bursts_in_the_node_list(sample_path, op_details):
    last = len(op_details) - 1  # the interpreter's ops: 0..last
    app = load_browser(sample_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        first = node_rows_start(app)
        assert first == 3  # graph header, `in` and `out` of serving_default
        assert app.screen.current == Target(NODE, 0, 0)
        # 20 x Down from node 0 runs past the end: the last op.
        await burst(pilot, "down")
        assert list_row(app) == first + last
        assert app.screen.current == Target(NODE, 0, last)
        assert details_title(app) == f"node #{last}  {op_details[last]['op_name']}"
        # 20 x Up: past the top, the graph header.
        await burst(pilot, "up")
        assert list_row(app) == 0
        assert app.screen.current == Target(GRAPH, 0)
        assert details_title(app).startswith("graph")
        # 20 x PageDown: the last row again.
        await burst(pilot, "pagedown")
        assert app.screen.current == Target(NODE, 0, last)
        # 5 x [ then 20 x ]: back 5 ops, then forward to the last (the list follows).
        await burst(pilot, "left_square_bracket", 5)
        assert app.screen.current == Target(NODE, 0, last - 5)
        assert list_row(app) == first + last - 5
        await burst(pilot, "right_square_bracket")
        assert app.screen.current == Target(NODE, 0, last)
        assert list_row(app) == first + last
        # Still answering: help opens and closes, q quits.
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await assert_quits_with(pilot, "q")


@pytest.mark.asyncio
@bounded
async def test_bursts_in_a_long_list_move_by_the_keys_count():
    model = chain_model(300)
    app = browser(model)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        first = node_rows_start(app)
        await burst(pilot, "down")
        assert app.screen.current == Target(NODE, 0, 20)
        await burst(pilot, "up", 7)
        assert app.screen.current == Target(NODE, 0, 13)
        # PageDown moves by the list's height less one row.
        page = app.screen.query_one("#graph-list").scrollable_content_region.height - 1
        assert page > 1
        await burst(pilot, "pagedown", 3)
        assert app.screen.current == Target(NODE, 0, 13 + 3 * page)
        assert list_row(app) == first + 13 + 3 * page
        await burst(pilot, "right_square_bracket", 5)
        assert app.screen.current == Target(NODE, 0, 18 + 3 * page)
        await assert_quits_with(pilot, "q")


@pytest.mark.asyncio
@bounded
async def test_bursts_in_the_graph_view(sample_path, op_details):
    last = len(op_details) - 1
    app = load_browser(sample_path, graph=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        view = app.screen.query_one(GraphView)
        assert view.has_focus and app.screen.current == Target(NODE, 0, 0)
        # Down pans by 2 rows, PageDown by 12; the selection stays.
        y0 = view.scroll_y
        await burst(pilot, "down")
        assert view.scroll_y == min(y0 + 40, view.max_scroll_y)
        await burst(pilot, "pagedown")
        assert view.scroll_y == min(y0 + 40 + 240, view.max_scroll_y)
        await burst(pilot, "up")
        assert view.scroll_y == max(min(y0 + 280, view.max_scroll_y) - 40, 0)
        assert app.screen.current == Target(NODE, 0, 0)
        # ] x 20: the last op, drawn selected; [ x 3: three ops back.
        await burst(pilot, "right_square_bracket")
        assert app.screen.current == Target(NODE, 0, last)
        assert view.target == Target(NODE, 0, last)
        await burst(pilot, "left_square_bracket", 3)
        assert app.screen.current == Target(NODE, 0, last - 3)
        kind, ni, _ = view.drawing.structure.kinds[view.selected]
        assert (kind, ni) == ("node", last - 3)
        assert details_title(app) == f"node #{last - 3}  {op_details[last - 3]['op_name']}"
        await assert_quits_with(pilot, "q")


@pytest.mark.asyncio
@bounded
async def test_ctrl_c_quits_even_from_the_filter_box(sample_path):
    app = load_browser(sample_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        assert app.focused.id == "graph-filter"
        await pilot.press("q")  # typed into the filter, not a quit
        assert app.return_code is None
        assert app.screen.query_one("#graph-filter").value == "q"
        await assert_quits_with(pilot, "ctrl+c")


# -- [ and ] after a tensor ----------------------------------------------------------------


def several_consumers(op_details) -> tuple[int, int]:
    """(op, tensor): the first op whose output several ops read."""
    for op in op_details:
        for t in op["outputs"]:
            readers = [o for o in op_details if t in o["inputs"]]
            if len(readers) > 1:
                return op["index"], int(t)
    raise AssertionError("the sample has no tensor with several consumers")


@pytest.mark.asyncio
@pytest.mark.parametrize("graph", [False, True], ids=["list", "graph-view"])
@bounded
async def test_step_after_consumers_goes_on_from_the_node(sample_path, op_details, graph):
    op, tensor = several_consumers(op_details)
    assert 0 < op < len(op_details) - 1
    app = load_browser(sample_path, graph=graph)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        for key, want in (("right_square_bracket", op + 1), ("left_square_bracket", op - 1)):
            app.screen.show(Target(NODE, 0, op), record=True)
            await settle(pilot)
            await pilot.press("c")  # several consumers: the tensor and its consumer list
            await settle(pilot)
            assert details_facts(app)["index"] == str(tensor)
            await pilot.press(key)
            await settle(pilot)
            assert app.screen.current == Target(NODE, 0, want)
            assert details_title(app) == f"node #{want}  {op_details[want]['op_name']}"
            if graph:
                assert app.screen.query_one(GraphView).target == Target(NODE, 0, want)


# -- small terminals ---------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [(40, 12), (45, 15), (30, 8)])
@pytest.mark.parametrize("graph", [False, True], ids=["list", "graph-view"])
@bounded
async def test_small_terminals(sample_path, op_details, size, graph):
    app = load_browser(sample_path, graph=graph)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        details = app.screen.query_one("#details")
        if graph:
            # The drawing takes the whole width; the details pane is hidden.
            assert not details.display
            view = app.screen.query_one(GraphView)
            assert view.region.width == size[0]
            assert "┃" in screen_text(app)  # the selection, heavy-lined
        else:
            assert details.display and details.region.width >= 12
            assert "node #0" in screen_text(app)
        await burst(pilot, "right_square_bracket", 2)
        assert app.screen.current == Target(NODE, 0, 2)
        assert details_title(app).startswith(f"node #2  {op_details[2]['op_name']}")
        await assert_quits_with(pilot, "q")


@pytest.mark.asyncio
@bounded
async def test_resizing_the_graph_view_down_and_back(sample_path, op_details):
    app = load_browser(sample_path, graph=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        details = app.screen.query_one("#details")
        assert details.display
        for width, height in ((80, 24), (45, 15), (40, 12), (30, 8)):
            await pilot.resize_terminal(width, height)
            await settle(pilot)
            assert app.screen.size == (width, height)
        assert not details.display
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert app.screen.query_one(GraphView).target == Target(NODE, 0, 1)
        await pilot.resize_terminal(120, 36)
        await settle(pilot)
        assert details.display and details.region.width > 30
        assert details_title(app) == f"node #1  {op_details[1]['op_name']}"
        # Back to the list at the small size, and again.
        await pilot.resize_terminal(40, 12)
        await pilot.press("g")
        await settle(pilot)
        assert details.display and details.region.width >= 12
        await assert_quits_with(pilot, "q")
