"""The marks an export lays over the graph, against their sources: the check engine's
findings, the layers of a real `modelkit debug --json` report, and planted edits for
--diff (the edit made is the oracle of what is marked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import modelkit
from modelkit.export import formats
from modelkit.export.document import Document
from modelkit.export.marks import check_marks, debug_marks, diff_marks

from .helpers import html_data, html_parts

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
MODELKIT = str(Path(sys.executable).with_name("modelkit"))


def test_check_marks_are_the_engines_findings_with_symbols():
    from modelkit.check import check_model

    model = modelkit.load(SAMPLES / "digits_uint8_legacy.tflite")
    report = check_model(model, "micro")
    marks = check_marks(model, "micro")
    want = {}
    for f in report.findings:
        if f.node is not None:
            want.setdefault((f.graph, f.node), []).append(f)
    assert want and set(marks.by_node) == set(want)
    for key, found in want.items():
        (m,) = marks.by_node[key]
        worst = "error" if any(f.severity == "error" for f in found) else found[0].severity
        symbols = {"error": "✖", "warning": "▲", "info": "ℹ"}
        assert m.css == worst and m.symbol == symbols[worst]
        assert [t for _, t in m.lines if t.startswith("[")] == \
            [f"[{f.rule}] {f.message}" for f in found]
    totals = report.totals()
    assert marks.notes[0] == (f"check micro: ✖ {totals['error']} errors, "
                              f"▲ {totals['warning']} warnings, ℹ {totals['info']} infos")
    # The symbols are drawn on the boxes of the page and the legend explains them.
    html = formats.render(Document.build(model, marks), "html", Path("m.html"))[0][1]
    assert ["✖", "error", "check micro: error"] in html_data(html)["legend"]
    marked = [el for el in html_parts(html)[0].iter() if el.get("data-node") is not None
              and "s-error" in (el.get("class") or "")]
    assert {int(el.get("data-node")) for el in marked} == {ni for (_, ni) in want}
    for el in marked:
        assert "✖" in "".join(el.itertext())


@pytest.fixture(scope="module")
def debug_report(tmp_path_factory):
    """A real per-layer error report of the sample int8 model against its float source."""
    out = tmp_path_factory.mktemp("debug") / "debug.json"
    res = subprocess.run([MODELKIT, "debug", str(SAMPLES / "digits_float.tflite"),
                          str(SAMPLES / "digits_int8.tflite"), "--data",
                          str(SAMPLES / "digits_calib.npy"), "--json"],
                         capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        pytest.skip(f"modelkit debug failed here: {res.stderr[-300:]}")
    out.write_text(res.stdout)
    return out


def test_debug_marks_are_the_reports_layers(debug_report):
    model = modelkit.load(SAMPLES / "digits_int8.tflite")
    layers = json.loads(debug_report.read_text())["layers"]
    marks = debug_marks(model, debug_report)
    assert len(marks.by_node) == len(layers) > 0
    for layer in layers:
        node = model.graphs[layer["graph"]].nodes[layer["node"]]
        assert node.name == layer["node_name"]
        (m,) = marks.by_node[(layer["graph"], layer["node"])]
        assert m.value == layer["rmse_scale"]
        level = next(i for i, hi in enumerate((0.35, 0.7, 1.5, float("inf")))
                     if layer["rmse_scale"] <= hi)
        assert m.css == f"q{level}" and m.symbol == "○◔◑●"[level]
    assert marks.notes == [f"debug overlay: {len(layers)} of {len(layers)} layers match a node"]
    # Model Explorer gets the same figures as node data on a gradient.
    doc = Document.build(model, marks)
    files = dict((p.name, t) for p, t in formats.render(doc, "model-explorer", Path("m.json")))
    data = json.loads(files["m.debug.nodedata.json"])
    (graph,) = data.values()
    assert {k: r["value"] for k, r in graph["results"].items()} == \
        {str(x["node"]): x["rmse_scale"] for x in layers}
    assert [s["stop"] for s in graph["gradient"]] == [0, 0.5, 1]


@pytest.mark.parametrize("edit, want", [
    ("tflite_attribute", lambda m: {("changed", "SOFTMAX")}),
    ("tflite_weight_element", lambda m: {("changed", "CONV_2D#1")}),
    ("tflite_insert_node", lambda m: {("added", "RELU")}),
])
def test_diff_marks_are_the_planted_edits(tmp_path, edit, want):
    from tests.diff import planting

    src = SAMPLES / "digits_int8.tflite"
    model = modelkit.load(src)
    getattr(planting, edit)(model)
    edited = tmp_path / "edited.tflite"
    modelkit.save(model, edited)
    b = modelkit.load(edited)
    marks = diff_marks(b, modelkit.load(src))
    got = set()
    for (gi, ni), ms in marks.by_node.items():
        node = b.graphs[gi].nodes[ni]
        same_op = [i for i, n in enumerate(b.graphs[gi].nodes) if n.op == node.op]
        label = node.op if len(same_op) == 1 else f"{node.op}#{same_op.index(ni)}"
        got |= {(m.css, label) for m in ms}
    assert got == want(b)
    kind = next(iter(want(b)))[0]
    assert marks.legend == [({"added": "✚", "changed": "✎"}[kind], kind,
                             f"diff: {kind} (against digits_int8.tflite)")]


def test_diff_lists_the_nodes_only_the_other_model_has(tmp_path):
    from tests.diff import planting

    src = SAMPLES / "digits_int8.tflite"
    model = modelkit.load(src)
    planting.tflite_remove_softmax(model)
    edited = tmp_path / "edited.tflite"
    modelkit.save(model, edited)
    marks = diff_marks(modelkit.load(edited), modelkit.load(src))
    softmax = next(n for n in modelkit.load(src).main.nodes if n.op == "SOFTMAX")
    assert "1 removed" in marks.notes[0]
    assert marks.notes[1] == f"only in digits_int8.tflite: {softmax.name}"
