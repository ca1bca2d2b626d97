"""The TFLite backend against the LiteRT interpreter driven by hand."""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from modelkit.errors import UnsupportedError, UsageError
from modelkit.runtime import open_runtime
from tests.conftest import ROOT, SAMPLES, run_cli
from tests.litert_by_hand import by_hand

BUILTIN = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES


@pytest.fixture(scope="module")
def digits():
    data = np.load(SAMPLES / "digits_test.npz")
    return data["x"][:40], data["y"][:40]


@pytest.mark.parametrize("name", ["digits_int8.tflite", "digits_uint8_legacy.tflite"])
def test_quantized_io_matches_hand_quantization(name, digits):
    x, _ = digits
    rt = open_runtime(SAMPLES / name)
    assert rt.inputs[0].is_quantized and rt.outputs[0].is_quantized
    got = np.concatenate([rt.run([x[k:k + 1]])[rt.outputs[0].name] for k in range(len(x))])
    np.testing.assert_allclose(got, by_hand(SAMPLES / name, x), rtol=0, atol=1e-6)


def test_raw_feeds_and_outputs_pass_through(digits):
    x, _ = digits
    rt = open_runtime(SAMPLES / "digits_int8.tflite")
    q = rt.inputs[0].quant.quantize(x[:1], None)
    raw = rt.run({"input": q}, quantize=False, dequantize=False)["output_0"]
    assert raw.dtype == np.int8
    np.testing.assert_array_equal(rt.outputs[0].quant.dequantize(raw),
                                  rt.run({"input": x[:1]})["output_0"])


def test_signature_names_and_batch_resize(digits):
    x, _ = digits
    rt = open_runtime(SAMPLES / "digits_float.tflite")
    assert [s.name for s in rt.inputs] == ["input"] and rt.inputs[0].shape == (None, 8, 8, 1)
    batch = rt.run({"input": x[:7]})["output_0"]
    interp = Interpreter(model_path=str(SAMPLES / "digits_float.tflite"))
    runner = interp.get_signature_runner("serving_default")
    np.testing.assert_allclose(batch, runner(input=x[:7])["output_0"], rtol=1e-6, atol=1e-7)


def test_intermediates_match_interpreter(digits):
    x, _ = digits
    rt = open_runtime(SAMPLES / "digits_int8.tflite", preserve_all_tensors=True)
    rt.run([x[:1]])
    interp = Interpreter(model_path=str(SAMPLES / "digits_int8.tflite"),
                         experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=BUILTIN)
    interp.allocate_tensors()
    interp.set_tensor(0, rt.inputs[0].from_real(x[:1]))
    interp.invoke()
    details = rt.tensor_details()
    assert len(details) == len(interp.get_tensor_details())
    for d in details:
        if d["dtype"] in (np.int8, np.float32) and d["shape"].size and d["index"] != 0:
            np.testing.assert_array_equal(rt.tensor(d["index"]), interp.get_tensor(d["index"]))


def test_custom_ops_are_reported_by_name():
    """Every custom op of the file is named, not only the first the interpreter trips on."""
    path = ROOT / "tests/data/custom_ops.tflite"
    with pytest.raises(UnsupportedError, match="no kernel for BesselI1e, Erfinv") as e:
        open_runtime(path)
    ops = Interpreter(model_path=str(path))._get_ops_details()
    builtin = {"RELU", "TANH", "ADD"}
    assert e.value.ops == [op["op_name"] for op in ops if op["op_name"] not in builtin]


def test_bad_feeds_are_usage_errors(digits):
    rt = open_runtime(SAMPLES / "digits_int8.tflite")
    with pytest.raises(UsageError, match="no value for input"):
        rt.run({"x": digits[0][:1]})
    with pytest.raises(UsageError, match=r"takes shape \[\?,8,8,1\]"):
        rt.run([np.zeros((1, 4, 4, 1), np.float32)])
    with pytest.raises(UsageError, match="no signature 'nope'"):
        open_runtime(SAMPLES / "digits_int8.tflite", signature="nope")


def test_other_signature_of_multi_subgraph_model():
    rt = open_runtime(SAMPLES / "control_flow.tflite", signature="gate")
    x = np.arange(4, dtype=np.float32).reshape(rt.inputs[0].shape)
    interp = Interpreter(model_path=str(SAMPLES / "control_flow.tflite"))
    want = interp.get_signature_runner("gate")(x=x)["y"]
    np.testing.assert_array_equal(rt.run({"x": x})["y"], want)


def test_scalar_inputs_run_one_sample_at_a_time():
    """`iterate` takes a scalar step count: each sample is fed as a 0-d value."""
    from modelkit.runtime.batch import run_samples

    rt = open_runtime(SAMPLES / "control_flow.tflite", signature="iterate")
    assert [s.shape for s in rt.inputs] == [(), (1, 4)]
    steps = np.array([0, 1, 3], dtype=np.int32)
    x = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    got = run_samples(rt, [steps, x])["y"]
    runner = Interpreter(model_path=str(SAMPLES / "control_flow.tflite"),
                         experimental_op_resolver_type=BUILTIN).get_signature_runner("iterate")
    want = np.concatenate([runner(steps=steps[i], x=x[i:i + 1])["y"] for i in range(3)])
    np.testing.assert_array_equal(got, want)


def test_scalar_input_without_a_signature(tmp_path):
    """A 0-d input of a model without signatures is fed as a 0-d value."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    import modelkit

    @tf.function(input_signature=[tf.TensorSpec([], tf.float32),
                                  tf.TensorSpec([1, 3], tf.float32)])
    def scale(s, x):
        return x * s + 1.0

    conv = tf.lite.TFLiteConverter.from_concrete_functions([scale.get_concrete_function()], scale)
    src = tmp_path / "scalar.tflite"
    src.write_bytes(conv.convert())
    model = modelkit.load(src)
    model.signatures = []
    path = tmp_path / "scalar_nosig.tflite"
    modelkit.save(model, path)
    rt = open_runtime(path)
    shapes = sorted(s.shape for s in rt.inputs)
    assert shapes == [(), (1, 3)]
    feeds = {s.name: (np.float32(2.5) if s.shape == () else np.array([[1, 2, 3]], np.float32))
             for s in rt.inputs}
    (got,) = rt.run(feeds).values()
    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=BUILTIN)
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], np.asarray(feeds[d["name"]], np.float32).reshape(d["shape"]))
    interp.invoke()
    want = interp.get_tensor(interp.get_output_details()[0]["index"])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got, [[3.5, 6.0, 8.5]])


DYNAMIC = ROOT / "tests/data/reshape_dynamic.tflite"


def _resized_by_hand(path, x: np.ndarray) -> np.ndarray:
    """The builtin interpreter resized to x's shape before its first allocation."""
    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=BUILTIN)
    (d,) = interp.get_input_details()
    interp.resize_tensor_input(d["index"], list(x.shape))
    interp.allocate_tensors()
    interp.set_tensor(d["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


def test_dynamic_input_stored_at_a_placeholder_shape_runs_at_the_data_shape(tmp_path):
    """[-1, -1] stored as [1, 1]: the RESHAPE into 400-sample frames does not prepare at
    the stored shape (the interpreter says so); `run` resizes to the data's [1, 16000]
    first and gives the interpreter's outputs."""
    interp = Interpreter(model_path=str(DYNAMIC), experimental_op_resolver_type=BUILTIN)
    (d,) = interp.get_input_details()
    assert list(d["shape"]) == [1, 1] and list(d["shape_signature"]) == [-1, -1]
    with pytest.raises(RuntimeError, match="RESHAPE"):
        interp.allocate_tensors()
    x = np.random.default_rng(0).normal(size=(1, 16000)).astype(np.float32)
    data, out = tmp_path / "audio.npy", tmp_path / "out.npz"
    np.save(data, x)
    p = run_cli("run", str(DYNAMIC), "--data", str(data), "--output", str(out))
    assert p.returncode == 0, p.stderr
    (got,) = np.load(out).values()
    np.testing.assert_array_equal(got, _resized_by_hand(DYNAMIC, x))


def test_dynamic_input_without_a_signature_is_resized_before_allocation(tmp_path):
    import modelkit

    model = modelkit.load(DYNAMIC)
    model.signatures = []
    path = tmp_path / "nosig.tflite"
    modelkit.save(model, path)
    x = np.linspace(-1, 1, 16000, dtype=np.float32).reshape(1, 16000)
    rt = open_runtime(path)
    (got,) = rt.run([x]).values()
    np.testing.assert_array_equal(got, _resized_by_hand(path, x))


def test_prepare_failure_at_the_data_shape_names_it_without_a_custom_op_hint(tmp_path):
    """Too few samples for one frame: exit 2 naming the shape and the interpreter's own
    reason, and no word of custom ops (the model has none; custom_ops.tflite keeps it)."""
    x = np.ones((1, 100), np.float32)
    with pytest.raises(RuntimeError) as e:
        _resized_by_hand(DYNAMIC, x)
    reason = str(e.value).splitlines()[0]
    data = tmp_path / "short.npy"
    np.save(data, x)
    p = run_cli("run", str(DYNAMIC), "--data", str(data))
    assert p.returncode == 2
    (line,) = p.stderr.strip().splitlines()
    assert "input shape [1, 100]" in line and reason in line
    assert "custom op" not in line
    with pytest.raises(UnsupportedError, match="custom ops need their kernels"):
        open_runtime(ROOT / "tests/data/custom_ops.tflite")


def test_tensor_of_no_elements_reads_as_an_empty_array():
    """The interpreter refuses to read a zero-element tensor (the empty shape of a
    reshape to a scalar); the backend gives an empty array of its shape."""
    rt = open_runtime(ROOT / "tests/data/if_int8.tflite", preserve_all_tensors=True)
    rt.run([np.ones((1, 4), np.float32)])
    empty = [d for d in rt.tensor_details() if 0 in d["shape"]]
    assert empty
    for d in empty:
        with pytest.raises(ValueError, match="Invalid tensor size"):
            rt.interpreter.get_tensor(d["index"])
        got = rt.tensor(d["index"])
        assert got.shape == tuple(d["shape"]) and got.dtype == d["dtype"]
