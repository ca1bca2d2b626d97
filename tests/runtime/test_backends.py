"""TF-side backends: each against TensorFlow/Keras run by hand, and all formats of the
digits model against each other on the same inputs; graphs with host side effects
are refused before TensorFlow runs them."""

from __future__ import annotations

import os

import numpy as np
import pytest

from modelkit.errors import UnsafeOpsError, UsageError
from modelkit.runtime import open_runtime
from modelkit.runtime.batch import run_samples
from tests.conftest import SAMPLES

X = np.load(SAMPLES / "digits_test.npz")["x"][:24]


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow

    return tensorflow


@pytest.fixture(scope="module")
def outputs():
    """Every format's outputs on the same samples, through the runtime."""
    out = {}
    for name in ("digits_float.tflite", "digits_frozen.pb", "digits_frozen.pbtxt",
                 "digits_ckpt", "digits_savedmodel", "digits_keras.h5", "digits_keras2.h5",
                 "digits.keras"):
        rt = open_runtime(SAMPLES / name)
        (spec,) = rt.outputs
        out[name] = run_samples(rt, [X])[spec.name]
    return out


def test_frozen_graph_matches_a_session(tf, outputs):
    v1 = tf.compat.v1
    graph_def = v1.GraphDef.FromString((SAMPLES / "digits_frozen.pb").read_bytes())
    with tf.Graph().as_default() as g, v1.Session(graph=g) as s:
        v1.import_graph_def(graph_def, name="")
        want = np.concatenate([s.run("probs:0", {"input:0": x[None]}) for x in X])
    np.testing.assert_array_equal(outputs["digits_frozen.pb"], want)
    np.testing.assert_array_equal(outputs["digits_frozen.pbtxt"], want)


def test_checkpoint_matches_restored_meta_graph(tf, outputs):
    v1 = tf.compat.v1
    prefix = str(SAMPLES / "digits_ckpt" / "model.ckpt")
    with tf.Graph().as_default() as g, v1.Session(graph=g) as s:
        v1.train.import_meta_graph(prefix + ".meta").restore(s, prefix)
        want = s.run("probs:0", {"input:0": X})
    np.testing.assert_allclose(outputs["digits_ckpt"], want, rtol=0, atol=1e-6)


def test_savedmodel_and_keras_match_their_own_runtimes(tf, outputs):
    import keras

    serve = tf.saved_model.load(str(SAMPLES / "digits_savedmodel")).signatures["serving_default"]
    np.testing.assert_allclose(outputs["digits_savedmodel"],
                               serve(input=tf.constant(X))["output_0"].numpy(), atol=1e-6)
    for name in ("digits_keras.h5", "digits.keras"):
        model = keras.models.load_model(SAMPLES / name, compile=False)
        np.testing.assert_allclose(outputs[name], model.predict(X, verbose=0), atol=1e-6)


def test_formats_agree_with_each_other(outputs):
    """Keras, SavedModel and TFLite float hold the same weights; the frozen graph and
    checkpoint were fine-tuned 10 more steps (samples/README), so they agree on classes."""
    ref = outputs["digits_float.tflite"]
    for name in ("digits_savedmodel", "digits_keras.h5", "digits_keras2.h5", "digits.keras"):
        np.testing.assert_allclose(outputs[name], ref, atol=1e-5)
    for name in ("digits_frozen.pb", "digits_ckpt"):
        assert np.mean(outputs[name].argmax(1) == ref.argmax(1)) >= 0.95


def test_batch_one_graph_takes_many_samples_in_slices():
    rt = open_runtime(SAMPLES / "digits_frozen.pb")
    assert rt.inputs[0].shape == (1, 8, 8, 1)
    whole = rt.run([X[:5]])["probs"]
    one_by_one = np.concatenate([rt.run([X[i:i + 1]])["probs"] for i in range(5)])
    np.testing.assert_array_equal(whole, one_by_one)


def test_named_graph_io_and_bad_names():
    rt = open_runtime(SAMPLES / "digits_frozen.pb", inputs=["input:0"], outputs=["probs"])
    assert [s.name for s in rt.inputs] == ["input"] and [s.name for s in rt.outputs] == ["probs"]
    with pytest.raises(UsageError, match="Did you mean 'probs'"):
        open_runtime(SAMPLES / "digits_frozen.pb", outputs=["prob"])


@pytest.fixture(scope="module")
def unsafe_graph(tf, tmp_path_factory):
    """y = x * 2, with a WriteFile node the output depends on (control edge)."""
    root = tmp_path_factory.mktemp("unsafe")
    target = root / "written.txt"
    v1 = tf.compat.v1
    with tf.Graph().as_default() as g:
        x = v1.placeholder(tf.float32, [1, 4], name="x")
        write = tf.io.write_file(str(target), "owned", name="drop_file")
        with g.control_dependencies([write]):
            tf.identity(x * 2.0, name="y")
    path = root / "unsafe.pb"
    path.write_bytes(g.as_graph_def().SerializeToString())
    return path, target


def test_graph_with_write_file_is_refused_before_running(unsafe_graph):
    path, target = unsafe_graph
    with pytest.raises(UnsafeOpsError, match=r"WriteFile 'drop_file' \(reads or writes files\)"):
        open_runtime(path, outputs=["y"])
    assert not target.exists()


def test_allow_unsafe_ops_runs_it_and_the_write_happens(unsafe_graph):
    """The refusal is not theoretical: allowed, TF carries out the write."""
    path, target = unsafe_graph
    rt = open_runtime(path, outputs=["y"], allow_unsafe_ops=True)
    x = np.arange(4, dtype=np.float32)[None]
    np.testing.assert_array_equal(rt.run([x])["y"], x * 2)
    assert target.read_text() == "owned"


def test_keras_lambda_is_refused_unless_allowed(tmp_path):
    """Keras' safe mode would refuse the marshaled lambda; modelkit refuses before Keras
    loads, naming the layer; allowed, Keras computes the lambda."""
    import keras

    inp = keras.Input((4,), name="x")
    keras.Model(inp, keras.layers.Lambda(lambda t: t * 2.0, name="twice")(inp)).save(
        tmp_path / "lambda.h5")
    with pytest.raises(UnsafeOpsError, match=r"Lambda 'twice' \(runs Python code"):
        open_runtime(tmp_path / "lambda.h5")
    rt = open_runtime(tmp_path / "lambda.h5", allow_unsafe_ops=True)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(rt.run([x])["twice"], x * 2)
