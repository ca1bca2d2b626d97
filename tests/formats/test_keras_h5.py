"""The Keras H5 adapter against Keras's own loader."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import modelkit
from modelkit.errors import ExitCode, ModelReadError
from modelkit.formats import keras_h5

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
K3 = SAMPLES / "digits_keras.h5"
K2 = SAMPLES / "digits_keras2.h5"
FILES = [p for p in (K3, K2) if p.exists()]

h5py = pytest.importorskip("h5py")


@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("tensorflow")
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def keras_models(keras):
    return {p: keras.models.load_model(p, compile=False) for p in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_weights_equal_keras(keras_models, path):
    ref = keras_models[path]
    model = keras_h5.load(path)
    g = model.main
    assert [n.name for n in g.nodes] == [layer.name for layer in ref.layers]
    for layer in ref.layers:
        node = g.node(layer.name)
        assert node.op == type(layer).__name__ and node.domain == "keras"
        ours = [v for v in node.inputs if v is not None and v.data is not None]
        assert len(ours) == len(layer.weights)
        for v, w in zip(ours, layer.weights):
            np.testing.assert_array_equal(v.data.numpy(), w.numpy())


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_edges_and_shapes_follow_the_keras_graph(keras_models, path):
    ref = keras_models[path]
    g = keras_h5.load(path).main
    for layer in ref.layers:
        node = g.node(layer.name)
        inbound = [v.producer.name for v in node.inputs
                   if v is not None and v.data is None and v.producer is not None]
        if type(layer).__name__ != "InputLayer":
            src = layer.input if not isinstance(layer.input, list) else layer.input[0]
            assert inbound == [src._keras_history[0].name]
        assert list(node.outputs[0].shape) == list(layer.output.shape)
    assert [v.producer.name for v in g.outputs] == [t._keras_history[0].name for t in ref.outputs]
    assert [v.producer.name for v in g.inputs] == [t._keras_history[0].name for t in ref.inputs]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_metadata(path):
    model = keras_h5.load(path)
    with h5py.File(path, "r") as f:
        assert model.metadata["keras_version"] == f.attrs["keras_version"]
        opt = []
        f["optimizer_weights"].visititems(lambda n, o: opt.append(n)
                                          if isinstance(o, h5py.Dataset) else None)
    assert sorted(w["name"] for w in model.metadata["optimizer_weights"]) == sorted(opt)
    assert model.metadata["training_config"]["loss"] == "sparse_categorical_crossentropy"


def test_legacy_weights_only_file(tmp_path, keras_models):
    """A Keras 2 `save_weights` H5: layer groups at the root, `layer_names` attr."""
    src = FILES[-1]
    dst = tmp_path / "weights.h5"
    with h5py.File(src, "r") as fin, h5py.File(dst, "w") as fout:
        mw = fin["model_weights"]
        for key, value in mw.attrs.items():
            fout.attrs[key] = value
        for name in mw:
            fin.copy(mw[name], fout, name=name)
    assert keras_h5.sniff(dst)
    model = modelkit.load(dst)
    assert model.metadata["weights_only"]
    ref = keras_models[src]
    expected = [w.numpy() for w in ref.weights]
    ours = [v.data.numpy() for v in model.main.variables]
    assert len(ours) == len(expected)
    for a, b in zip(ours, expected):
        np.testing.assert_array_equal(a, b)


def test_keras3_weights_file(tmp_path, keras_models):
    ref = keras_models[K3]
    path = tmp_path / "m.weights.h5"
    ref.save_weights(path)
    model = modelkit.load(path)
    ours = sorted((v.data.numpy() for v in model.main.variables), key=lambda a: (a.shape, a.sum()))
    theirs = sorted((w.numpy() for w in ref.weights), key=lambda a: (a.shape, a.sum()))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_lambda_layer_is_config_only(tmp_path):
    """A Lambda layer's code is never run: it loads as a node with its config."""
    marker = tmp_path / "ran"
    code = f"lambda x: __import__('pathlib').Path({str(marker)!r}).write_text('x')"
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 4], "name": "in"}},
        {"class_name": "Lambda", "config": {"name": "lam", "function": code,
                                            "function_type": "lambda"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}
    path = tmp_path / "lambda.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        grp = f.create_group("model_weights").create_group("d")
        grp.attrs["weight_names"] = ["d/kernel", "d/bias"]
        grp["d/kernel"] = np.ones((4, 2), np.float32)
        grp["d/bias"] = np.zeros(2, np.float32)
    g = keras_h5.load(path).main
    assert [n.op for n in g.nodes] == ["InputLayer", "Lambda", "Dense"]
    assert g.node("lam").attrs["function"] == code
    assert g.node("in").outputs[0].shape == (None, 4)
    assert g.node("d").outputs[0].shape is None  # unknown after a Lambda
    np.testing.assert_array_equal(g.node("d").inputs[1].data.numpy(), np.ones((4, 2)))
    assert not marker.exists()


def test_loading_does_not_import_tensorflow():
    code = ("import sys, modelkit; m = modelkit.load(%r); "
            "[v.data.numpy() for v in m.main.values if v.data is not None]; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)" % str(K3))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False False"


def test_userblock_signature_is_sniffed(tmp_path):
    path = tmp_path / "ub.h5"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.attrs["x"] = 1
    assert keras_h5.sniff(path)
    assert not keras_h5.sniff(SAMPLES / "digits_frozen.pb")


@pytest.mark.parametrize("kind", ["no_model_config", "not_hdf5", "bad_json"])
def test_bad_files(tmp_path, kind):
    path = tmp_path / "bad.h5"
    if kind == "not_hdf5":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    else:
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=np.arange(3))
            if kind == "bad_json":
                f.attrs["model_config"] = "{not json"
    with pytest.raises(ModelReadError) as err:
        modelkit.load(path)
    assert err.value.exit_code == ExitCode.UNREADABLE
    assert str(path) in str(err.value) and "\n" not in str(err.value)
