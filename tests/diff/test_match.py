"""`match_graphs` across formats, and the graph pairing.

Oracles: the names a TFLite file records for the source nodes each op fused
(`conv1/Relu;conv1/BiasAdd;conv1/Conv2D;...`, written by the converter that made
digits_uint8_legacy.tflite from digits_frozen.pb); the Keras model's own weights,
transposed by hand into TFLite's layout; the quantization error computed by hand.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import modelkit
from modelkit.diff import diff_models, match_graphs, pair_graphs
from modelkit.diff.match import NODE_REASONS, VALUE_REASONS
from modelkit.diff.ops import op_key
from tests.conftest import ROOT, SAMPLES


def test_fused_tflite_names_match_the_graphdef_nodes():
    a = modelkit.load(SAMPLES / "digits_frozen.pb")
    b = modelkit.load(SAMPLES / "digits_uint8_legacy.tflite")
    m = match_graphs(a.main, b.main)
    assert m.cross_domain
    listed = 0
    for t in b.main.nodes:
        nm = m.node_match_b(t)
        assert nm is not None, t.name
        assert op_key(nm.a) == t.op
        parts = t.name.split(";")
        if len(parts) > 1:
            listed += 1
            assert nm.reason == "fused name"
            # Every part that names a computing node of the GraphDef is in the group.
            named = {n.name for n in a.main.nodes if n.name in parts and n.op != "Const"}
            assert {nm.a.name, *(n.name for n in nm.fused_a)} == named
    assert listed == 4
    # What the converter dropped: the Identity reads, the Consts and the Placeholder
    # (tensors in TFLite); nothing else of the GraphDef is left over.
    assert sorted({n.op for n in m.unmatched_nodes_a()}) == ["Const", "Identity", "Placeholder"]


def test_graphdef_weights_against_uint8_tflite_within_half_a_step():
    a = modelkit.load(SAMPLES / "digits_frozen.pb")
    b = modelkit.load(SAMPLES / "digits_uint8_legacy.tflite")
    d = diff_models(a, b)
    kernel = {"conv1/kernel:0": (3, 0, 1, 2), "conv2/kernel:0": (3, 0, 1, 2),
              "dense1/kernel:0": (1, 0), "logits/kernel:0": (1, 0)}
    seen = set()
    for c in d.changes:
        if c.what != "tensor" or c.a.name not in kernel:
            continue
        va = next(v for v in a.main.values if v.name == c.a.name)
        vb = next(v for v in b.main.values if v.name == c.b.name)
        w = np.transpose(va.data.numpy().astype(np.float64), kernel[c.a.name])
        q = vb.quant
        deq = (vb.data.numpy().astype(np.float64) - q.zero_point[0]) * q.scale[0]
        err = np.abs(deq - w)
        assert err.max() <= q.scale[0] / 2 * (1 + 1e-6)
        stats = c.details["weights"]
        assert tuple(stats["transpose"]) == kernel[c.a.name]
        assert stats["max_abs_diff"] == pytest.approx(err.max(), rel=1e-9)
        seen.add(c.a.name)
    assert seen == set(kernel)


def test_keras_h5_against_its_tflite_conversion():
    a = modelkit.load(SAMPLES / "digits_keras.h5")
    b = modelkit.load(SAMPLES / "digits_float.tflite")
    m = match_graphs(a.main, b.main)
    layers = [n for n in a.main.nodes if n.op != "InputLayer"]
    for layer in layers:
        nm = m.node_match_a(layer)
        assert nm is not None and nm.b.op == op_key(layer), layer.name
    # The converter spells Flatten as SHAPE/STRIDED_SLICE/PACK + RESHAPE.
    assert sorted(n.op for n in m.unmatched_nodes_b()) == ["PACK", "SHAPE", "STRIDED_SLICE"]
    d = diff_models(a, b)
    compared = 0
    for layer in layers:
        for v in layer.inputs[1:]:
            wb = m.value_b(v)
            assert wb is not None, v.name
            perm = (3, 0, 1, 2) if v.data.numpy().ndim == 4 else (1, 0)
            x = v.data.numpy()
            x = np.transpose(x, perm) if x.ndim > 1 else x
            # The converter copied the weights: equal in TFLite's layout, bit for bit.
            assert np.array_equal(x, wb.data.numpy())
            c = next(c for c in d.changes if c.what == "tensor" and c.a.name == v.name)
            assert "weights" not in c.fields
            compared += 1
    assert compared == 8


def test_reasons_are_documented():
    a = modelkit.load(SAMPLES / "digits_float.tflite")
    b = modelkit.load(SAMPLES / "digits_int16x8.tflite")
    m = match_graphs(a.main, b.main)
    assert {x.reason for x in m.nodes} <= set(NODE_REASONS)
    assert {x.reason for x in m.values} <= set(VALUE_REASONS)
    # The output's producer changed (a DEQUANTIZE was appended): the SOFTMAX ops are
    # paired through their inputs, not through the output's name.
    sm = next(x for x in m.nodes if x.a.op == "SOFTMAX")
    assert sm.b.op == "SOFTMAX" and sm.reason == "structure"


def test_graphs_pair_by_name_then_content():
    model = modelkit.load(SAMPLES / "control_flow.tflite")
    n = len(model.graphs)
    assert pair_graphs(model.graphs, model.graphs) == [(i, i) for i in range(n)]
    other = modelkit.load(SAMPLES / "control_flow.tflite")
    other.graphs.reverse()
    other.graphs[0].name = "renamed"
    pairs = dict(pair_graphs(model.graphs, other.graphs))
    assert pairs == {i: n - 1 - i for i in range(n)}


def test_savedmodel_pairs_its_function_with_the_tflite_main_graph():
    a = modelkit.load(SAMPLES / "digits_savedmodel")
    b = modelkit.load(SAMPLES / "digits_float.tflite")
    ((ia, ib),) = pair_graphs(a.graphs, b.graphs)
    assert ib == 0
    assert any(n.op == "Conv2D" for n in a.graphs[ia].nodes)


def test_diffing_reads_no_tensorflow():
    code = ("import sys, modelkit\n"
            "from modelkit.diff import diff_models\n"
            "import modelkit.diff.render, modelkit.diff.dump\n"
            "assert 'numpy' not in sys.modules, 'numpy imported'\n"
            "a = modelkit.load('samples/digits_frozen.pb')\n"
            "b = modelkit.load('samples/digits_uint8_legacy.tflite')\n"
            "assert not diff_models(a, b).same\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def _profile(d) -> dict:
    """{(kind, what, name): fields} of a change list; quantized weights that are all
    within half a step of the source's (rounding, the conversion itself) are
    `weights (rounding)`."""
    out = {}
    for c in d.changes:
        fields = set(c.fields)
        steps = c.details.get("weights", {}).get("max_abs_diff_in_steps")
        if "weights" in fields and steps is not None and steps <= 0.5 + 1e-6:
            fields = (fields - {"weights"}) | {"weights (rounding)"}
        out[(c.kind, c.what, (c.a or c.b).name)] = fields
    return out


# (source, its TFLite conversion, the source's names for the second CONV_2D's filter,
# the first CONV_2D, the SOFTMAX and its output)
CONVERSIONS = [
    ("digits_keras.h5", "digits_float.tflite", "conv2/kernel", "conv1", "probs", "probs"),
    ("digits_frozen.pb", "digits_uint8_legacy.tflite", "conv2/kernel:0", "conv1/Conv2D",
     "probs", "probs:0"),
]


@pytest.mark.parametrize("src,lite,kernel,conv,softmax,probs", CONVERSIONS)
def test_planted_edit_on_the_conversion_is_the_new_difference(tmp_path, src, lite, kernel,
                                                              conv, softmax, probs):
    """Across formats: diff(source, edited conversion) has exactly the edit more than
    diff(source, conversion); removing the SOFTMAX also takes away its own differences
    and those of the tensor it computed."""
    from tests.diff.planting import (tflite_fused_activation, tflite_insert_node,
                                     tflite_remove_softmax, tflite_weight_element)

    source = modelkit.load(SAMPLES / src)
    before = _profile(diff_models(source, modelkit.load(SAMPLES / lite)))
    edits = [(tflite_weight_element, {("changed", "tensor", kernel): {"weights"}}, set()),
             (tflite_fused_activation, {("changed", "node", conv): {"activation"}}, set()),
             (tflite_insert_node, {("added", "node", "inserted/relu"): set()}, set()),
             (tflite_remove_softmax, {("removed", "node", softmax): set()},
              {("changed", "tensor", probs), ("changed", "node", softmax)})]
    for i, (edit, expected, expected_gone) in enumerate(edits):
        model = modelkit.load(SAMPLES / lite)
        edit(model)
        out = tmp_path / f"edit{i}.tflite"
        modelkit.save(model, out)
        after = _profile(diff_models(source, modelkit.load(out)))
        new = {k: f - before.get(k, set()) for k, f in after.items()}
        new = {k: f for k, f in new.items() if f or k not in before}
        gone = {k for k in before if k not in after and before[k]}
        assert new == expected and gone <= expected_gone, edit.__name__
