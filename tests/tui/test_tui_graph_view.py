"""The graph view with Pilot: every key, the mouse, overlays; the IR and the drawing's own
geometry are the oracle for where the selection is and what is centred."""

from __future__ import annotations

import json

import pytest
from pilot_helpers import details_facts, details_title, load_browser, screen_text, settle
from synth_models import branching_model, chain_model
from textual.widgets import OptionList, Static

from modelkit.check.findings import Finding
from modelkit.ir import Model
from tui.app import ModelBrowser
from tui.model_index import NODE, TENSOR, Target
from tui.overlays import DebugOverlay
from tui.widgets.graph_view import FULL_LAYOUT_LIMIT, GraphView

SIZE = (120, 36)


def findings_for(model: Model) -> list[Finding]:
    g = model.graphs[0]
    add, dw = g.nodes[3], g.nodes[4]
    return [
        Finding("error", "T001", "micro", 0, 3, add.name, add.op, message="ADD: int8 "
                "inputs with different scales need requantization", fix="rescale_add"),
        Finding("warning", "T002", "micro", 0, 4, dw.name, dw.op,
                message="DEPTHWISE_CONV_2D with RELU6 runs in reference kernels",
                explanation="no optimized kernel for this fused activation"),
        Finding("warning", "T003", "micro", 0, 4, dw.name, dw.op, message="second warning"),
        Finding("info", "T004", "micro", 0, None, "", "", message="model-wide fact"),
    ]


def debug_json(model: Model, tmp_path) -> str:
    """The JSON `modelkit debug --json` writes, by hand: conv_b bad, ADD fine."""
    g = model.graphs[0]
    layers = []
    for ni, rmse_scale in ((2, 0.84), (3, 0.3), (5, 2.5)):
        n = g.nodes[ni]
        out = n.outputs[0]
        layers.append({"graph": 0, "node": n.index, "node_name": n.name, "op_name": n.op,
                       "tensor_idx": out.index, "tensor_name": out.name, "num_elements": 512,
                       "stddev": 0.1, "mean_error": 0.001, "max_abs_error": 0.09,
                       "mean_squared_error": (rmse_scale * float(out.quant.scale[0])) ** 2,
                       "scale": float(out.quant.scale[0]), "zero_point": 2,
                       "rmse_scale": rmse_scale, "accumulated_rmse": 0.02, "local_rmse": 0.01,
                       "sqnr_db": 31.5, "cosine": 0.9993, "rank": 1})
    path = tmp_path / "debug.json"
    path.write_text(json.dumps({"schema_version": 1, "layers": layers}))
    return str(path)


def browser(model: Model, **options) -> ModelBrowser:
    options.setdefault("run_check", False)
    return ModelBrowser(model, cursor_blink=False, **options)


def view(app) -> GraphView:
    return app.screen.query_one(GraphView)


def selected_node(app) -> int | None:
    v = view(app)
    kind, ni, _ = v.drawing.structure.kinds[v.selected]
    return ni if kind == "node" else None


def assert_centred(app) -> None:
    """The selected box is in the middle of the view (or as near as the edges allow)."""
    v = view(app)
    box = v.selected_box()
    assert box is not None
    region = v.scrollable_content_region
    cx, cy = box.center
    sx, sy = v.scroll_offset
    on_x = cx + v.pad - sx
    on_y = cy - sy
    want_x = min(region.width // 2, cx + v.pad)
    want_y = min(region.height // 2, cy)
    # Clamped at the far end when the drawing ends.
    if sy == v.max_scroll_y:
        want_y = cy - sy
    if sx == v.max_scroll_x:
        want_x = on_x
    assert abs(on_x - want_x) <= 1 and abs(on_y - want_y) <= 1, (on_x, on_y, region)
    # And it is on the screen, heavy-lined.
    text = screen_text(app)
    assert "┏" in text and "┗" in text


async def goto(pilot, target: Target) -> None:
    pilot.app.screen.show(target, record=True)
    await settle(pilot)


@pytest.mark.asyncio
async def test_toggle_graph_and_list_and_centre():
    model = branching_model()
    app = browser(model)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, Target(NODE, 0, 3))
        await pilot.press("g")
        await settle(pilot)
        assert app.screen.query_one("#graph-box").display
        assert not app.screen.query_one("#graph-pane").display
        assert view(app).has_focus
        assert selected_node(app) == 3
        assert_centred(app)
        status = str(app.screen.query_one("#graph-status", Static).content)
        assert status.startswith('subgraph 0 "main": whole graph, 9 boxes')
        await pilot.press("g")
        await settle(pilot)
        assert not app.screen.query_one("#graph-box").display
        assert app.screen.query_one("#graph-list").has_focus
        assert details_title(app) == "node #3  ADD"


@pytest.mark.asyncio
async def test_producer_and_consumer_keys_follow_in_the_drawing():
    model = branching_model()
    g = model.graphs[0]
    app = browser(model, graph=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, Target(NODE, 0, 3))  # ADD(conv_b, conv_a)
        await pilot.press("p")
        await settle(pilot)
        want = g.nodes.index(g.nodes[3].inputs[0].producer)
        assert details_title(app) == f"node #{want}  CONV_2D"
        assert selected_node(app) == want
        assert_centred(app)
        await pilot.press("c")  # conv_b has one consumer: ADD
        await settle(pilot)
        assert selected_node(app) == 3
        assert view(app).has_focus
        await pilot.press("p", "p")  # conv_b, then conv_a
        await settle(pilot)
        assert selected_node(app) == 1
        # conv_a feeds three ops: `c` opens its output tensor and lights its edges.
        await pilot.press("c")
        await settle(pilot)
        assert app.screen.current == Target(TENSOR, 0, g.values.index(g.nodes[1].outputs[0]))
        v = view(app)
        lit = {v.drawing.structure.kinds[v.drawing.structure.edges[e].dst][1] for e in v.lit}
        assert lit == {2, 3, 4}
        assert selected_node(app) == 1
        # Back through the history.
        await pilot.press("b")
        await settle(pilot)
        assert app.screen.current == Target(NODE, 0, 1)


@pytest.mark.asyncio
async def test_step_keys_hops_and_whole_graph():
    model = branching_model()
    app = browser(model, graph=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert selected_node(app) == 0
        await pilot.press("right_square_bracket", "right_square_bracket")
        await settle(pilot)
        assert selected_node(app) == 2 and details_title(app) == "node #2  CONV_2D"
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert selected_node(app) == 1
        v = view(app)
        assert not v.neighbourhood
        await pilot.press("minus")
        await settle(pilot)
        st = v.drawing.structure
        # 2 hops around conv_a: the drawing holds exactly the neighbourhood.
        assert v.neighbourhood and v.hops == 2
        assert set(v.drawing.boxes) == set(st.neighbourhood(st.vid_of_node[1], 2))
        assert "within 2 hops" in v.status()
        await pilot.press("minus")
        await settle(pilot)
        assert set(v.drawing.boxes) == set(st.neighbourhood(st.vid_of_node[1], 1))
        await pilot.press("plus")
        await settle(pilot)
        assert v.hops == 2
        assert_centred(app)
        await pilot.press("a")
        await settle(pilot)
        assert not v.neighbourhood and len(v.drawing.boxes) == len(st)
        await pilot.press("a")
        await settle(pilot)
        assert v.neighbourhood


@pytest.mark.asyncio
async def test_pan_keys_centre_key_and_mouse(sample_path):
    app = load_browser(sample_path, graph=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        v = view(app)
        y0 = v.scroll_y
        await pilot.press("down", "down", "j")
        await settle(pilot)
        assert v.scroll_y == y0 + 6
        await pilot.press("up")
        await settle(pilot)
        assert v.scroll_y == y0 + 4
        await pilot.press("pagedown")
        await settle(pilot)
        assert v.scroll_y == min(y0 + 16, v.max_scroll_y)
        await pilot.press("z")
        await settle(pilot)
        assert_centred(app)
        # Click on another box: it becomes the selection.
        st = v.drawing.structure
        target_vid = next(vid for vid, b in v.drawing.boxes.items()
                          if st.kinds[vid][0] == "node" and vid != v.selected
                          and 0 <= b.y + 1 - v.scroll_y < v.size.height)
        b = v.drawing.boxes[target_vid]
        await pilot.click(GraphView, offset=(b.x + v.pad + 2 - int(v.scroll_x),
                                             b.y + 1 - int(v.scroll_y)))
        await settle(pilot)
        assert v.selected == target_vid
        assert app.screen.current == Target(NODE, 0, st.kinds[target_vid][1])


@pytest.mark.asyncio
async def test_findings_marks_list_and_next_keys():
    model = branching_model()
    app = browser(model, graph=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.overlays.set_findings("micro", findings_for(model))
        app.screen._check_done()
        await settle(pilot)
        assert "check micro: ✖ 1 error ▲ 2 warnings" in app.sub_title
        text = view(app).drawing.text(decorations=view(app)._decorations)
        assert "✖ error" in text and "▲ 2 warnings" in text
        # n / N go through the nodes with findings, in node order, wrapping around.
        await pilot.press("n")
        await settle(pilot)
        assert app.screen.current == Target(NODE, 0, 3) and selected_node(app) == 3
        facts = details_facts(app)
        assert facts["✖ error"] == "[T001] ADD: int8 inputs with different scales need " \
            "requantization"
        assert facts["fix"] == "rescale_add"
        await pilot.press("n")
        await settle(pilot)
        assert app.screen.current == Target(NODE, 0, 4)
        await pilot.press("n")
        await settle(pilot)
        assert app.screen.current == Target(NODE, 0, 3)
        await pilot.press("N")
        await settle(pilot)
        assert app.screen.current == Target(NODE, 0, 4)
        # The list: every finding, Enter opens its node.
        await pilot.press("e")
        await settle(pilot)
        ol = app.screen.query_one("#findings-list", OptionList)
        assert ol.option_count == 4
        assert str(ol.get_option_at_index(0).prompt).startswith("✖ error")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.current == Target(NODE, 0, 3)
        assert selected_node(app) == 3


@pytest.mark.asyncio
async def test_debug_overlay_colours_legend_and_details(tmp_path):
    model = branching_model()
    debug = DebugOverlay.read(debug_json(model, tmp_path))
    assert debug.bind(model) == 3
    app = browser(model, debug=debug, graph=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        legend = str(app.screen.query_one("#graph-legend", Static).content)
        assert legend.startswith("rmse/scale") and "● > 1.5" in legend
        v = view(app)
        deco = v._decorations
        st = v.drawing.structure
        assert deco[st.vid_of_node[2]].bottom == "◑ 0.84"
        assert deco[st.vid_of_node[2]].bottom_role == "lvl2"
        assert deco[st.vid_of_node[3]].bottom == "○ 0.3"
        assert deco[st.vid_of_node[5]].bottom == "● 2.5"
        assert st.vid_of_node[1] not in deco
        b = v.drawing.boxes[st.vid_of_node[2]]
        assert "◑ 0.84" in v.drawing.text(decorations=deco).splitlines()[b.bottom - 1]
        await goto(pilot, Target(NODE, 0, 2))
        facts = details_facts(app)
        assert facts["quant error"] == "◑ rmse/scale 0.84  (up to 1.5 steps)"
        assert facts["sqnr"] == "31.5 dB"
        # The activation conv_b writes: its error statistics on its tensor page.
        out = model.graphs[0].nodes[2].outputs[0]
        await goto(pilot, Target(TENSOR, 0, model.graphs[0].values.index(out)))
        assert details_facts(app)["quant error"].startswith("◑ rmse/scale 0.84")


def test_debug_overlay_bad_files(tmp_path):
    from modelkit.errors import UsageError

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="not JSON"):
        DebugOverlay.read(bad)
    bad.write_text(json.dumps({"schema_version": 7, "layers": []}))
    with pytest.raises(UsageError, match="schema_version 7"):
        DebugOverlay.read(bad)
    bad.write_text(json.dumps({"schema_version": 1, "layers": [
        {"graph": 0, "node": 0, "node_name": "elsewhere", "tensor_name": ""}]}))
    with pytest.raises(UsageError, match="another model"):
        DebugOverlay.read(bad).bind(branching_model())


@pytest.mark.asyncio
async def test_check_runs_in_the_background_and_counts_match(sample_path):
    check = pytest.importorskip("modelkit.check")
    try:
        report = check.check_model(modelkit_load(sample_path), target="micro")
    except ImportError as e:
        pytest.skip(f"check is not complete here: {e}")
    app = load_browser(sample_path, run_check=True, target="micro")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        errors = sum(1 for f in report.findings if f.severity == "error")
        warnings = sum(1 for f in report.findings if f.severity == "warning")
        assert f"check micro: ✖ {errors} error" in app.sub_title
        assert f"▲ {warnings} warning" in app.sub_title
        assert len(app.overlays.findings) == len(report.findings)


def modelkit_load(path):
    import modelkit

    return modelkit.load(path)


@pytest.mark.asyncio
async def test_big_graph_draws_the_neighbourhood():
    model = chain_model(FULL_LAYOUT_LIMIT + 200)
    app = browser(model)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, Target(NODE, 0, 1500))
        await pilot.press("g")
        await settle(pilot)
        v = view(app)
        assert v.neighbourhood and selected_node(app) == 1500
        assert sorted(v.drawing.structure.kinds[b][1] for b in v.drawing.boxes) == \
            list(range(1497, 1504))
        assert "too many to lay out whole" in v.status()
        assert_centred(app)
        await pilot.press("c")
        await settle(pilot)
        assert selected_node(app) == 1501
        assert_centred(app)


@pytest.mark.asyncio
async def test_real_debug_output_on_the_sample(sample_path, op_details):
    """`modelkit debug samples/digits_float.tflite samples/digits_int8.tflite --json`
    (committed): every layer lands on the op the interpreter says writes its tensor."""
    from conftest import HERE

    path = HERE / "data" / "digits_int8_debug.json"
    layers = json.loads(path.read_text())["layers"]
    writer = {t: o["index"] for o in op_details for t in o["outputs"]}
    app = load_browser(sample_path, graph=True)
    debug = DebugOverlay.read(path)
    assert debug.bind(app.model) == len(layers)
    app.overlays.debug = debug
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        v = view(app)
        st = v.drawing.structure
        for layer in layers:
            op = writer[layer["tensor_idx"]]
            assert op == layer["node"]
            deco = v._decorations[st.vid_of_node[op]]
            level = next(i for i, hi in enumerate((0.35, 0.7, 1.5, float("inf")))
                         if layer["rmse_scale"] <= hi)
            assert deco.bottom == f"{'○◔◑●'[level]} {layer['rmse_scale']:.4g}"
        assert app.screen.query_one("#graph-legend").display


@pytest.mark.asyncio
async def test_graph_view_follows_into_other_subgraphs():
    from conftest import ROOT

    path = ROOT / "samples" / "control_flow.tflite"
    if not path.exists():
        pytest.skip(f"{path} is not there")
    app = load_browser(path, graph=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        model = app.model
        body = next(i for i, g in enumerate(model.graphs) if g.name == "while_body")
        fc = next(i for i, n in enumerate(model.graphs[body].nodes)
                  if n.op == "FULLY_CONNECTED")
        await goto(pilot, Target(NODE, body, fc))
        v = view(app)
        assert v.graph == body and selected_node(app) == fc
        assert v.status().startswith(f'subgraph {body} "while_body"')
        assert_centred(app)
        # Every op of the body is drawn, with the graph's inputs and outputs.
        g = model.graphs[body]
        kinds = [v.drawing.structure.kinds[b] for b in v.drawing.boxes]
        assert sorted(ni for k, ni, _ in kinds if k == "node") == list(range(len(g.nodes)))


@pytest.mark.asyncio
async def test_an_overlay_partly_of_another_model_is_said_in_the_app(sample_path, tmp_path):
    from conftest import HERE

    doc = json.loads((HERE / "data" / "digits_int8_debug.json").read_text())
    doc["layers"][0]["node_name"] = "renamed"
    path = tmp_path / "partial.json"
    path.write_text(json.dumps(doc))
    app = load_browser(sample_path, graph=True)
    debug = DebugOverlay.read(path)
    assert debug.bind(app.model) == 6 and debug.unmatched == 1
    app.overlays.debug = debug
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert [n.message for n in app._notifications] == [
            "6 of 7 layers of the overlay match a node of the model; the other 1 (another "
            "model's?) are not shown"]
