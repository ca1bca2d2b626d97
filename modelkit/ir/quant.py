"""Affine quantization parameters: real = scale * (q - zero_point).

numpy is imported when parameters are made, not when this module is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from modelkit.ir.dtypes import DType

if TYPE_CHECKING:
    import numpy as np


def _fmt(x: float) -> str:
    """Short, exact-enough number: 0.00745, 1.8995, -128, 3.2e-05."""
    if x == 0:
        return "0"
    return f"{x:.6g}"


@dataclass(eq=False)
class QuantParams:
    """Quantization of one tensor, per tensor or per channel.

    Attributes:
        scale: scales, one per channel (length 1 when per tensor).
        zero_point: zero points, same length as `scale`.
        axis: the quantized dimension for per-channel parameters, else None.
        min: recorded real minimum per channel (calibration), if the format keeps it.
        max: recorded real maximum per channel, if the format keeps it.
        storage: the integer type q is stored in (int8, uint8, int16, int32, int4...).
    """

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None
    min: np.ndarray | None = None
    max: np.ndarray | None = None
    storage: DType | None = None
    details: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        import numpy as np

        self.scale = np.atleast_1d(np.asarray(self.scale, dtype=np.float64))
        self.zero_point = np.atleast_1d(np.asarray(self.zero_point, dtype=np.int64))
        if self.min is not None:
            self.min = np.atleast_1d(np.asarray(self.min, dtype=np.float64))
        if self.max is not None:
            self.max = np.atleast_1d(np.asarray(self.max, dtype=np.float64))
        if self.zero_point.size == 1 and self.scale.size > 1:
            self.zero_point = np.full(self.scale.shape, self.zero_point[0], dtype=np.int64)

    @property
    def per_channel(self) -> bool:
        return self.axis is not None and self.scale.size > 1

    @property
    def num_channels(self) -> int:
        return int(self.scale.size)

    def _broadcast(self, ndim: int, values: np.ndarray) -> np.ndarray:
        """Shape per-channel `values` so they broadcast along `axis`."""
        if not self.per_channel:
            return values.reshape(()) if values.size == 1 else values
        shape = [1] * ndim
        shape[self.axis] = values.size  # type: ignore[index]
        return values.reshape(shape)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """Real values (float32) of stored integers `q`."""
        import numpy as np

        q = np.asarray(q)
        scale = self._broadcast(q.ndim, self.scale)
        zp = self._broadcast(q.ndim, self.zero_point)
        return (scale * (q.astype(np.int64) - zp)).astype(np.float32)

    def quantize(self, x: np.ndarray, dtype: DType | None = None) -> np.ndarray:
        """Stored integers of real values `x`, rounded half away from zero and clamped.

        Args:
            x: real values.
            dtype: integer type to produce; defaults to `storage`, then int8.
        """
        import numpy as np

        dtype = dtype or self.storage or DType.INT8
        x = np.asarray(x, dtype=np.float64)
        scale = self._broadcast(x.ndim, self.scale)
        zp = self._broadcast(x.ndim, self.zero_point)
        lo, hi = dtype.integer_range()
        r = x / scale
        q = np.sign(r) * np.floor(np.abs(r) + 0.5) + zp  # std::round, as TFLite kernels do
        return np.clip(q, lo, hi).astype(dtype.numpy)

    def representable_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Smallest and largest real value the stored type can express, per channel."""
        storage = self.storage or DType.INT8
        if not storage.is_integer:
            # NOTE: quantization params on a non-integer tensor (a corrupt or odd
            # file) bound nothing.
            import numpy as np
            inf = np.full(self.scale.shape, np.inf)
            return -inf, inf
        lo, hi = storage.integer_range()
        return self.scale * (lo - self.zero_point), self.scale * (hi - self.zero_point)

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """The legacy view: real = (q - mean) / std, so mean = zero_point and std = 1/scale.

        This is TOCO's `quantized_input_stats` in the stored type's own domain.
        """
        import numpy as np

        return self.zero_point.astype(np.float64), 1.0 / self.scale

    def mean_std_uint8(self) -> tuple[np.ndarray, np.ndarray]:
        """mean/std for a uint8 value; for int8 storage q_uint8 = q_int8 + 128."""
        mean, std = self.mean_std()
        if self.storage == DType.INT8:
            mean = mean + 128
        return mean, std

    def formula(self, channel: int = 0) -> str:
        """`0.00745 * (q + 128)`: the real value of a stored q, for one channel."""
        scale, zp = _fmt(float(self.scale[channel])), int(self.zero_point[channel])
        if zp == 0:
            return f"{scale} * q"
        return f"{scale} * (q {'-' if zp > 0 else '+'} {abs(zp)})"

    def feed_formula(self) -> str:
        """`q = round(x / 0.00392157) - 128`: what to store for a real x (per tensor)."""
        zp = int(self.zero_point[0])
        offset = f" {'+' if zp >= 0 else '-'} {abs(zp)}" if zp else ""
        return f"q = round(x / {_fmt(float(self.scale[0]))}){offset}"

    def read_formula(self) -> str:
        """`x = 0.00390625 * (q + 128)`: the real value of a stored q (per tensor)."""
        return f"x = {self.formula(0)}"

    def describe(self) -> str:
        """One line per channel: `0 <= 0.00745 * (q + 128) <= 1.8995`."""
        lows, highs = self.representable_range()
        if self.min is not None and self.max is not None and self.min.size == self.scale.size:
            lows, highs = self.min, self.max
        lines = []
        for i in range(self.scale.size):
            line = f"{_fmt(float(lows[i]))} <= {self.formula(i)} <= {_fmt(float(highs[i]))}"
            if self.per_channel:
                line = f"[{i}] {line}"
            lines.append(line)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """Plain JSON-ready form."""
        out: dict = {
            "scale": [float(s) for s in self.scale],
            "zero_point": [int(z) for z in self.zero_point],
            "quantized_dimension": self.axis if self.axis is not None else 0,
            "per_channel": self.per_channel,
        }
        if self.min is not None:
            out["min"] = [float(v) for v in self.min]
        if self.max is not None:
            out["max"] = [float(v) for v in self.max]
        return out
