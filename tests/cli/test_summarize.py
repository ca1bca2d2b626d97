"""`modelkit summarize` against the interpreter, hand-computed facts and golden files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, SAMPLES, run_cli

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
TFLITE_SAMPLES = sorted(p.name for p in SAMPLES.glob("*.tflite"))
# Every TFLite file the tests have: the samples plus the converter-made files in tests/data
# (sparse weights, custom ops), as paths relative to the project root.
TFLITE_FILES = [f"samples/{n}" for n in TFLITE_SAMPLES] + sorted(
    f"tests/data/{p.name}" for p in (ROOT / "tests" / "data").glob("*.tflite"))
ALL_SAMPLES = TFLITE_SAMPLES + ["digits_frozen.pb", "digits_frozen.pbtxt",
                                "digits_legacy_quantized.pb", "digits_savedmodel",
                                "digits_ckpt", "digits_keras.h5", "digits_keras2.h5",
                                "digits.keras"]

# How each sample was made (samples/README.md), hence its quantization kind.
KINDS = {
    "digits_float.tflite": "float32",
    "digits_dynamic.tflite": "dynamic_range",
    "digits_int8.tflite": "full_integer_int8",
    "digits_fp16.tflite": "float16_weights",
    "digits_int16x8.tflite": "int16x8",
    "digits_uint8_legacy.tflite": "legacy_uint8",
    "control_flow.tflite": "float32",
    "digits_frozen.pb": "float32",
    "digits_legacy_quantized.pb": "tf1_legacy_quantized",
}


def summarize_json(name: str, *extra: str) -> dict:
    path = name if "/" in name else f"samples/{name}"
    res = run_cli("summarize", "--json", path, *extra)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def interpreter(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path))


@pytest.mark.parametrize("name", TFLITE_FILES)
def test_io_matches_interpreter(name):
    facts = summarize_json(name)
    interp = interpreter(ROOT / name)
    for ours, theirs in ((facts["inputs"], interp.get_input_details()),
                         (facts["outputs"], interp.get_output_details())):
        assert [io["index"] for io in ours] == [d["index"] for d in theirs]
        for io, d in zip(ours, theirs):
            assert io["name"] == d["name"]
            assert io["dtype"] == np.dtype(d["dtype"]).name
            assert io["shape"] == d["shape"].tolist()
            assert io["shape_signature"] == d["shape_signature"].tolist()
            qp = d["quantization_parameters"]
            if len(qp["scales"]):
                assert io["quantization"]["scale"] == pytest.approx(qp["scales"].tolist())
                assert io["quantization"]["zero_point"] == qp["zero_points"].tolist()
            else:
                assert io["quantization"] is None


@pytest.mark.parametrize("name", TFLITE_FILES)
def test_op_histogram_matches_interpreter(name):
    facts = summarize_json(name, "--subgraph", "0")
    interp = interpreter(ROOT / name)
    theirs = Counter(op["op_name"] for op in interp._get_ops_details())
    assert facts["ops"] == dict(theirs)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_quantization_kind(name):
    assert summarize_json(name)["quantization"]["kind"] == KINDS[name]


def test_custom_ops_are_listed():
    facts = summarize_json("tests/data/custom_ops.tflite")
    # The converter turned the two TF ops without a builtin into custom ops.
    assert facts["custom_ops"] == {"BesselI1e": 1, "Erfinv": 1}


def test_sparse_tensors_counted():
    facts = summarize_json("tests/data/sparse_fc.tflite")
    interp = interpreter(ROOT / "tests" / "data" / "sparse_fc.tflite")
    sparse = [d for d in interp.get_tensor_details()
              if len(d["sparsity_parameters"].get("dim_metadata", []))]
    assert facts["sparse_tensors"] == len(sparse) > 0


def test_parameter_counts_by_hand():
    # Conv 3x3x1x8 + 8, Conv 3x3x8x16 + 16, Dense 144x32 + 32, Dense 32x10 + 10.
    weights, biases = 72 + 1152 + 4608 + 320, 8 + 16 + 32 + 10
    by_dtype = summarize_json("digits_float.tflite")["parameters"]["by_dtype"]
    assert by_dtype["float32"]["count"] == weights + biases
    by_dtype = summarize_json("digits_int8.tflite")["parameters"]["by_dtype"]
    assert by_dtype["int8"]["count"] == weights
    assert by_dtype["int32"]["count"] >= biases  # biases, plus the Reshape shape vector
    assert by_dtype["int8"]["bytes"] == weights


def test_int8_input_mean_std_is_what_a_user_must_apply():
    facts = summarize_json("digits_int8.tflite")
    q = facts["inputs"][0]["quantization"]
    interp = interpreter(SAMPLES / "digits_int8.tflite")
    scale, zp = interp.get_input_details()[0]["quantization"]
    assert q["std"] == pytest.approx(1 / scale) and q["mean"] == zp
    assert q["uint8_mean"] == zp + 128
    # Feeding as the facts say reproduces the sample's recorded accuracy.
    data = np.load(SAMPLES / "digits_test.npz")
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    correct = 0
    for x, y in zip(data["x"], data["y"]):
        qx = np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)
        interp.set_tensor(inp["index"], qx[None])
        interp.invoke()
        correct += int(np.argmax(interp.get_tensor(out["index"])[0]) == y)
    expected = json.loads((SAMPLES / "accuracy.json").read_text())["digits_int8.tflite"]
    assert correct / len(data["y"]) == pytest.approx(expected)


def test_tensors_table_matches_interpreter():
    facts = summarize_json("digits_int8.tflite", "--tensors")
    details = interpreter(SAMPLES / "digits_int8.tflite").get_tensor_details()
    rows = [t for t in facts["tensors"] if t["graph"] == 0]
    assert [(r["index"], r["name"], r["shape"]) for r in rows] == \
        [(d["index"], d["name"], d["shape"].tolist()) for d in details]


@pytest.mark.parametrize("name", ["digits_int8.tflite", "digits_uint8_legacy.tflite",
                                  "digits_int16x8.tflite", "digits_dynamic.tflite"])
def test_tensor_rows_carry_quantization_to_the_last_bit(name):
    """Every tensor row's scales and zero points equal the interpreter's, as float32."""
    facts = summarize_json(name, "--tensors")
    interp = interpreter(SAMPLES / name)
    ours = {(t["graph"], t["index"]): t for t in facts["tensors"]}
    per_channel = 0
    for g in range(facts["graph_count"]):
        for d in interp.get_tensor_details(subgraph_index=g):
            row, qp = ours[(g, d["index"])], d["quantization_parameters"]
            if not len(qp["scales"]):
                assert row["quantization"] is None and row["quantization_text"] == ""
                continue
            q = row["quantization"]
            assert np.array_equal(np.asarray(q["scale"], np.float32), qp["scales"])
            assert np.array_equal(np.asarray(q["zero_point"]), qp["zero_points"])
            assert q["quantized_dimension"] == qp["quantized_dimension"]
            assert q["storage"] == np.dtype(d["dtype"]).name
            if len(qp["scales"]) > 1:
                per_channel += 1
                assert q["per_channel"] and q["axis"] == qp["quantized_dimension"]
                assert len(q["describe"]) == len(qp["scales"])
    # The integer models carry per-channel weights (int8 conv/dense kernels, int32 biases).
    assert per_channel > 0 or name == "digits_uint8_legacy.tflite"


def test_single_channel_axis_is_reported_like_the_interpreter(tmp_path):
    """A per-axis tensor of one channel keeps its quantized dimension (here 3)."""
    import modelkit
    from modelkit.ir import QuantParams

    m = modelkit.load(SAMPLES / "digits_int8.tflite")
    kernel = next(v for v in m.graphs[0].values if v.data is not None and v.shape is not None
                  and len(v.shape) == 4 and v.shape[3] == 1)
    kernel.quant = QuantParams(scale=[0.0125], zero_point=[0], storage=kernel.dtype,
                               details={"quantized_dimension": 3})
    path = tmp_path / "one_channel.tflite"
    modelkit.save(m, path)
    row = next(t for t in summarize_json(str(path), "--tensors")["tensors"]
               if t["index"] == kernel.index)
    qp = next(d for d in interpreter(path).get_tensor_details()
              if d["index"] == kernel.index)["quantization_parameters"]
    assert qp["quantized_dimension"] == 3
    assert row["quantization"]["quantized_dimension"] == row["quantization"]["axis"] == 3
    assert np.array_equal(np.asarray(row["quantization"]["scale"], np.float32), qp["scales"])


def test_text_output_names_io_and_feed():
    res = run_cli("summarize", "samples/digits_int8.tflite", "--tensors")
    assert res.returncode == 0, res.stderr
    assert "full-integer int8" in res.stdout
    assert "feed float x as q = round(x / 0.00392157) - 128" in res.stdout
    assert "CONV_2D" in res.stdout and "Tensors" in res.stdout
    assert res.stderr == ""


def test_subgraph_out_of_range_is_usage_error():
    res = run_cli("summarize", "samples/digits_int8.tflite", "--subgraph", "7")
    assert res.returncode == 2
    assert "out of range" in res.stderr and res.stdout == ""


def test_control_flow_lists_every_subgraph_and_signature():
    facts = summarize_json("control_flow.tflite")
    interp = interpreter(SAMPLES / "control_flow.tflite")
    assert facts["graph_count"] == interp._interpreter.NumSubgraphs()
    assert sorted(s["key"] for s in facts["signatures"]) == sorted(interp.get_signature_list())
    for s in facts["signatures"]:
        runner_inputs = interp.get_signature_list()[s["key"]]["inputs"]
        assert sorted(io["key"] for io in s["inputs"]) == sorted(runner_inputs)


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_json_golden(name):
    """The JSON output is a contract: compare with the reviewed golden file."""
    facts = summarize_json(name)
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("MODELKIT_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(facts, indent=2) + "\n")
    assert facts == json.loads(golden.read_text())


@pytest.mark.parametrize("content, what", [
    (b"", "empty"),
    (b"\x00\x01\x02", "unknown model format"),
    # Random bytes may look like the start of a protobuf; then the GraphDef reader says
    # why it is not one. Either way: one line, exit 3.
    (np.random.default_rng(0).bytes(4096), ""),
    (np.random.default_rng(1).bytes(4096), ""),
    (b"\x12" + np.random.default_rng(2).bytes(4095), "not a binary GraphDef"),
], ids=["empty", "three-bytes", "random-0", "random-1", "protobuf-like"])
def test_bad_files_exit_3_with_one_line(tmp_path, content, what):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(content)
    res = run_cli("summarize", str(bad))
    assert res.returncode == 3
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and what in lines[0]


def test_missing_path_and_plain_folder_exit_3(tmp_path):
    for target, what in ((tmp_path / "nope.tflite", "no such file"),
                         (tmp_path, "folder holds no model")):
        res = run_cli("summarize", str(target))
        assert res.returncode == 3 and what in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


def test_import_hygiene():
    """`import modelkit` and summarizing a TFLite file load neither TensorFlow nor Textual."""
    code = ("import sys, modelkit; "
            "from modelkit.analysis.summary import summarize; "
            "summarize(modelkit.load('samples/digits_int8.tflite')); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'textual', 'keras')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    # And the CLI path too: ask Python which modules the command imported.
    code = ("import sys, runpy; sys.argv = ['modelkit', 'summarize', 'samples/digits_int8.tflite']\n"
            "from modelkit.cli.main import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'textual', 'keras')]\n"
            "sys.stderr.write(repr(bad)); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr


def test_op_versions_follow_tflite_versioning_rules():
    # TFLite's op_version.cc: CONV_2D is version 1 for float, 3 for int8 per-channel.
    assert summarize_json("digits_float.tflite")["op_versions"]["CONV_2D"] == [1]
    assert summarize_json("digits_int8.tflite")["op_versions"]["CONV_2D"] == [3]
