"""QuantParams against values computed by hand."""

import numpy as np
import pytest

from modelkit.ir import DType, QuantParams


def test_per_tensor_int8_describe_and_views():
    q = QuantParams(scale=[1 / 255], zero_point=[-128], storage=DType.INT8)
    # Representable range: 1/255 * (-128 + 128) = 0 .. 1/255 * (127 + 128) = 1.
    assert q.describe() == "0 <= 0.00392157 * (q + 128) <= 1"
    mean, std = q.mean_std()
    assert mean[0] == -128 and std[0] == pytest.approx(255.0)
    mean_u8, _ = q.mean_std_uint8()
    assert mean_u8[0] == 0
    assert not q.per_channel


def test_quantize_dequantize_by_hand():
    q = QuantParams(scale=[0.5], zero_point=[10], storage=DType.UINT8)
    x = np.array([0.0, 1.0, 1.25, -10.0, 1000.0])
    # round(x / 0.5) + 10, clamped to 0..255; 1.25/0.5 = 2.5 rounds away from zero (3),
    # as std::round in TFLite's kernels.
    np.testing.assert_array_equal(q.quantize(x), np.array([10, 12, 13, 0, 255], np.uint8))
    np.testing.assert_array_equal(q.quantize(np.array([-1.25])), np.array([7], np.uint8))
    np.testing.assert_allclose(q.dequantize(np.array([10, 12, 0], np.uint8)), [0.0, 1.0, -5.0])


def test_per_channel_axis_broadcast():
    q = QuantParams(scale=[0.1, 0.2], zero_point=[0, 0], axis=0, storage=DType.INT8)
    w = np.array([[1, 2, 3], [1, 2, 3]], dtype=np.int8)
    np.testing.assert_allclose(q.dequantize(w), [[0.1, 0.2, 0.3], [0.2, 0.4, 0.6]], rtol=1e-6)
    lines = q.describe().splitlines()
    assert lines == ["[0] -12.8 <= 0.1 * q <= 12.7", "[1] -25.6 <= 0.2 * q <= 25.4"]
    assert q.per_channel and q.num_channels == 2


def test_recorded_min_max_used_in_describe():
    q = QuantParams(scale=[6 / 255], zero_point=[0], min=[0.0], max=[6.0], storage=DType.UINT8)
    assert q.describe() == "0 <= 0.0235294 * q <= 6"


def test_dtype_tables_are_inverse():
    for dt in DType:
        if dt.tflite is not None:
            assert DType.from_tflite(dt.tflite) is dt
        if dt.tf is not None:
            assert DType.from_tf(dt.tf) is dt
    assert DType.from_tf(101) is DType.FLOAT32  # DT_FLOAT_REF
    assert DType.INT4.nbytes(5) == 3
    assert DType.INT8.integer_range() == (-128, 127)
    assert DType.QUINT8.integer_range() == (0, 255)
