"""`modelkit compare`: the reported statistics against numpy on outputs computed by
hand with the interpreter and TensorFlow; exit codes follow the tolerance verdict."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from modelkit.cli.main import _register, app
from tests.cli.test_run import X
from tests.conftest import SAMPLES
from tests.litert_by_hand import by_hand

_register()
DATA = SAMPLES / "digits_test.npz"


def cli(*args):
    return CliRunner().invoke(app, [*map(str, args)])


@pytest.fixture(scope="module")
def int8_vs_float():
    res = cli("compare", SAMPLES / "digits_int8.tflite", SAMPLES / "digits_float.tflite",
              "--data", DATA, "--json")
    return res, by_hand(SAMPLES / "digits_int8.tflite", X), \
        by_hand(SAMPLES / "digits_float.tflite", X)


def test_statistics_match_numpy(int8_vs_float):
    res, a, b = int8_vs_float
    assert res.exit_code == 1, res.stderr      # int8 vs float fails atol=rtol=1e-5
    report = json.loads(res.stdout)
    assert report["schema_version"] == 1 and report["samples"] == len(X)
    assert report["passed"] is False
    (o,) = report["outputs"]
    d = np.abs(a - b)
    assert o["max_abs_error"] == pytest.approx(d.max(), abs=1e-6)
    assert o["mean_abs_error"] == pytest.approx(d.mean(), abs=1e-7)
    assert o["rmse"] == pytest.approx(np.sqrt((d ** 2).mean()), abs=1e-7)
    assert o["cosine_similarity"] == pytest.approx(
        (a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b), abs=1e-6)
    assert o["top1_agreement"] == pytest.approx(np.mean(a.argmax(1) == b.argmax(1)))
    rel = d / np.abs(b)
    want = int(((d > 1e-5) & (rel > 1e-5)).sum())
    assert o["mismatches"] == want


def test_the_reported_tolerance_passes_and_a_smaller_one_fails(int8_vs_float):
    res, _, _ = int8_vs_float
    need = json.loads(res.stdout)["outputs"][0]["required_atol"]
    ok = cli("compare", SAMPLES / "digits_int8.tflite", SAMPLES / "digits_float.tflite",
             "--data", DATA, "--atol", repr(need * 1.0001))
    assert ok.exit_code == 0, ok.stdout
    assert "output_0: PASSED" in ok.stdout
    bad = cli("compare", SAMPLES / "digits_int8.tflite", SAMPLES / "digits_float.tflite",
              "--data", DATA, "--atol", repr(need * 0.99))
    assert bad.exit_code == 1 and "output_0: FAILED" in bad.stdout
    assert f"passes with --atol {need:.6g} (at rtol 1e-05)" in bad.stdout


def test_savedmodel_vs_its_tflite_and_keras_pass():
    """Different formats and output names (output_0 vs probs), paired by order."""
    res = cli("compare", SAMPLES / "digits_keras.h5", SAMPLES / "digits_savedmodel",
              "--data", DATA, "--atol", "1e-5", "--limit", "50")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "output probs <-> output_0: PASSED" in res.stdout


def test_models_that_do_not_pair_are_a_clear_error():
    res = cli("compare", SAMPLES / "digits_float.tflite", SAMPLES / "control_flow.tflite",
              "--data", DATA)
    assert res.exit_code == 2
    assert res.stderr == ("modelkit: error: input 'input' of A has shape [?,8,8,1] but input "
                          "'gate_x:0' of B has [1,4]; they cannot be paired\n")


def test_a_zero_reference_gives_polygraphys_epsilon_not_a_sentinel():
    """B (int8) has exact zeros where A (float) does not: the max relative error is
    |A - B| / 2.22e-16 there, computed by hand from the interpreter's outputs."""
    a = by_hand(SAMPLES / "digits_float.tflite", X[:50])
    b = by_hand(SAMPLES / "digits_int8.tflite", X[:50])
    ref = np.abs(b)
    rel = np.abs(a - b) / np.where(ref == 0, np.finfo(np.float64).eps, ref)
    assert ref.reshape(-1)[rel.argmax()] == 0     # the case this test is about
    res = cli("compare", SAMPLES / "digits_float.tflite", SAMPLES / "digits_int8.tflite",
              "--data", DATA, "--limit", "50", "--json")
    (o,) = json.loads(res.stdout)["outputs"]
    assert o["max_rel_error"] == pytest.approx(rel.max(), rel=1e-5)
    assert o["max_rel_error_at_zero"] is True
    text = cli("compare", SAMPLES / "digits_float.tflite", SAMPLES / "digits_int8.tflite",
               "--data", DATA, "--limit", "50").stdout
    assert f"max rel error {rel.max():.6g} (B is 0 there: |A - B| / 2.22e-16)" in text
    assert "1.79769e+308" not in text
