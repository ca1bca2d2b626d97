"""Facts of the drawn graph, asserted on the geometry (no Textual): layers point down, boxes
never overlap, edges run outside boxes and end in an arrow on their target, constants fold
into their consumer; the interpreter's op list is the oracle for the edges of the sample."""

from __future__ import annotations

import pytest
from synth_models import branching_model, chain_model, cyclic_model

import modelkit
from modelkit.layout import HEAD_DOWN, HEAD_UP
from tui.graph_drawing import GraphStructure, Layout


def _box_cells(lay: Layout) -> set[tuple[int, int]]:
    return {(x, y) for b in lay.boxes.values() for x in range(b.x, b.right)
            for y in range(b.y, b.bottom)}


def assert_sound(lay: Layout) -> None:
    """Every geometric promise of a layout."""
    st = lay.structure
    boxes = list(lay.boxes.values())
    # No two boxes overlap, nor touch.
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = a.right < b.x or b.right < a.x or a.bottom <= b.y or b.bottom <= a.y
            assert apart, (a, b)
    # Inside the drawing.
    for b in boxes:
        assert 0 <= b.x and b.right <= lay.width and 0 <= b.y and b.bottom <= lay.height
    inside = _box_cells(lay)
    for route in lay.routes:
        e = st.edges[route.edge]
        src, dst = lay.boxes[e.src], lay.boxes[e.dst]
        if route.back:
            # A cycle's closing edge: the target is drawn above and the arrow points up.
            assert dst.bottom <= src.y
            x, y = route.points[0]
            assert y == dst.bottom and dst.x < x < dst.right - 1
            assert lay.cells[y][x][2] == HEAD_UP
        else:
            # Every edge's source box lies above its target box, in an earlier layer.
            assert src.bottom <= dst.y and src.layer < dst.layer
            x, y = route.points[-1]
            assert y == dst.y - 1 and dst.x < x < dst.right - 1
            assert lay.cells[y][x][2] == HEAD_DOWN
            assert route.points[0] == (route.points[0][0], src.bottom)
            assert src.x < route.points[0][0] < src.right - 1
        # The path is orthogonal and never enters a box.
        for (x0, y0), (x1, y1) in zip(route.points, route.points[1:]):
            assert x0 == x1 or y0 == y1
            for x in range(min(x0, x1), max(x0, x1) + 1):
                for y in range(min(y0, y1), max(y0, y1) + 1):
                    assert (x, y) not in inside, (route, x, y)
                    assert x in lay.cells.get(y, {})
    # Labels sit on free cells.
    for y, labels in lay.labels.items():
        for x, text, _ in labels:
            for i in range(len(text)):
                assert (x + i, y) not in inside
                assert x + i not in lay.cells.get(y, {})


def test_branching_model_layout():
    model = branching_model()
    g = model.graphs[0]
    st = GraphStructure(g)
    lay = st.layout()
    assert_sound(lay)
    # One box per op, plus the graph input and output; constants are folded.
    assert len(lay.boxes) == len(g.nodes) + 2
    assert sorted(ni for k, ni, _ in st.kinds if k == "node") == list(range(len(g.nodes)))
    # The edges are exactly the producer -> consumer pairs of activations (computed here
    # from the IR independently), plus input and output.
    expected = {(p.name, n.name) for n in g.nodes for v in n.inputs
                if v is not None and (p := v.producer) is not None}
    drawn = {(st.kinds[e.src], st.kinds[e.dst]) for e in st.edges}
    node_pairs = {(g.nodes[a[1]].name, g.nodes[b[1]].name) for a, b in drawn
                  if a[0] == "node" and b[0] == "node"}
    assert node_pairs == expected
    assert len(st.edges) == len(expected) + 2
    # The residual: ADD reads conv_a directly (a long edge past conv_b) and conv_b.
    box = {g.nodes[ni].op + str(ni): lay.boxes[st.vid_of_node[ni]] for ni in range(len(g.nodes))}
    assert box["CONV_2D1"].layer < box["CONV_2D2"].layer < box["ADD3"].layer
    assert box["ADD3"].layer < box["CONCATENATION5"].layer < box["DEQUANTIZE6"].layer
    # The branch splits side by side: conv_b and the depthwise conv share a layer.
    assert box["CONV_2D2"].layer == box["DEPTHWISE_CONV_2D4"].layer
    # Weights and biases are lines in their consumer's box.
    conv = st.vertex(st.vid_of_node[1])
    assert conv.title == "CONV_2D +RELU"
    assert "filter int8[8,3,3,4]" in conv.lines and "bias int32[8]" in conv.lines
    # Each edge carries its tensor type where there is room: every one here.
    labelled = {text for labels in lay.labels.values() for _, text, _ in labels}
    assert {e.value.type_str() for e in st.edges} <= labelled | {"float32[1,8,8,16]"}


def test_sample_edges_are_the_interpreters_data_flow(sample_path, op_details):
    g = modelkit.load(sample_path).graphs[0]
    st = GraphStructure(g)
    lay = st.layout()
    assert_sound(lay)
    producer = {t: o["index"] for o in op_details for t in o["outputs"]}
    expected = {(producer[t], o["index"]) for o in op_details for t in o["inputs"]
                if t in producer}
    drawn = {(st.kinds[e.src][1], st.kinds[e.dst][1]) for e in st.edges
             if st.kinds[e.src][0] == "node" and st.kinds[e.dst][0] == "node"}
    assert drawn == expected


def test_tf_constants_fold_through_read_identities():
    g = modelkit.load(_frozen()).graphs[0]
    st = GraphStructure(g)
    names = {g.nodes[ni].name for ni in st.folded}
    assert {"conv1/kernel", "conv1/kernel/read", "conv1/bias", "conv1/bias/read"} <= names
    conv = next(ni for ni, n in enumerate(g.nodes) if n.name == "conv1/Conv2D")
    assert "filter float32[3,3,1,8]" in st.vertex(st.vid_of_node[conv]).lines
    # A folded node is shown at its consumer.
    kernel = next(ni for ni, n in enumerate(g.nodes) if n.name == "conv1/kernel")
    assert st.vertex_of(kernel) == st.vid_of_node[conv]
    assert_sound(st.layout())


def _frozen():
    from conftest import ROOT

    path = ROOT / "samples" / "digits_frozen.pb"
    if not path.exists():
        pytest.skip("samples/digits_frozen.pb is not there")
    return path


def test_cycle_is_drawn_with_an_upward_arrow():
    st = GraphStructure(cyclic_model().graphs[0])
    lay = st.layout()
    back = [r for r in lay.routes if r.back]
    assert len(back) == 1
    e = st.edges[back[0].edge]
    assert st.kinds[e.src][0] == "node" and st.graph.nodes[st.kinds[e.src][1]].op == \
        "NextIteration"
    assert_sound(lay)


def test_neighbourhood_hops_and_hidden_edges():
    model = chain_model(60)
    st = GraphStructure(model.graphs[0])
    center = st.vid_of_node[30]
    for hops in (1, 2, 4):
        near = st.neighbourhood(center, hops)
        # A chain: the centre and `hops` ops on each side.
        assert sorted(st.kinds[v][1] for v in near) == list(range(30 - hops, 31 + hops))
        lay = st.layout(near)
        assert_sound(lay)
        first = lay.boxes[st.vid_of_node[30 - hops]]
        last = lay.boxes[st.vid_of_node[30 + hops]]
        assert (first.hidden_in, first.hidden_out) == (1, 0)
        assert (last.hidden_in, last.hidden_out) == (0, 1)
        assert "+1 in" in lay.text().splitlines()[first.y]
    assert len(st.neighbourhood(center, 50, cap=10)) == 10


def test_components_side_by_side():
    model = branching_model()
    g = model.graphs[0]
    st = GraphStructure(g)
    # Two unconnected pieces: the QUANTIZE op alone and the tail from CONCATENATION.
    pieces = [st.vid_of_node[0], st.vid_of_node[5], st.vid_of_node[6]]
    lay = st.layout(pieces)
    assert_sound(lay)
    a, b = lay.boxes[pieces[0]], lay.boxes[pieces[1]]
    assert a.right < b.x or b.right < a.x


def test_render_row_is_a_window_of_the_text():
    st = GraphStructure(branching_model().graphs[0])
    lay = st.layout()
    full = lay.text().splitlines()
    for y in (0, 5, 20):
        row = "".join(t for t, _ in lay.render_row(y, 3, 30))
        assert row == (full[y] if y < len(full) else "").ljust(lay.width)[3:33].ljust(30)
    # The selected box is drawn with heavy lines, others with light ones.
    vid = st.vid_of_node[3]
    b = lay.boxes[vid]
    row = "".join(t for t, _ in lay.render_row(b.y, b.x, b.w, selected=vid))
    assert row.startswith("┏") and row.endswith("┓")
    assert lay.box_at(b.x + 1, b.y + 1) == vid and lay.box_at(0, 0) is None


SAMPLES = ["digits_int8.tflite", "digits_float.tflite", "digits_dynamic.tflite",
           "digits_fp16.tflite", "digits_int16x8.tflite", "digits_uint8_legacy.tflite",
           "control_flow.tflite", "digits_frozen.pb", "digits_frozen.pbtxt",
           "digits_legacy_quantized.pb", "digits_keras.h5", "digits_keras2.h5",
           "digits_savedmodel", "digits_ckpt"]


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_format_lays_out_soundly(name):
    from conftest import ROOT

    path = ROOT / "samples" / name
    if not path.exists():
        pytest.skip(f"{path} is not there")
    model = modelkit.load(path)
    for g in model.graphs:
        st = GraphStructure(g)
        # Every op is a box or folded into one; what is folded only makes constants.
        for ni, n in enumerate(g.nodes):
            if ni in st.folded:
                assert all(v.is_const or v.producer is not None for v in n.outputs)
                assert st.vertex_of(ni) is None or st.kinds[st.vertex_of(ni)][0] == "node"
            else:
                assert st.kinds[st.vid_of_node[ni]] == ("node", ni, None)
        # An edge for every activation a drawn op reads from another drawn op.
        want = {(st.vid_of_node[g.nodes.index(v.producer)], st.vid_of_node[ni])
                for ni, n in enumerate(g.nodes) if ni in st.vid_of_node
                for v in n.inputs if v is not None and v.producer is not None
                and g.nodes.index(v.producer) in st.vid_of_node}
        assert want <= {(e.src, e.dst) for e in st.edges}
        if len(st):
            assert_sound(st.layout())
