"""Planted edits: the change list of a sample against its edited copy is exactly the edit.

Oracle: the edit itself. Each edit is made with modelkit's IR edits, written with the
format's writer and read back; the reported changes must equal the planted ones
(precision and recall 1.0), and weight statistics must equal numpy's on the two
arrays read back from the files.
"""

from __future__ import annotations

import numpy as np
import pytest

import modelkit
from modelkit.diff import diff_models
from tests.conftest import SAMPLES
from tests.diff.planting import GRAPHDEF_EDITS, TFLITE_EDITS, change_key, tflite_activation_scale

CASES = ([("digits_float.tflite", name) for name in TFLITE_EDITS]
         + [("digits_int8.tflite", name) for name in TFLITE_EDITS]
         + [("digits_int8.tflite", "activation_scale")]
         + [("digits_frozen.pb", name) for name in GRAPHDEF_EDITS])


def _edit(sample: str, name: str):
    if sample.endswith(".pb"):
        return GRAPHDEF_EDITS[name]
    return tflite_activation_scale if name == "activation_scale" else TFLITE_EDITS[name]


def planted(tmp_path, sample: str, *names: str):
    """(source path, edited path, expected keys) for edits `names` made together."""
    model = modelkit.load(SAMPLES / sample)
    expected = set()
    for name in names:
        expected |= _edit(sample, name)(model)
    out = tmp_path / f"edited{(SAMPLES / sample).suffix}"
    modelkit.save(model, out)
    return SAMPLES / sample, out, expected


def score(reported: set, expected: set) -> tuple[float, float]:
    hits = len(reported & expected)
    precision = hits / len(reported) if reported else float(not expected)
    recall = hits / len(expected) if expected else 1.0
    return precision, recall


@pytest.mark.parametrize("sample,name", CASES)
def test_planted_edit_is_the_change_list(tmp_path, sample, name):
    src, dst, expected = planted(tmp_path, sample, name)
    d = diff_models(modelkit.load(src), modelkit.load(dst))
    reported = {change_key(c) for c in d.changes}
    assert score(reported, expected) == (1.0, 1.0), (reported, expected)
    assert len(d.changes) == len(expected)


def test_several_edits_at_once(tmp_path):
    names = ("attribute", "fused_activation", "weight_element", "rename_weight",
             "activation_scale", "insert_node")
    src, dst, expected = planted(tmp_path, "digits_int8.tflite", *names)
    d = diff_models(modelkit.load(src), modelkit.load(dst))
    reported = {change_key(c) for c in d.changes}
    assert score(reported, expected) == (1.0, 1.0), (reported, expected)


@pytest.mark.parametrize("sample", ["digits_float.tflite", "digits_int8.tflite",
                                    "digits_frozen.pb"])
def test_weight_statistics_match_numpy(tmp_path, sample):
    src, dst, _ = planted(tmp_path, sample, "weight_element")
    a, b = modelkit.load(src), modelkit.load(dst)
    (change,) = diff_models(a, b).changes
    stats = change.details["weights"]
    va = a.main.values[[v.name for v in a.main.values].index(change.a.name)]
    vb = b.main.values[[v.name for v in b.main.values].index(change.b.name)]
    x = va.data.numpy().astype(np.float64)
    y = vb.data.numpy().astype(np.float64)
    if va.quant is not None:
        shape = [1] * x.ndim
        shape[va.quant.axis] = -1
        x = (x - va.quant.zero_point.reshape(shape)) * va.quant.scale.reshape(shape)
        y = (y - vb.quant.zero_point.reshape(shape)) * vb.quant.scale.reshape(shape)
    diff = np.abs(y - x)
    nz = x != 0
    assert stats["elements"] == x.size
    assert stats["changed"] == int(np.count_nonzero(diff)) == 1
    assert stats["max_abs_diff"] == pytest.approx(diff.max(), rel=1e-6)
    assert stats["mean_abs_diff"] == pytest.approx(diff.mean(), rel=1e-6)
    assert stats["max_rel_diff"] == pytest.approx((diff[nz] / np.abs(x[nz])).max(), rel=1e-6)
    cos = float(np.dot(x.ravel(), y.ravel()) / (np.linalg.norm(x) * np.linalg.norm(y)))
    assert stats["cosine"] == pytest.approx(cos, rel=1e-9)
    assert stats["dequantized"] == (va.quant is not None)
