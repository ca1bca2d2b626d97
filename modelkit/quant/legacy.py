"""TF1 legacy quantization math: the Dequantize and QuantizeV2 formulas per mode.

TensorFlow's eight-bit graphs (`quantize_weights`, `quantize_nodes`) store a
tensor as integer codes plus a float `min` and `max`; how codes map to reals
depends on the op's `mode`:

- MIN_FIRST: `min` is rounded to a multiple of the step, then
  `x = min_rounded + (q - lowest) * step` with `step = (max - min) / (2^bits - 1)`.
  This is what graph_transforms emits.
- MIN_COMBINED: `x = min + (q + half) * (max - min) / (2^bits - 1)`, `half` being
  `2^bits / 2` for signed types and 0 for unsigned ones.
- SCALED: symmetric, `x = q * s` with `s = max / highest` for unsigned types and
  `max(min / lowest, max / highest)` for signed ones (`lowest + 1` when
  `narrow_range`).

The arithmetic follows TF's CPU kernels (`dequantize_op.cc`,
`quantization_utils.h`) in float32: results equal `tf.raw_ops.Dequantize` bit for
bit for 8-bit types and within 2 ulp of the range for 16-bit ones.
"""

from __future__ import annotations

import numpy as np

from modelkit.ir import DType

MODES = ("MIN_COMBINED", "MIN_FIRST", "SCALED")

# Storage numpy type of each legacy quantized type.
_STORAGE = {DType.QUINT8: np.uint8, DType.QINT8: np.int8, DType.QUINT16: np.uint16,
            DType.QINT16: np.int16, DType.QINT32: np.int32,
            DType.UINT8: np.uint8, DType.INT8: np.int8, DType.UINT16: np.uint16,
            DType.INT16: np.int16, DType.INT32: np.int32}


def storage_dtype(dtype: DType) -> np.dtype:
    """The numpy integer type that holds codes of a legacy quantized type.

    Raises:
        ValueError: not an integer/quantized type.
    """
    try:
        return np.dtype(_STORAGE[dtype])
    except KeyError:
        raise ValueError(f"{dtype} is not a quantized integer type") from None


def _limits(dtype: DType) -> tuple[int, int]:
    info = np.iinfo(storage_dtype(dtype))
    return int(info.min), int(info.max)


def _ranges(min_range, max_range, ndim: int, axis: int | None):
    """min/max as float32 arrays broadcastable along `axis` (per-channel when given)."""
    lo = np.asarray(min_range, np.float32)
    hi = np.asarray(max_range, np.float32)
    if axis is None or axis < 0 or lo.ndim == 0:
        return lo.reshape(()) if lo.size == 1 else lo, hi.reshape(()) if hi.size == 1 else hi
    shape = [1] * ndim
    shape[axis] = -1
    return lo.reshape(shape), hi.reshape(shape)


def dequantize(codes, min_range, max_range, dtype: DType, mode: str = "MIN_COMBINED", *,
               narrow_range: bool = False, axis: int = -1) -> np.ndarray:
    """Real values of legacy quantized `codes`, as TF's Dequantize op computes them.

    Args:
        codes: integer codes (any integer numpy array).
        min_range, max_range: the float range (scalars, or 1-D per channel on `axis`).
        dtype: the quantized type (`DType.QUINT8`, `DType.QINT8`, ...).
        mode: MIN_COMBINED, MIN_FIRST or SCALED.
        narrow_range: SCALED only: the lowest code is not used.
        axis: the channel axis for per-channel ranges (-1: per tensor).

    Returns:
        float32 array of the codes' shape.

    Raises:
        ValueError: unknown mode or type.
    """
    q = np.asarray(codes)
    lowest, highest = _limits(dtype)
    lo, hi = _ranges(min_range, max_range, q.ndim, axis if axis >= 0 else None)
    qf = q.astype(np.float32)
    if mode == "MIN_COMBINED":
        half = np.float32((highest - lowest + 1) / 2.0) if lowest < 0 else np.float32(0.0)
        scale = ((hi - lo) / np.float32(highest - lowest)).astype(np.float32)
        return ((qf + half) * scale + lo).astype(np.float32)
    if mode == "MIN_FIRST":
        steps = float(1 << (8 * storage_dtype(dtype).itemsize))
        # NOTE: TF computes the step in double, stores it as float, and rounds min
        # to a multiple of that float step (QuantizedToFloatStruct).
        scale = ((hi.astype(np.float64) - lo) / (steps - 1.0)).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            rounded = np.where(hi == lo, lo,
                               (np.round(lo / scale).astype(np.float32) * scale)
                               ).astype(np.float32)
        base = (rounded - np.float32(lowest) * scale).astype(np.float32)
        return (base + qf * scale).astype(np.float32)
    if mode == "SCALED":
        min_out = lowest + (1 if narrow_range else 0)
        if lowest == 0:
            scale = (hi / np.float32(highest)).astype(np.float32)
        else:
            scale = np.maximum(lo / np.float32(min_out), hi / np.float32(highest))
        return (qf * scale).astype(np.float32)
    raise ValueError(f"unknown Dequantize mode {mode!r} (one of {', '.join(MODES)})")


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """C's round(): halves away from zero (numpy rounds halves to even)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize_min_first(values, min_range: float, max_range: float,
                       dtype: DType = DType.QUINT8) -> np.ndarray:
    """Codes of `values` in MIN_FIRST mode, as TF's FloatToQuantized computes them.

    This is what graph_transforms' quantize_weights stores and what QuantizeV2
    (MIN_FIRST) computes on the CPU.

    Returns:
        codes in the storage numpy type of `dtype`, clamped to its range.
    """
    x = np.asarray(values, np.float32).astype(np.float64)
    lowest, highest = _limits(dtype)
    if min_range == max_range:
        return np.full(x.shape, lowest, storage_dtype(dtype))
    steps = float(1 << (8 * storage_dtype(dtype).itemsize))
    rng = (float(max_range) - float(min_range)) * (steps / (steps - 1.0))
    range_scale = steps / rng
    q = _round_half_away(x * range_scale) - _round_half_away(float(min_range) * range_scale)
    q = q + lowest
    return np.clip(q, lowest, highest).astype(storage_dtype(dtype))


def min_first_step(min_range: float, max_range: float, dtype: DType = DType.QUINT8) -> float:
    """The real value of one MIN_FIRST code step: (max - min) / (2^bits - 1)."""
    steps = float(1 << (8 * storage_dtype(dtype).itemsize))
    return (float(max_range) - float(min_range)) / (steps - 1.0)
