"""Summary statistics of a constant tensor's values, computed with numpy at export time.

Only these figures go into an export, never the data itself, so the export of a 50 MB
model stays small. The values are read in chunks of a million elements: memory stays
bounded whatever the tensor's size.
"""

from __future__ import annotations

import math

from modelkit.ir import Value

CHUNK = 1 << 20


def _summary(flat, convert) -> dict:
    """min, max, mean and std (population, as numpy's default) of `convert(chunk)` over
    the chunks of the flat array `flat`."""
    import numpy as np

    n = flat.size
    lo, hi, total = math.inf, -math.inf, 0.0
    for start in range(0, n, CHUNK):
        part = convert(flat[start:start + CHUNK])
        lo = min(lo, float(np.min(part)))
        hi = max(hi, float(np.max(part)))
        total += float(np.sum(part, dtype=np.float64))
    mean = total / n
    squares = 0.0
    for start in range(0, n, CHUNK):
        part = convert(flat[start:start + CHUNK]).astype(np.float64) - mean
        squares += float(np.dot(part, part))
    return {"count": int(n), "min": lo, "max": hi, "mean": mean, "std": math.sqrt(squares / n)}


def weight_stats(value: Value) -> dict | None:
    """Statistics of a constant's stored values, and of its real values when quantized.

    Returns:
        `{"count", "min", "max", "mean", "std"}`, with `"real": {...}` the same figures
        of the dequantized values for a quantized tensor; None for a tensor without
        data, an empty one, or one whose values are not numbers (strings, resources).
    """
    import numpy as np

    if value.data is None:
        return None
    array = value.data.numpy()
    if array.size == 0 or array.dtype.kind not in "biuf":
        return None
    flat = array.reshape(-1)
    if flat.dtype.kind == "b":
        flat = flat.astype(np.uint8)
    out = _summary(flat, lambda part: part)
    q = value.quant
    if q is None or flat.dtype.kind not in "iu":
        return out
    if q.scale.size == 1:
        out["real"] = _summary(flat, q.dequantize)
    elif q.per_channel and -array.ndim <= q.axis < array.ndim \
            and array.shape[q.axis] == q.scale.size:
        # NOTE: per-channel dequantization needs the tensor's shape, not chunks of it.
        out["real"] = _summary(q.dequantize(array).reshape(-1), lambda part: part)
    return out
