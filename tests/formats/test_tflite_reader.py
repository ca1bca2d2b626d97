"""The TFLite reader against the LiteRT interpreter and the generated object API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import modelkit
from modelkit.formats import tflite

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "samples").glob("*.tflite"))
ids = [p.name for p in SAMPLES]

Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter
schema = pytest.importorskip("ai_edge_litert.schema_py_generated")


@pytest.fixture(scope="module", params=SAMPLES, ids=ids)
def sample(request):
    """(path, loaded Model, interpreter) for one sample file."""
    path = request.param
    return path, modelkit.load(path), Interpreter(model_path=str(path))


def test_samples_exist():
    assert {"digits_int8.tflite", "control_flow.tflite"} <= {p.name for p in SAMPLES}


def test_sniff():
    assert all(tflite.sniff(p) for p in SAMPLES)
    assert not tflite.sniff(ROOT / "samples" / "digits_frozen.pb")
    assert not tflite.sniff(ROOT / "samples")


def test_tensor_details_match_interpreter(sample):
    path, model, interp = sample
    assert len(model.graphs) == interp.num_subgraphs()
    for gi, graph in enumerate(model.graphs):
        details = interp.get_tensor_details(subgraph_index=gi)
        assert len(details) == len(graph.values)
        for d in details:
            v = graph.values[d["index"]]
            assert v.index == d["index"]
            assert v.name == d["name"]
            assert v.dtype.numpy == np.dtype(d["dtype"])
            assert list(v.shape) == d["shape"].tolist()
            assert list(v.shape_signature or v.shape) == d["shape_signature"].tolist()
            qp = d["quantization_parameters"]
            if v.quant is None:
                assert qp["scales"].size == 0
            else:
                np.testing.assert_array_equal(v.quant.scale.astype(np.float32), qp["scales"])
                np.testing.assert_array_equal(v.quant.zero_point, qp["zero_points"])
                axis = v.quant.axis if v.quant.axis is not None else \
                    v.quant.details.get("quantized_dimension", 0)
                assert axis == qp["quantized_dimension"]
                assert v.quant.storage == v.dtype


def test_constant_data_matches_interpreter(sample):
    path, model, interp = sample
    checked = 0
    for gi, graph in enumerate(model.graphs):
        for v in graph.values:
            if v.data is None or v.dtype == modelkit.DType.STRING:
                continue
            expected = interp.get_tensor(v.index, subgraph_index=gi)
            np.testing.assert_array_equal(v.data.numpy(), expected, err_msg=v.name)
            checked += 1
    assert checked > 0


def test_ops_match_interpreter(sample):
    path, model, interp = sample
    ops = interp._get_ops_details()
    nodes = model.main.nodes
    assert [o["op_name"] for o in ops] == [n.op for n in nodes]
    for o, n in zip(ops, nodes):
        assert n.index == o["index"]
        assert [-1 if v is None else v.index for v in n.inputs] == o["inputs"].tolist()
        assert [v.index for v in n.outputs] == o["outputs"].tolist()
        assert n.name == n.outputs[0].name
        assert n.domain == "tflite"


def test_graph_io_and_signatures_match_interpreter(sample):
    path, model, interp = sample
    assert [v.index for v in model.main.inputs] == [d["index"] for d in interp.get_input_details()]
    assert [v.index for v in model.main.outputs] == \
        [d["index"] for d in interp.get_output_details()]
    sigs = interp._get_full_signature_list()
    assert {s.key for s in model.signatures} == set(sigs)
    for s in model.signatures:
        expected = sigs[s.key]
        assert s.graph == interp.get_signature_runner(s.key)._subgraph_index
        assert {io.key: io.value.index for io in s.inputs} == expected["inputs"]
        assert {io.key: io.value.index for io in s.outputs} == expected["outputs"]


def _object_model(path: Path):
    """The generated object API's full decoding of the file (an independent path)."""
    return schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)


def test_options_versions_and_metadata_match_object_api(sample):
    path, model, _ = sample
    ref = _object_model(path)
    for graph, sg in zip(model.graphs, ref.subgraphs):
        assert graph.name == (sg.name.decode() if sg.name else graph.name)
        for node, op in zip(graph.nodes, sg.operators):
            oc = ref.operatorCodes[op.opcodeIndex]
            assert node.version == oc.version
            assert node.meta["opcode_index"] == op.opcodeIndex
            opts = op.builtinOptions
            if opts is None:
                continue
            for attr, value in vars(opts).items():
                snake = "".join("_" + c.lower() if c.isupper() else c for c in attr)
                got = node.attrs[snake]
                if isinstance(got, modelkit.EnumValue):
                    got = got.code
                if isinstance(value, np.ndarray):
                    value = value.tolist()
                assert got == value, (node.name, snake)
    assert model.metadata["version"] == ref.version
    for entry in ref.metadata or []:
        name = entry.name.decode()
        raw = bytes(ref.buffers[entry.buffer].data.astype(np.uint8))
        got = model.metadata["metadata"][name]
        if name == "min_runtime_version":
            assert got == raw.rstrip(b"\0").decode()
        else:
            assert got == raw
    assert model.metadata["file_size"] == path.stat().st_size


def test_enum_and_bool_attrs():
    model = modelkit.load(ROOT / "samples" / "digits_int8.tflite")
    conv = next(n for n in model.main.nodes if n.op == "CONV_2D")
    act = conv.attrs["fused_activation_function"]
    assert isinstance(act, modelkit.EnumValue)
    assert act.code == schema.ActivationFunctionType.RELU and act == "RELU"
    assert conv.attrs["padding"] in ("SAME", "VALID")
    fc = next(n for n in model.main.nodes if n.op == "FULLY_CONNECTED")
    assert fc.attrs["keep_num_dims"] is False
    assert fc.attrs["weights_format"] == "DEFAULT"


def test_per_channel_quant_and_buffers_are_views():
    model = modelkit.load(ROOT / "samples" / "digits_int8.tflite")
    conv = next(n for n in model.main.nodes if n.op == "CONV_2D")
    weights = conv.inputs[1]
    assert weights.quant.per_channel and weights.quant.axis == 0
    assert weights.quant.num_channels == weights.shape[0]
    assert isinstance(weights.data, modelkit.BufferData)
    assert weights.data.numpy().base is not None  # a view on the mapped file
    assert weights.meta["buffer"] > 0


def test_control_flow_subgraph_references():
    model = modelkit.load(ROOT / "samples" / "control_flow.tflite")
    ref = _object_model(ROOT / "samples" / "control_flow.tflite")
    found = 0
    for graph, sg in zip(model.graphs, ref.subgraphs):
        for node, op in zip(graph.nodes, sg.operators):
            if node.op == "WHILE":
                assert node.subgraphs == [op.builtinOptions.condSubgraphIndex,
                                          op.builtinOptions.bodySubgraphIndex]
                found += 1
            elif node.op == "IF":
                assert node.subgraphs == [op.builtinOptions.thenSubgraphIndex,
                                          op.builtinOptions.elseSubgraphIndex]
                found += 1
            else:
                assert node.subgraphs == []
    assert found >= 2


def test_loading_tflite_does_not_import_tensorflow():
    code = ("import sys, modelkit; m = modelkit.load(sys.argv[1]); "
            "assert m.graphs[0].nodes; "
            "bad = [k for k in ('tensorflow', 'ai_edge_litert.interpreter') if k in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code, str(ROOT / "samples" / "digits_int8.tflite")],
                   check=True, cwd=ROOT)


def test_summarizing_a_float_model_imports_no_numpy_or_flatbuffers():
    """The reader works from the committed schema tables; the IR imports numpy lazily."""
    code = ("import sys, modelkit; from modelkit.analysis.summary import summarize; "
            "facts = summarize(modelkit.load(sys.argv[1])); "
            "bad = sorted({'numpy', 'flatbuffers', 'ai_edge_litert.schema_py_generated'} "
            "& set(sys.modules)); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code, str(ROOT / "samples" / "digits_float.tflite")],
                   check=True, cwd=ROOT)


def test_schema_tables_match_installed_schema():
    """The committed schema tables are what the installed LiteRT schema module says."""
    from modelkit.formats.tflite import _gen_schema_tables, _schema_tables

    tables, enums = _gen_schema_tables.collect(schema)
    hint = ("modelkit/formats/tflite/_schema_tables.py is stale for the installed "
            "ai-edge-litert; regenerate it: python -m modelkit.formats.tflite._gen_schema_tables")
    assert _schema_tables.TABLES == tables, hint
    assert _schema_tables.ENUMS == enums, hint
    # Spot checks against schema.fbs (slot n is at vtable offset 4 + 2n).
    assert schema.BuiltinOperator.CONV_2D == 3 and enums["BuiltinOperator"][3] == "CONV_2D"
    assert ("stride_w", 6, "i", 0) in tables["Conv2DOptions"]
    assert ("shape", 4, "[i", None) in tables["Tensor"]


SPARSE = ROOT / "tests" / "data" / "sparse_fc.tflite"


def test_sparsity_matches_interpreter():
    """tests/data/sparse_fc.tflite: TF converter output with EXPERIMENTAL_SPARSITY."""
    model = modelkit.load(SPARSE)
    interp = Interpreter(model_path=str(SPARSE))
    sparse = 0
    for d in interp.get_tensor_details():
        v = model.main.values[d["index"]]
        expected = d["sparsity_parameters"]
        if not expected:
            assert "sparsity" not in v.meta
            continue
        sparse += 1
        got = v.meta["sparsity"]
        assert got["traversal_order"] == expected["traversal_order"].tolist()
        assert got["block_map"] == expected["block_map"].tolist()
        assert len(got["dim_metadata"]) == len(expected["dim_metadata"])
        for g, e in zip(got["dim_metadata"], expected["dim_metadata"]):
            assert g["format"].code == e["format"]
            if e["format"] == 0:
                assert g["dense_size"] == e["dense_size"]
            else:
                assert g["array_segments"]["values"] == e["array_segments"].tolist()
                assert g["array_indices"]["values"] == e["array_indices"].tolist()
    assert sparse == 1
    fc = next(n for n in model.main.nodes if n.op == "FULLY_CONNECTED")
    assert fc.inputs[2] is None  # the optional bias given as -1
