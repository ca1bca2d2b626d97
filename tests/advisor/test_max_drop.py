"""`modelkit convert --max-drop` on a trained classifier with two planted layers
(tests/advisor/planted_model.py): full int8 loses most of the accuracy, and no single
layer kept out of int8 wins it back.

Oracles: the float model's accuracy from Keras (TF) running the source; the written
model's accuracy from the LiteRT interpreter running the file, its input quantized
by hand; the ops outside int8 from LiteRT's tensor types; TFLite Micro's interpreter
for `--target micro`; ai-edge-quantizer itself for the recipe.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.advisor.conftest import cli, ops_outside_int8
from tests.conftest import SAMPLES, run_cli
from tests.litert_by_hand import int8_outputs, litert_accuracy

MAX_OPS_OUTSIDE_INT8 = 4


def _search(planted, dst, *extra):
    """`modelkit convert --max-drop 1 ... --json` in-process (TensorFlow loaded once)."""
    return cli("convert", planted["model"], dst, "--quantize", "int8", "--data",
               planted["calib"], "--max-drop", "1", "--eval-data", planted["test"], *extra,
               "--json")


@pytest.fixture(scope="module")
def searched(planted, tmp_path_factory):
    dst = tmp_path_factory.mktemp("search") / "mixed.tflite"
    res = _search(planted, dst, "--labels", planted["test"])
    assert res.exit_code == 0, res.stderr
    return dst, json.loads(res.stdout)


def test_the_written_model_keeps_the_budget_with_few_ops_outside_int8(
        searched, planted, float_accuracy):
    dst, report = searched
    test = np.load(planted["test"])
    accuracy = litert_accuracy(dst, test["x"], test["y"])
    assert 100 * (float_accuracy - accuracy) <= 1.0, (float_accuracy, accuracy)
    outside = ops_outside_int8(dst)
    assert 1 <= len(outside) <= MAX_OPS_OUTSIDE_INT8, outside
    # The report says what the oracles measured.
    chosen = report["candidates"][report["chosen"]]
    assert chosen["measure"]["accuracy"] == pytest.approx(accuracy)
    assert report["float"]["accuracy"] == pytest.approx(float_accuracy)
    assert chosen["ops"]["float"] + chosen["ops"]["int16x8"] == len(outside)
    assert chosen["size_bytes"] == dst.stat().st_size
    # The plain conversion (TF's converter, full int8) did not keep it.
    plain = report["candidates"][0]
    assert plain["origin"] == "converter" and not plain["meets"]
    assert plain["measure"]["drop_points"] > 1
    # No single layer out of int8 was enough: the one chosen keeps several.
    assert len(chosen["layers"]) >= 2
    assert report["written"] and report["conversions"] == len(report["candidates"]) + 1


def test_the_recipe_reproduces_the_model_without_modelkit(searched, planted):
    """ai-edge-quantizer alone: TF's converter for the float model, the recipe, the
    first 100 calibration samples one by one (what --calibration-steps 100 takes)."""
    import keras
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer

    dst, report = searched
    recipe = dst.with_name(dst.name + ".recipe.json")
    assert report["recipe"] == str(recipe)
    model = keras.models.load_model(planted["model"], compile=False)
    float_model = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    ((key, sig),) = Interpreter(model_content=float_model).get_signature_list().items()
    x = np.load(planted["calib"])[:100]
    q = quantizer.Quantizer(bytearray(float_model), str(recipe))
    calibration = q.calibrate({key: [{sig["inputs"][0]: x[i:i + 1]} for i in range(len(x))]})
    again = q.quantize(calibration, enable_progress_report=False).quantized_model
    assert bytes(again) == dst.read_bytes()
    assert "--recipe" in report["command"]


def test_convert_recipe_is_the_printed_command(searched, tmp_path):
    import shlex

    dst, report = searched
    args = shlex.split(report["command"])
    assert args[:2] == ["modelkit", "convert"]
    out = tmp_path / "again.tflite"
    args[3] = str(out)
    res = cli(*args[1:])
    assert res.exit_code == 0, res.stderr
    assert out.read_bytes() == dst.read_bytes()


def test_target_micro_keeps_the_budget_and_checks_clean(planted, float_accuracy, tmp_path):
    dst = tmp_path / "micro.tflite"
    res = _search(planted, dst, "--labels", planted["test"], "--target", "micro")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["check"] == {"errors": 0, "warnings": 0}
    check = run_cli("check", str(dst), "--target", "micro")
    assert check.returncode == 0 and "0 errors" in check.stdout, check.stdout
    assert len(ops_outside_int8(dst)) <= MAX_OPS_OUTSIDE_INT8
    # TFLite Micro runs the file and keeps the budget there too.
    test = np.load(planted["test"])
    assert 100 * (float_accuracy - _micro_accuracy(dst, test["x"], test["y"])) <= 1.0


def _micro_accuracy(path, x, y) -> float:
    import subprocess
    import sys

    script = r"""
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
it = runtime.Interpreter.from_file(sys.argv[1])
d = np.load(sys.argv[2])
x, y = d["x"], d["y"]
inp = it.get_input_details(0)
s, z = inp["quantization_parameters"]["scales"][0], inp["quantization_parameters"]["zero_points"][0]
right = 0
for i in range(len(x)):
    it.set_input(np.clip(np.round(x[i:i + 1] / s) + z, -128, 127).astype(np.int8), 0)
    it.invoke()
    right += int(np.argmax(it.get_output(0)) == y[i])
print(right / len(x))
"""
    data = path.with_suffix(".npz")
    np.savez(data, x=x, y=y)
    proc = subprocess.run([sys.executable, "-c", script, str(path), str(data)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return float(proc.stdout.strip().splitlines()[-1])


def test_a_budget_nothing_can_keep_fails_and_writes_nothing(planted, tmp_path):
    """Evaluation inputs scaled x255 (the model was calibrated on [0, 1]): even in float,
    the int8 input clips them. Oracle: Keras on the clipped, quantized inputs disagrees
    with Keras on the inputs as given on more than 1% of the samples."""
    import keras

    x = np.load(planted["test"])["x"] * 255.0
    np.save(tmp_path / "x255.npy", x)
    dst = tmp_path / "never.tflite"
    res = _search(planted, dst, "--eval-data", tmp_path / "x255.npy")
    assert res.exit_code == 1, res.stderr
    assert "cannot be met" in res.stderr and "nothing written" in res.stderr
    assert not dst.exists() and not dst.with_name(dst.name + ".recipe.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["x255.npy"]
    model = keras.models.load_model(planted["model"], compile=False)
    calib = np.load(planted["calib"])
    lo, hi = min(float(calib.min()), 0.0), float(calib.max())
    scale = (hi - lo) / 255
    clipped = np.clip(np.round(x / scale) * scale, lo, hi)
    agree = np.mean(np.argmax(model.predict(clipped, verbose=0), 1)
                    == np.argmax(model.predict(x, verbose=0), 1))
    assert 100 * (1 - agree) > 1


@pytest.mark.parametrize("case", ["shape", "count", "range"])
def test_evaluation_data_that_does_not_fit_is_refused_before_converting(case, tmp_path):
    """exit 2, one line naming the file, before TensorFlow loads (the digits Keras sample:
    inputs [?, 8, 8, 1], 10 classes, test split of 360 samples)."""
    test = np.load(SAMPLES / "digits_test.npz")
    x, y = test["x"], test["y"]
    eval_data, labels = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(eval_data, x[:, :4] if case == "shape" else x)
    np.save(labels, np.concatenate([y, y[:3]]) if case == "count" else
            np.where(np.arange(len(y)) == 7, 10, y) if case == "range" else y)
    dst = tmp_path / "out.tflite"
    proc = run_cli("convert", str(SAMPLES / "digits_keras.h5"), str(dst), "--quantize",
                   "int8", "--data", str(SAMPLES / "digits_calib.npy"), "--max-drop", "1",
                   "--eval-data", str(eval_data), "--labels", str(labels))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("modelkit: error: "), proc.stderr
    named = {"shape": f"{eval_data}: array 'x' has shape [360, 4, 8, 1]",
             "count": f"{labels}: 363 labels for 360 samples",
             "range": f"{labels}: label 7 is 10, but the model's output has 10 classes"}
    assert named[case] in lines[0]
    assert not dst.exists()


def test_options_that_do_not_belong_together_are_refused(tmp_path):
    base = ["convert", str(SAMPLES / "digits_keras.h5"), str(tmp_path / "o.tflite"),
            "--data", str(SAMPLES / "digits_calib.npy")]
    cases = {
        ("--quantize", "dynamic", "--max-drop", "1", "--eval-data", "x.npy"): "--quantize int8",
        ("--quantize", "int8", "--max-drop", "1"): "--eval-data",
        ("--quantize", "int8", "--labels", "y.npy"): "--max-drop PCT",
        ("--quantize", "int8", "--max-drop", "-3", "--eval-data", "x.npy"): "between 0 and 100",
        ("--quantize", "int8", "--max-drop", "1", "--eval-data", "x.npy",
         "--target", "dsp"): "choose one of",
    }
    for extra, says in cases.items():
        proc = run_cli(*base, *extra)
        assert proc.returncode == 2 and says in proc.stderr, (extra, proc.stderr)
    assert list(tmp_path.iterdir()) == []


def _plain_int8(planted, tmp_path):
    """What `modelkit convert --quantize int8` writes for the planted model."""
    out = tmp_path / "plain.tflite"
    res = cli("convert", planted["model"], out, "--quantize", "int8", "--data",
              planted["calib"], "--no-verify")
    assert res.exit_code == 0, res.stderr
    return out


def test_a_budget_the_int8_model_keeps_writes_it_as_converted(planted, tmp_path):
    plain = _plain_int8(planted, tmp_path)
    dst = tmp_path / "kept.tflite"
    res = cli("convert", planted["model"], dst, "--quantize", "int8", "--data",
              planted["calib"], "--max-drop", "95", "--eval-data", planted["test"],
              "--labels", planted["test"], "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["chosen"] == 0 and len(report["candidates"]) == 1
    assert dst.read_bytes() == plain.read_bytes()
    assert ops_outside_int8(dst) == []
    assert report["recipe"] is None and not dst.with_name(dst.name + ".recipe.json").exists()
    assert "--max-drop" not in report["command"]


def test_edge_tpu_runs_int8_only_so_the_budget_cannot_be_met(planted, float_accuracy,
                                                             tmp_path):
    test = np.load(planted["test"])
    plain = _plain_int8(planted, tmp_path)
    assert 100 * (float_accuracy - litert_accuracy(plain, test["x"], test["y"])) > 1
    dst = tmp_path / "tpu.tflite"
    res = _search(planted, dst, "--labels", planted["test"], "--target", "edgetpu")
    assert res.exit_code == 1, res.stderr
    assert "edgetpu runs int8 only" in res.stderr and "nothing written" in res.stderr
    assert not dst.exists()
    assert len(json.loads(res.stdout)["candidates"]) == 1  # no mixed precision tried


def test_min_sqnr_budget_holds_on_the_written_outputs(planted, tmp_path):
    """Oracle: the SQNR of the written model's outputs (LiteRT) against Keras's."""
    import keras

    dst = tmp_path / "sqnr.tflite"
    res = cli("convert", planted["model"], dst, "--quantize", "int8", "--data",
              planted["calib"], "--min-sqnr", "20", "--eval-data", planted["test"], "--json")
    assert res.exit_code == 0, res.stderr
    x = np.load(planted["test"])["x"]
    want = keras.models.load_model(planted["model"], compile=False).predict(x, verbose=0)
    got = int8_outputs(dst, x)
    sqnr = 10 * np.log10(np.sum(want.astype(np.float64) ** 2)
                         / np.sum((got - want.astype(np.float64)) ** 2))
    assert sqnr >= 20
    report = json.loads(res.stdout)
    chosen = report["candidates"][report["chosen"]]
    assert chosen["measure"]["sqnr_db"] == pytest.approx(sqnr, abs=0.01)
    assert not report["candidates"][0]["meets"]  # full int8 did not keep it


def test_an_interrupt_during_the_search_writes_nothing(planted, tmp_path):
    """Ctrl-C that Python drops inside a finalizer (as TensorFlow's objects do) while a
    candidate is assessed still ends the command: exit 130, no DST, no recipe."""
    dst = tmp_path / "stopped.tflite"
    proc = run_cli("convert", str(planted["model"]), str(dst), "--quantize", "int8",
                   "--data", str(planted["calib"]), "--max-drop", "1", "--eval-data",
                   str(planted["test"]), env={"MODELKIT_TEST_SIGINT_AT": "candidate:swallowed"},
                   timeout=600)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "modelkit: error: interrupted"
    assert list(tmp_path.iterdir()) == []


def test_a_recipe_that_does_not_fit_is_refused(planted, tmp_path):
    base = ["convert", planted["model"], tmp_path / "r.tflite", "--quantize", "int8",
            "--data", planted["calib"], "--recipe"]
    (tmp_path / "list.json").write_text('{"regex": ".*"}')
    (tmp_path / "other.json").write_text(json.dumps([
        {"regex": ".*", "operation": "*", "algorithm_key": "no_quantize"},
        {"regex": "^planted_mlp_1/dense9_1/MatMul;$", "operation": "*",
         "algorithm_key": "no_quantize"}]))
    for name, says in (("missing.json", "no such recipe file"),
                       ("list.json", "not an ai-edge-quantizer recipe"),
                       ("other.json", "the recipe names 'planted_mlp_1/dense9_1/MatMul', which "
                                      "no op of the float model writes; did you mean")):
        res = cli(*base, tmp_path / name)
        assert res.exit_code == 2 and says in res.stderr, (name, res.stderr)
    assert not (tmp_path / "r.tflite").exists()
