"""How two constant tensors' values differ: counts and error statistics.

Values are compared as real numbers: a quantized tensor is dequantized with its
own scale and zero point first, so a float weight and its int8 version compare
in the same domain. Tensors of another layout (a GraphDef HWIO kernel against a
TFLite OHWI one) are compared through the axis permutation that fits best.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

from modelkit.errors import ModelReadError
from modelkit.ir import Value


@dataclass
class WeightStats:
    """Differences of two tensors' values, in the real domain.

    Attributes:
        elements: elements compared.
        changed: elements whose values differ.
        max_abs_diff: max |b - a|.
        mean_abs_diff: mean |b - a|.
        max_rel_diff: max |b - a| / |a| over elements where a != 0 (inf when only
            zeros of A changed).
        cosine: cosine similarity of a and b flattened (1.0 for two zero tensors).
        dequantized: A or B was dequantized first.
        transpose: the permutation of A's axes that was compared with B, when the
            layouts differ.
        max_abs_diff_per_channel: max |b - a| per channel of the per-channel
            quantized side (its quantized axis), when there is one.
        max_abs_diff_in_steps: max |b - a| / scale, with the scale of the quantized
            side (per channel when per channel): 0.5 means within rounding.
    """

    elements: int
    changed: int
    max_abs_diff: float
    mean_abs_diff: float
    max_rel_diff: float
    cosine: float
    dequantized: bool = False
    transpose: tuple[int, ...] | None = None
    max_abs_diff_per_channel: list[float] | None = None
    max_abs_diff_in_steps: float | None = None

    def to_dict(self) -> dict:
        out = {"elements": self.elements, "changed": self.changed,
               "max_abs_diff": self.max_abs_diff, "mean_abs_diff": self.mean_abs_diff,
               "max_rel_diff": self.max_rel_diff, "cosine": self.cosine,
               "dequantized": self.dequantized}
        if self.transpose is not None:
            out["transpose"] = list(self.transpose)
        if self.max_abs_diff_per_channel is not None:
            out["max_abs_diff_per_channel"] = self.max_abs_diff_per_channel
        if self.max_abs_diff_in_steps is not None:
            out["max_abs_diff_in_steps"] = self.max_abs_diff_in_steps
        return out

    def text(self) -> str:
        """`3 of 1152 elements differ, max abs 0.5, max rel 0.02, cosine 0.99999`."""
        parts = [f"{self.changed} of {self.elements} elements differ",
                 f"max abs {self.max_abs_diff:.6g}", f"max rel {self.max_rel_diff:.6g}",
                 f"cosine {self.cosine:.6f}"]
        if self.max_abs_diff_in_steps is not None:
            parts.append(f"{self.max_abs_diff_in_steps:.3g} steps")
        if self.dequantized:
            parts.append("dequantized")
        if self.transpose is not None:
            parts.append(f"transposed {tuple(self.transpose)}")
        return ", ".join(parts)


def real_values(v: Value, path: str | None = None):
    """`v`'s constant data as float64, dequantized when it is quantized; None for
    data that is not numeric (strings, resources).

    Args:
        path: the model's file, named when the data cannot be read.

    Raises:
        ModelReadError: the stored data is corrupt.
    """
    import numpy as np

    try:
        arr = np.asarray(v.data.numpy())  # type: ignore[union-attr]
    except ValueError:
        return None
    except ModelReadError as e:
        raise ModelReadError(e.message, e.path or path) from None
    if arr.dtype.kind not in "biuf":
        return None
    q = v.quant
    if q is not None and arr.dtype.kind in "iu" and q.scale.size:
        # NOTE: dequantized in float64 (QuantParams.dequantize gives float32), so a
        # difference of half a step is reported as 0.5 steps, not 0.50000006.
        scale, zp = q.scale, q.zero_point
        if q.per_channel:
            if q.axis is None or q.axis >= arr.ndim or arr.shape[q.axis] != scale.size:
                return None
            shape = [1] * arr.ndim
            shape[q.axis] = scale.size
            scale, zp = scale.reshape(shape), zp.reshape(shape)
        else:
            scale, zp = scale[0], zp[0]
        return scale * (arr.astype(np.float64) - zp)
    return arr.astype(np.float64)


def _quantized(v: Value) -> bool:
    return v.quant is not None and v.dtype is not None and v.dtype.is_integer


def compare_values(va: Value, vb: Value, *, path_a: str | None = None,
                   path_b: str | None = None) -> WeightStats | None:
    """Statistics of B's values against A's, or None when they cannot be compared
    (not numeric, or shapes that no axis permutation makes equal).

    Args:
        path_a, path_b: the models' files, named when data cannot be read.

    Raises:
        ModelReadError: the stored data of A or B is corrupt.
    """
    import numpy as np

    from modelkit.runtime.compare import cosine_similarity

    a, b = real_values(va, path_a), real_values(vb, path_b)
    if a is None or b is None:
        return None
    perm = None
    if a.shape != b.shape:
        if a.size != b.size or a.ndim != b.ndim or sorted(a.shape) != sorted(b.shape):
            return None
        best = None
        for p in permutations(range(a.ndim)):
            if tuple(a.shape[i] for i in p) != b.shape:
                continue
            err = float(np.max(np.abs(np.transpose(a, p) - b))) if a.size else 0.0
            if best is None or err < best[0]:
                best = (err, p)
        if best is None:
            return None
        perm = tuple(int(i) for i in best[1])
        a = np.transpose(a, perm)
    diff = np.abs(b - a)
    elements = int(a.size)
    changed = int(np.count_nonzero(diff)) + int(np.count_nonzero(np.isnan(a) != np.isnan(b)))
    if elements:
        max_abs = float(np.nanmax(diff)) if not np.all(np.isnan(diff)) else 0.0
        mean_abs = float(np.nanmean(diff)) if not np.all(np.isnan(diff)) else 0.0
    else:
        max_abs = mean_abs = 0.0
    nz = a != 0
    max_rel = float(np.max(diff[nz] / np.abs(a[nz]))) if np.any(nz) else 0.0
    if np.any(diff[~nz] > 0):
        max_rel = float("inf")
    cosine = cosine_similarity(a, b)
    stats = WeightStats(elements, changed, max_abs, mean_abs, max_rel, cosine,
                        dequantized=_quantized(va) or _quantized(vb), transpose=perm)
    side = vb if _quantized(vb) else (va if _quantized(va) and perm is None else None)
    if side is not None and side.quant is not None and diff.size:
        q = side.quant
        if q.per_channel and q.axis is not None and q.axis < diff.ndim:
            moved = np.moveaxis(diff, q.axis, 0).reshape(diff.shape[q.axis], -1)
            per = moved.max(axis=1) if moved.size else np.zeros(diff.shape[q.axis])
            stats.max_abs_diff_per_channel = [float(x) for x in per]
            stats.max_abs_diff_in_steps = float(np.max(per / q.scale))
        elif q.scale.size == 1 and q.scale[0] > 0:
            stats.max_abs_diff_in_steps = max_abs / float(q.scale[0])
    return stats
