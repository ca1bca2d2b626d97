"""Every export format against the IR: every node once with its op, every edge of the IR,
the quantization formulas of QuantParams.describe and the weight statistics numpy
computes on the tensors; the page requests nothing from a network; Graphviz draws the
DOT file (when it is installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import modelkit
from modelkit.export import formats
from modelkit.export.document import Document
from modelkit.export.marks import Marks

from .helpers import (DOT_EDGE, DOT_NODE, NETWORK, dot_unquote, html_data, html_parts,
                      ir_edges, numpy_stats, svg_elements)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
sys.path.insert(0, str(ROOT / "tests" / "tui"))

MODELS = ["digits_int8.tflite", "digits_frozen.pb", "control_flow.tflite",
          "digits_uint8_legacy.tflite", "digits_keras.h5"]


def _load(name: str):
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} is not there")
    return modelkit.load(path)


def _render(model, fmt: str, out: str = "out", graph: int | None = None) -> str:
    doc = Document.build(model, Marks(), graph)
    return formats.render(doc, fmt, Path(out))[0][1]


def _svg_edges(root: ET.Element) -> Counter:
    """(producer, consumer, tensor) of every drawn edge, "input"/"output" for io boxes."""
    nodes, boxes, paths = svg_elements(root)
    who = {}
    for b in boxes:
        who[b.get("data-box")] = int(b.get("data-node")) if b.get("data-node") else \
            b.get("data-io")
    return Counter((who[p.get("data-from")], who[p.get("data-to")], p.get("data-tensor"))
                   for p in paths)


def _drawn_edges(model, gi: int, doc_graph) -> Counter:
    """The IR's edges the layout draws: between two ops that have boxes of their own in
    the same part (a constant is folded into its reader), once per reader and tensor."""
    g = model.graphs[gi]
    st = doc_graph.structure
    part = doc_graph.part_of_box
    own = {ni: vid for ni, vid in st.vid_of_node.items()}
    io_vid = {}
    for vid, (kind, _, v) in enumerate(st.kinds):
        if kind != "node":
            io_vid[(kind, v.name)] = vid
    want = Counter()
    for (src, dst, name) in ir_edges(g):
        s = own.get(src) if src != "input" else io_vid.get(("input", name))
        d = own.get(dst) if dst != "output" else io_vid.get(("output", name))
        if s is None or d is None or part[s] != part[d] or s == d:
            continue
        want[(src, dst, name)] = 1
    return want


@pytest.mark.parametrize("name", MODELS)
def test_svg_and_html_draw_every_node_once_and_every_edge(name):
    model = _load(name)
    doc = Document.build(model, Marks())
    html = formats.render(doc, "html", Path("x.html"))[0][1]
    parts = html_parts(html)
    k = 0
    for gi, gd in enumerate(doc.graphs):
        g = model.graphs[gi]
        seen = Counter()
        drawn = Counter()
        for _ in gd.parts:
            nodes, _, _ = svg_elements(parts[k])
            seen.update((ni, op) for ni, op, _ in nodes)
            drawn.update(_svg_edges(parts[k]))
            k += 1
        placed = {ni for ni, vid in enumerate(gd.box_of_node) if vid is not None}
        # Every node that a box draws appears exactly once, with its op.
        assert seen == Counter((ni, g.nodes[ni].op) for ni in placed)
        # Only constants nobody reads may lack a box; the page still lists them.
        for ni in set(range(len(g.nodes))) - placed:
            assert all(v.is_const for v in g.nodes[ni].outputs)
        assert {k2: 1 for k2 in drawn} == dict(_drawn_edges(model, gi, gd))
        assert set(drawn.values()) <= {1}
        data = html_data(html)["graphs"][gi]
        assert [(n["n"], n["op"]) for n in data["nodes"]] == [(n.name, n.op) for n in g.nodes]
    # The standalone SVG of the main graph is the same drawing of part 1.
    svg = formats.render(Document.build(model, Marks(), 0), "svg", Path("x.svg"))[0][1]
    root = ET.fromstring(svg)
    nodes, _, _ = svg_elements(root)
    gd = doc.graphs[0]
    assert Counter((ni, op) for ni, op, _ in nodes) == Counter(
        (ni, model.graphs[0].nodes[ni].op) for ni, vid in enumerate(gd.box_of_node)
        if vid is None or vid in set(gd.parts[0]))
    assert Counter(_svg_edges(root)) == _drawn_edges(model, 0, gd)


@pytest.mark.parametrize("name", MODELS)
def test_dot_has_every_node_and_every_edge_of_the_ir(name):
    model = _load(name)
    text = _render(model, "dot")
    nodes = Counter()
    for ident, _, op, index in DOT_NODE.findall(text):
        gi, ni = map(int, re.match(r"g(\d+)_n(\d+)", ident).groups())
        assert int(index) == ni
        nodes[(gi, ni, dot_unquote(op))] += 1
    assert nodes == Counter((gi, ni, n.op) for gi, g in enumerate(model.graphs)
                            for ni, n in enumerate(g.nodes))
    edges = Counter()
    for src, dst, _, tensor in DOT_EDGE.findall(text):
        gi = int(src[1:src.index("_")])

        def end(ident, io):
            return int(ident.split("_n")[1]) if "_n" in ident else io
        edges[(gi, end(src, "input"), end(dst, "output"), dot_unquote(tensor))] += 1
    want = Counter()
    for gi, g in enumerate(model.graphs):
        for (s, d, t), c in ir_edges(g).items():
            want[(gi, s, d, t)] += c
    assert edges == want


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_graphviz_draws_the_dot_file(tmp_path):
    model = _load("digits_frozen.pb")
    path = tmp_path / "m.dot"
    path.write_text(_render(model, "dot"))
    res = subprocess.run(["dot", "-Tsvg", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    root = ET.fromstring(res.stdout)
    ns = "{http://www.w3.org/2000/svg}"
    drawn = [g.find(f"{ns}title").text for g in root.iter(f"{ns}g")
             if g.get("class") == "node"]
    want = {f"g0_n{i}" for i in range(len(model.main.nodes))}
    assert want <= set(drawn)
    edges = [g for g in root.iter(f"{ns}g") if g.get("class") == "edge"]
    assert len(edges) == sum(ir_edges(model.main).values())


def test_mermaid_has_every_node_and_edge_and_refuses_big_graphs(tmp_path):
    from synth_models import chain_model

    from modelkit.errors import UsageError

    model = _load("digits_int8.tflite")
    text = _render(model, "mermaid")
    assert text.startswith("flowchart TB\n")
    g = model.main
    found = re.findall(r'^  n(\d+)\["([^"<]*)<br/>', text, re.M)
    assert [(int(i), op) for i, op in found] == [(i, n.op) for i, n in enumerate(g.nodes)]
    links = re.findall(r"^  (\w+) -->\|\"[^\"]*\"\| (\w+)$", text, re.M)
    assert len(links) == sum(ir_edges(g).values())
    md = formats.render(Document.build(model, Marks()), "mermaid", Path("m.md"))[0][1]
    assert "```mermaid\nflowchart TB\n" in md and md.rstrip().endswith("```")
    with pytest.raises(UsageError, match="1,000 nodes.*too large for Mermaid.*--graph N"):
        _render(chain_model(1000), "mermaid")


@pytest.mark.parametrize("name", MODELS)
def test_model_explorer_graph_collection(name):
    model = _load(name)
    doc = json.loads(_render(model, "model-explorer"))
    assert set(doc) == {"label", "graphs"} and doc["label"] == name
    for gi, (g, mg) in enumerate(zip(model.graphs, doc["graphs"])):
        ops = {n["id"]: n for n in mg["nodes"] if not n["id"].startswith(("input_", "output_"))}
        assert [(int(i), n["label"]) for i, n in ops.items()] == \
            [(i, n.op) for i, n in enumerate(g.nodes)]
        for i, n in enumerate(g.nodes):
            node = ops[str(i)]
            scope = n.name.split(";")[0].rpartition("/")[0]
            assert node["namespace"] == scope
            meta = {m["id"]: {a["key"]: a["value"] for a in m["attrs"]}
                    for m in node["outputsMetadata"]}
            for k, v in enumerate(n.outputs):
                assert meta[str(k)]["tensor_name"] == v.name
                if v.quant is not None and v.quant.scale.size <= 256:
                    assert meta[str(k)]["quantization"] == v.quant.describe()
        # Incoming edges, mapped back to positions and tensor names, are the IR's.
        by_id = {n["id"]: n for n in mg["nodes"]}
        got = Counter()
        for n in mg["nodes"]:
            for e in n.get("incomingEdges", []):
                src = by_id[e["sourceNodeId"]]
                if src["label"] == "Inputs":
                    tensor = next(a["value"] for a in src["outputsMetadata"][0]["attrs"]
                                  if a["key"] == "tensor_name")
                    s = "input"
                else:
                    s = int(src["id"])
                    tensor = g.nodes[s].outputs[int(e["sourceNodeOutputId"])].name
                if n["label"] == "Outputs":
                    d = "output"
                else:
                    d = int(n["id"])
                    assert g.nodes[d].inputs[int(e["targetNodeInputId"])].name == tensor
                got[(s, d, tensor)] += 1
        assert got == ir_edges(g)


def test_model_explorer_node_data_of_each_mark(tmp_path):
    from modelkit.check import check_model
    from modelkit.export.marks import check_marks

    model = _load("digits_uint8_legacy.tflite")
    doc = Document.build(model, check_marks(model, "micro"))
    files = formats.render(doc, "model-explorer", tmp_path / "m.json")
    assert [p.name for p, _ in files] == ["m.json", "m.check.nodedata.json"]
    data = json.loads(files[1][1])
    gid = json.loads(files[0][1])["graphs"][0]["id"]
    report = check_model(model, "micro")
    want = {str(f.node) for f in report.findings if f.node is not None and f.graph == 0}
    assert want and set(data[gid]["results"]) == want
    for key, r in data[gid]["results"].items():
        mine = [f for f in report.findings if str(f.node) == key and f.graph == 0]
        assert mine[0].message in r["value"] and r["bgColor"]


@pytest.mark.parametrize("name", ["digits_int8.tflite", "digits_uint8_legacy.tflite",
                                  "digits_frozen.pb"])
def test_quantization_formulas_and_weight_statistics(name):
    model = _load(name)
    doc = Document.build(model, Marks())
    page = html_data(formats.render(doc, "html", Path("x.html"))[0][1])
    own = json.loads(formats.render(doc, "json", Path("x.json"))[0][1])
    consts = 0
    for gi, g in enumerate(model.graphs):
        by_name_html = {t["n"]: t for t in page["graphs"][gi]["tensors"]}
        by_name_json = {t["name"]: t for t in own["graphs"][gi]["tensors"]}
        for v in g.values:
            h, j = by_name_html[v.name], by_name_json[v.name]
            if v.quant is not None and v.quant.scale.size:
                want = v.quant.describe().splitlines()
                assert h["q"] == want and j["quantization"] == want
            else:
                assert "q" not in h and "quantization" not in j
            if v.data is None or np.asarray(v.data.numpy()).dtype.kind not in "biuf":
                continue
            consts += 1
            want = numpy_stats(v)
            for key in ("min", "max", "mean", "std"):
                assert j["stats"][key] == pytest.approx(want[key], rel=1e-9, abs=1e-12)
                assert h["s"][key] == pytest.approx(want[key], rel=1e-6, abs=1e-9)
            if "real" in want:
                for key in ("min", "max", "mean", "std"):
                    assert j["stats"]["real"][key] == pytest.approx(want["real"][key],
                                                                    rel=1e-6, abs=1e-9)
    assert consts > 3


@pytest.mark.parametrize("name", MODELS)
def test_the_page_requests_nothing_and_embeds_no_weights(name):
    model = _load(name)
    html = _render(model, "html")
    assert NETWORK.search(html) is None, NETWORK.search(html)
    # The weights are summarized: the page is smaller than the model's constant data
    # would be as text, and holds no long run of numbers.
    assert not re.search(r"(-?\d+(\.\d+)?,){200}", html)


def test_a_big_weight_stays_out_of_the_page(tmp_path):
    from synth_models import small_int8_model

    from modelkit.ir import ArrayData, DType

    model = small_int8_model()
    fc = model.main.nodes[2].inputs[1]
    big = np.random.default_rng(1).integers(-127, 128, size=(4000, 48 * 100), dtype=np.int8)
    fc.data = ArrayData(big, DType.INT8)
    fc.shape = big.shape
    html = _render(model, "html")
    assert big.nbytes > 19_000_000 and len(html) < 200_000
    t = next(t for t in html_data(html)["graphs"][0]["tensors"] if t["n"] == fc.name)
    assert t["s"]["mean"] == pytest.approx(float(big.astype(np.float64).mean()), rel=1e-6)


def test_a_graph_in_parts_draws_every_node_once_and_counts_the_edges_between_parts(
        monkeypatch):
    from synth_models import chain_model

    import modelkit.layout.parts as layout_parts

    monkeypatch.setattr(layout_parts, "WHOLE_LIMIT", 60)
    monkeypatch.setattr(layout_parts, "PART_SIZE", 25)
    model = chain_model(120)
    doc = Document.build(model, Marks())
    gd = doc.graphs[0]
    assert len(gd.parts) == 5
    parts = html_parts(formats.render(doc, "html", Path("x.html"))[0][1])
    seen = Counter()
    hidden = 0
    drawn = Counter()
    for root in parts:
        nodes, boxes, _ = svg_elements(root)
        seen.update((ni, op) for ni, op, _ in nodes)
        drawn.update(_svg_edges(root))
        for b in boxes:
            for t in b.iter():
                m = re.fullmatch(r"\+(\d+) in", t.text or "")
                hidden += int(m.group(1)) if m else 0
    g = model.main
    assert seen == Counter((i, n.op) for i, n in enumerate(g.nodes))
    assert {k: 1 for k in drawn} == dict(_drawn_edges(model, 0, gd))
    # Every edge of the layout between two parts is counted once at its reader.
    part = gd.part_of_box
    st = gd.structure
    assert hidden == sum(1 for e in st.edges if part[e.src] != part[e.dst]) > 0
    # Parts follow the graph's order: every edge runs forward or within a part.
    assert all(part[e.src] <= part[e.dst] for e in st.edges)


def test_a_constant_no_op_reads_is_listed_once_and_an_empty_graph_exports():
    from modelkit.ir import ArrayData, DType, Graph, Model, Node, Value

    c = Value("unused/w", DType.FLOAT32, (2,), data=ArrayData(np.array([1, 2], np.float32)))
    x, y = Value("x", DType.FLOAT32, (2,)), Value("y", DType.FLOAT32, (2,))
    g = Graph("g", [Node("unused/w", "Const", "tf", [], [c]), Node("relu", "Relu", "tf", [x], [y])],
              [c, x, y], [x], [y])
    model = Model("graphdef", None, [g, Graph("empty")])
    doc = Document.build(model, Marks())
    nodes, _, _ = svg_elements(ET.fromstring(formats.render(doc, "svg", Path("x.svg"))[0][1]))
    assert sorted((ni, op) for ni, op, _ in nodes) == [(0, "Const"), (1, "Relu")]
    data = html_data(formats.render(doc, "html", Path("x.html"))[0][1])
    assert data["graphs"][0]["nodes"][0]["b"] == -1 and data["graphs"][1]["nodes"] == []
    for fmt in ("dot", "json", "model-explorer"):
        assert formats.render(doc, fmt, Path("x.json" if "json" in fmt or "model" in fmt
                                               else "x.dot"))[0][1]
