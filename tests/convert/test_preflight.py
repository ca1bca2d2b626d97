"""Preflight checks on hand-built IR graphs and the committed samples (no TensorFlow)."""

from __future__ import annotations

import pytest

import modelkit
from modelkit.convert import op_tables
from modelkit.convert.converter import summarize_converter_error
from modelkit.convert.options import (ConvertOptions, parse_floats, parse_shapes,
                                      target_format, validate)
from modelkit.analysis.graph_io import inference_io, resolve_names
from modelkit.convert.preflight import preflight_graph, raise_if_errors
from modelkit.errors import UnsupportedError, UsageError
from modelkit.ir import DType, Graph, Node, Value
from tests.conftest import SAMPLES


def chain(*ops: str, shape=(1, 4)) -> Graph:
    """Placeholder `x` -> ops... -> last node `y`; every node named after its op."""
    x = Value("x:0", DType.FLOAT32, shape)
    nodes = [Node("x", "Placeholder", "tf", outputs=[x], attrs={"dtype": DType.FLOAT32})]
    prev = x
    for i, op in enumerate(ops):
        name = "y" if i == len(ops) - 1 else f"n{i}_{op}"
        out = Value(f"{name}:0", DType.FLOAT32)
        nodes.append(Node(name, op, "tf", inputs=[prev], outputs=[out]))
        prev = out
    values = [v for n in nodes for v in n.outputs]
    return Graph("g", nodes, values, [x], [prev])


def run(graph: Graph, **kw):
    opts = dict(shapes_given=False, allow_select_tf_ops=False, allow_custom_ops=False)
    opts.update(kw)
    return preflight_graph(graph, ["x:0"], ["y:0"], **opts)


def test_builtin_graph_passes():
    report = run(chain("Conv2D", "Relu", "Softmax"))
    assert report.findings == []


def test_flex_op_needs_the_select_flag():
    graph = chain("Relu", "Cumprod")
    report = run(graph)
    (finding,) = report.errors
    assert (finding.op, finding.kind) == ("Cumprod", "select_tf_op")
    assert "--allow-select-tf-ops" in finding.hint
    allowed = run(graph, allow_select_tf_ops=True)
    assert allowed.errors == [] and [f.op for f in allowed.warnings] == ["Cumprod"]


def test_op_in_neither_table_is_an_error_unless_custom_ops():
    graph = chain("Relu", "MyFancyOp")
    (finding,) = run(graph).errors
    assert finding.kind == "unsupported_op" and "--allow-custom-ops" in finding.hint
    assert run(graph, allow_custom_ops=True).errors == []


def test_op_in_neither_table_is_left_to_the_converter_with_the_select_flag():
    report = run(chain("Relu", "MatrixDeterminant"), allow_select_tf_ops=True)
    (finding,) = report.warnings
    assert report.errors == [] and finding.kind == "unlisted_op"
    assert "--allow-custom-ops" in finding.hint


def test_unused_ops_are_not_checked():
    graph = chain("Relu", "Softmax")
    dead = Value("dead:0", DType.FLOAT32)
    graph.nodes.append(Node("dead", "MyFancyOp", "tf", inputs=[graph.values[0]], outputs=[dead]))
    assert run(graph).errors == []


@pytest.mark.parametrize("shape, ok", [((None, 8, 8, 1), True), ((1, None, 8, 1), False),
                                       (None, False)])
def test_unknown_dims_past_batch_need_input_shapes(shape, ok):
    graph = chain("Relu", shape=shape)
    errors = run(graph).errors
    assert (errors == []) is ok
    if not ok:
        assert errors[0].kind == "unknown_shape" and "--input-shapes" in errors[0].hint
        assert run(graph, shapes_given=True).errors == []


def test_legacy_sample_stops_naming_the_ops():
    graph = modelkit.load(SAMPLES / "digits_legacy_quantized.pb").graphs[0]
    ins, outs = inference_io(graph)
    # NOTE: graph_transforms leaves dead QuantizeV2 nodes, which are sinks too.
    assert ins == ["input:0"] and "probs:0" in outs
    report = preflight_graph(
        graph, ins, outs, shapes_given=False, allow_select_tf_ops=True, allow_custom_ops=True)
    legacy = {f.op for f in report.errors if f.kind == "legacy_quantized"}
    # The ops graph_transforms wrote (samples/make_samples.py checks the same set).
    assert {"QuantizeV2", "QuantizedConv2D", "Requantize", "RequantizationRange",
            "Dequantize", "QuantizedMatMul"} <= legacy
    with pytest.raises(UnsupportedError, match="TF1 legacy quantized ops .*QuantizeV2"):
        raise_if_errors(report, "x.pb")


def test_float_frozen_sample_passes():
    graph = modelkit.load(SAMPLES / "digits_frozen.pb").graphs[0]
    report = preflight_graph(graph, ["input:0"], ["probs:0"], shapes_given=False,
                             allow_select_tf_ops=False, allow_custom_ops=False)
    assert report.findings == []


def test_checkpoint_inference_io_skips_training_code():
    graph = modelkit.load(SAMPLES / "digits_ckpt").graphs[0]
    assert inference_io(graph) == (["input:0"], ["probs:0"])
    report = preflight_graph(graph, ["input:0"], ["probs:0"], shapes_given=False,
                             allow_select_tf_ops=False, allow_custom_ops=False, freezing=True)
    assert report.findings == []


def test_misspelled_name_suggests_the_closest():
    graph = chain("Relu", "Softmax")
    assert resolve_names(graph, ["x:0", "y"], "Output") == ["x", "y"]
    with pytest.raises(UsageError, match=r"Input array not found: xx\. Did you mean 'x'\?"):
        resolve_names(graph, ["xx"], "Input")


def test_tables_are_disjoint_where_they_must_be():
    # Legacy quantized kernels are in the Flex allowlist, but must never count as builtins.
    assert not op_tables.LEGACY_QUANTIZED_TF_OPS & op_tables.TFLITE_BUILTIN_TF_OPS
    assert {"QuantizeV2", "QuantizedConv2D", "Requantize"} <= op_tables.SELECT_TF_OPS
    assert {"Conv2D", "MatMul", "Softmax", "Placeholder"} <= op_tables.TFLITE_BUILTIN_TF_OPS


def test_parse_shapes_and_floats():
    assert parse_shapes("1,224,224,3:1,10") == [(1, 224, 224, 3), (1, 10)]
    assert parse_shapes("?,8,-1") == [(None, 8, None)]
    with pytest.raises(UsageError, match="not a dim"):
        parse_shapes("1,x")
    assert parse_floats(["0,127.5", "1"], "--mean") == [0.0, 127.5, 1.0]


@pytest.mark.parametrize("name, to, expected", [
    ("a.tflite", None, "tflite"), ("a.pb", None, "graphdef"), ("out_dir", None, "savedmodel"),
    ("a.bin", "tflite", "tflite")])
def test_target_format(tmp_path, name, to, expected):
    assert target_format(tmp_path / name, to) == expected


def test_target_format_unknown_extension(tmp_path):
    with pytest.raises(UsageError, match="--to"):
        target_format(tmp_path / "a.bin", None)


@pytest.mark.parametrize("kw, message", [
    (dict(quantize="int8"), "--data calib.npy"),
    (dict(quantize="int16x8"), "--data"),
    (dict(quantize="uint8"), "--mean and --std"),
    (dict(quantize="int8", data="d.npy", io_type="int16"), "--io-type int16"),
    (dict(mean=[0.0], std=[255.0]), "uint8 only"),
])
def test_option_combinations_rejected(tmp_path, kw, message):
    opts = ConvertOptions(src=tmp_path / "a.pb", dst=tmp_path / "b.tflite", **kw)
    with pytest.raises(UsageError, match=message):
        validate(opts, "graphdef", "tflite")


def test_uint8_needs_a_frozen_graph(tmp_path):
    opts = ConvertOptions(src=tmp_path, dst=tmp_path / "b.tflite", quantize="uint8",
                          mean=[0.0], std=[255.0])
    with pytest.raises(UsageError, match="--quantize int8"):
        validate(opts, "savedmodel", "tflite")


def test_converter_error_summary():
    text = ("Could not translate MLIR to FlatBuffer.<unknown>:0: error: "
            'loc(fused["QuantizedConv2D:", "conv1/Conv2D/eightbit"]): Failed to convert '
            "element type '!tf_type.qint32': Unsupported type\n<unknown>:0: note: see ...\n")
    assert summarize_converter_error(text) == (
        "Failed to convert element type '!tf_type.qint32': Unsupported type "
        "at QuantizedConv2D conv1/Conv2D/eightbit")
    assert summarize_converter_error("plain failure\n") == "plain failure"
