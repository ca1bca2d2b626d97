"""What a user must do to feed and read a quantized model's inputs and outputs.

A TFLite input or output stored as an 8- or 16-bit integer carries affine
parameters: real = scale * (q - zero_point). The same thing in the legacy
TOCO form is real = (q - mean) / std with mean = zero_point and std = 1 / scale.
This module turns interpreter tensor details into that advice, as data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modelkit.ir.dtypes import DType
from modelkit.ir.quant import QuantParams, _fmt


@dataclass
class TensorIO:
    """One input or output of a converted model and the quantization it uses.

    Attributes:
        name: tensor name.
        role: "input" or "output".
        dtype: element type.
        shape: dims (-1 for a dynamic dim).
        quant: affine parameters, or None for a float tensor.
    """

    name: str
    role: str
    dtype: DType
    shape: tuple[int, ...]
    quant: QuantParams | None = None

    @property
    def is_quantized(self) -> bool:
        return self.quant is not None and self.dtype.is_integer

    def advice(self) -> list[str]:
        """Human lines: how to turn floats into this tensor's integers or back."""
        if not self.is_quantized:
            return [f"float tensor: feed/read {self.dtype} values directly"]
        q = self.quant
        assert q is not None
        mean, std = q.mean_std()
        mean_std = f"mean {_fmt(float(mean[0]))}, std {_fmt(float(std[0]))}"
        if self.dtype == DType.INT8:
            mean_std += f" (as uint8: mean {_fmt(float(q.mean_std_uint8()[0][0]))})"
        lines = [f"real = {q.formula()}; legacy form real = (q - mean) / std: {mean_std}",
                 f"real range: {q.describe()}"]
        if self.role == "input":
            lo_q, hi_q = self.dtype.integer_range()
            lines.append(f"to feed float x: {q.feed_formula()}, clipped to "
                         f"[{lo_q}, {hi_q}], as {self.dtype}")
        else:
            lines.append(f"to read float y: {q.read_formula().replace('x =', 'y =', 1)}")
        return lines

    def to_dict(self) -> dict:
        """JSON-ready form."""
        out: dict = {"name": self.name, "dtype": str(self.dtype), "shape": list(self.shape),
                     "quantized": self.is_quantized}
        if self.is_quantized:
            q = self.quant
            assert q is not None
            mean, std = q.mean_std()
            lo, hi = q.representable_range()
            out.update({
                "scale": float(q.scale[0]), "zero_point": int(q.zero_point[0]),
                "mean": float(mean[0]), "std": float(std[0]),
                "real_min": float(lo[0]), "real_max": float(hi[0]),
            })
        return out


def quant_from_detail(detail: dict) -> QuantParams | None:
    """QuantParams of an interpreter tensor detail, or None when it is not quantized."""
    params = detail.get("quantization_parameters") or {}
    scales = np.asarray(params.get("scales", []), dtype=np.float64)
    zero_points = np.asarray(params.get("zero_points", []), dtype=np.int64)
    if scales.size == 0:
        scale, zp = detail.get("quantization", (0.0, 0))
        if not scale:
            return None
        scales, zero_points = np.array([scale]), np.array([zp])
    dtype = DType.from_numpy(detail["dtype"])
    axis = int(params.get("quantized_dimension", 0)) if scales.size > 1 else None
    return QuantParams(scales, zero_points, axis=axis,
                       storage=dtype if dtype.is_integer else None)


def tensor_io(detail: dict, role: str, name: str | None = None) -> TensorIO:
    """A TensorIO from one `get_input_details()`/`get_output_details()` entry."""
    dtype = DType.from_numpy(detail["dtype"])
    shape = tuple(int(d) for d in detail.get("shape_signature", detail["shape"]))
    quant = quant_from_detail(detail) if dtype.is_integer else None
    return TensorIO(name or detail["name"], role, dtype, shape, quant)


def to_real(value: np.ndarray, io: TensorIO) -> np.ndarray:
    """Float values of what the model produced (dequantized when quantized)."""
    if io.is_quantized:
        assert io.quant is not None
        return io.quant.dequantize(value)
    return np.asarray(value, dtype=np.float32)


def from_real(x: np.ndarray, io: TensorIO) -> np.ndarray:
    """What to feed for real values `x` (quantized with the tensor's own parameters)."""
    if io.is_quantized:
        assert io.quant is not None
        return io.quant.quantize(x, io.dtype)
    numpy_type = io.dtype.numpy
    return np.asarray(x).astype(numpy_type if numpy_type is not None else np.float32)


def describe(ios: list[TensorIO]) -> list[str]:
    """Text lines for a list of inputs/outputs."""
    lines = []
    for io in ios:
        shape = ",".join("?" if d < 0 else str(d) for d in io.shape)
        lines.append(f"{io.role} {io.name}: {io.dtype}[{shape}]")
        lines.extend(f"  {line}" for line in io.advice())
    return lines
