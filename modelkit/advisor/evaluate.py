"""Measuring a candidate against the float model on the evaluation data.

The reference is the float source run by TensorFlow (as `convert` verifies); each
candidate runs in the LiteRT interpreter (builtin kernels) with its own input and
output quantization, and, for `--target micro`, in TFLite Micro's Python runtime in a
child process (Micro aborts the process on some models). The budget is one of, or
both of:

- `--max-drop PCT`: with labels, top-1 accuracy may drop by at most PCT points
  against the float model's; without labels, top-1 agreement with the float model
  must be at least 100 - PCT percent;
- `--min-sqnr DB`: every output's SQNR against the float model's (10 log10 of signal
  power over error power, over every sample) must be at least DB.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelkit.errors import UsageError
from modelkit.runtime import Backend, TensorSpec

# Samples run at once when a model's batch dim is open.
CHUNK = 32
LATENCY_RUNS = 50


@dataclass(frozen=True)
class Budget:
    """What a candidate must keep: `max_drop` points (accuracy with labels, top-1
    agreement without) and/or `min_sqnr` dB on every output."""

    max_drop: float | None = None
    min_sqnr: float | None = None
    labels: bool = False

    @property
    def metric(self) -> str:
        return "accuracy" if self.labels else "top-1 agreement"

    def describe(self) -> str:
        parts = []
        if self.max_drop is not None:
            parts.append(f"{self.metric} drop <= {self.max_drop:g} points")
        if self.min_sqnr is not None:
            parts.append(f"output SQNR >= {self.min_sqnr:g} dB")
        return " and ".join(parts)

    def meets(self, m: Measurement) -> bool:
        """True when the measurement keeps every condition."""
        return self.shortfall(m) <= 0

    def shortfall(self, m: Measurement) -> float:
        """How far the measurement is from the budget (<= 0: kept; larger: worse);
        points for the drop, dB for the SQNR."""
        worst = -math.inf
        if self.max_drop is not None:
            drop = m.drop if m.drop is not None and math.isfinite(m.drop) else math.inf
            worst = max(worst, drop - self.max_drop)
        if self.min_sqnr is not None:
            sqnr = m.sqnr_db if m.sqnr_db is not None and not math.isnan(m.sqnr_db) \
                else -math.inf
            worst = max(worst, self.min_sqnr - sqnr)
        return worst

    def to_dict(self) -> dict:
        return {"max_drop_points": self.max_drop, "min_sqnr_db": self.min_sqnr,
                "metric": self.metric if self.max_drop is not None else None}


@dataclass
class Measurement:
    """One model on the evaluation data, against the float model.

    Attributes:
        accuracy: top-1 accuracy against the labels (None without labels).
        agreement: fraction of samples whose top-1 class is the float model's.
        sqnr_db: the lowest output SQNR against the float model (inf when equal).
        drop: points lost: float accuracy - accuracy (labels), else 100 x (1 - agreement).
    """

    samples: int
    accuracy: float | None = None
    agreement: float | None = None
    sqnr_db: float | None = None
    drop: float | None = None

    def to_dict(self) -> dict:
        def num(x):
            return None if x is None or not math.isfinite(x) else x
        return {"samples": self.samples, "accuracy": self.accuracy,
                "top1_agreement": self.agreement, "sqnr_db": num(self.sqnr_db),
                "drop_points": num(self.drop)}


def input_specs(rt: Backend):
    """The data loader's view of a backend's inputs (the values `run` takes)."""
    from modelkit.convert.data import InputSpec

    return [InputSpec(s.name, np.dtype(s.real_dtype), tuple(s.shape)) for s in rt.inputs]


def run_all(rt: Backend, arrays: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Every sample through `rt` (arrays in its input order), in its batch size or in
    chunks of CHUNK when the batch is open; outputs by name, float."""
    from modelkit.runtime.batch import batch_step, run_samples

    step = batch_step(rt)
    if step == 1 and all(s.shape and s.shape[0] is None for s in rt.inputs):
        n = int(arrays[0].shape[0])
        parts = [rt.run([a[i:i + CHUNK] for a in arrays]) for i in range(0, n, CHUNK)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return run_samples(rt, arrays, step=step)


@dataclass
class Evaluator:
    """The evaluation data, the float model's outputs on it, and the labels.

    Attributes:
        inputs: the source's inputs (feeding order of `arrays`).
        outputs: the source's outputs.
        arrays: the evaluation samples, one array per source input.
        reference: the float model's outputs by source output name.
        labels: class ids, one per sample, or None.
        classifier: the source output whose top-1 class is measured (None: none is
            [N, classes]).
    """

    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    arrays: list[np.ndarray]
    reference: dict[str, np.ndarray]
    labels: np.ndarray | None = None
    classifier: str | None = None
    float_accuracy: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return int(self.arrays[0].shape[0])

    @classmethod
    def from_source(cls, source: Backend, arrays: list[np.ndarray],
                    labels: np.ndarray | None) -> Evaluator:
        """Run the float source on the samples (its input order)."""
        reference = run_all(source, arrays)
        classifier = next((s.name for s in source.outputs
                           if reference[s.name].ndim == 2 and reference[s.name].shape[1] > 1
                           and reference[s.name].dtype.kind == "f"), None)
        ev = cls(list(source.inputs), list(source.outputs), arrays, reference, labels,
                 classifier)
        if labels is not None and classifier is not None:
            ev.float_accuracy = _accuracy(reference[classifier], labels)
        return ev

    # -- measuring

    def measure(self, outputs: dict[str, np.ndarray]) -> Measurement:
        """The measurement of outputs keyed by the source's output names."""
        m = Measurement(self.samples)
        sqnrs = [_sqnr(self.reference[s.name], outputs[s.name]) for s in self.outputs]
        m.sqnr_db = min(sqnrs) if sqnrs else None
        if self.classifier is not None:
            ref, got = self.reference[self.classifier], outputs[self.classifier]
            ok = np.isfinite(got).all(axis=1)
            m.agreement = float(np.mean((np.argmax(ref, 1) == np.argmax(got, 1)) & ok))
            if self.labels is not None:
                m.accuracy = _accuracy(np.where(ok[:, None], got, -np.inf), self.labels)
                m.drop = 100.0 * ((self.float_accuracy or 0.0) - m.accuracy)
            else:
                m.drop = 100.0 * (1.0 - m.agreement)
        return m

    def pair(self, rt: Backend) -> tuple[list[np.ndarray], dict[str, str]]:
        """The samples in `rt`'s input order, and its output name -> source output name.

        Raises:
            UsageError: the models' inputs or outputs cannot be paired.
        """
        from modelkit.runtime.compare import pair_specs

        ins = pair_specs(self.inputs, rt.inputs, "input", ("the float model", "the result"))
        outs = pair_specs(self.outputs, rt.outputs, "output",
                          ("the float model", "the result"))
        pos = {id(s): i for i, s in enumerate(self.inputs)}
        order = {id(t): self.arrays[pos[id(s)]] for s, t in ins}
        return [order[id(t)] for t in rt.inputs], {t.name: s.name for s, t in outs}

    def run_tflite(self, model: bytes | Path, name: str) -> dict[str, np.ndarray]:
        """A TFLite model's outputs on the samples (LiteRT, builtin kernels), keyed by
        the source's output names."""
        from modelkit.runtime import open_runtime

        with open_runtime(model, name=name) as rt:
            arrays, names = self.pair(rt)
            got = run_all(rt, arrays)
        return {names[k]: np.asarray(v, dtype=np.float32) for k, v in got.items()}

    def fake_io(self, model: bytes, like: bytes) -> dict[str, np.ndarray]:
        """The float `model` run with the input and output quantization of `like` (its
        quantized model): what every layer in float computes behind `like`'s integer
        inputs and outputs. Outputs keyed by the source's output names."""
        from modelkit.runtime import open_runtime
        from modelkit.runtime.compare import pair_specs

        with open_runtime(like, name="quantized") as q, open_runtime(model, name="float") as f:
            arrays, names = self.pair(f)
            q_of = {id(a): b for a, b in pair_specs(f.inputs, q.inputs, "input")}
            fed = [q_of[id(s)].to_real(q_of[id(s)].from_real(a))
                   if q_of[id(s)].is_quantized else a for s, a in zip(f.inputs, arrays)]
            got = run_all(f, fed)
            out = {}
            for s, t in pair_specs(f.outputs, q.outputs, "output"):
                v = np.asarray(got[s.name], dtype=np.float32)
                out[names[s.name]] = t.to_real(t.from_real(v)) if t.is_quantized else v
        return out

    def latency_us(self, model: bytes, runs: int = LATENCY_RUNS) -> float:
        """Median time of one invoke on one sample (LiteRT builtin kernels, this CPU),
        in microseconds."""
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        from modelkit.runtime import open_runtime

        with open_runtime(model, name="candidate") as rt:
            arrays, _ = self.pair(rt)
            feeds = [s.from_real(a[:1]) for s, a in zip(rt.inputs, arrays)]
        interp = Interpreter(model_content=model, experimental_op_resolver_type=
                             OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        details = interp.get_input_details()
        for d, x in zip(details, feeds):
            interp.resize_tensor_input(d["index"], list(x.shape), strict=False)
        interp.allocate_tensors()
        for d, x in zip(details, feeds):
            interp.set_tensor(d["index"], np.ascontiguousarray(x, dtype=d["dtype"]))
        for _ in range(3):
            interp.invoke()
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            interp.invoke()
            times.append(time.perf_counter() - t)
        return 1e6 * statistics.median(times)

    def input_ranges(self) -> list[tuple[str, float, float]]:
        """(input, min, max) of the evaluation samples."""
        return [(s.name, float(np.min(a)), float(np.max(a)))
                for s, a in zip(self.inputs, self.arrays) if a.size]


def _accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(scores, axis=1) == labels[:scores.shape[0]]))


def _sqnr(ref: np.ndarray, got: np.ndarray) -> float:
    """10 log10(sum ref^2 / sum (got - ref)^2); inf when equal, -inf with NaN/Inf."""
    r = np.asarray(ref, dtype=np.float64).reshape(-1)
    g = np.asarray(got, dtype=np.float64).reshape(-1)
    if r.shape != g.shape or not np.isfinite(g).all():
        return -math.inf
    noise = float(np.sum((g - r) ** 2))
    signal = float(np.sum(r ** 2))
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


# ----------------------------------------------------------------------------- Micro

_MICRO_SCRIPT = r"""
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime

model, data, out, n_out = sys.argv[1:5]
it = runtime.Interpreter.from_file(model)
arrays = np.load(data)
n = int(arrays["n"])
ins = [arrays[f"x{i}"] for i in range(int(arrays["k"]))]
results = {}
def q(d, x):
    p = d["quantization_parameters"]
    if np.dtype(d["dtype"]).kind in "iu" and len(p["scales"]):
        info = np.iinfo(d["dtype"])
        x = np.round(x / p["scales"][0]) + p["zero_points"][0]
        return np.clip(x, info.min, info.max).astype(d["dtype"])
    return x.astype(d["dtype"])
def dq(d, y):
    p = d["quantization_parameters"]
    if np.dtype(d["dtype"]).kind in "iu" and len(p["scales"]):
        return (y.astype(np.float32) - p["zero_points"][0]) * p["scales"][0]
    return y.astype(np.float32)
outs = None
for s in range(n):
    for i, x in enumerate(ins):
        it.set_input(q(it.get_input_details(i), x[s:s + 1]), i)
    it.invoke()
    got = [dq(it.get_output_details(j), it.get_output(j)) for j in range(int(n_out))]
    if outs is None:
        outs = [[] for _ in got]
    for j, g in enumerate(got):
        outs[j].append(g)
np.savez(out, **{f"y{j}": np.concatenate(o) for j, o in enumerate(outs or [])})
"""


def micro_available() -> bool:
    """True when TFLite Micro's Python runtime (package tflite-micro) is installed."""
    import importlib.util

    try:
        return importlib.util.find_spec("tflite_micro") is not None
    except (ImportError, ValueError):
        return False


def run_micro(model: bytes, arrays: list[np.ndarray], outputs: int, timeout: float = 300.0
              ) -> tuple[list[np.ndarray] | None, str]:
    """The model's outputs (in its output order, float) on `arrays` (its input order)
    in TFLite Micro, run in a child process; (None, why) when Micro refuses or aborts."""
    with tempfile.TemporaryDirectory(prefix="modelkit-micro-") as d:
        path, data, out = Path(d) / "m.tflite", Path(d) / "x.npz", Path(d) / "y.npz"
        path.write_bytes(model)
        np.savez(data, n=arrays[0].shape[0], k=len(arrays),
                 **{f"x{i}": a for i, a in enumerate(arrays)})
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        try:
            proc = subprocess.run([sys.executable, "-c", _MICRO_SCRIPT, str(path), str(data),
                                   str(out), str(outputs)], capture_output=True, text=True,
                                  timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return None, f"TFLite Micro did not finish in {timeout:g} s"
        if proc.returncode != 0 or not out.exists():
            lines = [ln.strip() for ln in (proc.stderr or "").splitlines() if ln.strip()
                     and not ln.startswith(("Traceback", "  File"))]
            why = "; ".join(lines[-2:]) if lines else f"exit status {proc.returncode}"
            return None, f"TFLite Micro refused it: {why}"
        with np.load(out) as z:
            return [z[f"y{j}"] for j in range(len(z.files))], ""


def micro_outputs(ev: Evaluator, model: bytes) -> tuple[dict[str, np.ndarray] | None, str]:
    """`run_micro` keyed by the source's output names (inputs paired as LiteRT pairs
    them)."""
    from modelkit.runtime import open_runtime

    with open_runtime(model, name="candidate") as rt:
        arrays, names = ev.pair(rt)
        order = [names[s.name] for s in rt.outputs]
    got, why = run_micro(model, [np.asarray(a, dtype=np.float32) for a in arrays],
                         len(order))
    if got is None:
        return None, why
    if len(got) != len(order):
        return None, f"TFLite Micro gave {len(got)} outputs for {len(order)}"
    return dict(zip(order, got)), ""
