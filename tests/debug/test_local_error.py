"""Local vs accumulated error on a TFLite pair, one layer's quantization broken on purpose.

Oracles: the LiteRT interpreter run directly on the same models (outputs, tensors),
and hand-made breakage whose place is known.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelkit.debug.analyze import analyze, quantized_layers
from modelkit.formats.tflite import load as load_tflite
from modelkit.formats.tflite import save as save_tflite
from modelkit.ir.quant import QuantParams
from tests.conftest import SAMPLES

N = 40
BROKEN_OP = "FULLY_CONNECTED"  # the first one: dense1


def _samples(x: np.ndarray):
    def gen():
        for i in range(len(x)):
            yield [x[i:i + 1]]
    return gen


def _break_weights(src, dst) -> str:
    """Triple the weight scales of the first FULLY_CONNECTED: its integer arithmetic
    then computes 3x the float layer; return its output tensor name."""
    model = load_tflite(src)
    node = next(n for n in model.graphs[0].nodes if n.op == BROKEN_OP)
    w = node.inputs[1]
    q = w.quant
    w.quant = QuantParams(q.scale * 3.0, q.zero_point, axis=q.axis, storage=q.storage)
    save_tflite(model, dst)
    return node.outputs[0].name


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.load(SAMPLES / "digits_test.npz")["x"][:N]


@pytest.fixture(scope="module")
def broken(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("broken") / "digits_int8_broken.tflite"
    name = _break_weights(SAMPLES / "digits_int8.tflite", path)
    result = analyze((SAMPLES / "digits_float.tflite").read_bytes(), path.read_bytes(),
                     _samples(data), count=N)
    return name, path, result


def test_broken_layer_ranks_first_by_local_error(broken):
    name, _, result = broken
    by_rank = sorted(result.layers, key=lambda layer: layer.rank)
    assert by_rank[0].tensor_name == name
    assert by_rank[0].op_name == BROKEN_OP
    # Its own error is far above one quantization step; the next FC's own error is not,
    # although it inherits the broken values (its accumulated error is large).
    assert by_rank[0].stats["rmse_scale"] > 5
    logits = [x for x in result.layers if x.op_name == BROKEN_OP and x.tensor_name != name][0]
    assert logits.stats["rmse_scale"] < 1.0
    assert logits.stats["accumulated_rmse"] > 10 * logits.stats["local_rmse"]


def test_every_quantized_layer_is_reported_and_matched(broken):
    _, path, result = broken
    model = load_tflite(path)
    expected = [(n.index, v.name) for n, v in quantized_layers(model)]
    assert [(x.node, x.tensor_name) for x in result.layers] == expected
    assert all(x.match == "name" for x in result.layers)
    # The interpreter's own view of the quantized tensors.
    from ai_edge_litert.interpreter import Interpreter

    details = {d["index"]: d for d in Interpreter(model_path=str(path)).get_tensor_details()}
    for layer in result.layers:
        d = details[layer.tensor_idx]
        assert d["name"] == layer.tensor_name
        assert d["quantization"] == pytest.approx((layer.scale, layer.zero_point))


def test_accumulated_error_of_the_output_matches_the_interpreter(broken, data):
    """The last layer's accumulated RMSE is the RMSE between the two models' outputs,
    each run by the interpreter directly."""
    _, path, result = broken
    from ai_edge_litert.interpreter import Interpreter

    def outputs(p):
        it = Interpreter(model_path=str(p))
        it.allocate_tensors()
        inp, out = it.get_input_details()[0], it.get_output_details()[0]
        got = []
        for i in range(N):
            x = data[i:i + 1]
            if inp["dtype"] == np.int8:
                s, z = inp["quantization"]
                x = np.clip(np.round(x / s) + z, -128, 127).astype(np.int8)
            it.set_tensor(inp["index"], x)
            it.invoke()
            y = it.get_tensor(out["index"]).astype(np.float64)
            if out["dtype"] == np.int8:
                s, z = out["quantization"]
                y = (y - z) * s
            got.append(y)
        return np.stack(got)

    f, q = outputs(SAMPLES / "digits_float.tflite"), outputs(path)
    softmax = [x for x in result.layers if x.op_name == "SOFTMAX"][0]
    mse = np.mean((q - f) ** 2, axis=(1, 2))
    assert softmax.stats["accumulated_rmse"] == pytest.approx(math.sqrt(mse.mean()), rel=1e-5)
    cos = float((f * q).sum() / math.sqrt((f * f).sum() * (q * q).sum()))
    assert softmax.stats["cosine"] == pytest.approx(cos, rel=1e-6)
    sqnr = 10 * math.log10((f * f).sum() / ((q - f) ** 2).sum())
    assert softmax.stats["sqnr_db"] == pytest.approx(sqnr, rel=1e-6)


def test_unbroken_pair_has_small_local_errors(data):
    """The converter's own int8 model: every layer within about a quantization step."""
    result = analyze((SAMPLES / "digits_float.tflite").read_bytes(),
                     (SAMPLES / "digits_int8.tflite").read_bytes(), _samples(data[:10]),
                     count=10)
    assert len(result.layers) == 7
    for layer in result.layers:
        assert layer.stats["rmse_scale"] < 0.7, layer.tensor_name
        assert layer.stats["local_sqnr_db"] > 30, layer.tensor_name


def test_position_matching_gives_the_same_numbers_as_names(tmp_path, data):
    """Every tensor of the int8 model renamed: matched by position (the n-th op of the
    same type and shape), every statistic equals the by-name analysis."""
    model = load_tflite(SAMPLES / "digits_int8.tflite")
    for v in model.graphs[0].values:
        v.name = "renamed/" + v.name
    for node in model.graphs[0].nodes:
        node.name = "renamed/" + node.name
    renamed = tmp_path / "renamed.tflite"
    save_tflite(model, renamed)
    float_bytes = (SAMPLES / "digits_float.tflite").read_bytes()
    by_name = analyze(float_bytes, (SAMPLES / "digits_int8.tflite").read_bytes(),
                      _samples(data[:10]), count=10)
    by_position = analyze(float_bytes, renamed.read_bytes(), _samples(data[:10]), count=10)
    assert all(x.match == "position" for x in by_position.layers)
    for a, b in zip(by_name.layers, by_position.layers):
        assert b.tensor_name == "renamed/" + a.tensor_name
        assert b.float_tensor == a.float_tensor
        assert b.stats == pytest.approx(a.stats)
