"""Run the source and the converted model on the same inputs and compare outputs.

Both sides are runtime backends (`modelkit.runtime`): values go in and come out
in the float domain, a quantized TFLite model's inputs quantized and its outputs
dequantized with its own parameters. Inputs and outputs are paired by name, else
by order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from modelkit.convert.data import InputSpec, random_inputs
from modelkit.ir.dtypes import DType
from modelkit.quant.io_report import TensorIO
from modelkit.runtime import Backend, TensorSpec
from modelkit.runtime.compare import OutputComparison, compare_arrays, pair_specs, run_pair


# NOTE: an output whose spread over the samples is below 2^-16 of its magnitude varies by
# less than any 16-bit output can show (float rounding, e.g. the near-uniform softmax of
# an untrained classifier); a constant converted output is then no loss.
_NOISE = 2.0 ** -16


def varies(values: np.ndarray) -> bool:
    """True when the samples (first axis) of an output differ by more than rounding noise."""
    if values.shape[0] < 2 or values.size == 0:
        return False
    return float(np.ptp(values, axis=0).max()) > _NOISE * float(np.abs(values).max())


@dataclass
class OutputReport:
    """Agreement of one output between source and converted model."""

    comparison: OutputComparison
    constant: bool
    source_range: tuple[float, float]
    nonfinite_where_source_finite: int = 0

    @property
    def name(self) -> str:
        return self.comparison.name

    def to_dict(self) -> dict:
        c = self.comparison
        return {"name": c.name, "max_abs_error": c.max_abs_error,
                "mean_abs_error": c.mean_abs_error, "rmse": c.rmse,
                "cosine_similarity": c.cosine_similarity, "top1_agreement": c.top1_agreement,
                "nan_or_inf": c.nan_or_inf,
                "nonfinite_where_source_finite": self.nonfinite_where_source_finite,
                "constant_output": self.constant,
                "source_min": self.source_range[0], "source_max": self.source_range[1]}


@dataclass
class VerifyReport:
    """Comparison of source and converted outputs over `samples` inputs."""

    samples: int
    data: str
    outputs: list[OutputReport] = field(default_factory=list)

    @property
    def broken(self) -> list[str]:
        """Why the converted model is numerically broken, one reason per output."""
        out = []
        for o in self.outputs:
            if o.nonfinite_where_source_finite:
                out.append(f"output {o.name} holds NaN or Inf where the source's is finite "
                           f"({o.nonfinite_where_source_finite} of "
                           f"{o.comparison.elements} values)")
            elif o.comparison.nan_or_inf:
                out.append(f"output {o.name} holds NaN or Inf in the source too: these "
                           "inputs cannot verify it")
            elif o.constant:
                out.append(f"output {o.name} is constant across inputs while the source varies")
        return out

    def lines(self) -> list[str]:
        out = [f"verification on {self.samples} inputs ({self.data}):"]
        for o in self.outputs:
            c = o.comparison
            line = (f"  {c.name}: max abs error {c.max_abs_error:.3g}, "
                    f"mean abs error {c.mean_abs_error:.3g}")
            if c.top1_agreement is not None:
                line += f", top-1 agreement {100 * c.top1_agreement:.1f}%"
            out.append(line)
        out.extend(f"  BROKEN: {b}" for b in self.broken)
        return out

    def to_dict(self) -> dict:
        return {"samples": self.samples, "data": self.data, "ok": not self.broken,
                "broken": self.broken, "outputs": [o.to_dict() for o in self.outputs]}


def compare(source: Backend, target: Backend, samples: list[np.ndarray], data: str,
            step: Callable[[], None] = lambda: None) -> VerifyReport:
    """Run both models on every sample and summarize the output differences.

    Args:
        source: the reference model.
        target: the converted model.
        samples: one array per source input, samples first.
        data: where the samples came from, for the report.
        step: called once per sample and model run (2 x samples in all; progress).
    """
    def advance(n: int) -> None:
        for _ in range(n):
            step()

    pairs, src, tgt = run_pair(source, target, samples, progress=advance,
                               names=("the source", "the result"))
    n = next((int(v.shape[0]) for v in src.values()), 0)
    report = VerifyReport(samples=n, data=data)
    for s_spec, t_spec in pairs:
        s = np.asarray(src[s_spec.name], dtype=np.float64).reshape(n, -1)
        t = np.asarray(tgt[t_spec.name], dtype=np.float64).reshape(n, -1)
        if s.shape != t.shape:
            t = np.full(s.shape, np.nan)
        cmp = compare_arrays(t, s, name=t_spec.name, other_name=s_spec.name,
                             classes_axis=len(s_spec.shape) == 2 and s.shape[1] > 1)
        src_varies = varies(s)
        tgt_constant = n > 1 and not cmp.nan_or_inf and float(np.ptp(t, axis=0).max()) == 0
        report.outputs.append(OutputReport(
            cmp, constant=src_varies and tgt_constant,
            source_range=(float(s.min()), float(s.max())) if s.size else (0.0, 0.0),
            nonfinite_where_source_finite=int(np.count_nonzero(
                ~np.isfinite(t) & np.isfinite(s)))))
    return report


def tensor_ios(specs: list[TensorSpec], role: str) -> list[TensorIO]:
    """The quantization report rows of a backend's inputs or outputs."""
    return [TensorIO(s.name, role, DType.from_numpy(s.dtype),
                     tuple(-1 if d is None else int(d) for d in s.shape), s.quant)
            for s in specs]


def real_range_inputs(target: list[TensorSpec], specs: list[TensorSpec], count: int,
                      seed: int = 0) -> list[np.ndarray]:
    """Random inputs for the source's `specs`: floats in the paired quantized target
    input's real range, else uniform [0, 1]; integers and bools as `random_inputs`."""
    rng = np.random.default_rng(seed)
    by_name = dict(pair_specs_safe(specs, target))
    out = []
    for spec in specs:
        shape = (count, *[1 if d is None else d for d in spec.sample_shape])
        if np.dtype(spec.dtype).kind != "f":
            out.extend(random_inputs([InputSpec(spec.name, np.dtype(spec.dtype), spec.shape)],
                                     count, seed))
            continue
        lo, hi = 0.0, 1.0
        other = by_name.get(spec.name)
        if other is not None and other.is_quantized and other.quant is not None:
            lo_r, hi_r = other.quant.representable_range()
            lo, hi = float(lo_r[0]), float(hi_r[0])
        out.append(rng.uniform(lo, hi, size=shape).astype(spec.dtype))
    return out


def pair_specs_safe(a: list[TensorSpec], b: list[TensorSpec]) -> list[tuple[str, TensorSpec]]:
    """(name in a, spec in b) pairs, empty when they cannot be paired."""
    from modelkit.errors import UsageError

    try:
        return [(x.name, y) for x, y in pair_specs(a, b, "input")]
    except UsageError:
        return []
