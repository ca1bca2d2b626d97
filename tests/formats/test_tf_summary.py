"""summarize_tf facts against TensorFlow's and Keras's own view of the samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import modelkit
from modelkit.analysis.render import render_tf_summary
from modelkit.analysis.tf_summary import (human_count, possible_inputs, possible_outputs,
                                          summarize_tf)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def _const_sizes(tf, gd) -> int:
    """Elements of numeric constants (strings, like a saver's tensor names, are no
    parameters)."""
    return sum(int(np.prod(tf.make_ndarray(n.attr["value"].tensor).shape))
               for n in gd.node if n.op == "Const"
               and n.attr["value"].tensor.dtype != tf.string.as_datatype_enum)


@pytest.mark.parametrize("name", ["digits_frozen.pb", "digits_frozen.pbtxt"])
def test_frozen_graph_facts(tf, name):
    from google.protobuf import text_format
    path = SAMPLES / name
    facts = summarize_tf(modelkit.load(path))
    json.dumps(facts)  # plain types only
    gd = tf.compat.v1.GraphDef()
    if name.endswith(".pbtxt"):
        text_format.Parse(path.read_text(), gd)
    else:
        gd.ParseFromString(path.read_bytes())
    assert facts["inputs"] == [{"name": "input", "op": "Placeholder", "dtype": "float32",
                                "shape": [1, 8, 8, 1]}]
    assert facts["outputs"] == [{"name": "probs", "op": "Softmax"}]
    assert facts["const_params"] == _const_sizes(tf, gd)
    assert facts["variable_params"] == 0 and facts["variables"] == []
    assert facts["nodes"] == len(gd.node)
    assert facts["control_edges"] == sum(1 for n in gd.node for i in n.input
                                         if i.startswith("^"))
    assert sum(facts["op_types"].values()) == len(gd.node)
    assert facts["producer"] == gd.versions.producer
    assert facts["convert_command"].endswith(
        "out.tflite --inputs input --outputs probs --input-shapes 1,8,8,1")


def test_checkpoint_facts(tf):
    prefix = str(SAMPLES / "digits_ckpt" / "model.ckpt")
    model = modelkit.load(SAMPLES / "digits_ckpt")
    facts = summarize_tf(model)
    json.dumps(facts)
    assert [o["name"] for o in facts["outputs"]] == ["probs"]
    assert "loss" in facts["training_only_sinks"]
    assert [i["name"] for i in facts["inputs"]] == ["input", "labels"]
    assert facts["inputs"][0]["shape"] == [None, 8, 8, 1]
    listed = dict(tf.train.list_variables(prefix))
    assert {v["name"]: v["shape"] for v in facts["variables"]} == \
        {k: list(s) for k, s in listed.items()}
    assert facts["variable_params"] == sum(int(np.prod(s)) for s in listed.values())
    mg = tf.compat.v1.MetaGraphDef.FromString(Path(prefix + ".meta").read_bytes())
    assert facts["const_params"] == _const_sizes(tf, mg.graph_def)
    assert facts["train_ops"] == ["train_op"]
    devices = {}
    for n in mg.graph_def.node:
        devices[n.device] = devices.get(n.device, 0) + 1
    assert facts["devices"] == devices


def test_possible_inputs_outputs_of_legacy_quantized_graph(tf):
    g = modelkit.load(SAMPLES / "digits_legacy_quantized.pb").main
    assert [v.name for v in possible_inputs(g)] == ["input:0"]
    outs = {n.name for n in possible_outputs(g)}
    assert "probs" in outs
    gd = tf.compat.v1.GraphDef.FromString((SAMPLES / "digits_legacy_quantized.pb").read_bytes())
    consumed = {i.lstrip("^").split(":")[0] for n in gd.node for i in n.input}
    assert outs == {n.name for n in gd.node if n.name not in consumed and n.op not in
                    ("Const", "NoOp", "Placeholder", "Assign")}


def test_savedmodel_facts(tf):
    path = SAMPLES / "digits_savedmodel"
    facts = summarize_tf(modelkit.load(path))
    json.dumps(facts)
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        mg = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(path))
    assert facts["tag_sets"] == [list(mg.meta_info_def.tags)]
    sigs = {s["key"]: s for s in facts["signatures"]}
    assert set(sigs) == set(mg.signature_def)
    sd = mg.signature_def["serving_default"]
    (key, info), = sd.inputs.items()
    assert sigs["serving_default"]["inputs"] == [
        {"key": key, "dtype": "float32", "shape": [None, 8, 8, 1], "tensor_name": info.name}]
    assert sigs["serving_default"]["method_name"] == sd.method_name
    # Keras counts the same parameters as the variables SavedModel stores.
    keras = pytest.importorskip("keras")
    ref = keras.models.load_model(SAMPLES / "digits_keras.h5", compile=False)
    assert facts["variable_params"] == ref.count_params()
    assert facts["variable_count"] == len(ref.weights)


@pytest.mark.parametrize("name", ["digits_keras.h5", "digits_keras2.h5"])
def test_keras_facts(tf, name):
    keras = pytest.importorskip("keras")
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{name} not generated")
    facts = summarize_tf(modelkit.load(path))
    json.dumps(facts)
    ref = keras.models.load_model(path, compile=False)
    trainable = sum(int(np.prod(w.shape)) for w in ref.trainable_weights)
    assert facts["params"] == ref.count_params()
    assert facts["trainable_params"] == trainable
    assert facts["non_trainable_params"] == ref.count_params() - trainable
    assert [la["name"] for la in facts["layers"]] == [la.name for la in ref.layers]
    for la, layer in zip(facts["layers"], ref.layers):
        assert la["class_name"] == type(layer).__name__
        assert la["output_shapes"] == [list(layer.output.shape)]
        assert la["params"] == layer.count_params()
    assert facts["has_training_config"] and facts["optimizer"] in ("Adam", "adam")
    assert facts["optimizer_weights"] > 0
    assert facts["keras_version"].split(".")[0] == ("3" if name == "digits_keras.h5" else "2")


def test_non_trainable_batchnorm_weights(tmp_path, tf):
    keras = pytest.importorskip("keras")
    inp = keras.Input((4,), name="x")
    out = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(3, name="d")(inp))
    ref = keras.Model(inp, out)
    path = tmp_path / "bn.h5"
    ref.save(path)
    facts = summarize_tf(modelkit.load(path))
    non_trainable = sum(int(np.prod(w.shape)) for w in ref.non_trainable_weights)
    assert facts["non_trainable_params"] == non_trainable == 6
    assert facts["trainable_params"] == ref.count_params() - non_trainable
    assert not facts["has_training_config"] and facts["optimizer"] is None


def test_render_is_aligned_and_greppable():
    text = render_tf_summary(summarize_tf(modelkit.load(SAMPLES / "digits_frozen.pb")))
    lines = text.splitlines()
    assert "Inputs (1)" in lines and "Outputs (1)" in lines
    assert any(line.split() == ["input", "Placeholder", "float32[1,8,8,1]"] for line in lines)
    assert any(line.split() == ["probs", "Softmax"] for line in lines)
    assert any(line.startswith("Const params:") for line in lines)


def test_human_count():
    assert [human_count(n) for n in (999, 1000, 23_850_000, 2_500_000_000)] == \
        ["999", "1.00k", "23.85M", "2.50B"]


def test_transposed_conv_is_an_output_and_gradient_kernels_are_training(tmp_path, tf):
    """conv2d_transpose builds Conv2DBackpropInput, an inference op; the gradient of a
    fused batch norm builds FusedBatchNormGradV3, a training op."""
    from modelkit.analysis.tf_summary import is_training_node
    from modelkit.check import check_model

    v1 = tf.compat.v1

    def build(with_gradients: bool):
        with tf.Graph().as_default() as g:
            x = v1.placeholder(tf.float32, [1, 4, 4, 2], name="x")
            w = tf.constant(np.ones((3, 3, 3, 2), np.float32))
            up = tf.nn.conv2d_transpose(x, w, [1, 8, 8, 3], strides=2, name="up")
            y, _, _ = v1.nn.fused_batch_norm(up, tf.ones([3]), tf.zeros([3]), name="bn")
            if with_gradients:
                v1.gradients(tf.reduce_sum(y), [up], name="gradients")
        path = tmp_path / f"tconv{int(with_gradients)}.pb"
        path.write_bytes(g.as_graph_def().SerializeToString())
        return modelkit.load(path)

    inference = build(False)
    up = inference.main.node("up")
    assert up.op == "Conv2DBackpropInput" and not is_training_node(up)
    assert [n.name for n in possible_outputs(inference.main)] == ["bn"]
    assert not [f for f in check_model(inference).findings if f.rule == "tf-training-op"]

    training = build(True)
    grads = [n for n in training.main.nodes if n.op.startswith("FusedBatchNormGrad")]
    assert grads and all(is_training_node(n) for n in grads)
    assert not is_training_node(training.main.node("up"))
