"""`modelkit extract`: the cut model computes, to the bit, what the whole model computes
at its outputs when fed the whole model's values at its inputs (oracles: the LiteRT
interpreter keeping every tensor of the whole model; TensorFlow running the frozen
graph)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import SAMPLES, run_cli

INT8 = SAMPLES / "digits_int8.tflite"


def _interpreter(path, preserve=False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=preserve,
                     experimental_op_resolver_type=OpResolverType
                     .BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return it


def whole_tensors(path, images: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Every tensor of the whole model, by name, per image (batch of one)."""
    it = _interpreter(path, preserve=True)
    d = it.get_input_details()[0]
    scale, zp = d["quantization"]
    out = []
    for x in images:
        q = np.clip(np.round(x[None] / scale) + zp, -128, 127).astype(np.int8)
        it.set_tensor(d["index"], q)
        it.invoke()
        values = {}
        for t in it.get_tensor_details():
            try:
                values[t["name"]] = np.array(it.get_tensor(t["index"]))
            except ValueError:
                continue
        out.append(values)
    return out


def run_cut(path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs of the cut model by tensor name, fed by tensor name."""
    it = _interpreter(path)
    for d in it.get_input_details():
        it.set_tensor(d["index"], feeds[d["name"]])
    it.invoke()
    return {d["name"]: np.array(it.get_tensor(d["index"])) for d in it.get_output_details()}


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.load(SAMPLES / "digits_test.npz")["x"][:5]


@pytest.mark.parametrize("inputs, outputs", [
    # the conv2 activation -> the logits and the softmax (pool, shape branch, FCs)
    ("#13", "#20,#21"),
    # the input itself -> the first dense layer
    ("serving_default_input", "#19"),
    # two cut inputs: the pooled tensor and the computed reshape shape
    ("digits_cnn_1/pool_1/MaxPool2d,digits_cnn_1/flatten_1/Reshape/shape", "#18"),
    # a cut input that also is an output
    ("#19", "#19,#20"),
])
def test_tflite_cut_computes_the_whole_models_tensors(tmp_path, images, inputs, outputs):
    dst = tmp_path / "cut.tflite"
    res = run_cli("extract", str(INT8), str(dst), "--inputs", inputs, "--outputs", outputs)
    assert res.returncode == 0, res.stderr
    it = _interpreter(dst)
    in_names = [d["name"] for d in it.get_input_details()]
    out_names = [d["name"] for d in it.get_output_details()]
    for whole in whole_tensors(INT8, images):
        got = run_cut(dst, {n: whole[n] for n in in_names})
        for name in out_names:
            assert got[name].dtype == whole[name].dtype
            np.testing.assert_array_equal(got[name], whole[name])


def test_tflite_cut_keeps_types_quantization_and_writes_a_signature(tmp_path):
    dst = tmp_path / "cut.tflite"
    res = run_cli("extract", str(INT8), str(dst), "--inputs", "#13", "--outputs", "#20,#21",
                  "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    # pool, shape, strided slice, pack, reshape, two FCs, softmax
    assert [o["op"] for o in report["ops"]] == [
        "MAX_POOL_2D", "SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE", "FULLY_CONNECTED",
        "FULLY_CONNECTED", "SOFTMAX"]
    src_it, cut_it = _interpreter(INT8), _interpreter(dst)
    src = {d["name"]: d for d in src_it.get_tensor_details()}
    (cut_in,) = cut_it.get_input_details()
    whole = src[cut_in["name"]]
    assert cut_in["dtype"] == whole["dtype"] == np.int8
    assert list(cut_in["shape"]) == list(whole["shape"])
    assert cut_in["quantization"] == whole["quantization"]
    sigs = cut_it.get_signature_list()
    assert list(sigs) == ["serving_default"]
    # the softmax keeps the key it had in the source's signature
    assert "output_0" in sigs["serving_default"]["outputs"]
    assert sigs["serving_default"]["inputs"] == [cut_in["name"]]


def test_tflite_cut_drops_the_buffers_nothing_uses(tmp_path):
    from modelkit.formats.tflite import _fb

    dst = tmp_path / "cut.tflite"
    res = run_cli("extract", str(INT8), str(dst), "--inputs", "#18", "--outputs", "#19")
    assert res.returncode == 0, res.stderr
    s = _fb.schema()
    for path, weights in ((INT8, 4), (dst, 1)):
        m = s.ModelT.InitFromPackedBuf(bytearray(path.read_bytes()), 0)
        used = {t.buffer for g in m.subgraphs for t in g.tensors}
        used |= {e.buffer for e in m.metadata or []}
        with_data = {i for i, b in enumerate(m.buffers) if b.data is not None and len(b.data)}
        assert with_data <= used
        int8_weights = [t for t in m.subgraphs[0].tensors
                        if t.type == s.TensorType.INT8 and t.buffer in with_data]
        assert len(int8_weights) == weights
    # one FULLY_CONNECTED: its int8[32,144] weights and int32[32] bias are the only
    # tensor data left
    cut = s.ModelT.InitFromPackedBuf(bytearray(dst.read_bytes()), 0)
    assert len(cut.subgraphs[0].operators) == 1
    data = {t.buffer: len(cut.buffers[t.buffer].data) for t in cut.subgraphs[0].tensors
            if cut.buffers[t.buffer].data is not None}
    assert sum(data.values()) == 32 * 144 + 4 * 32


def test_graphdef_cut_computes_the_whole_graphs_tensors(tmp_path, images):
    tf = pytest.importorskip("tensorflow")
    src = SAMPLES / "digits_frozen.pb"
    dst = tmp_path / "cut.pb"
    res = run_cli("extract", str(src), str(dst), "--inputs", "conv1/Relu",
                  "--outputs", "dense1/Relu,logits/BiasAdd", timeout=300)
    assert res.returncode == 0, res.stderr

    def graph(path):
        gd = tf.compat.v1.GraphDef()
        gd.ParseFromString(path.read_bytes())
        g = tf.Graph()
        with g.as_default():
            tf.compat.v1.import_graph_def(gd, name="")
        return g

    whole, cut = graph(src), graph(dst)
    ph = cut.get_operation_by_name("conv1/Relu")
    assert ph.type == "Placeholder"
    assert ph.outputs[0].shape.as_list() == [1, 8, 8, 8]
    assert ph.outputs[0].dtype == tf.float32
    names = ["conv1/Relu:0", "dense1/Relu:0", "logits/BiasAdd:0"]
    with tf.compat.v1.Session(graph=whole) as s_whole, \
            tf.compat.v1.Session(graph=cut) as s_cut:
        for x in images:
            relu, dense, logits = s_whole.run(names, {"input:0": x[None]})
            got = s_cut.run(names[1:], {"conv1/Relu:0": relu})
            np.testing.assert_array_equal(got[0], dense)
            np.testing.assert_array_equal(got[1], logits)
    kept = {op.name for op in cut.get_operations()}
    assert "conv2/Conv2D" in kept
    assert not kept & {"input", "conv1/Conv2D", "conv1/kernel", "conv1/BiasAdd", "probs"}


def test_unknown_name_is_usage_error_naming_the_closest(tmp_path):
    dst = tmp_path / "cut.tflite"
    res = run_cli("extract", str(INT8), str(dst), "--inputs", "digits_cnn_1/pool_1/MaxPool",
                  "--outputs", "#20")
    assert res.returncode == 2
    assert "no tensor 'digits_cnn_1/pool_1/MaxPool'" in res.stderr
    assert "'digits_cnn_1/pool_1/MaxPool2d'" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not dst.exists()


def test_index_out_of_range_is_usage_error(tmp_path):
    res = run_cli("extract", str(INT8), str(tmp_path / "c.tflite"), "--inputs", "#13",
                  "--outputs", "#99")
    assert res.returncode == 2
    assert "#99 (the graph has tensors #0..#21)" in res.stderr


def test_output_that_needs_another_input_names_it(tmp_path):
    # the strided slice reads the SHAPE of the model's input, not of tensor #18
    res = run_cli("extract", str(INT8), str(tmp_path / "c.tflite"), "--inputs", "#18",
                  "--outputs", "#19,#16")
    assert res.returncode == 2
    assert "'digits_cnn_1/flatten_1/strided_slice' also depends on " \
           "'serving_default_input:0'" in res.stderr
    assert "add serving_default_input:0 to --inputs" in res.stderr
    assert not (tmp_path / "c.tflite").exists()


def test_never_writes_over_the_source(tmp_path):
    src = tmp_path / "m.tflite"
    src.write_bytes(INT8.read_bytes())
    res = run_cli("extract", str(src), str(src), "--inputs", "#13", "--outputs", "#20",
                  "--force")
    assert res.returncode == 2
    assert src.read_bytes() == INT8.read_bytes()


def test_other_formats_are_refused(tmp_path):
    res = run_cli("extract", str(SAMPLES / "digits_keras.h5"), str(tmp_path / "c.h5"),
                  "--outputs", "x")
    assert res.returncode == 2
    assert "works on TFLite and GraphDef models" in res.stderr


def test_output_named_for_another_format_is_usage_error(tmp_path):
    res = run_cli("extract", str(INT8), str(tmp_path / "c.pb"), "--inputs", "#13",
                  "--outputs", "#20")
    assert res.returncode == 2
    assert "name it .tflite" in res.stderr
    assert not (tmp_path / "c.pb").exists()
