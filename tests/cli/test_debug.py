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


def test_a_wrong_layer_points_to_reduce_and_the_command_runs(tmp_path):
    """debug's note gives a `modelkit reduce --until mismatch` command line; run as
    printed (paths moved to tmp), it writes a cut model whose output differs from the
    float model's counterpart tensor beyond the printed atol, per the interpreter."""
    import shlex
    import shutil

    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    for name in ("digits_float.tflite", "digits_uint8_legacy.tflite", "digits_test.npz"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    quant, flt = tmp_path / "digits_uint8_legacy.tflite", tmp_path / "digits_float.tflite"
    proc = run_cli("debug", str(flt), str(quant), "--data", str(tmp_path / "digits_test.npz"),
                   "--samples", "20")
    assert proc.returncode == 0, proc.stderr
    (note,) = [line for line in proc.stderr.splitlines() if "modelkit reduce" in line]
    argv = shlex.split(note.split(": modelkit ", 1)[1])
    assert argv[:5] == ["reduce", str(quant), str(tmp_path / "digits_uint8_legacy_reduced.tflite"),
                        "--until", "mismatch"]
    atol = float(argv[argv.index("--atol") + 1])
    done = run_cli(*argv, "--json")
    assert done.returncode == 0, done.stderr
    cut = Interpreter(model_path=argv[2])
    cut.allocate_tensors()
    (out,) = cut.get_output_details()
    assert json.loads(done.stdout)["original_ops"], done.stdout
    # The cut model runs on the values the whole model computed at its inputs; its output
    # tensor is also a tensor of the whole quantized model: compare that with the float
    # model's tensor of the same name, both from interpreters keeping every tensor.
    x = np.load(tmp_path / "digits_test.npz")["x"][:1]

    def tensors(path):
        it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
        it.allocate_tensors()
        (inp,) = it.get_input_details()
        q = x
        if inp["dtype"] != np.float32:
            s, z = inp["quantization"]
            q = np.clip(np.round(x / s + z), 0, 255).astype(inp["dtype"])
        it.set_tensor(inp["index"], q)
        it.invoke()
        got = {}
        for d in it.get_tensor_details():
            try:
                v = it.get_tensor(d["index"]).astype(np.float64)
            except ValueError:
                continue
            s, z = d["quantization"]
            got[d["name"]] = (v - z) * s if s else v
        return got

    whole_q, whole_f = tensors(quant), tensors(flt)
    name = out["name"]
    counterpart = {"conv2/Relu;conv2/BiasAdd;conv2/Conv2D;conv2/bias1":
                   "digits_cnn_1/conv2_1/Relu;digits_cnn_1/conv2_1/BiasAdd;"
                   "digits_cnn_1/conv2_1/convolution;digits_cnn_1/conv2_1/Squeeze1"}
    assert name in counterpart, name
    err = np.abs(whole_q[name] - whole_f[counterpart[name]]).max()
    assert err > atol
