"""The relative error where the reference is 0: Polygraphy's epsilon (float64 machine
epsilon) stands for the zero, so the statistic is a number, never a sentinel."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelkit.errors import UsageError
from modelkit.runtime.compare import REL_EPS, compare_arrays

EPS = 2.220446049250313e-16     # Polygraphy's EPSILON, numpy.finfo(float64).eps


def test_epsilon_is_polygraphys():
    assert REL_EPS == EPS


def test_zero_reference_by_hand():
    a = np.array([[0.5, 0.0, 2.0, 1.0]])
    b = np.array([[0.0, 0.0, 1.0, 1.0]])
    r = compare_arrays(a, b, atol=0.6, rtol=1e-5)
    # |A - B| / |B|: 0.5 / EPS, 0 / EPS = 0, 1 / 1 = 1, 0 / 1 = 0.
    assert r.max_rel_error == 0.5 / EPS and math.isfinite(r.max_rel_error)
    assert r.max_rel_error_at_zero
    # 0.5 passes atol 0.6; 1.0 fails both (rel 1 > 1e-5): one mismatch.
    assert r.mismatches == 1
    assert r.required_atol == 1.0 and r.required_rtol == 1.0
    nonzero = compare_arrays(a[:, 2:], b[:, 2:])
    assert nonzero.max_rel_error == 1.0 and not nonzero.max_rel_error_at_zero


def test_nan_fails_every_tolerance_and_is_counted():
    r = compare_arrays(np.array([1.0, np.nan, np.inf]), np.array([1.0, 1.0, 2.0]),
                       atol=1.0, rtol=1.0)
    assert r.mismatches == 2 and r.nan_or_inf
    assert (r.nonfinite_a, r.nonfinite_b) == (2, 0)
    assert math.isinf(r.required_atol) and math.isinf(r.required_rtol)


@pytest.mark.parametrize("atol,rtol", [(float("nan"), 0.1), (0.1, float("nan")),
                                       (-1e-3, 0.1), (0.1, -1.0)])
def test_tolerances_must_be_numbers_at_least_0(atol, rtol):
    with pytest.raises(UsageError, match="a tolerance is a number >= 0"):
        compare_arrays(np.zeros(3), np.ones(3), atol=atol, rtol=rtol)
    assert compare_arrays(np.zeros(3), np.ones(3), atol=float("inf")).passed
