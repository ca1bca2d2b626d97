"""Keras 3 `.keras` files: graph, weights and parameter counts against Keras itself.

Oracles: Keras' `count_params()`, its trainable / non-trainable weights, each
layer's `get_weights()` (so every variable is mapped to the right layer and
slot) and output shapes, the converted model's outputs against Keras' own, and
zipfile/json for the corrupt-file cases.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import modelkit
from modelkit.errors import ModelReadError
from modelkit.formats import keras_zip
from modelkit.formats.registry import detect_format
from tests.conftest import SAMPLES, run_cli

SAMPLE = SAMPLES / "digits.keras"


@pytest.fixture(scope="module")
def keras():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def _models(keras) -> dict:
    """Small models covering what the adapter must map: BN (non-trainable vars), no-bias
    layers, repeated classes, a nested functional model, a Sequential, a frozen layer."""
    L = keras.layers
    inner_in = keras.Input((6,), name="inner_in")
    inner = keras.Model(inner_in, L.Dense(4, name="inner_dense")(inner_in), name="block")

    a = keras.Input((8, 8, 3), name="image")
    b = keras.Input((6,), name="extra")
    x = L.Conv2D(4, 3, use_bias=False, name="conv")(a)
    x = L.BatchNormalization(name="bn")(x)
    x = L.DepthwiseConv2D(3, name="dw")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    y = inner(b)
    z = L.Concatenate(name="cat")([x, y])
    frozen = L.Dense(5, name="frozen")
    frozen.trainable = False
    z = frozen(z)
    z = L.LayerNormalization(name="ln")(z)
    out = L.Dense(3, activation="softmax", name="out")(z)
    functional = keras.Model([a, b], out, name="two_inputs")

    seq = keras.Sequential([keras.Input((5,)), L.Dense(7, name="d0"), L.Dense(7),
                            L.Dense(2)], name="seq")
    return {"functional": functional, "sequential": seq}


@pytest.fixture(scope="module")
def saved(keras, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("keras_zip")
    models = _models(keras)
    paths = {}
    for name, m in models.items():
        p = out / f"{name}.keras"
        m.save(p)
        paths[name] = p
    return {"models": models, "paths": paths, "dir": out}


def _params(model) -> tuple[int, int]:
    t = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    n = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return t, n


@pytest.mark.parametrize("name", ["functional", "sequential"])
def test_parameters_and_weights_match_keras(saved, name):
    from modelkit.analysis.tf_summary import summarize_tf

    km = saved["models"][name]
    m = modelkit.load(saved["paths"][name])
    assert m.format == "keras_zip"
    facts = summarize_tf(m)
    assert facts["params"] == km.count_params()
    assert (facts["trainable_params"], facts["non_trainable_params"]) == _params(km)
    for layer in km.layers:
        node = next((n for n in m.main.nodes if n.name == layer.name), None)
        if node is None:  # a Sequential's InputLayer is not in model.layers' config
            continue
        ours = [v.data.numpy() for v in node.inputs if v is not None and v.data is not None]
        theirs = layer.get_weights()
        assert len(ours) == len(theirs), layer.name
        for o, t in zip(ours, theirs):
            assert np.array_equal(o, t), layer.name


def test_keras_application_efficientnet(keras, tmp_path):
    """A real architecture (Rescaling, Normalization state, BN, depthwise, squeeze-excite):
    every layer's weights, output shape and the parameter split equal Keras'."""
    from modelkit.analysis.tf_summary import summarize_tf

    km = keras.applications.EfficientNetB0(weights=None)
    path = tmp_path / "efficientnetb0.keras"
    km.save(path)
    m = modelkit.load(path)
    facts = summarize_tf(m)
    assert facts["params"] == km.count_params()
    assert (facts["trainable_params"], facts["non_trainable_params"]) == _params(km)
    nodes = {n.name: n for n in m.main.nodes}
    for layer in km.layers:
        node = nodes[layer.name]
        assert list(node.outputs[0].shape) == list(layer.output.shape), layer.name
        ours = [v.data.numpy() for v in node.inputs if v is not None and v.data is not None]
        theirs = layer.get_weights()
        assert len(ours) == len(theirs) and all(
            np.array_equal(o, t) for o, t in zip(ours, theirs)), layer.name
    assert not m.metadata["warnings"]


def test_functional_graph_edges_and_shapes(saved):
    km = saved["models"]["functional"]
    g = modelkit.load(saved["paths"]["functional"]).main
    nodes = {n.name: n for n in g.nodes}
    assert [v.name for v in g.inputs] == ["image", "extra"]
    assert [v.producer.name for v in g.outputs] == ["out"]
    # Concatenate takes the pooled features and the nested model's output, in that order.
    assert [v.producer.name for v in nodes["cat"].inputs if v.data is None] == ["gap", "block"]
    for layer in km.layers:
        node = nodes[layer.name]
        assert list(node.outputs[0].shape) == list(layer.output.shape), layer.name
    assert nodes["bn"].inputs[-1].name == "bn/moving_variance"
    assert not nodes["bn"].inputs[-1].meta["trainable"]
    assert [v.name for v in nodes["conv"].inputs if v.data is not None] == ["conv/kernel"]


def test_sample_digits_keras_matches_keras(keras):
    km = keras.models.load_model(SAMPLE, compile=False)
    m = modelkit.load(SAMPLE)
    from modelkit.analysis.tf_summary import summarize_tf

    assert detect_format(SAMPLE) == "keras_zip"
    assert summarize_tf(m)["params"] == km.count_params() == 6218
    assert m.metadata["keras_version"] == json.loads(
        zipfile.ZipFile(SAMPLE).read("metadata.json"))["keras_version"]


def test_lambda_and_custom_layers_are_opaque_and_never_run(keras, tmp_path):
    L = keras.layers

    @keras.saving.register_keras_serializable(package="modelkit_tests")
    class Scale(L.Layer):
        def call(self, x):
            return x * 2.0

    inp = keras.Input((4,), name="x")
    y = L.Lambda(lambda t: t + 1.0, name="plus_one")(inp)
    y = Scale(name="scale")(y)
    out = L.Dense(2, name="head")(y)
    path = tmp_path / "lambda.keras"
    keras.Model(inp, out).save(path)
    m = modelkit.load(path)
    nodes = {n.name: n for n in m.main.nodes}
    assert nodes["plus_one"].meta.get("opaque") and nodes["scale"].meta.get("opaque")
    assert not nodes["head"].meta.get("opaque")
    assert any("plus_one" in w and "Lambda" in w for w in m.metadata["warnings"])
    res = run_cli("summarize", str(path))
    assert res.returncode == 0
    assert "plus_one" in res.stderr and "opaque" in res.stderr


def test_summarize_json_and_browse_load(saved):
    res = run_cli("summarize", "--json", str(saved["paths"]["functional"]))
    assert res.returncode == 0, res.stderr
    facts = json.loads(res.stdout)
    assert facts["format"] == "keras_zip" and facts["tf"]["model_class"] == "Functional"
    assert [i["name"] for i in facts["inputs"]] == ["image", "extra"]


def test_convert_outputs_equal_keras(keras, tmp_path):
    dst = tmp_path / "digits.tflite"
    res = run_cli("convert", str(SAMPLE), str(dst), "--no-verify", timeout=600)
    assert res.returncode == 0, res.stderr
    from ai_edge_litert.interpreter import Interpreter

    x = np.load(SAMPLES / "digits_test.npz")["x"][:16].astype(np.float32)
    want = keras.models.load_model(SAMPLE, compile=False)(x, training=False)
    it = Interpreter(model_path=str(dst))
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.resize_tensor_input(inp["index"], x.shape)
    it.allocate_tensors()
    it.set_tensor(inp["index"], x)
    it.invoke()
    np.testing.assert_allclose(it.get_tensor(out["index"]), np.asarray(want), atol=1e-5)


# -- bad files: one line, exit 3 -------------------------------------------------------

def _rezip(src: Path, dst: Path, drop: str | None = None, replace: dict | None = None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename == drop:
                continue
            data = (replace or {}).get(info.filename, zin.read(info))
            zout.writestr(info, data)


@pytest.mark.parametrize("case, what", [
    ("truncated", "corrupt"),
    ("no_config", "has no config.json"),
    ("no_weights", "has no model.weights.h5"),
    ("bad_json", "config.json in the .keras archive is not valid JSON"),
    ("bad_h5", "not a readable HDF5 file"),
    ("not_a_model", "not a Keras model config"),
])
def test_bad_keras_files_exit_3_with_one_line(tmp_path, case, what):
    bad = tmp_path / f"{case}.keras"
    if case == "truncated":
        bad.write_bytes(SAMPLE.read_bytes()[:5000])
    elif case == "no_config":
        _rezip(SAMPLE, bad, drop="config.json")
    elif case == "no_weights":
        _rezip(SAMPLE, bad, drop="model.weights.h5")
    elif case == "bad_json":
        _rezip(SAMPLE, bad, replace={"config.json": b'{"class_name": "Functional", '})
    elif case == "bad_h5":
        _rezip(SAMPLE, bad, replace={"model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 64})
    else:
        _rezip(SAMPLE, bad, replace={"config.json": b"[1, 2, 3]"})
    with pytest.raises(ModelReadError):
        keras_zip.load(bad)
    res = run_cli("summarize", str(bad))
    assert res.returncode == 3 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and what in lines[0], res.stderr


def test_deflated_weights_read_the_same(tmp_path):
    deflated = tmp_path / "deflated.keras"
    with zipfile.ZipFile(SAMPLE) as zin, \
            zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
    a, b = modelkit.load(SAMPLE).main, modelkit.load(deflated).main
    wa = {v.name: v.data.numpy() for v in a.values if v.data is not None}
    wb = {v.name: v.data.numpy() for v in b.values if v.data is not None}
    assert wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)


@pytest.mark.asyncio
async def test_browse_opens_a_keras_file():
    from tests.tui.pilot_helpers import summary_view_text

    shown = await summary_view_text(SAMPLE)
    assert shown.rstrip("\n") == run_cli("summarize", str(SAMPLE)).stdout.rstrip("\n")
    assert "dense1   Dense         [?,32]      4640" in shown
