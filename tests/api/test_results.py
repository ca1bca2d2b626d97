"""What the API's results show in Jupyter and as DataFrames, against the data they hold
(the `--json` documents, which tests/api/test_cli_equality.py holds to the commands)
and against the interpreter; models given in memory run as they are in memory."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

import modelkit.api as mk
from modelkit.errors import ModelkitError
from tests.conftest import ROOT, SAMPLES

FLOAT = SAMPLES / "digits_float.tflite"
INT8 = SAMPLES / "digits_int8.tflite"
UINT8 = SAMPLES / "digits_uint8_legacy.tflite"
TEST = SAMPLES / "digits_test.npz"
ACCURACY = json.loads((SAMPLES / "accuracy.json").read_text())


@pytest.fixture(scope="module")
def layers():
    """The float model against the legacy uint8 one: some layers lose much more than
    rounding (the uint8 model's dummy ranges)."""
    return mk.debug(FLOAT, UINT8, TEST, samples=30, verify_advice=False)


def test_debug_chart_draws_every_layer_by_its_error(layers):
    doc = layers.to_dict()
    rows = sorted(doc["layers"], key=lambda r: r["node"])
    svg = re.search(r"<svg.*?</svg>", layers._repr_html_(), re.S).group(0)
    bars = re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="[\d.]+" '
                      r'fill="(#[0-9a-f]+)"/>', svg)
    assert len(bars) == len(rows) == 7
    # Red exactly for the layers to keep in float or over 0.7 quantization steps.
    red = [r["float_tensor_name"] in doc["suggest_denylist"] or r["rmse_scale"] > 0.7
           for r in rows]
    assert [fill == "#d1242f" for _, fill in bars] == red
    assert any(red) and not all(red)
    # Bar lengths follow rmse/scale on a log scale: log(v / low) with low a tenth of the
    # smallest value, the largest bar the whole plot; each bar is labelled with its value.
    widths = np.array([float(w) for w, _ in bars])
    steps = np.array([r["rmse_scale"] for r in rows])
    low = min(steps.min(), 0.7) / 10
    expected = widths.max() * np.log(steps / low) / np.log(steps.max() / low)
    np.testing.assert_allclose(widths, expected, atol=0.006)
    assert list(np.argsort(widths, kind="stable")) == list(np.argsort(steps, kind="stable"))
    for r in rows:
        assert f">{format(r['rmse_scale'], '.3g')}</text>" in svg


def test_debug_table_shows_the_reports_numbers(layers):
    html = layers._repr_html_()
    for row in layers.to_dict()["layers"]:
        assert f"<td>{row['tensor_name']}</td>" in html
        assert f'<td class="n">{format(row["rmse_scale"], ".4g")}</td>' in html
    assert "keep in float: " + ", ".join(layers.suggest_denylist) in html


def test_check_html_lists_findings_with_their_fix(tmp_path):
    from tests.data.make_broken_models import fc_bias_per_tensor

    report = mk.check(fc_bias_per_tensor())
    html = report._repr_html_()
    (finding,) = report.errors
    assert re.search(r'<tr class="error"><td>error</td><td>bias-scale</td>', html)
    assert f"modelkit fix SRC DST --rule {finding.fix}" in html
    assert "1 errors, 0 warnings" in html


def test_a_model_in_memory_runs_as_it_is_in_memory():
    """The broken model is refused by the interpreter; its repair, never written, runs
    with the accuracy of the int8 model it was made from (samples/accuracy.json)."""
    from tests.data.make_broken_models import fc_bias_per_tensor

    data = np.load(TEST)
    broken = fc_bias_per_tensor()
    with pytest.raises(ModelkitError) as e:
        mk.run(broken, data["x"])
    assert "scale_diff / output_scale <= 0.02" in e.value.message
    fixed = mk.fix(broken)
    assert fixed.output is None and not fixed.written
    assert fixed.model.path == broken.path  # the repair still names its source file
    result = mk.run(fixed.model, data["x"], labels=data["y"])
    assert result.accuracy == pytest.approx(ACCURACY["digits_int8.tflite"])
    assert result.model == str(INT8)


def test_summary_table_has_the_interpreters_tensors():
    pandas = pytest.importorskip("pandas")
    from ai_edge_litert.interpreter import Interpreter

    frame = mk.summarize(INT8, tensors=True).to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    details = Interpreter(model_path=str(INT8)).get_tensor_details()
    assert sorted(frame["name"]) == sorted(d["name"] for d in details)
    io = mk.summarize(INT8).to_pandas()
    assert list(io["role"]) == ["input", "output"]


def test_run_table_has_the_accuracy():
    pytest.importorskip("pandas")
    data = np.load(TEST)
    result = mk.run(UINT8, data["x"], labels=data["y"])
    frame = result.to_pandas()
    assert frame["accuracy"].tolist() == [ACCURACY["digits_uint8_legacy.tflite"]]


def test_to_pandas_without_pandas_says_how_to_get_it(monkeypatch, layers):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ModelkitError) as e:
        layers.to_pandas()
    assert e.value.exit_code == 2 and "pip install pandas" in e.value.message


def test_importing_the_api_loads_neither_tensorflow_nor_textual():
    code = ("import sys, modelkit\n"
            "facts = modelkit.summarize('samples/digits_int8.tflite').to_dict()\n"
            "report = modelkit.api.check('samples/digits_int8.tflite')\n"
            "print(facts['format'], report.ok, 'tensorflow' in sys.modules, "
            "'textual' in sys.modules)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["tflite", "True", "False", "False"]
