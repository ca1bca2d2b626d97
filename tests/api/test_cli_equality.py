"""One implementation, two faces: every command's `--json` document equals `to_dict()` of
the API function given the same inputs.

The oracle is the command line itself, run in this process (typer's runner: the same
entry point `modelkit` runs) on the samples; the API is called with the same paths
(and the same output paths, replaced with force) and its result turned into JSON the
way the command writes it.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import modelkit.api as mk
from modelkit.errors import ModelkitError
from tests.conftest import SAMPLES

INT8 = SAMPLES / "digits_int8.tflite"
FLOAT = SAMPLES / "digits_float.tflite"
UINT8 = SAMPLES / "digits_uint8_legacy.tflite"
FROZEN = SAMPLES / "digits_frozen.pb"
LEGACY = SAMPLES / "digits_legacy_quantized.pb"
CALIB = SAMPLES / "digits_calib.npy"
TEST = SAMPLES / "digits_test.npz"


def cli(*args: str, code: int = 0) -> dict:
    """Run `modelkit ARGS` in this process; its stdout parsed as JSON."""
    from modelkit.cli.main import _register, app

    _register(None)
    res = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == code, res.stderr
    return json.loads(res.stdout)


def as_json(result) -> dict:
    """`to_dict()` as the command writes it (NaN and infinities as null)."""
    from modelkit.cli.output import _default, _finite

    return json.loads(json.dumps(_finite(result.to_dict()), default=_default, allow_nan=False))


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """The digits int8 model with FULLY_CONNECTED 8's bias scale 20x too large."""
    from tests.data.make_broken_models import write

    return write("fc_bias_per_tensor", tmp_path_factory.mktemp("api") / "broken.tflite")


def test_summarize():
    assert as_json(mk.summarize(INT8, tensors=True)) == cli("summarize", INT8, "--json",
                                                             "--tensors")
    assert as_json(mk.summarize(FROZEN)) == cli("summarize", FROZEN, "--json")


def test_check(broken):
    doc = cli("check", broken, "--json", code=4)
    report = mk.check(broken)
    assert as_json(report) == doc
    assert not report.ok and [f.rule for f in report.errors] == ["bias-scale"]
    assert as_json(mk.check(INT8, "micro")) == cli("check", INT8, "--target", "micro", "--json")


def test_fix(broken, tmp_path):
    out = tmp_path / "fixed.tflite"
    doc = cli("fix", broken, out, "--json")
    result = mk.fix(broken, out, force=True)
    assert as_json(result) == doc
    assert doc["written"] and doc["changed"] and doc["after"]["totals"]["error"] == 0
    # The file written is the model the result holds: check finds nothing in it.
    assert mk.check(out).ok and mk.check(result.model).ok


def test_transform(tmp_path):
    out = tmp_path / "float.pb"
    doc = cli("transform", LEGACY, out, "-t", "dequantize_legacy", "--json")
    assert as_json(mk.transform(LEGACY, "dequantize_legacy", out, force=True)) == doc
    assert (doc["nodes_before"], doc["nodes_after"]) == (185, 24)


def test_convert(tmp_path):
    out = tmp_path / "dynamic.tflite"
    doc = cli("convert", FROZEN, out, "--quantize", "dynamic", "--data", CALIB, "--json")
    result = mk.convert(FROZEN, out, quantize="dynamic", data=CALIB, force=True)
    assert as_json(result) == doc
    assert doc["output"]["written"] and doc["verification"] is not None


def test_run():
    doc = cli("run", UINT8, "--data", TEST, "--labels", TEST, "--json")
    result = mk.run(UINT8, TEST, labels=TEST)
    assert as_json(result) == doc
    # samples/accuracy.json: the uint8 model fed with its own input quantization.
    accuracy = json.loads((SAMPLES / "accuracy.json").read_text())["digits_uint8_legacy.tflite"]
    assert result.accuracy == pytest.approx(accuracy)


def test_run_on_arrays_is_run_on_the_file():
    """Arrays give the same report as the .npz holding them, but for what names the data."""
    data = np.load(TEST)
    by_file = as_json(mk.run(UINT8, TEST, labels=TEST))
    by_arrays = as_json(mk.run(UINT8, {"x": data["x"]}, labels=data["y"]))
    assert by_arrays.pop("data") == "<arrays>" and by_file.pop("data") == str(TEST)
    assert by_arrays == by_file


def test_compare():
    doc = cli("compare", INT8, FLOAT, "--data", CALIB, "--atol", "0.05", "--json")
    result = mk.compare(INT8, FLOAT, CALIB, atol=0.05)
    assert as_json(result) == doc
    assert result.passed == doc["passed"]
    # The outputs it holds are what it compared.
    name = doc["outputs"][0]["name"]
    diff = np.abs(result.values_a[name].astype(np.float64) - result.values_b[name])
    assert diff.max() == pytest.approx(doc["outputs"][0]["max_abs_error"])


def test_debug(tmp_path):
    csv_out = tmp_path / "layers.csv"
    doc = cli("debug", FLOAT, INT8, "--data", CALIB, "--samples", "20", "--json",
              "--csv", csv_out)
    result = mk.debug(FLOAT, INT8, CALIB, samples=20)
    assert as_json(result) == doc
    with open(csv_out, newline="") as f:
        assert result.to_csv() == f.read()


def test_diff():
    doc = cli("diff", FLOAT, INT8, "--json", code=1)
    result = mk.diff(FLOAT, INT8)
    assert as_json(result) == doc and not result.same


def test_extract(tmp_path):
    out = tmp_path / "part.tflite"
    doc = cli("extract", INT8, out, "--outputs", "#13", "--json")
    assert as_json(mk.extract(INT8, out, outputs="#13", force=True)) == doc
    in_memory = as_json(mk.extract(INT8, outputs=["#13"]))
    assert in_memory.pop("output") is None and doc.pop("output") == str(out)
    assert in_memory == doc


def test_reduce(broken, tmp_path):
    out = tmp_path / "small.tflite"
    doc = cli("reduce", broken, out, "--until", "check-error", "--json")
    result = as_json(mk.reduce(broken, out, until="check-error", force=True))
    # NOTE: `seconds` is the wall time of each run, the one field two runs differ in.
    assert result.pop("seconds") >= 0 and doc.pop("seconds") >= 0
    assert result == doc
    assert doc["op_count"] == 1 and doc["original_ops"][0]["op"] == "FULLY_CONNECTED"


def test_export(broken, tmp_path):
    out = tmp_path / "broken.svg"
    doc = cli("export", broken, out, "--check", "tflite", "--json")
    written = out.read_text()
    result = mk.export(broken, out, check="tflite", force=True)
    assert as_json(result) == doc
    assert out.read_text() == written == result.text
    # check's own report: the nodes its findings name are the nodes marked.
    found = {(f.graph, f.node) for f in mk.check(broken).findings if f.node is not None}
    assert doc["marks"] == {"check": len(found)} == {"check": 1}
    assert doc["graph"] is None and doc["nodes"] == len(mk.load(broken).graphs[0].nodes)
    assert doc["files"] == [{"path": str(out), "bytes": len(written.encode("utf-8"))}]


def test_export_of_many_graphs_says_the_graph_drawn(tmp_path):
    model = SAMPLES / "control_flow.tflite"
    out = tmp_path / "m.mmd"
    doc = cli("export", model, out, "--json")
    assert as_json(mk.export(model, out, force=True)) == doc
    graphs = mk.load(model).graphs
    assert len(graphs) > 1 and doc["graph"] == 0 and doc["nodes"] == len(graphs[0].nodes)
    assert doc["marks"] == {} and doc["notes"] == [
        f"{model} has {len(graphs)} graphs; drawing graph 0 (--graph N picks another)"]


def test_errors_are_modelkit_errors_and_nothing_is_printed(tmp_path, capsys):
    with pytest.raises(ModelkitError) as e:
        mk.run(tmp_path / "missing.tflite", CALIB)
    assert e.value.exit_code == 3
    with pytest.raises(ModelkitError) as e:
        mk.fix(FROZEN)
    assert e.value.exit_code == 2 and "TFLite" in e.value.message
    with pytest.raises(ModelkitError) as e:
        mk.run(INT8, np.full((2, 8, 8, 1), 0.5, np.float32), top_k=0)
    assert e.value.exit_code == 2
    with pytest.raises(ModelkitError) as e:
        mk.compare(INT8, FLOAT, CALIB, atol=math.nan)
    assert e.value.exit_code == 2
    assert capsys.readouterr().out == ""
