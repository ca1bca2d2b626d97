"""`modelkit run`: outputs against the LiteRT interpreter fed by hand, accuracy of a
uint8-IO model fed with the right and the wrong normalization, metadata normalization,
image folders, saved outputs, and refusals."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

from modelkit.cli.main import _register, app
from tests.conftest import SAMPLES
from tests.litert_by_hand import by_hand

_register()
TEST = np.load(SAMPLES / "digits_test.npz")
X, Y = TEST["x"], TEST["y"]


def cli(*args):
    return CliRunner().invoke(app, [*map(str, args)])


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("run")


def test_int8_outputs_and_accuracy_match_the_interpreter_by_hand(work):
    out = work / "int8_out.npz"
    res = cli("run", SAMPLES / "digits_int8.tflite", "--data", SAMPLES / "digits_test.npz",
              "--labels", SAMPLES / "digits_test.npz", "--output", out, "--json")
    assert res.exit_code == 0, res.stderr
    want = by_hand(SAMPLES / "digits_int8.tflite", X)
    with np.load(out) as saved:
        np.testing.assert_allclose(saved["output_0"], want, rtol=0, atol=1e-6)
    report = json.loads(res.stdout)
    assert report["schema_version"] == 1 and report["samples"] == len(X)
    (inp,) = report["inputs"]
    assert inp["quantized"] and inp["zero_point"] == -128
    (o,) = report["outputs"]
    assert o["model_dtype"] == "int8" and o["dtype"] == "float32" and o["dequantized"]
    assert o["accuracy"] == pytest.approx(np.mean(want.argmax(1) == Y))
    assert o["predicted"] == want.argmax(1).tolist()
    assert o["max"] == pytest.approx(want.max())


def test_delegates_flag_runs_what_xnnpack_computes(work):
    out = work / "int8_xnnpack.npz"
    res = cli("run", SAMPLES / "digits_int8.tflite", "--data", SAMPLES / "digits_test.npz",
              "--delegates", "--output", out)
    assert res.exit_code == 0, res.stderr
    with np.load(out) as saved:
        np.testing.assert_allclose(saved["output_0"],
                                   by_hand(SAMPLES / "digits_int8.tflite", X, delegates=True),
                                   rtol=0, atol=1e-6)


def test_existing_output_needs_force(work):
    out = work / "exists.npz"
    out.write_bytes(b"keep")
    res = cli("run", SAMPLES / "digits_float.tflite", "--data", SAMPLES / "digits_calib.npy",
              "--output", out)
    assert res.exit_code == 2 and "already exists" in res.stderr
    assert out.read_bytes() == b"keep"
    assert cli("run", SAMPLES / "digits_float.tflite", "--data", SAMPLES / "digits_calib.npy",
               "--output", out, "--force", "--limit", "3").exit_code == 0
    with np.load(out) as saved:
        assert saved["output_0"].shape == (3, 10)


@pytest.fixture(scope="module")
def uint8_io_model(work):
    """Full int8 with uint8 input/output (input scale 1/255, zero point 0)."""
    path = work / "digits_uint8_io.tflite"
    res = cli("convert", SAMPLES / "digits_savedmodel", path, "-q", "int8", "--io-type",
              "uint8", "--data", SAMPLES / "digits_calib.npy", "--no-verify")
    assert res.exit_code == 0, res.stderr
    return path


@pytest.fixture(scope="module")
def pixels(work):
    """The test images as raw pixel counts 0..16 (sklearn's digits before scaling)."""
    path = work / "pixels.npz"
    np.savez(path, x=np.round(X * 16).astype(np.float32), y=Y)
    return path


def _accuracy(res) -> float:
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)["outputs"][0]["accuracy"]


def test_uint8_model_fed_right_matches_float_and_fed_raw_does_not(uint8_io_model, pixels):
    float_acc = float(np.mean(by_hand(SAMPLES / "digits_float.tflite", X).argmax(1) == Y))
    right = _accuracy(cli("run", uint8_io_model, "--data", pixels, "--labels", pixels,
                          "--mean", "0", "--std", "16", "--json"))
    raw = _accuracy(cli("run", uint8_io_model, "--data", pixels, "--labels", pixels,
                        "--raw", "--json"))
    unnormalized = _accuracy(cli("run", uint8_io_model, "--data", pixels, "--labels", pixels,
                                 "--json"))
    assert abs(right - float_acc) <= 0.02
    # Raw counts 0..16 read as uint8 q are near-black images; quantizing the unscaled
    # counts saturates every lit pixel (a binarized image): both lose accuracy.
    assert raw < float_acc - 0.3 and unnormalized < float_acc - 0.05
    # The oracle for the right feed: the interpreter with q = round(p / 16 * 255).
    q = by_hand(uint8_io_model, np.round(X * 16) / 16)
    assert right == pytest.approx(np.mean(q.argmax(1) == Y))


def test_metadata_normalization_is_applied_and_said(work, pixels):
    import modelkit
    from tests.formats.test_tflite_metadata import METADATA, metadata_bytes

    meta = json.loads(json.dumps(METADATA))
    unit = meta["subgraph_metadata"][0]["input_tensor_metadata"][0]["process_units"][0]
    unit["options"] = {"mean": [0.0], "std": [16.0]}
    model = modelkit.load(SAMPLES / "digits_float.tflite")
    model.metadata["metadata"]["TFLITE_METADATA"] = metadata_bytes(meta)
    path = work / "digits_md.tflite"
    modelkit.save(model, path)
    res = cli("run", path, "--data", pixels, "--labels", pixels, "--json")
    assert "normalizing (x - 0) / 16 as the model's metadata states" in res.stderr
    report = json.loads(res.stdout)
    assert report["inputs"][0]["normalization"]["source"] == "model metadata"
    want = by_hand(SAMPLES / "digits_float.tflite", np.round(X * 16) / 16)
    assert report["outputs"][0]["accuracy"] == pytest.approx(np.mean(want.argmax(1) == Y))
    raw = cli("run", path, "--data", pixels, "--raw", "--json")
    assert "normalizing" not in raw.stderr


@pytest.fixture(scope="module")
def images(work):
    """The first six test images as 8x8 grey PNGs."""
    from PIL import Image

    folder = work / "images"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(np.round(X[i, :, :, 0] * 255).astype(np.uint8), "L").save(
            folder / f"{i:02d}.png")
    return folder


def test_image_folder_feeds_like_the_arrays(images):
    """PNG pixels / 255 quantize to the same int8 values as the float arrays."""
    res = cli("run", SAMPLES / "digits_int8.tflite", "--data", images, "--json")
    assert res.exit_code == 0, res.stderr
    got = json.loads(res.stdout)["outputs"][0]["predicted"]
    assert got == by_hand(SAMPLES / "digits_int8.tflite", X[:6]).argmax(1).tolist()


def test_text_report_per_output():
    res = cli("run", SAMPLES / "digits_frozen.pb", "--data", SAMPLES / "digits_test.npz",
              "--labels", SAMPLES / "digits_test.npz", "--top-k", "2")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[1] == "input input: float32[1,8,8,1], fed as float32"
    assert lines[2] == "output probs: float32[360,10]"
    assert lines[4].startswith("  sample 0: top-2 7 (")
    assert "accuracy: 97.50% (351/360" in res.stdout   # samples/accuracy.json: 0.9750


@pytest.mark.parametrize("args, message", [
    (["--mean", "0"], "--mean and --std go together"),
    (["--mean", "0", "--std", "1", "--raw"], "--raw feeds the values as they are"),
    (["--mean", "0,0", "--std", "1"], "--mean has 2 values; input 'input' has 1 channels"),
])
def test_bad_normalization_options(args, message):
    res = cli("run", SAMPLES / "digits_float.tflite", "--data", SAMPLES / "digits_calib.npy",
              *args)
    assert res.exit_code == 2 and message in res.stderr


def test_data_that_does_not_fit_is_one_line(work):
    bad = work / "bad.npy"
    np.save(bad, np.zeros((3, 4, 4), np.float32))
    res = cli("run", SAMPLES / "digits_float.tflite", "--data", bad)
    assert res.exit_code == 2
    assert res.stderr.strip().count("\n") == 0 and "takes [?,8,8,1]" in res.stderr


def test_savedmodel_printing_in_a_function_is_refused(work):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    class Loud(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
        def serve(self, x):
            tf.print("leak", x, output_stream="file://" + str(work / "leak.txt"))
            return {"y": x + 1.0}

    loud = Loud()
    tf.saved_model.save(loud, str(work / "loud"), signatures={"serving_default": loud.serve})
    data = work / "four.npy"
    np.save(data, np.ones((2, 1, 4), np.float32))
    res = cli("run", work / "loud", "--data", data)
    assert res.exit_code == 4
    assert "PrintV2" in res.stderr and "--allow-unsafe-ops" in res.stderr
    assert not (work / "leak.txt").exists()


def test_checkpoint_with_named_outputs_and_a_second_placeholder():
    """`loss` needs the `labels` placeholder too: the .npz's x and y feed both; the
    loss, a scalar per run, comes out one value per sample. The oracle for the loss:
    the checkpoint restored and run by TensorFlow."""
    import tensorflow as tf

    res = cli("run", SAMPLES / "digits_ckpt", "--data", SAMPLES / "digits_test.npz",
              "--outputs", "probs,loss", "--limit", "4", "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert [i["name"] for i in report["inputs"]] == ["input", "labels"]
    loss = next(o for o in report["outputs"] if o["name"] == "loss")
    v1 = tf.compat.v1
    prefix = str(SAMPLES / "digits_ckpt" / "model.ckpt")
    with tf.Graph().as_default() as g, v1.Session(graph=g) as s:
        v1.train.import_meta_graph(prefix + ".meta").restore(s, prefix)
        want = [s.run("loss:0", {"input:0": X[i:i + 1], "labels:0": Y[i:i + 1]})
                for i in range(4)]
    assert loss["shape"] == [4]
    assert loss["max"] == pytest.approx(max(want), rel=1e-5)
    assert loss["mean"] == pytest.approx(np.mean(want), rel=1e-5)
    bad = cli("run", SAMPLES / "digits_float.tflite", "--data", SAMPLES / "digits_calib.npy",
              "--outputs", "probs")
    assert bad.exit_code == 2 and "apply to graphs and checkpoints" in bad.stderr


def test_image_folder_normalization_is_in_pixel_units(images):
    """`--mean 0 --std 255` on an image folder gives pixel / 255: the same int8 feeds as
    the folder without normalization."""
    folder = images
    plain = cli("run", SAMPLES / "digits_int8.tflite", "--data", folder, "--json")
    scaled = cli("run", SAMPLES / "digits_int8.tflite", "--data", folder, "--json",
                 "--mean", "0", "--std", "255")
    assert scaled.exit_code == 0, scaled.stderr
    a, b = json.loads(plain.stdout), json.loads(scaled.stdout)
    assert b["inputs"][0]["pixels"] == "0..255"
    assert a["outputs"][0]["top_k"] == b["outputs"][0]["top_k"]


def test_int16_io_model_is_quantized_with_its_own_parameters(work):
    """int16x8 with int16 input/output: run's float feeds against the interpreter fed
    q = round(x / scale) by hand."""
    path = work / "digits_int16.tflite"
    res = cli("convert", SAMPLES / "digits_savedmodel", path, "-q", "int16x8", "--io-type",
              "int16", "--data", SAMPLES / "digits_calib.npy", "--calibration-steps", "50",
              "--no-verify")
    assert res.exit_code == 0, res.stderr
    out = work / "int16_out.npz"
    res = cli("run", path, "--data", SAMPLES / "digits_test.npz", "--limit", "40",
              "--output", out, "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["inputs"][0]["dtype"] == "int16" and report["inputs"][0]["zero_point"] == 0
    assert report["outputs"][0]["model_dtype"] == "int16"
    with np.load(out) as saved:
        np.testing.assert_allclose(saved["output_0"], by_hand(path, X[:40]), rtol=0,
                                   atol=1e-6)
