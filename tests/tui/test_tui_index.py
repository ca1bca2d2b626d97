"""The browser's pure parts: incremental filtering, pages, tensor statistics (no Textual)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synth_models import chain_model, small_int8_model

from modelkit.ir import ArrayData, DType, QuantParams
from tui.model_index import (NODE, TENSOR, IncrementalFilter, ModelIndex, Target,
                             quant_summary)
from tui.tensor_stats import render_values, tensor_values


def brute_force(keys: list[str], query: str) -> list[int]:
    terms = query.lower().split()
    return [i for i, k in enumerate(keys) if all(t in k for t in terms)]


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(st.text(alphabet="abc_ 1", max_size=8), max_size=30),
       typed=st.lists(st.sampled_from(list("abc_ 1") + ["\b"]), max_size=12))
def test_incremental_filter_equals_a_full_scan(keys, typed):
    keys = [k.lower() for k in keys]
    f = IncrementalFilter(keys, cache_size=4)
    query = ""
    for ch in typed:
        query = query[:-1] if ch == "\b" else query + ch
        assert f.filter(query) == brute_force(keys, query)


def test_target_keys_round_trip():
    for t in (Target(NODE, 0, 3), Target(TENSOR, 2, 140), Target("graph", 1)):
        assert Target.parse(t.key) == t
    assert Target.parse("x-1-2") is None and Target.parse("n-a-1") is None


def test_node_page_lines_and_links():
    model = small_int8_model()
    index = ModelIndex(model)
    page = index.page(Target(NODE, 0, 2))  # FULLY_CONNECTED with an omitted bias
    assert page.title == "FULLY_CONNECTED" and page.kind == "node #2"
    assert ("  fused_activation_function", "NONE") in page.header
    roles = [line.role for line in page.links]
    assert roles == ["input", "input", "input", "output"]
    assert page.links[2].target is None and "omitted" in page.links[2].text
    # Hand-computed: 0.0125 * (q + 128) over int8 is 0 .. 0.0125 * 255 = 3.1875.
    assert page.links[0].text.split() == ["input", "int8[1,48]", "0", "<=", "0.0125", "*",
                                          "(q", "+", "128)", "<=", "3.1875", "reshape/out"]
    assert index.value(page.links[1].target).name == "fc/weights"
    assert [c.title for c in page.channels] == ["input: fc/weights"]


def test_quant_summary_per_channel():
    q = QuantParams([0.5, 0.25, 0.125], [0, 0, 0], axis=3, storage=DType.INT8)
    assert quant_summary(q) == "per-channel axis 3: 3 scales 0.125..0.5"
    q = QuantParams([0.5, 0.25], [1, 2], axis=0, storage=DType.INT8)
    assert quant_summary(q).endswith(", zero points 1..2")
    assert quant_summary(None) == ""


def test_search_keys_cover_name_op_dtype_and_shape():
    index = ModelIndex(small_int8_model())

    def found(query):
        return [index.search_rows[i].text.split()[0] + " " + index.search_rows[i].text.split()[-1]
                for i in index.search_filter.filter(query)]

    assert found("softmax") == ["node output"]
    assert found("int32") == ["tensor conv/bias", "tensor reshape/shape"]
    assert found("1,48") == ["tensor reshape/out"]
    assert found("10x48") == ["tensor fc/weights"]


def test_tensor_values_per_channel_match_numpy():
    rng = np.random.default_rng(1)
    q_int = rng.integers(-128, 128, size=(4, 5, 3), dtype=np.int8)
    scales = np.array([0.1, 0.02, 0.5])
    zps = np.array([3, -2, 0])
    q = QuantParams(scales, zps, axis=2, storage=DType.INT8)
    real = (q_int.astype(np.float64) - zps) * scales
    vals = tensor_values(ArrayData(q_int), q, preview=7, bins=5)
    assert vals.raw == q_int.reshape(-1)[:7].tolist()
    np.testing.assert_allclose(vals.real, real.reshape(-1)[:7])
    s = vals.stats
    assert (s.min, s.max) == pytest.approx((real.min(), real.max()))
    assert s.mean == pytest.approx(real.mean()) and s.std == pytest.approx(real.std())
    assert s.zero_fraction == pytest.approx(np.mean(real == 0))
    counts, edges = np.histogram(real, bins=5)
    assert [c for _, _, c in vals.histogram] == counts.tolist()
    np.testing.assert_allclose([lo for lo, _, _ in vals.histogram], edges[:-1])


def test_tensor_values_chunked_equals_whole(monkeypatch):
    import tui.tensor_stats as ts

    data = np.random.default_rng(2).normal(size=10_001).astype(np.float32)
    whole = tensor_values(ArrayData(data), None)
    monkeypatch.setattr(ts, "CHUNK", 1000)
    chunked = tensor_values(ArrayData(data), None)
    assert chunked.stats.mean == pytest.approx(whole.stats.mean, rel=1e-9)
    assert chunked.histogram == whole.histogram
    assert whole.stats.std == pytest.approx(float(np.std(data.astype(np.float64))), rel=1e-6)


def test_tensor_values_can_be_stopped():
    data = ArrayData(np.zeros(10, dtype=np.float32))
    assert tensor_values(data, None, should_stop=lambda: True) is None


def test_render_values_histogram_bars():
    vals = tensor_values(ArrayData(np.array([0, 0, 0, 1], dtype=np.int32)), None, bins=2)
    lines = render_values(vals, 4, bar=6)
    assert lines[0] == "raw       0 0 0 1"
    assert "zeros 75.0%" in lines[1]
    # 3 of 4 values in [0, 0.5): a full bar; 1 in [0.5, 1]: a third of it.
    assert lines[3:] == ["    0 .. 0.5  ██████  3", "  0.5 .. 1    ██      1"]


def test_index_of_a_big_model_is_complete():
    model = chain_model(1000)
    index = ModelIndex(model)
    g = model.graphs[0]
    nodes = [r for r in index.graph_rows if r.target is not None and r.target.kind == NODE]
    assert len(nodes) == 1000
    assert len(index.search_rows) == len(g.nodes) + len(g.values)
    assert index.search_filter.filter("block_249/") == [
        i for i, r in enumerate(index.search_rows) if "block_249/" in r.text]


def test_graph_rows_of_several_graphs_by_hand():
    """control_flow.tflite: three subgraphs; rows are per graph a header, the entry
    points, then the ops. Made on demand, they are what the model lists, in order."""
    from conftest import ROOT

    import modelkit

    path = ROOT / "samples" / "control_flow.tflite"
    if not path.exists():
        pytest.skip(f"{path} is not there")
    model = modelkit.load(path)
    index = ModelIndex(model)
    rows = index.graph_rows
    expected: list[tuple[str, Target | None]] = []
    for gi, g in enumerate(model.graphs):
        expected.append(("header", Target("graph", gi)))
        sigs = [s for s in model.signatures if s.graph == gi]
        ios = [io for s in sigs for io in (*s.inputs, *s.outputs)] if sigs else \
            [*g.inputs, *g.outputs]
        expected += [("entry", None)] * len(ios)
        expected += [("node", Target(NODE, gi, ni)) for ni in range(len(g.nodes))]
    assert len(rows) == len(expected)
    for i, (kind, target) in enumerate(expected):
        row = rows[i]
        assert row.header == (kind == "header")
        if kind != "entry":
            assert row.target == target
            assert rows.row_of(target) == i
        if kind == "node":
            n = model.graphs[target.graph].nodes[target.index]
            assert row.text.split()[:2] == [str(n.index), n.op]
        assert rows[rows.header_of(i)].target == Target("graph", target.graph
                                                        if target else rows.graph_of(i))
    assert rows[-1] is rows[len(rows) - 1] and rows[1:3] == [rows[1], rows[2]]
    with pytest.raises(IndexError):
        rows[len(rows)]
    assert index.graph_filter.filter("while") == [
        i for i in range(len(rows)) if "while" in rows[i].key]


def test_the_list_of_a_big_graph_is_made_as_it_is_drawn():
    model = chain_model(3000)
    index = ModelIndex(model)
    assert len(index.graph_rows) == 3 + 3000
    assert len(index.graph_rows._made) == 0
    assert index.graph_rows.row_of(Target(NODE, 0, 2999)) == 3002
    assert index.graph_rows[3002].text.split()[:2] == ["2999", model.graphs[0].nodes[2999].op]
    assert len(index.graph_rows._made) == 1
