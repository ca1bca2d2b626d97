"""The `modelkit debug --json` report read back as an overlay: what the writer writes, the
reader takes; anything else is one usage error naming the first problem."""

from __future__ import annotations

import json
import math

import pytest

from modelkit.cli.output import emit_json
from modelkit.convert.selective import Denylist
from modelkit.debug.analyze import Layer
from modelkit.debug.overlay import REPORT_SCHEMA, match_layers, read_report
from modelkit.debug.session import SCHEMA_VERSION, DebugReport
from modelkit.errors import UsageError


def test_the_reader_reads_the_schema_the_writer_writes():
    assert REPORT_SCHEMA == SCHEMA_VERSION


def test_a_written_report_reads_back_unchanged(tmp_path, capsys):
    layers = [
        Layer(4, "conv", "CONV_2D", 12, "conv", 0.05, -3, stats={
            "num_elements": 512, "rmse_scale": 0.31, "sqnr_db": math.inf,
            "cosine": math.nan, "mean_squared_error": 2.4e-4}, rank=1),
        # No float counterpart: every statistic missing.
        Layer(7, "fc", "FULLY_CONNECTED", 15, "fc", 0.2, 20, rank=2),
    ]
    report = DebugReport("float.tflite", "int8.tflite", "pair", "given", 10, layers,
                         Denylist(), [], "")
    emit_json(report.to_dict())
    path = tmp_path / "debug.json"
    path.write_text(capsys.readouterr().out)
    doc = read_report(path)
    assert doc["layers"] == json.loads(path.read_text())["layers"]
    assert [(x["node"], x["node_name"], x["op_name"]) for x in doc["layers"]] == \
        [(4, "conv", "CONV_2D"), (7, "fc", "FULLY_CONNECTED")]
    # Not finite: null in the file, taken as missing.
    assert doc["layers"][0]["sqnr_db"] is None and doc["layers"][0]["cosine"] is None


@pytest.mark.parametrize("layers, words", [
    ([1], "layer 0 is 1, not an object"),
    ([{"node_name": "a", "tensor_name": "a"}], 'layer 0 has no "node"'),
    ([{"node": 1, "node_name": "a", "tensor_name": "a"},
      {"node": -1, "node_name": "b", "tensor_name": "b"}], 'layer 1 "node" is negative'),
    ([{"node": 1.5, "node_name": "a", "tensor_name": "a"}], '"node" is 1.5, not an integer'),
    ([{"node": True, "node_name": "a", "tensor_name": "a"}], '"node" is true, not an integer'),
    ([{"node": 1, "node_name": 3, "tensor_name": "a"}], '"node_name" is 3, not a string'),
    ([{"node": 1, "node_name": "a", "tensor_name": "a", "graph": "main"}],
     '"graph" is "main", not an integer'),
    ([{"node": 1, "node_name": "a", "tensor_name": "a", "scale": [0.1]}],
     '"scale" is [0.1], not a number'),
])
def test_malformed_layers_are_one_usage_error(tmp_path, layers, words):
    path = tmp_path / "debug.json"
    path.write_text(json.dumps({"schema_version": 1, "layers": layers}))
    with pytest.raises(UsageError) as e:
        read_report(path)
    assert words in str(e.value) and str(path) in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("content, words", [
    (None, "no such overlay file"),
    ("", "not JSON"),
    ("[" * 100_000 + "]" * 100_000, "overlay"),
    ('{"layers": []}', 'no "schema_version"'),
    ('{"schema_version": 2, "layers": []}', "schema_version 2 is not 1"),
    ('{"schema_version": 1, "layers": {}}', 'no "layers" list'),
])
def test_unreadable_overlays_are_one_usage_error(tmp_path, content, words):
    path = tmp_path / "debug.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=words):
        read_report(path)


def test_integral_floats_are_integers_and_layers_match_by_index_name_and_op(tmp_path):
    from modelkit.ir import Graph, Model, Node, Value

    x, y, z = Value("x", None, None), Value("y", None, None), Value("z", None, None)
    nodes = [Node("a", "CONV_2D", "tflite", [x], [y], index=0),
             Node("b", "ADD", "tflite", [y], [z], index=1)]
    model = Model("tflite", None, [Graph("main", nodes, [x, y, z], [x], [z])])
    path = tmp_path / "debug.json"
    path.write_text(json.dumps({"schema_version": 1, "layers": [
        {"graph": 0.0, "node": 1.0, "node_name": "b", "op_name": "ADD", "tensor_name": "z"},
        {"node": 0, "node_name": "a", "op_name": "ADD", "tensor_name": "y"},  # other op
        {"node": 0, "node_name": "not a", "tensor_name": "y"},  # other name
        {"graph": 1, "node": 0, "node_name": "a", "tensor_name": "y"},  # no graph 1
    ]}))
    layers = read_report(path)["layers"]
    assert layers[0]["node"] == 1 and type(layers[0]["node"]) is int
    assert match_layers(layers, model) == {(0, 1): layers[0]}
