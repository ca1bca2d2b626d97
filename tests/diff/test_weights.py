"""Weight statistics on tensors built in code; every expected number computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

import modelkit
from modelkit.diff import diff_models
from modelkit.diff.hashing import data_digest
from modelkit.diff.weights import compare_values
from modelkit.ir import ArrayData, BufferData, DType, QuantParams, Value
from tests.conftest import SAMPLES


def const(arr, dtype=None, quant=None) -> Value:
    data = ArrayData(np.asarray(arr), dtype)
    return Value("w", data.dtype, data.shape, data=data, quant=quant)


def test_float_statistics_by_hand():
    s = compare_values(const(np.float32([1, 2, 0, 4])), const(np.float32([1, 2.5, 0.5, 4])))
    assert (s.elements, s.changed) == (4, 2)
    assert s.max_abs_diff == 0.5 and s.mean_abs_diff == 0.25
    # A zero of A changed: relative difference has no finite bound.
    assert math.isinf(s.max_rel_diff)
    dot, na, nb = 1 + 5 + 0 + 16, math.sqrt(1 + 4 + 16), math.sqrt(1 + 6.25 + 0.25 + 16)
    assert s.cosine == pytest.approx(dot / (na * nb), rel=1e-12)
    assert not s.dequantized and s.transpose is None


def test_relative_difference_and_zero_tensors():
    s = compare_values(const(np.float32([2, -4])), const(np.float32([3, -4])))
    assert s.max_rel_diff == 0.5
    z = compare_values(const(np.zeros(3, np.float32)), const(np.zeros(3, np.float32)))
    assert z.cosine == 1.0 and z.changed == 0
    one_zero = compare_values(const(np.zeros(2, np.float32)), const(np.float32([1, 0])))
    assert one_zero.cosine == 0.0


def test_another_layout_is_compared_through_the_permutation():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    s = compare_values(const(a), const(np.transpose(a, (2, 0, 1))))
    assert s.changed == 0 and s.transpose == (2, 0, 1)
    assert compare_values(const(a), const(a.reshape(4, 6))) is None


def test_quantized_side_is_dequantized_with_its_own_parameters():
    q = QuantParams(np.array([0.5, 0.25]), np.array([1, -2]), axis=0, storage=DType.INT8)
    stored = np.int8([[3, 1], [2, -2]])
    # Real values: row 0: 0.5 * (q - 1) = [1, 0]; row 1: 0.25 * (q + 2) = [1, 0].
    real = np.float32([[1.2, 0.0], [1.0, 0.1]])
    s = compare_values(const(real), const(stored, DType.INT8, q))
    assert s.dequantized
    assert s.max_abs_diff_per_channel == pytest.approx([0.2, 0.1], abs=1e-7)
    # In steps of each channel's scale: 0.2 / 0.5 and 0.1 / 0.25.
    assert s.max_abs_diff_in_steps == pytest.approx(0.4, abs=1e-6)


def test_strings_are_not_compared_as_numbers():
    raw = b"\x01\x00\x00\x00\x0c\x00\x00\x00\x0d\x00\x00\x00x"
    other = raw[:-1] + b"y"
    va = Value("s", DType.STRING, (1,), data=BufferData(raw, 0, len(raw), DType.STRING, (1,)))
    vb = Value("s", DType.STRING, (1,), data=BufferData(other, 0, len(other), DType.STRING,
                                                         (1,)))
    assert compare_values(va, vb) is None
    assert data_digest(va.data) != data_digest(vb.data)
    # In a model, a changed string constant is a change whose values are not compared.
    a, b = modelkit.load(SAMPLES / "digits_float.tflite"), modelkit.load(
        SAMPLES / "digits_float.tflite")
    a.main.values.append(va)
    b.main.values.append(vb)
    (c,) = diff_models(a, b).changes
    assert c.fields == ["weights"] and c.details["weights"]["compared"] is False


def test_digest_is_the_same_for_the_same_values_stored_two_ways():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    in_buffer = BufferData(arr.tobytes(), 0, arr.nbytes, DType.FLOAT32, (2, 3))
    assert data_digest(in_buffer) == data_digest(ArrayData(arr))
    assert data_digest(ArrayData(arr)) != data_digest(ArrayData(arr.reshape(3, 2)))
