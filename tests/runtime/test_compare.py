"""Output comparison: statistics and Polygraphy's tolerance rule, checked against the
numbers worked out by hand with numpy."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.errors import UsageError
from modelkit.runtime import TensorSpec
from modelkit.runtime.compare import compare_arrays, pair_specs

A = np.array([[1.0, 2.0, 0.0, -4.0], [0.5, 0.0, 3.0, 1.0]])
B = np.array([[1.1, 2.0, 0.0, -3.0], [0.5, 0.2, 2.0, 1.0]])


def test_statistics_by_hand():
    r = compare_arrays(A, B, atol=0.15, rtol=0.5)
    d = np.abs(A - B)
    assert r.max_abs_error == pytest.approx(1.0)
    assert r.mean_abs_error == pytest.approx(d.mean())
    assert r.rmse == pytest.approx(np.sqrt((d ** 2).mean()))
    # |A - B| / |B|: 0.1/1.1, 1/3, 0.2/0.2 = 1 (B = 0.2), 1/2; 0/0 counts as 0.
    assert r.max_rel_error == pytest.approx(1.0)
    cos = (A * B).sum() / np.linalg.norm(A) / np.linalg.norm(B)
    assert r.cosine_similarity == pytest.approx(cos)
    # argmax rows: A [1, 2], B [1, 2]
    assert r.top1_agreement == 1.0


def test_an_element_fails_only_when_both_tolerances_fail():
    # Elements with |d| > 0.15: -4/-3 (d 1, rel 1/3), 0/0.2 (d 0.2, rel 1), 3/2 (d 1, rel 0.5).
    # rtol 0.5 lets -4/-3 and 3/2 pass (rel <= 0.5); 0/0.2 fails both.
    r = compare_arrays(A, B, atol=0.15, rtol=0.5)
    assert r.mismatches == 1 and not r.passed
    # At rtol 0.5 only 0/0.2 needs atol: 0.2. At atol 0.15 the worst rel of the
    # elements over atol is 1.0.
    assert r.required_atol == pytest.approx(0.2)
    assert r.required_rtol == pytest.approx(1.0)
    assert compare_arrays(A, B, atol=0.2, rtol=0.5).passed
    assert not compare_arrays(A, B, atol=0.199, rtol=0.5).passed
    assert compare_arrays(A, B, atol=0.15, rtol=1.0).passed


def test_matches_polygraphy_formula_on_random_data():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(50, 7))
    b = a + rng.normal(scale=0.01, size=a.shape)
    b[0, 0] = 0.0
    for atol, rtol in ((1e-5, 1e-5), (0.01, 0.1), (0.02, 0.0)):
        d = np.abs(a - b)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = d / np.abs(b)
        want = int((((d > atol) | np.isnan(d)) & ((rel > rtol) | np.isnan(rel))).sum())
        assert compare_arrays(a, b, atol=atol, rtol=rtol).mismatches == want


def test_nan_is_a_mismatch_and_reported():
    r = compare_arrays(np.array([1.0, np.nan]), np.array([1.0, 1.0]), atol=1.0, rtol=1.0)
    assert r.mismatches == 1 and r.nan_or_inf


def test_shape_mismatch_is_a_usage_error():
    with pytest.raises(UsageError, match=r"shape \[2, 4\] in A but \[4, 2\] in B"):
        compare_arrays(A, B.reshape(4, 2), name="y")


def _spec(name, shape=(None, 10)):
    return TensorSpec(name, np.dtype(np.float32), shape)


def test_pairing_by_name_then_order():
    a = [_spec("serving_default_probs:0"), _spec("logits")]
    b = [_spec("logits"), _spec("probs")]
    assert [(x.name, y.name) for x, y in pair_specs(a, b, "output")] == [
        ("serving_default_probs:0", "probs"), ("logits", "logits")]
    c = [_spec("output_0"), _spec("output_1")]
    assert [y.name for _, y in pair_specs(a, c, "output")] == ["output_0", "output_1"]
    with pytest.raises(UsageError, match="A has 2 outputs .* B has 1"):
        pair_specs(a, [_spec("x")], "output")
    with pytest.raises(UsageError, match="cannot be paired"):
        pair_specs([_spec("x", (1, 10))], [_spec("x", (1, 12))], "output")


def test_nan_rows_never_count_as_top1_agreement():
    """argmax of a NaN row is 0: by hand, rows 0 and 2 are NaN in A; row 1 agrees (class
    1 in both), row 3 does not (class 0 vs 2): 1 of 4 samples agree."""
    a = np.array([[np.nan, 0.0, 0.0], [0.1, 0.8, 0.1], [np.nan] * 3, [0.9, 0.0, 0.1]])
    b = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.1, 0.0, 0.9]])
    assert compare_arrays(a, b).top1_agreement == 0.25
