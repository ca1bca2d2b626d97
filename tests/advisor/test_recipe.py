"""Per-layer recipes applied by ai-edge-quantizer: what the written model computes in,
read back from LiteRT's own op and tensor details (the oracle), not from modelkit's
reader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelkit.advisor import recipe as rc
from tests.conftest import ROOT, SAMPLES

CONV2 = ("digits_cnn_1/conv2_1/Relu;digits_cnn_1/conv2_1/BiasAdd;"
         "digits_cnn_1/conv2_1/convolution;digits_cnn_1/conv2_1/Squeeze1")


def _litert_ops(content: bytes) -> list[tuple[str, str, str]]:
    """(op, first output name, its dtype) per op, as LiteRT reports them."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=content)
    tensors = {d["index"]: d for d in it.get_tensor_details()}
    return [(op["op_name"], tensors[op["outputs"][0]]["name"],
             np.dtype(tensors[op["outputs"][0]]["dtype"]).name)
            for op in it._get_ops_details()]  # noqa: SLF001


@pytest.fixture(scope="module")
def digits():
    float_bytes = (SAMPLES / "digits_float.tflite").read_bytes()
    x = np.load(SAMPLES / "digits_calib.npy")[:20]
    key, names = rc.signature_inputs(float_bytes)
    calibration = rc.calibrate(float_bytes, [{names[0]: x[i:i + 1]} for i in range(len(x))],
                               key)
    fc = next(name for op, name, _ in _litert_ops(float_bytes)
              if op == "FULLY_CONNECTED")
    return float_bytes, calibration, fc


def test_each_layer_gets_the_precision_its_recipe_entry_asks(digits):
    float_bytes, calibration, fc = digits
    assignment = {CONV2: "float", fc: "int16x8"}
    content = rc.quantize(float_bytes, rc.build_recipe(assignment), calibration)
    ops = _litert_ops(content)
    by_name = {name: dtype for op, name, dtype in ops if op not in ("QUANTIZE", "DEQUANTIZE")}
    assert by_name[CONV2] == "float32"
    assert by_name[fc] == "int16"
    others = {name: dtype for op, name, dtype in ops
              if op not in ("QUANTIZE", "DEQUANTIZE", "SHAPE", "STRIDED_SLICE", "PACK")
              and name not in assignment}
    assert others and set(others.values()) == {"int8"}, others
    counts = rc.precision_counts(content)
    value_ops = [(op, dtype) for op, _, dtype in ops
                 if op not in ("QUANTIZE", "DEQUANTIZE") and dtype not in ("int32", "bool")]
    assert counts["float"] == sum(1 for _, d in value_ops if d == "float32") == 1
    assert counts["int16x8"] == sum(1 for _, d in value_ops if d == "int16") == 1
    assert counts["int8"] == sum(1 for _, d in value_ops if d == "int8")
    assert counts["conversions"] == sum(1 for op, _, _ in ops
                                        if op in ("QUANTIZE", "DEQUANTIZE"))


def test_the_recipe_is_json_ai_edge_quantizer_reads_back(digits, tmp_path):
    float_bytes, calibration, fc = digits
    assignment = {CONV2: "float", fc: "int16x8"}
    recipe = rc.build_recipe(assignment)
    path = tmp_path / "r.recipe.json"
    path.write_text(json.dumps(recipe, indent=2))
    assert rc.assignment_of(json.loads(path.read_text())) == assignment
    from ai_edge_quantizer import quantizer

    q = quantizer.Quantizer(bytearray(float_bytes), str(path))
    again = bytes(q.quantize(calibration, enable_progress_report=False).quantized_model)
    assert again == rc.quantize(float_bytes, recipe, calibration)


def test_a_model_without_signature_gets_one_that_computes_the_same():
    from ai_edge_litert.interpreter import Interpreter

    plain = (ROOT / "tests" / "data" / "tconv_float.tflite").read_bytes()
    assert Interpreter(model_content=plain).get_signature_list() == {}
    signed = rc.with_signature(plain)
    it = Interpreter(model_content=plain)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    x = np.random.default_rng(0).uniform(-1, 1, d["shape"]).astype(np.float32)
    it.set_tensor(d["index"], x)
    it.invoke()
    want = it.get_tensor(it.get_output_details()[0]["index"])
    sig = Interpreter(model_content=signed)
    assert list(sig.get_signature_list()) == ["serving_default"]
    runner = sig.get_signature_runner("serving_default")
    (key,) = runner.get_input_details()
    got = next(iter(runner(**{key: x}).values()))
    np.testing.assert_array_equal(got, want)


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError):
        rc.build_recipe({"x": "int4"})
