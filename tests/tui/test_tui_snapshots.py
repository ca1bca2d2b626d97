"""SVG snapshots of what a person sees, at 120x36, on the committed int8 sample.

Update with `pytest tests/tui --snapshot-update` after a deliberate change, and look
at the SVGs before accepting them.
"""

from __future__ import annotations

import re

from pilot_helpers import load_browser, option_texts, settle
from textual.widgets import Collapsible

SIZE = (120, 36)


async def _goto_node(pilot, op_index: int) -> None:
    ol = pilot.app.screen.query_one("#graph-list")
    rows = option_texts(pilot.app, "#graph-list")
    ol.highlighted = next(i for i, t in enumerate(rows) if re.match(rf"\s*{op_index}\s{{2}}", t))
    await settle(pilot)


def test_main_screen(snap_compare, sample_path):
    """The first screen: graph pane with the ops, the first op's details."""

    async def run_before(pilot):
        await settle(pilot)

    assert snap_compare(load_browser(sample_path), terminal_size=SIZE, run_before=run_before)


def test_node_details(snap_compare, sample_path):
    """A FULLY_CONNECTED node: attributes and its input/output lines, links focused."""

    async def run_before(pilot):
        await settle(pilot)
        await _goto_node(pilot, 7)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(load_browser(sample_path), terminal_size=SIZE, run_before=run_before)


def test_tensor_per_channel(snap_compare, sample_path):
    """The second conv's weights: per-channel table expanded, values and histogram."""

    async def run_before(pilot):
        await settle(pilot)
        await _goto_node(pilot, 1)
        await pilot.press("enter", "down", "enter")
        await settle(pilot)
        box = pilot.app.screen.query_one("#details-channels").query_one(Collapsible)
        box.collapsed = False
        await settle(pilot)

    assert snap_compare(load_browser(sample_path), terminal_size=SIZE, run_before=run_before)


def test_search_results(snap_compare, sample_path):
    """Search for `conv`: nodes and tensors listed, the first highlighted."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("slash", *"conv")
        await settle(pilot)

    assert snap_compare(load_browser(sample_path), terminal_size=SIZE, run_before=run_before)


def test_graph_view_branching(snap_compare):
    """The drawn graph of a residual + concat model, ADD selected: the split, the long
    skip edge, the merge, tensor types on the edges, weights folded into the boxes."""
    from synth_models import branching_model

    from tui.app import ModelBrowser
    from tui.model_index import NODE, Target

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.screen.show(Target(NODE, 0, 3), record=True)
        await pilot.press("g")
        await settle(pilot)

    app = ModelBrowser(branching_model(), cursor_blink=False, run_check=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_graph_view_overlays(snap_compare, tmp_path):
    """Findings marks (✖/▲ with words) and per-layer error (symbol, figure, legend)."""
    from synth_models import branching_model
    from test_tui_graph_view import debug_json, findings_for

    from tui.app import ModelBrowser
    from tui.model_index import NODE, Target
    from tui.overlays import DebugOverlay

    model = branching_model()
    debug = DebugOverlay.read(debug_json(model, tmp_path))
    debug.bind(model)

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.overlays.set_findings("micro", findings_for(model))
        pilot.app.screen._check_done()
        pilot.app.screen.show(Target(NODE, 0, 3), record=True)
        await pilot.press("g")
        await settle(pilot)

    app = ModelBrowser(model, cursor_blink=False, run_check=False, debug=debug)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_graph_view_overlays_light_theme(snap_compare, tmp_path):
    """The same marks in the light theme: every colour comes from the theme."""
    from synth_models import branching_model
    from test_tui_graph_view import debug_json, findings_for

    from tui.app import ModelBrowser
    from tui.model_index import NODE, Target
    from tui.overlays import DebugOverlay

    model = branching_model()
    debug = DebugOverlay.read(debug_json(model, tmp_path))
    debug.bind(model)

    async def run_before(pilot):
        pilot.app.theme = "textual-light"
        await settle(pilot)
        pilot.app.overlays.set_findings("micro", findings_for(model))
        pilot.app.screen._check_done()
        pilot.app.screen.show(Target(NODE, 0, 4), record=True)
        await pilot.press("g")
        await settle(pilot)

    app = ModelBrowser(model, cursor_blink=False, run_check=False, debug=debug)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
