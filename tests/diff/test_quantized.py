"""A float TFLite model against its quantized conversions.

Oracles: the converter's own facts (samples/README.md: the same SavedModel converted
with and without quantization, so every float op has its quantized twin and only
the converter's QUANTIZE/DEQUANTIZE are new), and the quantization error computed
by hand: a weight rounded to the nearest step is within half a step of its float
value, per channel.
"""

from __future__ import annotations

import numpy as np
import pytest

import modelkit
from modelkit.diff import diff_models
from tests.conftest import SAMPLES

FLOAT = SAMPLES / "digits_float.tflite"


@pytest.mark.parametrize("name,added", [
    ("digits_int8.tflite", []),
    ("digits_int16x8.tflite", ["DEQUANTIZE", "QUANTIZE"]),
    ("digits_dynamic.tflite", []),
    ("digits_fp16.tflite", None),
])
def test_every_float_op_is_matched(name, added):
    a, b = modelkit.load(FLOAT), modelkit.load(SAMPLES / name)
    if added is None:
        # float16 weights: the converter reads each through a DEQUANTIZE to float32.
        added = ["DEQUANTIZE"] * sum(1 for v in b.main.values if v.data is not None
                                     and str(v.dtype) == "float16")
        assert len(added) == 8
    d = diff_models(a, b)
    (pair,) = d.pairs
    m = pair.matching
    assert m.unmatched_nodes_a() == []
    assert sorted(n.op for n in m.unmatched_nodes_b()) == added
    for nm in m.nodes:
        assert nm.a.op == nm.b.op
    assert all(c.kind == "changed" for c in d.changes if c.what != "node")
    assert sorted(c.b.op for c in d.changes if c.kind == "added") == added
    assert not [c for c in d.changes if c.kind == "removed"]


def test_int8_differs_in_types_and_quantization_only():
    d = diff_models(modelkit.load(FLOAT), modelkit.load(SAMPLES / "digits_int8.tflite"))
    node_fields = {f for c in d.changes if c.what == "node" for f in c.fields}
    tensor_fields = {f for c in d.changes if c.what == "tensor" for f in c.fields}
    assert node_fields == {"dtype", "version"}
    assert tensor_fields == {"dtype", "quantization", "weights"}
    assert {c.what for c in d.changes} == {"node", "tensor"}


def _dequantized_by_hand(v) -> np.ndarray:
    q = v.data.numpy().astype(np.float64)
    shape = [1] * q.ndim
    shape[v.quant.axis or 0] = -1
    return (q - v.quant.zero_point.reshape(shape)) * v.quant.scale.reshape(shape)


def test_int8_weights_within_half_a_step_per_channel():
    a, b = modelkit.load(FLOAT), modelkit.load(SAMPLES / "digits_int8.tflite")
    d = diff_models(a, b)
    m = d.pairs[0].matching
    checked = 0
    for c in d.changes:
        if "weights" not in c.fields:
            continue
        va = next(v for v in a.main.values if v.name == c.a.name)
        vb = next(v for v in b.main.values if v.name == c.b.name)
        assert m.value_b(va) is vb
        assert vb.quant.per_channel and vb.quant.axis == 0
        err = np.abs(_dequantized_by_hand(vb) - va.data.numpy().astype(np.float64))
        per_channel = err.reshape(err.shape[0], -1).max(axis=1)
        half = vb.quant.scale / 2
        assert np.all(per_channel <= half * (1 + 1e-6)), (c.a.name, per_channel / half)
        stats = c.details["weights"]
        assert stats["dequantized"] is True
        np.testing.assert_allclose(stats["max_abs_diff_per_channel"], per_channel, rtol=1e-9)
        assert stats["max_abs_diff"] == pytest.approx(per_channel.max(), rel=1e-9)
        assert stats["max_abs_diff_in_steps"] <= 0.5 + 1e-6
        checked += 1
    # Two CONV_2D and two FULLY_CONNECTED ops: four filters and four biases.
    assert checked == 8


def test_quantization_is_reported_as_the_dequantization_formula():
    a, b = modelkit.load(FLOAT), modelkit.load(SAMPLES / "digits_int8.tflite")
    d = diff_models(a, b)
    (c,) = [c for c in d.changes if c.what == "tensor" and c.a.name == "serving_default_input:0"]
    q = b.main.inputs[0].quant
    assert c.details["quantization"]["a"] is None
    assert c.details["quantization"]["b"]["describe"] == q.describe().splitlines()
    assert c.details["quantization"]["b"]["scale"] == [float(q.scale[0])]
    assert c.details["dtype"] == {"a": "float32", "b": "int8"}
