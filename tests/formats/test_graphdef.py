"""The GraphDef adapter against TensorFlow's own parsing and execution."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import modelkit
from modelkit.errors import ExitCode, ModelReadError
from modelkit.formats import graphdef
from modelkit.ir import DType, TensorData

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
FROZEN = SAMPLES / "digits_frozen.pb"
FROZEN_TXT = SAMPLES / "digits_frozen.pbtxt"
LEGACY = SAMPLES / "digits_legacy_quantized.pb"


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def digits():
    data = np.load(SAMPLES / "digits_test.npz")
    return data["x"][:64], data["y"][:64]


def _tf_graphdef(tf, path: Path):
    """The GraphDef as TensorFlow parses it (binary or text)."""
    from google.protobuf import text_format
    gd = tf.compat.v1.GraphDef()
    if path.suffix == ".pbtxt":
        text_format.Parse(path.read_text(), gd)
    else:
        gd.ParseFromString(path.read_bytes())
    return gd


def _run(tf, gd, x: np.ndarray) -> np.ndarray:
    """Run `probs:0` of a GraphDef one image at a time (the frozen graph has batch 1)."""
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return np.concatenate([sess.run("probs:0", {"input:0": x[i:i + 1]})
                               for i in range(len(x))])


@pytest.mark.parametrize("src", [FROZEN, FROZEN_TXT, LEGACY], ids=lambda p: p.name)
def test_load_save_is_proto_equal(tf, tmp_path, src):
    model = modelkit.load(src)
    dst = tmp_path / src.name
    graphdef.save(model, dst)
    assert _tf_graphdef(tf, dst) == _tf_graphdef(tf, src)


def test_binary_save_is_byte_identical_for_tf_written_graph(tmp_path):
    dst = tmp_path / "copy.pb"
    graphdef.save(modelkit.load(FROZEN), dst)
    assert dst.read_bytes() == FROZEN.read_bytes()


@pytest.mark.parametrize("src", [FROZEN, FROZEN_TXT], ids=lambda p: p.name)
def test_saved_graph_runs_like_the_original(tf, tmp_path, digits, src):
    x, _ = digits
    dst = tmp_path / ("out" + src.suffix)
    graphdef.save(modelkit.load(src), dst)
    np.testing.assert_array_equal(_run(tf, _tf_graphdef(tf, dst), x),
                                  _run(tf, _tf_graphdef(tf, src), x))


def test_nodes_inputs_and_attrs_match_tf(tf):
    model = modelkit.load(FROZEN)
    gd = _tf_graphdef(tf, FROZEN)
    g = model.main
    assert [n.name for n in g.nodes] == [n.name for n in gd.node]
    assert [n.op for n in g.nodes] == [n.op for n in gd.node]
    for node, nd in zip(g.nodes, gd.node):
        assert node.domain == "tf"
        names = [v.name for v in node.inputs]
        expected = [s if ":" in s else s + ":0" for s in nd.input if not s.startswith("^")]
        assert names == expected
        for key, av in nd.attr.items():
            value = node.attrs[key]
            kind = av.WhichOneof("value")
            if kind == "tensor":
                assert isinstance(value, TensorData)
                np.testing.assert_array_equal(value.numpy(), tf.make_ndarray(av.tensor))
            elif kind == "type":
                assert value == DType(tf.as_dtype(av.type).name)
            elif kind == "s":
                assert value == av.s.decode()
            elif kind == "list" and av.list.i:
                assert value == list(av.list.i)
    conv = g.node("conv1/Conv2D")
    assert conv.attrs["padding"] == "SAME" and conv.attrs["strides"] == [1, 1, 1, 1]
    assert g.inputs[0].name == "input:0" and g.inputs[0].shape == (1, 8, 8, 1)
    assert [v.name for v in g.outputs] == ["probs:0"]


def test_const_values_are_visible_on_their_value(tf):
    model = modelkit.load(FROZEN)
    gd = _tf_graphdef(tf, FROZEN)
    consts = {n.name: tf.make_ndarray(n.attr["value"].tensor) for n in gd.node if n.op == "Const"}
    for name, arr in consts.items():
        v = model.main.value(name + ":0")
        assert v.is_const and v.shape == arr.shape and v.dtype == DType(arr.dtype.name)
        np.testing.assert_array_equal(v.data.numpy(), arr)


def test_edits_are_written(tf, tmp_path, digits):
    """An attr edit and an input rewire in the IR reach the written GraphDef."""
    model = modelkit.load(FROZEN)
    g = model.main
    probs = g.node("probs")
    probs.set_input(0, g.value("logits/BiasAdd:0"))  # unchanged target: spelling kept
    probs.op = "Identity"  # the graph now outputs logits
    dst = tmp_path / "edited.pb"
    graphdef.save(model, dst)
    gd = _tf_graphdef(tf, dst)
    node = next(n for n in gd.node if n.name == "probs")
    assert node.op == "Identity" and list(node.input) == ["logits/BiasAdd"]
    x, _ = digits
    logits = _run(tf, gd, x[:8])
    probs_orig = _run(tf, _tf_graphdef(tf, FROZEN), x[:8])
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), probs_orig, rtol=1e-5, atol=1e-6)

    model = modelkit.load(FROZEN)
    conv = model.main.node("conv2/Conv2D")
    conv.attrs["padding"] = "SAME"
    conv.attrs["strides"] = [1, 2, 2, 1]
    graphdef.save(model, tmp_path / "edited2.pbtxt")
    gd = _tf_graphdef(tf, tmp_path / "edited2.pbtxt")
    node = next(n for n in gd.node if n.name == "conv2/Conv2D")
    assert node.attr["padding"].s == b"SAME" and list(node.attr["strides"].list.i) == [1, 2, 2, 1]


def test_output_counts_and_control_inputs_of_legacy_graph(tf):
    model = modelkit.load(LEGACY)
    gd = _tf_graphdef(tf, LEGACY)
    for node, nd in zip(model.main.nodes, gd.node):
        assert node.control_inputs == [s[1:] for s in nd.input if s.startswith("^")]
    q = next(n for n in model.main.nodes if n.op == "QuantizeV2" and
             any(v.consumers for v in n.outputs[1:]))
    assert len(q.outputs) == 3  # output, output_min, output_max (QuantizeV2's OpDef)
    assert q.outputs[0].dtype == DType.QUINT8


def test_save_refuses_existing_without_force(tmp_path):
    model = modelkit.load(FROZEN)
    dst = tmp_path / "x.pb"
    dst.write_bytes(b"keep")
    with pytest.raises(modelkit.errors.OutputExistsError):
        graphdef.save(model, dst)
    assert dst.read_bytes() == b"keep"
    graphdef.save(model, dst, force=True)
    assert dst.read_bytes() == FROZEN.read_bytes()


def test_loading_does_not_import_tensorflow():
    code = ("import sys, modelkit; m = modelkit.load(%r); "
            "assert m.format == 'graphdef'; print('tensorflow' in sys.modules)" % str(FROZEN))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


# ----------------------------------------------------------------------------- bad input

def _mediapipe_like() -> bytes:
    """A CalculatorGraphConfig-shaped message: node{calculator, input_stream, node_options}
    plus top-level input_stream (field 10), which no GraphDef has."""
    def ld(field: int, payload: bytes) -> bytes:
        return bytes([field << 3 | 2, len(payload)]) + payload
    node = ld(2, b"ImageToTensorCalculator") + ld(3, b"IMAGE:image") + ld(4, b"TENSORS:t")
    return ld(1, node) + ld(10, b"image")


BAD = {
    "graph.binarypb": _mediapipe_like(),
    "graph.pb": _mediapipe_like(),
    "truncated.pb": FROZEN.read_bytes()[:5000],
    "random.pb": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    "bad.pbtxt": b"node { name: 'a' op: \n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_give_read_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD[name])
    if name != "truncated.pb":  # its first node is whole, so the cheap sniff accepts it
        assert not graphdef.sniff(path)
    for loader in (graphdef.load, modelkit.load):
        with pytest.raises(ModelReadError) as err:
            loader(path)
        assert err.value.exit_code == ExitCode.UNREADABLE
        assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_tflite_file_is_not_sniffed_as_graphdef():
    assert not graphdef.sniff(SAMPLES / "digits_float.tflite")
    assert graphdef.sniff(FROZEN) and graphdef.sniff(FROZEN_TXT)
