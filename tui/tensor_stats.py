"""Values of a constant tensor for display: a preview, statistics and a histogram.

Statistics and the histogram stream over the data in chunks, so a large tensor
costs bounded memory; the preview reads only its first elements. Run
`tensor_values` off the UI thread: it touches the whole tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from modelkit.ir import QuantParams, TensorData

PREVIEW = 24
CHUNK = 1 << 20
BINS = 12
BAR = 24


@dataclass
class Stats:
    """Summary statistics of real values."""

    count: int
    min: float
    max: float
    mean: float
    std: float
    zero_fraction: float


@dataclass
class TensorValues:
    """What the tensor view shows under `values`.

    Attributes:
        raw: the first elements as stored.
        real: the same elements dequantized, or None when not quantized.
        stats: statistics of the real values (dequantized when quantized).
        histogram: (low, high, count) per bin over the real values.
        note: why something is missing (strings, unreadable data), else "".
        limits: (storage dtype, lowest, highest) stored value of a quantized tensor.
        at_limits: how many stored values sit at the lowest and at the highest limit
            (clipped, or saturated by the quantizer).
        scales: (axis, channels, smallest, largest) scale of per-channel quantization.
    """

    raw: list = field(default_factory=list)
    real: list | None = None
    stats: Stats | None = None
    histogram: list[tuple[float, float, int]] = field(default_factory=list)
    note: str = ""
    limits: tuple[str, int, int] | None = None
    at_limits: tuple[int, int] = (0, 0)
    scales: tuple[int | None, int, float, float] | None = None


def _channel_of(start: int, stop: int, shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Channel index of flat positions start..stop of a C-order array with `shape`."""
    stride = int(np.prod(shape[axis + 1:], dtype=np.int64)) if axis + 1 < len(shape) else 1
    return (np.arange(start, stop, dtype=np.int64) // stride) % shape[axis]


def _real_chunk(flat: np.ndarray, start: int, stop: int, quant: QuantParams | None,
                shape: tuple[int, ...]) -> np.ndarray:
    """Real values (float64) of flat elements start..stop."""
    q = flat[start:stop]
    if quant is None:
        return q.astype(np.float64)
    if quant.per_channel and quant.axis is not None and len(shape) > quant.axis \
            and shape[quant.axis] == quant.scale.size:
        ch = _channel_of(start, stop, shape, quant.axis)
        return quant.scale[ch] * (q.astype(np.int64) - quant.zero_point[ch])
    return float(quant.scale[0]) * (q.astype(np.int64) - int(quant.zero_point[0]))


def tensor_values(data: TensorData, quant: QuantParams | None, preview: int = PREVIEW,
                  bins: int = BINS, should_stop: Callable[[], bool] | None = None
                  ) -> TensorValues | None:
    """Preview, statistics and histogram of constant `data` (dequantized with `quant`).

    Args:
        data: the constant data; read in place.
        quant: quantization of the tensor, or None.
        preview: how many leading elements to show.
        bins: histogram bins.
        should_stop: polled between chunks; when it returns True the work is dropped.

    Returns:
        The values, or None when `should_stop` interrupted the work.
    """
    try:
        arr = data.numpy()
    except ValueError as e:
        return TensorValues(note=f"values not shown: {e}")
    if arr.dtype == object or arr.dtype.kind in "SUV":
        flat = arr.reshape(-1)
        return TensorValues(raw=[_short(x) for x in flat[:preview].tolist()],
                            note="not numeric: no statistics")
    if quant is not None and (quant.scale.size == 0 or not np.issubdtype(arr.dtype, np.integer)):
        quant = None
    flat = arr.reshape(-1)
    shape = tuple(arr.shape)
    n = flat.size
    out = TensorValues(raw=flat[:preview].tolist())
    if quant is not None:
        out.real = _real_chunk(flat, 0, min(preview, n), quant, shape).tolist()
        info = np.iinfo(arr.dtype)
        out.limits = (arr.dtype.name, int(info.min), int(info.max))
        if quant.scale.size > 1:
            out.scales = (quant.axis, int(quant.scale.size), float(quant.scale.min()),
                          float(quant.scale.max()))
    if n == 0:
        out.note = "empty tensor"
        return out
    if arr.dtype == np.bool_:
        flat = flat.view(np.uint8)
    # NOTE: two streaming passes (moments and range, then the histogram) keep memory
    # at one chunk even for tensors of hundreds of megabytes.
    lo, hi, total, total_sq, zeros = np.inf, -np.inf, 0.0, 0.0, 0
    at_lo = at_hi = 0
    for start in range(0, n, CHUNK):
        if should_stop is not None and should_stop():
            return None
        if out.limits is not None:
            raw = flat[start:min(n, start + CHUNK)]
            at_lo += int(np.count_nonzero(raw == out.limits[1]))
            at_hi += int(np.count_nonzero(raw == out.limits[2]))
        x = _real_chunk(flat, start, min(n, start + CHUNK), quant, shape)
        finite = x[np.isfinite(x)]
        if finite.size:
            lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
        total += float(finite.sum())
        total_sq += float(np.square(finite).sum())
        zeros += int(np.count_nonzero(x == 0))
    out.at_limits = (at_lo, at_hi)
    mean = total / n
    var = max(total_sq / n - mean * mean, 0.0)
    if not np.isfinite(lo):
        out.note = "no finite values"
        return out
    out.stats = Stats(n, lo, hi, mean, float(np.sqrt(var)), zeros / n)
    counts = np.zeros(bins, dtype=np.int64)
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    for start in range(0, n, CHUNK):
        if should_stop is not None and should_stop():
            return None
        x = _real_chunk(flat, start, min(n, start + CHUNK), quant, shape)
        counts += np.histogram(x[np.isfinite(x)], bins=edges)[0]
    out.histogram = [(float(edges[i]), float(edges[i + 1]), int(counts[i])) for i in range(bins)]
    return out


def _short(x) -> str:
    s = x.decode(errors="replace") if isinstance(x, bytes) else str(x)
    return s if len(s) <= 24 else s[:21] + "..."


def fmt_num(x) -> str:
    """A number in at most 7 significant digits; integers as they are."""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.6g}"
    return str(x)


def render_values(v: TensorValues, size: int, bar: int = BAR) -> list[str]:
    """Plain text lines: raw and real previews, statistics, histogram bars."""
    more = f" ... ({size - len(v.raw):,} more)" if size > len(v.raw) else ""
    lines = []
    if v.raw:
        lines.append("raw       " + " ".join(fmt_num(x) for x in v.raw) + more)
    if v.real is not None:
        lines.append("real      " + " ".join(fmt_num(x) for x in v.real) + more)
    s = v.stats
    if s is not None:
        lines.append(f"stats     min {s.min:.4g}  max {s.max:.4g}  mean {s.mean:.4g}  "
                     f"std {s.std:.4g}  zeros {s.zero_fraction:.1%}")
    if v.scales is not None:
        axis, count, smin, smax = v.scales
        ratio = f"  (largest/smallest {smax / smin:.3g}x)" if smin > 0 else ""
        lines.append(f"scales    {count} channels on axis {axis}: {smin:.4g} to {smax:.4g}{ratio}")
    if v.limits is not None and s is not None:
        name, low, high = v.limits
        a, b = v.at_limits
        lines.append(f"at limits {name} {low}: {a:,} ({a / s.count:.2%})   "
                     f"{high}: {b:,} ({b / s.count:.2%})")
    if v.histogram:
        top = max(c for _, _, c in v.histogram) or 1
        edge = [(f"{lo:.4g}", f"{hi:.4g}") for lo, hi, _ in v.histogram]
        width = max(len(lo) for lo, _ in edge)
        width_hi = max(len(hi) for _, hi in edge)
        lines.append("histogram" + (" (real values)" if v.real is not None else ""))
        for (lo, hi), (_, _, c) in zip(edge, v.histogram):
            n = round(bar * c / top)
            bar_text = "█" * n if n or not c else "▏"
            lines.append(f"  {lo:>{width}} .. {hi:<{width_hi}}  {bar_text:<{bar}}  {c}")
    if v.note:
        lines.append(v.note)
    return lines
