"""TFLite write-back: the interpreter treats the written file like the source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import modelkit
from modelkit.errors import OutputExistsError
from modelkit.formats.tflite import writer

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "samples").glob("*.tflite"))
ids = [p.name for p in SAMPLES]

Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter


@pytest.fixture(scope="module")
def digits():
    return np.load(ROOT / "samples" / "digits_test.npz")["x"][:12].astype(np.float32)


def _details(interp: Interpreter) -> list:
    out = []
    for gi in range(interp.num_subgraphs()):
        for d in interp.get_tensor_details(subgraph_index=gi):
            qp = d["quantization_parameters"]
            out.append((gi, d["index"], d["name"], d["shape"].tolist(),
                        d["shape_signature"].tolist(), np.dtype(d["dtype"]).name,
                        qp["scales"].tolist(), qp["zero_points"].tolist(),
                        qp["quantized_dimension"], d["sparsity_parameters"] != {}))
    return out


def _run_digits(interp: Interpreter, x: np.ndarray) -> list[np.ndarray]:
    """Outputs for each image, input quantized with the input's own parameters."""
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    results = []
    for img in x:
        img = img.reshape(inp["shape"])
        scale, zp = inp["quantization"]
        if np.issubdtype(inp["dtype"], np.integer):
            info = np.iinfo(inp["dtype"])
            img = np.clip(np.round(img / scale + zp), info.min, info.max)
        interp.set_tensor(inp["index"], img.astype(inp["dtype"]))
        interp.invoke()
        results.append(interp.get_tensor(out["index"]).copy())
    return results


def _run_signatures(interp: Interpreter) -> dict:
    """Every signature run on fixed inputs (control-flow model)."""
    rng = np.random.default_rng(0)
    results = {}
    for key, sig in interp.get_signature_list().items():
        runner = interp.get_signature_runner(key)
        feeds = {}
        for name, d in runner.get_input_details().items():
            if np.issubdtype(d["dtype"], np.integer):
                feeds[name] = np.array(3, dtype=d["dtype"]).reshape(d["shape"])
            else:
                feeds[name] = rng.standard_normal(d["shape"]).astype(d["dtype"])
        results[key] = runner(**feeds)
    return results


@pytest.fixture(scope="module", params=SAMPLES, ids=ids)
def round_trip(request, tmp_path_factory):
    src = request.param
    dst = tmp_path_factory.mktemp("rt") / src.name
    modelkit.save(modelkit.load(src), dst)
    return src, dst


def test_round_trip_tensor_details(round_trip):
    src, dst = round_trip
    a, b = Interpreter(model_path=str(src)), Interpreter(model_path=str(dst))
    assert a.num_subgraphs() == b.num_subgraphs()
    assert _details(a) == _details(b)
    assert a._get_full_signature_list() == b._get_full_signature_list()
    assert [(o["op_name"], o["inputs"].tolist(), o["outputs"].tolist())
            for o in a._get_ops_details()] == \
        [(o["op_name"], o["inputs"].tolist(), o["outputs"].tolist())
         for o in b._get_ops_details()]


def test_round_trip_outputs(round_trip, digits):
    src, dst = round_trip
    a, b = Interpreter(model_path=str(src)), Interpreter(model_path=str(dst))
    if a.get_signature_list() and len(a.get_signature_list()) > 1 or \
            src.name.startswith("control_flow"):
        ra, rb = _run_signatures(a), _run_signatures(b)
        assert ra.keys() == rb.keys()
        for key in ra:
            for name in ra[key]:
                np.testing.assert_array_equal(ra[key][name], rb[key][name])
        return
    for x, y in zip(_run_digits(a, digits), _run_digits(b, digits)):
        np.testing.assert_array_equal(x, y)


def test_round_trip_ir_fidelity(round_trip):
    src, dst = round_trip
    ma, mb = modelkit.load(src), modelkit.load(dst)
    assert ma.metadata["metadata"] == mb.metadata["metadata"]
    assert ma.metadata["description"] == mb.metadata["description"]
    for ga, gb in zip(ma.graphs, mb.graphs):
        assert ga.name == gb.name
        assert [(n.op, n.version, n.custom, n.attrs, n.subgraphs) for n in ga.nodes] == \
            [(n.op, n.version, n.custom, n.attrs, n.subgraphs) for n in gb.nodes]
        for va, vb in zip(ga.values, gb.values):
            assert va.is_variable == vb.is_variable
            assert va.meta.get("sparsity") == vb.meta.get("sparsity")
            if va.data is not None:
                assert va.data.tobytes() == vb.data.tobytes()
                assert vb.data.offset % writer.ALIGNMENT == 0


def test_external_buffers_round_trip(tmp_path, digits):
    """Buffers after the flatbuffer (offset/size), as written for models over 2 GB."""
    src = ROOT / "samples" / "digits_int8.tflite"
    dst = tmp_path / "external.tflite"
    modelkit.save(modelkit.load(src), dst, external_buffers=True)
    m = modelkit.load(dst)
    weights = [v for v in m.main.values if v.data is not None]
    ref = modelkit.load(src)
    from ai_edge_litert import schema_py_generated as schema
    raw = dst.read_bytes()
    obj = schema.ModelT.InitFromPackedBuf(raw, 0)
    external = [b for b in obj.buffers if b.offset > 1]
    assert len(external) == len({v.meta["buffer"] for v in weights}) + len(m.metadata["metadata"])
    assert all(b.data is None and b.offset % writer.ALIGNMENT == 0 for b in external)
    for va in ref.main.values:
        vb = m.main.values[va.index]
        assert (va.data is None) == (vb.data is None)
        if va.data is not None:
            np.testing.assert_array_equal(va.data.numpy(), vb.data.numpy())
    a, b = Interpreter(model_path=str(src)), Interpreter(model_path=str(dst))
    assert _details(a) == _details(b)
    for x, y in zip(_run_digits(a, digits), _run_digits(b, digits)):
        np.testing.assert_array_equal(x, y)


def test_edits_in_the_ir_are_written(tmp_path, digits):
    """A changed output scale and changed weights reach the interpreter."""
    src = ROOT / "samples" / "digits_float.tflite"
    m = modelkit.load(src)
    fc = [n for n in m.main.nodes if n.op == "FULLY_CONNECTED"][-1]
    bias = fc.inputs[2]
    bias.data = modelkit.ArrayData(bias.data.numpy() + 1.0)
    out = m.main.outputs[0]
    dst = tmp_path / "edited.tflite"
    modelkit.save(m, dst)
    interp = Interpreter(model_path=str(dst))
    np.testing.assert_array_equal(interp.get_tensor(bias.index),
                                  modelkit.load(src).main.values[bias.index].data.numpy() + 1.0)
    assert out.name == interp.get_output_details()[0]["name"]


def test_quant_edit_is_written(tmp_path):
    src = ROOT / "samples" / "digits_int8.tflite"
    m = modelkit.load(src)
    v = m.main.outputs[0]
    v.quant = modelkit.QuantParams(scale=[0.5], zero_point=[-3], storage=v.dtype)
    dst = tmp_path / "q.tflite"
    modelkit.save(m, dst)
    d = Interpreter(model_path=str(dst)).get_output_details()[0]
    assert d["quantization"] == (0.5, -3)


def test_refuses_existing_output_and_input(tmp_path):
    src = ROOT / "samples" / "digits_int8.tflite"
    m = modelkit.load(src)
    with pytest.raises(OutputExistsError):
        modelkit.save(m, src, force=True)
    dst = tmp_path / "x.tflite"
    dst.write_bytes(b"keep")
    with pytest.raises(OutputExistsError):
        modelkit.save(m, dst)
    assert dst.read_bytes() == b"keep"
    modelkit.save(m, dst, force=True)
    assert dst.read_bytes()[4:8] == b"TFL3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.tflite"]


def test_subbyte_and_string_packing():
    data = modelkit.ArrayData(np.array([-8, 7, 1, -1, 3], np.int8), modelkit.DType.INT4)
    packed = writer.tensor_bytes(data)
    assert packed == bytes([0x78, 0xF1, 0x03])
    strings = modelkit.ArrayData(np.array([b"ab", b"c"], dtype=object), modelkit.DType.STRING)
    # count, offsets of 2 strings + end, then the bytes (TFLite's string tensor layout).
    assert writer.tensor_bytes(strings) == \
        np.array([2, 16, 18, 19], "<i4").tobytes() + b"abc"


def test_options_table_for_matches_the_converter():
    """The table guessed for an op is the one the converter wrote for it."""
    from modelkit.formats.tflite.options import options_table_for
    seen = 0
    for path in SAMPLES:
        for graph in modelkit.load(path).graphs:
            for node in graph.nodes:
                if "builtin_options_type" in node.meta:
                    assert options_table_for(node.op) == \
                        ("builtin_options", node.meta["builtin_options_type"]), node.op
                    seen += 1
    assert seen > 10


def test_node_without_options_type_gets_its_table(tmp_path, digits):
    """Options of a node built in memory (no source table name) are still written."""
    src = ROOT / "samples" / "digits_float.tflite"
    m = modelkit.load(src)
    for node in m.main.nodes:
        node.meta.pop("builtin_options_type", None)
    dst = tmp_path / "no_meta.tflite"
    modelkit.save(m, dst)
    a, b = Interpreter(model_path=str(src)), Interpreter(model_path=str(dst))
    for x, y in zip(_run_digits(a, digits), _run_digits(b, digits)):
        np.testing.assert_array_equal(x, y)


def test_sparse_round_trip(tmp_path):
    src = ROOT / "tests" / "data" / "sparse_fc.tflite"
    dst = tmp_path / "sparse.tflite"
    modelkit.save(modelkit.load(src), dst)
    a, b = Interpreter(model_path=str(src)), Interpreter(model_path=str(dst))
    assert _details(a) == _details(b)

    def sparsity(interp):
        return [(d["index"], repr(d["sparsity_parameters"])) for d in interp.get_tensor_details()]

    assert sparsity(a) == sparsity(b)
    shape = a.get_input_details()[0]["shape"]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    outs = []
    for interp in (a, b):
        interp.allocate_tensors()
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        outs.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    np.testing.assert_array_equal(outs[0], outs[1])
    assert np.abs(outs[0]).max() > 0
