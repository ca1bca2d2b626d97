"""`modelkit convert` end to end: each source format to TFLite (and back to TF
formats), checked against TensorFlow running the source and the LiteRT
interpreter running the result, on the digits test split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SAMPLES
from tests.convert.conftest import cli

TEST = np.load(SAMPLES / "digits_test.npz")
X, Y = TEST["x"], TEST["y"]
CALIB = str(SAMPLES / "digits_calib.npy")
ACCURACY = json.loads((SAMPLES / "accuracy.json").read_text())


def tflite_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    """Real-valued outputs of a one-input, one-output TFLite model, one sample per run."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    (inp,), (out,) = it.get_input_details(), it.get_output_details()
    rows = []
    for sample in x:
        v = sample[np.newaxis]
        if np.issubdtype(inp["dtype"], np.integer):
            scale, zp = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            v = np.clip(np.round(v / scale + zp), info.min, info.max)
        it.set_tensor(inp["index"], v.astype(inp["dtype"]))
        it.invoke()
        y = it.get_tensor(out["index"])[0]
        if np.issubdtype(out["dtype"], np.integer):
            scale, zp = out["quantization"]
            y = (y.astype(np.float32) - zp) * scale
        rows.append(y)
    return np.array(rows)


@pytest.fixture(scope="module")
def source_probs(tf):
    """Each source's own outputs on the test split, computed with TF/Keras directly."""
    import keras

    v1 = tf.compat.v1
    out = {}
    graph_def = v1.GraphDef.FromString((SAMPLES / "digits_frozen.pb").read_bytes())
    with tf.Graph().as_default() as g, v1.Session(graph=g) as s:
        v1.import_graph_def(graph_def, name="")
        out["frozen"] = np.concatenate([s.run("probs:0", {"input:0": x[None]}) for x in X])
    prefix = str(SAMPLES / "digits_ckpt" / "model.ckpt")
    with tf.Graph().as_default() as g, v1.Session(graph=g) as s:
        v1.train.import_meta_graph(prefix + ".meta").restore(s, prefix)
        out["ckpt"] = s.run("probs:0", {"input:0": X})
    serve = tf.saved_model.load(str(SAMPLES / "digits_savedmodel")).signatures["serving_default"]
    out["savedmodel"] = next(iter(serve(input=tf.constant(X)).values())).numpy()
    for name in ("digits_keras.h5", "digits_keras2.h5"):
        model = keras.models.load_model(SAMPLES / name, compile=False)
        out[name] = model.predict(X, verbose=0)
    return out


@pytest.fixture(scope="module")
def outdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("convert")


FLOAT_CASES = [
    ("digits_frozen.pb", "frozen"), ("digits_frozen.pbtxt", "frozen"),
    ("digits_ckpt", "ckpt"), ("digits_savedmodel", "savedmodel"),
    ("digits_keras.h5", "digits_keras.h5"), ("digits_keras2.h5", "digits_keras2.h5"),
]


@pytest.mark.parametrize("src, key", FLOAT_CASES)
def test_float_conversion_matches_source(src, key, outdir, source_probs):
    dst = outdir / f"{src}.float.tflite"
    res = cli(SAMPLES / src, dst, "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["schema_version"] == 1 and report["quantize"] == "none"
    assert report["verification"]["ok"] is True
    assert report["verification"]["outputs"][0]["max_abs_error"] < 1e-4
    got = tflite_outputs(dst, X)
    np.testing.assert_allclose(got, source_probs[key], atol=1e-4)


@pytest.fixture(scope="module")
def float_accuracy(outdir):
    dst = outdir / "frozen.float.tflite"
    assert cli(SAMPLES / "digits_frozen.pb", dst, "--no-verify").exit_code == 0
    return float(np.mean(tflite_outputs(dst, X).argmax(1) == Y))


def test_int8_keeps_accuracy(outdir, float_accuracy):
    dst = outdir / "int8.tflite"
    res = cli(SAMPLES / "digits_frozen.pb", dst, "--quantize", "int8", "--data", CALIB,
              "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    (inp,) = report["inputs"]
    assert inp["dtype"] == "int8" and inp["quantized"]
    # Calibration saw pixels in [0, 1]: the input range is [0, 1] -> scale 1/255, zp -128.
    assert inp["scale"] == pytest.approx(1 / 255) and inp["zero_point"] == -128
    assert inp["mean"] == -128 and inp["std"] == pytest.approx(255)
    assert "q = round(x / 0.00392157) - 128, clipped to [-128, 127]" in "\n".join(
        cli(SAMPLES / "digits_frozen.pb", outdir / "int8b.tflite", "-q", "int8", "--data",
            CALIB, "--no-verify").stdout.splitlines())
    accuracy = float(np.mean(tflite_outputs(dst, X).argmax(1) == Y))
    assert accuracy >= float_accuracy - 0.02


@pytest.mark.parametrize("io_type, dtype", [("uint8", "uint8"), ("float32", "float32")])
def test_int8_io_type(outdir, io_type, dtype):
    dst = outdir / f"int8_{io_type}.tflite"
    res = cli(SAMPLES / "digits_savedmodel", dst, "-q", "int8", "--data", CALIB,
              "--io-type", io_type, "--json", "--calibration-steps", "50")
    assert res.exit_code == 0, res.stderr
    from ai_edge_litert.interpreter import Interpreter

    detail = Interpreter(model_path=str(dst)).get_input_details()[0]
    assert np.dtype(detail["dtype"]).name == dtype
    assert json.loads(res.stdout)["inputs"][0]["dtype"] == dtype


@pytest.mark.parametrize("mode, weight_type", [("dynamic", np.int8), ("float16", np.float16),
                                               ("int16x8", np.int16)])
def test_other_modes(outdir, mode, weight_type):
    dst = outdir / f"{mode}.tflite"
    extra = ["--data", CALIB, "--calibration-steps", "50"] if mode == "int16x8" else []
    res = cli(SAMPLES / "digits_keras.h5", dst, "-q", mode, "--json", *extra)
    assert res.exit_code == 0, res.stderr
    from ai_edge_litert.interpreter import Interpreter

    types = {np.dtype(d["dtype"]) for d in
             Interpreter(model_path=str(dst)).get_tensor_details()}
    assert np.dtype(weight_type) in types
    accuracy = float(np.mean(tflite_outputs(dst, X).argmax(1) == Y))
    assert accuracy >= ACCURACY["digits_keras.h5"] - 0.02


def test_uint8_legacy_mean_std(outdir):
    dst = outdir / "uint8.tflite"
    res = cli(SAMPLES / "digits_frozen.pb", dst, "--quantize", "uint8", "--mean", "0",
              "--std", "255", "--default-ranges", "0,6")
    assert res.exit_code == 0, res.stderr
    assert "ACCURACY WILL DROP" in res.stderr and "--quantize int8 --data" in res.stderr
    assert "mean 0, std 255" in res.stdout
    assert "q = round(x / 0.00392157), clipped to [0, 255], as uint8" in res.stdout
    # Fed as the report says (q = x * 255), it reaches what the interpreter measured for
    # the same conversion in samples/accuracy.json.
    accuracy = float(np.mean(tflite_outputs(dst, X).argmax(1) == Y))
    assert accuracy >= ACCURACY["digits_uint8_legacy.tflite"] - 1e-9


def test_legacy_quantized_graph_stops_at_preflight(outdir):
    dst = outdir / "legacy.tflite"
    res = cli(SAMPLES / "digits_legacy_quantized.pb", dst)
    assert res.exit_code == 4
    assert "QuantizeV2" in res.stderr and "QuantizedConv2D" in res.stderr
    # The exact command that gets past them.
    src = SAMPLES / "digits_legacy_quantized.pb"
    assert f"modelkit convert {src} {dst} --dequantize-legacy" in " ".join(res.stderr.split())
    assert not dst.exists()


def test_failed_conversion_leaves_no_file(outdir):
    dst = outdir / "failed.tflite"
    res = cli(SAMPLES / "digits_legacy_quantized.pb", dst, "--no-preflight")
    assert res.exit_code == 1
    err = res.stderr.strip().splitlines()
    assert err[-1].startswith("modelkit: error:") and "converter failed" in err[-1]
    assert "qint32" in err[-1]
    assert not dst.exists()
    assert not [p for p in outdir.iterdir() if p.name.startswith(".failed")]


def test_misspelled_input(outdir):
    res = cli(SAMPLES / "digits_frozen.pb", outdir / "x.tflite", "--inputs", "inptu")
    assert res.exit_code == 2
    assert "Input array not found: inptu. Did you mean 'input'?" in res.stderr


def test_names_with_port_and_shapes(outdir, source_probs):
    dst = outdir / "named.tflite"
    res = cli(SAMPLES / "digits_ckpt", dst, "--inputs", "input:0", "--outputs", "probs",
              "--input-shapes", "1,8,8,1", "--no-verify")
    assert res.exit_code == 0, res.stderr
    np.testing.assert_allclose(tflite_outputs(dst, X[:20]), source_probs["ckpt"][:20],
                               atol=1e-4)


def test_existing_output_needs_force(outdir):
    dst = outdir / "exists.tflite"
    dst.write_bytes(b"keep me")
    res = cli(SAMPLES / "digits_frozen.pb", dst)
    assert res.exit_code == 2 and "--force" in res.stderr
    assert dst.read_bytes() == b"keep me"
    assert cli(SAMPLES / "digits_frozen.pb", dst, "--force", "--no-verify").exit_code == 0
    assert dst.read_bytes()[4:8] == b"TFL3"


def test_missing_data_is_a_usage_error(outdir):
    res = cli(SAMPLES / "digits_frozen.pb", outdir / "nodata.tflite", "-q", "int8")
    assert res.exit_code == 2 and "--data calib.npy" in res.stderr


@pytest.mark.parametrize("src, dst, fmt", [
    ("digits_ckpt", "ckpt_frozen.pb", "graphdef"),
    ("digits_savedmodel", "sm_frozen.pb", "graphdef"),
    ("digits_keras.h5", "keras_sm", "savedmodel"),
    ("digits_frozen.pb", "frozen_sm", "savedmodel"),
])
def test_tf_format_targets(outdir, tf, source_probs, src, dst, fmt):
    path = outdir / dst
    res = cli(SAMPLES / src, path, "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["output"]["format"] == fmt
    assert report["verification"]["outputs"][0]["max_abs_error"] < 1e-5
    x = X[:1]
    if fmt == "graphdef":
        v1 = tf.compat.v1
        gd = v1.GraphDef.FromString(path.read_bytes())
        placeholder = next(n.name for n in gd.node if n.op == "Placeholder")
        consumed = {i.split(":")[0] for n in gd.node for i in n.input}
        sink = next(n.name for n in gd.node
                    if n.name not in consumed and n.op not in ("Const", "NoOp"))
        with tf.Graph().as_default() as g, v1.Session(graph=g) as s:
            v1.import_graph_def(gd, name="")
            y = s.run(f"{sink}:0", {f"{placeholder}:0": x})
    else:
        fn = tf.saved_model.load(str(path)).signatures["serving_default"]
        (key,) = fn.structured_input_signature[1]
        y = next(iter(fn(**{key: tf.constant(x)}).values())).numpy()
    np.testing.assert_allclose(y, source_probs["frozen" if src == "digits_frozen.pb" else
                                                "ckpt" if src == "digits_ckpt" else
                                                "savedmodel" if src == "digits_savedmodel"
                                                else src][:1], atol=1e-5)


def test_savedmodel_the_tf2_loader_rejects_falls_back_to_v1(outdir, tf, source_probs,
                                                            monkeypatch):
    """Keras 2-era SavedModels make TF 2.21's loader raise AttributeError
    ('_UserObject' object has no attribute 'add_slot'); the v1 converter still reads them."""

    def tf2_loader_fails(*args, **kwargs):
        raise AttributeError("'_UserObject' object has no attribute 'add_slot'")

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_saved_model", tf2_loader_fails)
    dst = outdir / "fallback.tflite"
    res = cli(SAMPLES / "digits_savedmodel", dst, "--json")
    assert res.exit_code == 0, res.stderr
    assert "falling back to tf.compat.v1.lite.TFLiteConverter.from_saved_model" in res.stderr
    np.testing.assert_allclose(tflite_outputs(dst, X), source_probs["savedmodel"], atol=1e-4)


def test_uint8_without_ranges_warns_about_float_ops(outdir):
    """TF 2.21's converter no longer fails with 'lacking min/max data': it leaves those ops
    in float. The report says so, and the interpreter confirms the ops it names are float."""
    from ai_edge_litert.interpreter import Interpreter

    dst = outdir / "uint8_no_ranges.tflite"
    res = cli(SAMPLES / "digits_frozen.pb", dst, "-q", "uint8", "--mean", "0", "--std", "255",
              "--no-verify")
    assert res.exit_code == 0, res.stderr
    assert "still compute in float32 although --quantize uint8 was asked" in res.stderr
    assert "CONV_2D x2" in res.stderr and "--default-ranges" in res.stderr
    it = Interpreter(model_path=str(dst))
    details = {d["index"]: d for d in it.get_tensor_details()}
    convs = [op for op in it._get_ops_details() if op["op_name"] == "CONV_2D"]
    assert len(convs) == 2
    assert all(details[op["inputs"][0]]["dtype"] == np.float32 for op in convs)
