"""`modelkit debug`'s keep-in-float advice, verified by converting with it.

On the planted model the advice (keep the layers with a large own error in float)
does not win the accuracy back: `logits` shows the damage `dense2` causes. Oracles:
the printed `convert` command run as a user would, the result run in LiteRT against
the labels, the float model's accuracy from Keras.
"""

from __future__ import annotations

import json
import shlex

import numpy as np

from modelkit.advisor.evaluate import Budget, Measurement
from modelkit.advisor.verify import AdviceCheck
from tests.advisor.conftest import cli
from tests.litert_by_hand import litert_accuracy

SAMPLES_MEASURED = 200  # debug's --samples default


def test_debug_says_its_advice_did_not_recover_and_names_the_search(planted, tmp_path):
    res = cli("debug", planted["model"], "--data", planted["test"], "--labels",
              planted["test"], "--calibration-data", planted["calib"], "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    check = report["advice_verified"]
    assert check is not None and check["command"] == report["convert_command"]
    assert check["nodes"] == report["suggest_denylist"]
    # The printed command, run as a user would, gives the accuracy debug reports.
    args = shlex.split(report["convert_command"])
    out = tmp_path / "selective.tflite"
    args[3] = str(out)
    convert = cli(*args[1:], "--no-verify")
    assert convert.exit_code == 0, convert.stderr
    test = np.load(planted["test"])
    x, y = test["x"][:SAMPLES_MEASURED], test["y"][:SAMPLES_MEASURED]
    accuracy = litert_accuracy(out, x, y)
    assert check["measure"]["accuracy"] == accuracy
    assert check["float_accuracy"] == report["accuracy"]["float"]
    drop = 100 * (check["float_accuracy"] - accuracy)
    assert drop > 1 and check["recovered"] is False
    assert "--max-drop 1" in check["search_command"]
    assert f"--eval-data {planted['test']}" in check["search_command"]


def test_without_labels_debug_does_not_convert_again(planted):
    res = cli("debug", planted["model"], "--data", planted["test"], "--calibration-data",
              planted["calib"], "--samples", "50", "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["suggest_denylist"] and report["advice_verified"] is None
    assert "verifying the advice" not in res.stderr


def _check(accuracy: float, recovered: bool) -> AdviceCheck:
    m = Measurement(200, accuracy=accuracy, drop=100 * (0.975 - accuracy))
    return AdviceCheck("modelkit convert a.h5 b.tflite ...", ["n"], Budget(1.0, None, True),
                       m, 0.975, recovered, "modelkit convert ... --max-drop 1", 1.0)


def test_the_verdict_lines():
    (ok,) = _check(0.97, True).lines()
    assert ok == ("verified advice: converted with that denylist, accuracy 0.9700 (float "
                  "0.9750): recovered (drop 0.50 points, within 1)")
    (bad,) = _check(0.83, False).lines()
    assert bad.startswith("verified advice: converted with that denylist, accuracy 0.8300 "
                          "(float 0.9750): did not recover (drop 14.50 points, more than 1)")
    assert bad.endswith("search per-layer precision: modelkit convert ... --max-drop 1")
