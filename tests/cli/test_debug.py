"""`modelkit debug` as a user runs it: the JSON contract, CSV, Model Explorer node
data, the text report, and one-line errors with their exit codes."""

from __future__ import annotations

import csv
import json

import pytest

from tests.conftest import SAMPLES, run_cli

FLOAT = str(SAMPLES / "digits_float.tflite")
INT8 = str(SAMPLES / "digits_int8.tflite")
DATA = str(SAMPLES / "digits_test.npz")
TF_CSV_HEADER = ["op_name", "tensor_idx", "num_elements", "stddev", "mean_error",
                 "max_abs_error", "mean_squared_error", "scale", "zero_point", "tensor_name"]
LAYER_KEYS = {"graph", "node", "node_name", "op_name", "tensor_idx", "tensor_name",
              "num_elements", "stddev", "mean_error", "max_abs_error", "mean_squared_error",
              "scale", "zero_point", "rmse_scale", "accumulated_rmse", "local_rmse",
              "sqnr_db", "cosine", "rank"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    proc = run_cli("debug", FLOAT, INT8, "--data", DATA, "--labels", DATA, "--samples", "30",
                   "--json", "--csv", str(out / "layers.csv"),
                   "--model-explorer", str(out / "node_data.json"),
                   env={"TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), out


def test_json_contract(pair):
    report, _ = pair
    assert report["schema_version"] == 1
    assert report["model"] == FLOAT and report["quantized_model"] == INT8
    assert isinstance(report["suggest_denylist"], list)
    assert isinstance(report["convert_command"], str)
    layers = report["layers"]
    assert [x["rank"] for x in layers] == list(range(1, len(layers) + 1))
    for layer in layers:
        assert LAYER_KEYS <= set(layer)
        assert layer["graph"] == 0 and isinstance(layer["node"], int)


def test_json_nodes_are_the_interpreters_ops(pair):
    """node/tensor_idx/op_name/scale agree with the interpreter's view of QUANT."""
    from ai_edge_litert.interpreter import Interpreter

    report, _ = pair
    it = Interpreter(model_path=INT8)
    ops = {op["index"]: op for op in it._get_ops_details()}
    tensors = {d["index"]: d for d in it.get_tensor_details()}
    for layer in report["layers"]:
        op = ops[layer["node"]]
        assert op["op_name"] == layer["op_name"]
        assert layer["tensor_idx"] in op["outputs"]
        t = tensors[layer["tensor_idx"]]
        assert t["name"] == layer["tensor_name"]
        assert t["quantization"] == pytest.approx((layer["scale"], layer["zero_point"]))
    assert report["accuracy"]["float"] >= report["accuracy"]["quantized"] - 0.05


def test_csv_starts_with_tfs_columns(pair):
    report, out = pair
    with open(out / "layers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
        header = list(rows[0].keys())
    assert header[:len(TF_CSV_HEADER)] == TF_CSV_HEADER
    by_name = {x["tensor_name"]: x for x in report["layers"]}
    assert len(rows) == len(by_name)
    for row in rows:
        assert float(row["rmse_scale"]) == pytest.approx(by_name[row["tensor_name"]]
                                                         ["rmse_scale"])


def test_model_explorer_node_data(pair):
    report, out = pair
    data = json.loads((out / "node_data.json").read_text())
    assert {g["stop"] for g in data["gradient"]} >= {0, 1}
    values = {x["tensor_name"]: x["rmse_scale"] for x in report["layers"]}
    assert {k: v["value"] for k, v in data["results"].items()} == pytest.approx(values)


def test_text_report_draws_and_advises():
    proc = run_cli("debug", FLOAT, INT8, "--data", DATA, "--samples", "10")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "7 quantized layers, 10 samples" in lines[0]
    assert any("█" in line and "FULLY_CONNECTED" in line for line in lines)
    assert any(line.startswith("keep in float:") for line in lines)


@pytest.mark.parametrize("args, message", [
    ((FLOAT, INT8), "needs --data"),
    ((INT8, "--data", DATA), "already quantized"),
    ((FLOAT, str(SAMPLES / "digits_frozen.pb"), "--data", DATA), "must be a TFLite"),
    ((FLOAT, INT8, "--data", "missing.npy"), "no such data file"),
    ((FLOAT, INT8, "--data", DATA, "--denylist-ops", "CONV_2D"), "re-quantizes the source"),
    ((FLOAT, "--data", DATA, "--quantize", "float16"), "--quantize"),
])
def test_errors_are_one_line_with_exit_2(args, message):
    proc = run_cli("debug", *args)
    assert proc.returncode == 2, proc.stderr
    err = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(err) == 1 and message in err[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_existing_csv_is_kept_without_force(tmp_path):
    target = tmp_path / "layers.csv"
    target.write_text("keep me")
    proc = run_cli("debug", FLOAT, INT8, "--data", DATA, "--csv", str(target))
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert target.read_text() == "keep me"


def test_unknown_denylist_node_names_the_close_one():
    proc = run_cli("debug", FLOAT, "--data", DATA, "--denylist-nodes",
                   "digits_cnn_1/dense1_1/MatMul")
    assert proc.returncode == 2
    assert "did you mean 'digits_cnn_1/dense1_1/MatMul;digits_cnn_1/dense1_1/Relu;" \
        "digits_cnn_1/dense1_1/BiasAdd'" in proc.stderr



def test_convert_denylist_needs_int8(tmp_path):
    out = tmp_path / "never.tflite"
    proc = run_cli("convert", str(SAMPLES / "digits_frozen.pb"), str(out), "--quantize",
                   "dynamic", "--denylist-ops", "FULLY_CONNECTED")
    assert proc.returncode == 2
    assert "apply to --quantize int8" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
