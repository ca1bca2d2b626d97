"""Comparing two models' outputs: pairing inputs/outputs across formats, and error
statistics with Polygraphy's tolerance semantics.

Semantics (Polygraphy's `CompareFunc.simple`, check_error_stat="elemwise"): with
A the first and B the second (reference) output,

    absdiff = |A - B|          reldiff = absdiff / |B|, where B = 0 counts as REL_EPS
    an element mismatches when (absdiff > atol or NaN) and (reldiff > rtol or NaN)

so an element passes when EITHER tolerance holds. As in Polygraphy, a zero in B is
replaced by REL_EPS (float64 machine epsilon, 2.22e-16) in the division: the relative
error there is finite (|A - B| / 2.22e-16: huge unless A is 0 too, when it is 0). The
defaults are Polygraphy's (atol = rtol = 1e-5). A tolerance is a number >= 0
(inf passes everything); NaN is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from modelkit.errors import UsageError
from modelkit.runtime.base import Backend, TensorSpec, match_key

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-5
# What a zero in the reference counts as in |A - B| / |B| (Polygraphy's epsilon).
REL_EPS = float(np.finfo(np.float64).eps)


def check_tolerances(atol: float, rtol: float) -> None:
    """Refuse a tolerance that is NaN or negative (with NaN every comparison is False,
    so nothing would ever mismatch).

    Raises:
        UsageError: naming the option.
    """
    for name, value in (("--atol", atol), ("--rtol", rtol)):
        if not value >= 0:
            raise UsageError(f"{name} {value:g}: a tolerance is a number >= 0 "
                             "(inf accepts any difference)")


def pair_specs(a: list[TensorSpec], b: list[TensorSpec], role: str,
               names: tuple[str, str] = ("A", "B")) -> list[tuple[TensorSpec, TensorSpec]]:
    """Pair two models' inputs or outputs: by name (ignoring `:0`, `serving_default_`,
    `/` vs `_` and case) when every name matches, else by order.

    Raises:
        UsageError: the counts differ, or a pair's shapes cannot be the same tensor.
    """
    if len(a) != len(b):
        raise UsageError(f"{names[0]} has {len(a)} {role}s ({', '.join(s.name for s in a)}), "
                         f"{names[1]} has {len(b)} ({', '.join(s.name for s in b)}): "
                         "the models do not compute the same thing")
    by_key = {match_key(s.name): s for s in b}
    if len(by_key) == len(b) and all(match_key(s.name) in by_key for s in a):
        pairs = [(s, by_key[match_key(s.name)]) for s in a]
    else:
        pairs = list(zip(a, b))
    for x, y in pairs:
        if not _compatible(x.shape, y.shape):
            raise UsageError(f"{role} {x.name!r} of {names[0]} has shape {_fmt(x.shape)} but "
                             f"{role} {y.name!r} of {names[1]} has {_fmt(y.shape)}; "
                             "they cannot be paired")
    return pairs


def _compatible(x: tuple, y: tuple) -> bool:
    if not x or not y:
        return True
    if len(x) != len(y):
        return False
    # NOTE: the batch dim may differ (a batch-1 frozen graph vs a dynamic-batch model).
    return all(p is None or q is None or p == q for p, q in zip(x[1:], y[1:]))


def _fmt(shape: tuple) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


@dataclass
class OutputComparison:
    """Error statistics of one output pair over every sample.

    Attributes:
        max_abs_error/mean_abs_error/rmse: of A - B.
        max_rel_error: max of |A - B| / |B|, a zero B counting as REL_EPS (NaN when an
            output holds NaN).
        max_rel_error_at_zero: the max relative error is where B is 0 (so it is
            |A - B| / REL_EPS).
        cosine_similarity: of A and B flattened (1.0 when both are all zeros).
        top1_agreement: fraction of samples whose argmax agrees (outputs [N, classes]).
        mismatches: elements that fail both tolerances.
        required_atol: the smallest atol that passes with the given rtol.
        required_rtol: the smallest rtol that passes with the given atol (both inf
            when an element is NaN: no tolerance passes it).
        nan_or_inf: A or B holds NaN or an infinity.
        nonfinite_a/nonfinite_b: how many values of A/B are NaN or infinite.
    """

    name: str
    other_name: str
    elements: int
    max_abs_error: float
    mean_abs_error: float
    rmse: float
    max_rel_error: float
    cosine_similarity: float
    top1_agreement: float | None
    atol: float
    rtol: float
    mismatches: int
    required_atol: float
    required_rtol: float
    nan_or_inf: bool
    nonfinite_a: int = 0
    nonfinite_b: int = 0
    max_rel_error_at_zero: bool = False

    @property
    def passed(self) -> bool:
        return self.mismatches == 0

    def to_dict(self) -> dict:
        return {"name": self.name, "other_name": self.other_name, "elements": self.elements,
                "max_abs_error": self.max_abs_error, "mean_abs_error": self.mean_abs_error,
                "rmse": self.rmse, "max_rel_error": self.max_rel_error,
                "cosine_similarity": self.cosine_similarity,
                "top1_agreement": self.top1_agreement, "atol": self.atol, "rtol": self.rtol,
                "mismatches": self.mismatches, "passed": self.passed,
                "required_atol": self.required_atol, "required_rtol": self.required_rtol,
                "nan_or_inf": self.nan_or_inf, "nonfinite_a": self.nonfinite_a,
                "nonfinite_b": self.nonfinite_b,
                "max_rel_error_at_zero": self.max_rel_error_at_zero}


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of `a` and `b` flattened: 1.0 when both are all zeros, 0.0
    when only one is."""
    fa, fb = a.reshape(-1), b.reshape(-1)
    na, nb = float(np.linalg.norm(fa)), float(np.linalg.norm(fb))
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(fa, fb) / (na * nb))


def compare_arrays(a: np.ndarray, b: np.ndarray, *, atol: float = DEFAULT_ATOL,
                   rtol: float = DEFAULT_RTOL, name: str = "", other_name: str = "",
                   classes_axis: bool | None = None) -> OutputComparison:
    """Statistics of A against the reference B (samples first, same shape).

    Args:
        classes_axis: compute top-1 agreement over the last axis; default: when the
            output is [N, C] with C > 1.

    Raises:
        UsageError: the shapes differ; a tolerance is NaN or negative.
    """
    check_tolerances(atol, rtol)
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise UsageError(f"output {name!r} has shape {list(a.shape)} in A but "
                         f"{list(b.shape)} in B")
    if a.dtype == bool or b.dtype == bool:
        a, b = a.astype(np.float64), b.astype(np.float64)
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    ref = np.abs(b64)
    with np.errstate(invalid="ignore", over="ignore"):
        absdiff = np.abs(a64 - b64)
        reldiff = absdiff / np.where(ref == 0, REL_EPS, ref)
    abs_bad = (absdiff > atol) | np.isnan(absdiff)
    rel_bad = (reldiff > rtol) | np.isnan(reldiff)
    mismatch = abs_bad & rel_bad
    n = absdiff.size
    bad_a = int(np.count_nonzero(~np.isfinite(a64)))
    bad_b = int(np.count_nonzero(~np.isfinite(b64)))

    def _max(x: np.ndarray) -> float:
        return float(np.max(x)) if x.size else 0.0

    # NOTE: an element passes under (atol, rtol) when absdiff <= atol or reldiff <= rtol.
    # Keeping rtol fixed, only the elements that fail it need atol >= their absdiff.
    # A NaN element fails every tolerance.
    if np.isnan(reldiff).any():
        required_atol = required_rtol = float("inf")
    else:
        required_atol = _max(np.where(rel_bad, absdiff, 0.0))
        required_rtol = _max(np.where(abs_bad, reldiff, 0.0))
    at_zero = False
    if n and not np.isnan(reldiff).any():
        worst = int(np.argmax(reldiff))
        at_zero = bool(ref.reshape(-1)[worst] == 0 and reldiff.reshape(-1)[worst] > 0)
    cosine = cosine_similarity(a64, b64)
    if classes_axis is None:
        classes_axis = a.ndim == 2 and a.shape[-1] > 1
    top1 = None
    if classes_axis and a.size:
        # NOTE: argmax of a NaN row is 0, so NaN outputs would "agree" with every sample
        # whose top class is 0: a sample agrees only when both rows are finite.
        finite = np.isfinite(a64).all(axis=-1) & np.isfinite(b64).all(axis=-1)
        top1 = float(np.mean(finite & (np.argmax(a64, axis=-1) == np.argmax(b64, axis=-1))))
    return OutputComparison(
        name=name, other_name=other_name or name, elements=int(n),
        max_abs_error=_max(absdiff), mean_abs_error=float(absdiff.mean()) if n else 0.0,
        rmse=float(np.sqrt(np.mean(absdiff ** 2))) if n else 0.0,
        max_rel_error=_max(reldiff),
        cosine_similarity=cosine, top1_agreement=top1, atol=atol, rtol=rtol,
        mismatches=int(mismatch.sum()), required_atol=required_atol,
        required_rtol=required_rtol, nan_or_inf=bool(bad_a or bad_b), nonfinite_a=bad_a,
        nonfinite_b=bad_b, max_rel_error_at_zero=at_zero)


def run_pair(a: Backend, b: Backend, samples: Sequence[np.ndarray], *,
             progress: Callable[[int], None] = lambda n: None,
             names: tuple[str, str] = ("A", "B"), quantize: bool = True,
             ) -> tuple[list[tuple[TensorSpec, TensorSpec]], dict, dict]:
    """Run both backends on the same samples (given in A's input order), in slices
    both take.

    Args:
        progress: called with the number of samples each slice completed, for A then
            B (2 x samples in all).
        quantize: quantize float feeds of quantized inputs (False: feed as they are).

    Returns:
        (output pairs, A's outputs by name, B's outputs by name), samples first.
    Raises:
        UsageError: inputs or outputs cannot be paired; fewer samples than a batch.
    """
    from modelkit.runtime.batch import batch_step, run_samples

    in_pairs = pair_specs(a.inputs, b.inputs, "input", names)
    out_pairs = pair_specs(a.outputs, b.outputs, "output", names)
    step = batch_step(a, b)
    position = {id(sa): i for i, sa in enumerate(a.inputs)}
    b_feeds = [None] * len(b.inputs)
    b_index = {id(sb): i for i, sb in enumerate(b.inputs)}
    for sa, sb in in_pairs:
        b_feeds[b_index[id(sb)]] = samples[position[id(sa)]]
    a_out = run_samples(a, samples, step=step, progress=progress, quantize=quantize)
    b_out = run_samples(b, b_feeds, step=step, progress=progress,  # type: ignore[arg-type]
                        quantize=quantize)
    return out_pairs, a_out, b_out
