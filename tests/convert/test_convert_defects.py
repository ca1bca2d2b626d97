"""convert with ops the interpreter cannot run (Select TF, custom), TF errors as one
line, the preflight inside SavedModel functions, and graphs with host side effects."""

from __future__ import annotations

import json

import pytest
from ai_edge_litert.interpreter import Interpreter

from tests.conftest import SAMPLES
from tests.convert.conftest import cli


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("defects")


@pytest.fixture(scope="module")
def exotic(tf, work):
    """A SavedModel whose signature needs a Select TF op (MatrixInverse) and an op that
    is neither builtin nor Select (BesselI1e), inside its traced function."""

    class Exotic(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 2, 2], tf.float32)])
        def serve(self, x):
            return {"y": tf.linalg.inv(x + 2.0 * tf.eye(2)) + tf.math.special.bessel_i1e(x)}

    m = Exotic()
    path = work / "exotic"
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})
    return path


def test_preflight_finds_the_ops_inside_savedmodel_functions(exotic, work):
    res = cli(exotic, work / "no_flags.tflite")
    assert res.exit_code == 4, res.stderr
    assert "MatrixInverse" in res.stderr and "BesselI1e" in res.stderr
    assert "--allow-select-tf-ops" in res.stderr and "--allow-custom-ops" in res.stderr
    assert not (work / "no_flags.tflite").exists()


@pytest.mark.parametrize("extra", [[], ["--no-verify"]])
def test_select_and_custom_ops_are_written_and_the_report_says_what_cannot_run(
        exotic, work, extra):
    dst = work / f"exotic{len(extra)}.tflite"
    res = cli(exotic, dst, "--allow-select-tf-ops", "--allow-custom-ops", "--json", *extra)
    assert res.exit_code == 0, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    report = json.loads(res.stdout)
    assert report["verification"] is None
    (note,) = [n for n in report["notes"] if "cannot run the result" in n]
    assert "FlexMatrixInverse" in note and "BesselI1e" in note
    # The interpreter agrees it cannot load the file, and names the same ops.
    ops = {o["op_name"] for o in Interpreter(model_path=str(dst))._get_ops_details()}
    assert {"FlexMatrixInverse", "BesselI1e"} <= ops
    with pytest.raises(RuntimeError):
        Interpreter(model_path=str(dst)).allocate_tensors()
    (inp,) = report["inputs"]
    assert inp["dtype"] == "float32" and inp["shape"] == [1, 2, 2]


def test_select_op_missing_from_the_known_list_is_left_to_the_converter(tf, work):
    """TF 2.21 converts MatrixDeterminant as a Select TF op; the preflight must not stop it."""

    class Det(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 2, 2], tf.float32)])
        def serve(self, x):
            return {"y": tf.linalg.det(x)}

    m = Det()
    src = work / "det"
    tf.saved_model.save(m, str(src), signatures={"serving_default": m.serve})
    dst = work / "det.tflite"
    res = cli(src, dst, "--allow-select-tf-ops", "--no-verify")
    assert res.exit_code == 0, res.stderr
    assert "MatrixDeterminant" in res.stderr
    ops = {o["op_name"] for o in Interpreter(model_path=str(dst))._get_ops_details()}
    assert "FlexMatrixDeterminant" in ops


def test_shape_error_from_the_converter_is_one_line(work):
    dst = work / "batch2.tflite"
    res = cli(SAMPLES / "digits_frozen.pb", dst, "--input-shapes", "2,8,8,1")
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("modelkit: error: ")
    assert "cannot be changed from (1, 8, 8, 1) to [2, 8, 8, 1]" in lines[-1]
    assert "Traceback" not in res.stderr and not dst.exists()


def test_graph_that_writes_files_is_refused_before_tf_runs(tf, work):
    target = work / "dropped.txt"
    v1 = tf.compat.v1
    with tf.Graph().as_default() as g:
        x = v1.placeholder(tf.float32, [1, 4], name="x")
        with g.control_dependencies([tf.io.write_file(str(target), "x", name="drop")]):
            tf.identity(x * 2.0, name="y")
    src = work / "writes.pb"
    src.write_bytes(g.as_graph_def().SerializeToString())
    res = cli(src, work / "writes.tflite", "--outputs", "y")
    assert res.exit_code == 4
    assert "WriteFile 'drop' (reads or writes files)" in res.stderr
    assert "--allow-unsafe-ops" in res.stderr
    assert not target.exists() and not (work / "writes.tflite").exists()


def test_verification_runs_through_the_runtime_on_batch_one_graphs(work):
    """The frozen graph takes batch 1, the TFLite result too: 200 samples in slices."""
    dst = work / "float.tflite"
    res = cli(SAMPLES / "digits_frozen.pb", dst, "--data", SAMPLES / "digits_calib.npy",
              "--json")
    assert res.exit_code == 0, res.stderr
    v = json.loads(res.stdout)["verification"]
    assert v["samples"] == 200 and v["ok"]
    assert v["outputs"][0]["max_abs_error"] < 1e-5
    assert v["outputs"][0]["cosine_similarity"] == pytest.approx(1.0, abs=1e-9)


def test_scalar_input_is_verified_one_sample_at_a_time(tf, work):
    """A signature with a scalar input (a step count) verifies without a batch dim."""

    class Scaled(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32),
                                      tf.TensorSpec([], tf.int32)])
        def serve(self, x, n):
            return {"y": tf.nn.relu(x) * tf.cast(n, tf.float32)}

    m = Scaled()
    src = work / "scaled"
    tf.saved_model.save(m, str(src), signatures={"serving_default": m.serve})
    res = cli(src, work / "scaled.tflite", "--json")
    assert res.exit_code == 0, res.stderr
    v = json.loads(res.stdout)["verification"]
    assert v["samples"] == 16 and v["outputs"][0]["max_abs_error"] < 1e-5
    assert v["outputs"][0]["source_max"] > 0


def test_keras_recurrent_model_with_input_shapes_runs_in_the_interpreter(tf, work):
    """--input-shapes on a Keras LSTM: the variables its while-loop body reads are frozen
    (not left as VAR_HANDLE/READ_VARIABLE nobody assigns), so the interpreter runs the
    file and matches Keras on the same input."""
    import numpy as np

    x_in = tf.keras.Input((6,), dtype="int32")
    h = tf.keras.layers.Embedding(16, 4)(x_in)
    h = tf.keras.layers.LSTM(5)(h)
    model = tf.keras.Model(x_in, tf.keras.layers.Dense(3)(h))
    src, dst = work / "lstm.keras", work / "lstm.tflite"
    model.save(src)
    res = cli(src, dst, "--input-shapes", "1,6")
    assert res.exit_code == 0, res.stderr
    assert "verification skipped" not in res.stdout + res.stderr
    x = np.array([[1, 2, 3, 4, 5, 9]], np.int32)
    it = Interpreter(model_path=str(dst))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    got = it.get_tensor(it.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, model(x).numpy(), atol=1e-5)
