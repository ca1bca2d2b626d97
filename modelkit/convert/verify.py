"""Run the source and the converted model on the same inputs and compare outputs.

Each runner takes and returns real (float) values for one sample (batch 1);
a quantized TFLite model's inputs are quantized and its outputs dequantized
with the model's own parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modelkit.convert.data import InputSpec, random_inputs
from modelkit.quant.io_report import TensorIO, from_real, tensor_io, to_real


def _key(name: str) -> str:
    """A name to match inputs/outputs across formats."""
    name = name.split(":")[0]
    for prefix in ("serving_default_",):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name.replace("/", "_").lower()


class Runner:
    """Runs one sample through a model; subclasses say how."""

    inputs: list[InputSpec]
    output_names: list[str]

    def run(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError


class TFLiteRunner(Runner):
    """A TFLite model in the LiteRT interpreter."""

    def __init__(self, content: bytes, source_inputs: list[str] | None = None,
                 source_outputs: list[str] | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_content=content)
        self.interpreter.allocate_tensors()
        ins = self.interpreter.get_input_details()
        outs = self.interpreter.get_output_details()
        names_in = [d["name"] for d in ins]
        names_out = [d["name"] for d in outs]
        sigs = self.interpreter.get_signature_list()
        if len(sigs) == 1:
            # NOTE: signature keys are the source's own names (SavedModel keys,
            # Keras output names); tensor names carry prefixes and suffixes.
            key = next(iter(sigs))
            runner = self.interpreter.get_signature_runner(key)
            by_index_in = {d["index"]: k for k, d in runner.get_input_details().items()}
            by_index_out = {d["index"]: k for k, d in runner.get_output_details().items()}
            names_in = [by_index_in.get(d["index"], d["name"]) for d in ins]
            names_out = [by_index_out.get(d["index"], d["name"]) for d in outs]
        self.in_details = _order(ins, names_in, source_inputs)
        self.out_details = _order(outs, names_out, source_outputs)
        self.input_io = [tensor_io(d, "input", n) for n, d in self.in_details]
        self.output_io = [tensor_io(d, "output", n) for n, d in self.out_details]
        self.output_names = [n for n, _ in self.out_details]
        self.inputs = [InputSpec(io.name, np.dtype(np.float32) if io.is_quantized
                                 else np.dtype(io.dtype.numpy), tuple(d["shape"]))
                       for io, (_, d) in zip(self.input_io, self.in_details)]

    def run(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        for x, io, (_, d) in zip(feeds, self.input_io, self.in_details):
            self.interpreter.set_tensor(d["index"], from_real(x, io).reshape(d["shape"]))
        self.interpreter.invoke()
        return [to_real(self.interpreter.get_tensor(d["index"]), io)
                for io, (_, d) in zip(self.output_io, self.out_details)]


def _order(details: list[dict], names: list[str],
           wanted: list[str] | None) -> list[tuple[str, dict]]:
    """Details as (name, detail) in the order of `wanted` names when they all match."""
    pairs = list(zip(names, details))
    if not wanted or len(wanted) != len(pairs):
        return pairs
    by_key = {_key(n): (n, d) for n, d in pairs}
    if all(_key(w) in by_key for w in wanted):
        return [by_key[_key(w)] for w in wanted]
    return pairs


@dataclass
class OutputReport:
    """Agreement of one output between source and converted model."""

    name: str
    max_abs_error: float
    mean_abs_error: float
    top1_agreement: float | None
    nan_or_inf: bool
    constant: bool
    source_range: tuple[float, float]

    def to_dict(self) -> dict:
        return {"name": self.name, "max_abs_error": self.max_abs_error,
                "mean_abs_error": self.mean_abs_error, "top1_agreement": self.top1_agreement,
                "nan_or_inf": self.nan_or_inf, "constant_output": self.constant,
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
            if o.nan_or_inf:
                out.append(f"output {o.name} holds NaN or Inf")
            elif o.constant:
                out.append(f"output {o.name} is constant across inputs while the source varies")
        return out

    def lines(self) -> list[str]:
        out = [f"verification on {self.samples} inputs ({self.data}):"]
        for o in self.outputs:
            line = (f"  {o.name}: max abs error {o.max_abs_error:.3g}, "
                    f"mean abs error {o.mean_abs_error:.3g}")
            if o.top1_agreement is not None:
                line += f", top-1 agreement {100 * o.top1_agreement:.1f}%"
            out.append(line)
        out.extend(f"  BROKEN: {b}" for b in self.broken)
        return out

    def to_dict(self) -> dict:
        return {"samples": self.samples, "data": self.data, "ok": not self.broken,
                "broken": self.broken, "outputs": [o.to_dict() for o in self.outputs]}


def compare(source: Runner, target: Runner, samples: list[np.ndarray], data: str,
            step=lambda: None) -> VerifyReport:
    """Run both models on every sample and summarize the output differences.

    Args:
        source: the reference model.
        target: the converted model; its inputs follow the source's order.
        samples: one array per source input, samples first.
        data: where the samples came from, for the report.
        step: called after each sample (progress).
    """
    n = int(samples[0].shape[0]) if samples else 0
    src_runs: list[list[np.ndarray]] = []
    tgt_runs: list[list[np.ndarray]] = []
    for i in range(n):
        feeds = [a[i:i + 1] for a in samples]
        src_runs.append([np.asarray(o, dtype=np.float64) for o in source.run(feeds)])
        tgt_runs.append([np.asarray(o, dtype=np.float64) for o in target.run(feeds)])
        step()
    report = VerifyReport(samples=n, data=data)
    for k, name in enumerate(target.output_names[:len(source.output_names)]):
        s = np.stack([r[k].reshape(-1) for r in src_runs])
        t = np.stack([r[k].reshape(-1) for r in tgt_runs]) if n else s
        finite = bool(np.all(np.isfinite(t)))
        diff = np.abs(s - t) if finite and t.shape == s.shape else np.full(s.shape, np.inf)
        top1 = None
        out_shape = src_runs[0][k].shape if n else ()
        if len(out_shape) == 2 and out_shape[-1] > 1 and t.shape == s.shape:
            top1 = float(np.mean(np.argmax(s, axis=1) == np.argmax(t, axis=1)))
        src_varies = n > 1 and float(np.ptp(s, axis=0).max()) > 0
        tgt_constant = n > 1 and finite and float(np.ptp(t, axis=0).max()) == 0
        report.outputs.append(OutputReport(
            name=name, max_abs_error=float(diff.max()) if diff.size else 0.0,
            mean_abs_error=float(diff.mean()) if diff.size else 0.0, top1_agreement=top1,
            nan_or_inf=not finite, constant=src_varies and tgt_constant,
            source_range=(float(s.min()), float(s.max())) if s.size else (0.0, 0.0)))
    return report


def real_range_inputs(target_io: list[TensorIO], specs: list[InputSpec], count: int,
                      seed: int = 0) -> list[np.ndarray]:
    """Random float inputs: in each quantized input's real range, else uniform [0, 1]."""
    rng = np.random.default_rng(seed)
    out = []
    for i, spec in enumerate(specs):
        shape = (count, *[1 if d is None else d for d in spec.sample_shape])
        io = target_io[i] if i < len(target_io) else None
        if spec.dtype.kind != "f":
            out.extend(random_inputs([spec], count, seed))
            continue
        lo, hi = 0.0, 1.0
        if io is not None and io.is_quantized and io.quant is not None:
            lo_r, hi_r = io.quant.representable_range()
            lo, hi = float(lo_r[0]), float(hi_r[0])
        out.append(rng.uniform(lo, hi, size=shape).astype(spec.dtype))
    return out
