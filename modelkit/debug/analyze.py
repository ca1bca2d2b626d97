"""Per-layer quantization error of a quantized TFLite model against its float model.

`analyze` runs, sample by sample (batch of one, as TF's debugger does):

- the float TFLite model, keeping every tensor;
- the quantized model, keeping every tensor (accumulated error of each layer);
- the quantized model cut by `isolate_ops`, every op fed the float model's values
  of its inputs, quantized (each layer's local error);
- optionally the debug-mode model with NumericVerify ops, whose outputs are TF's
  QuantizationDebugger statistics (the float op fed the previous quantized
  layer's dequantized output).

Layers are the quantized tensors written by ops other than QUANTIZE/DEQUANTIZE in
the main graph, the set TF's debugger reports. Tensors are matched to the float
model by name, then by position (the n-th op of the same type and output shape).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelkit.debug.isolate import isolate_ops
from modelkit.debug.metrics import CustomMetrics, MetricCollector
from modelkit.debug.stats import LayerAccumulator, tf_tensor_name
from modelkit.errors import UsageError
from modelkit.ir import Model, Node, Value

_INT_STORAGE = ("int8", "uint8", "int16")
_QDQ = ("QUANTIZE", "DEQUANTIZE")


@dataclass
class Layer:
    """One quantized tensor of the quantized model and what was measured on it."""

    node: int
    node_name: str
    op_name: str
    tensor_idx: int
    tensor_name: str
    scale: float
    zero_point: int
    dtype: str = "int8"
    float_tensor: str | None = None
    match: str = ""  # "name", "position" or "" (no float counterpart)
    stats: dict = field(default_factory=dict)
    rank: int = 0
    metrics: dict = field(default_factory=dict)  # custom metric name -> value

    def to_dict(self) -> dict:
        """The layer row of the `--json` report (the overlay contract); `metrics` only
        when custom metrics were measured."""
        s = self.stats
        row = {
            "graph": 0, "node": self.node, "node_name": self.node_name,
            "op_name": self.op_name, "tensor_idx": self.tensor_idx,
            "tensor_name": self.tensor_name,
            "num_elements": s.get("num_elements"), "stddev": s.get("stddev"),
            "mean_error": s.get("mean_error"), "max_abs_error": s.get("max_abs_error"),
            "mean_squared_error": s.get("mean_squared_error"),
            "scale": self.scale, "zero_point": self.zero_point,
            "rmse_scale": s.get("rmse_scale"),
            "accumulated_rmse": s.get("accumulated_rmse"),
            "local_rmse": s.get("local_rmse"), "sqnr_db": s.get("sqnr_db"),
            "cosine": s.get("cosine"), "rank": self.rank,
            "local_sqnr_db": s.get("local_sqnr_db"),
            "float_tensor_name": self.float_tensor, "match": self.match or None,
            "dtype": self.dtype,
        }
        if self.metrics:
            row["metrics"] = dict(self.metrics)
        return row


def _load_ir(content: bytes, workdir: Path, name: str) -> tuple[Model, Path]:
    from modelkit.formats.tflite import load as load_tflite

    path = workdir / name
    path.write_bytes(content)
    return load_tflite(path), path


def quantized_layers(model: Model, graph: int = 0) -> list[tuple[Node, Value]]:
    """(op, output) for every quantized tensor an op other than QUANTIZE/DEQUANTIZE
    writes in one graph (the main one by default)."""
    out = []
    for node in model.graphs[graph].nodes:
        if node.op in _QDQ:
            continue
        for v in node.outputs:
            if v.quant is not None and v.dtype is not None and v.dtype.value in _INT_STORAGE \
                    and v.quant.scale.size >= 1 and float(v.quant.scale[0]) > 0:
                out.append((node, v))
    return out


def match_tensors(quant: Model, float_model: Model) -> dict[int, tuple[Value, str]]:
    """Quantized tensor index -> (float model Value, "name" | "position").

    Covers op outputs (by name, then the n-th op of the same type with the same
    output shape) and graph inputs (by position).
    """
    qg, fg = quant.graphs[0], float_model.graphs[0]
    f_by_name = {}
    for node in fg.nodes:
        for v in node.outputs:
            f_by_name.setdefault(v.name, v)
    for v in fg.inputs:
        f_by_name.setdefault(v.name, v)
    found: dict[int, tuple[Value, str]] = {}
    for qi, fi in zip(qg.inputs, fg.inputs):
        if qi.index is not None:
            found[qi.index] = (fi, "position")
    by_type: dict[str, list[Node]] = {}
    for node in fg.nodes:
        by_type.setdefault(node.op, []).append(node)
    seen: dict[str, int] = {}
    for node in qg.nodes:
        if node.op in _QDQ:
            continue
        ordinal = seen.get(node.op, 0)
        seen[node.op] = ordinal + 1
        candidates = by_type.get(node.op, [])
        for k, v in enumerate(node.outputs):
            if v.index is None:
                continue
            f = f_by_name.get(v.name)
            if f is not None and _same_shape(f, v):
                found[v.index] = (f, "name")
                continue
            if ordinal < len(candidates) and k < len(candidates[ordinal].outputs):
                fv = candidates[ordinal].outputs[k]
                if _same_shape(fv, v):
                    found[v.index] = (fv, "position")
    # QUANTIZE/DEQUANTIZE outputs stand for the same values as their inputs.
    for node in qg.nodes:
        if node.op in _QDQ and node.inputs and node.inputs[0] is not None:
            src = node.inputs[0]
            if src.index in found:
                for v in node.outputs:
                    if v.index is not None and v.index not in found:
                        found[v.index] = found[src.index]
    return found


def _same_shape(a: Value, b: Value) -> bool:
    """Shapes that can hold the same values (an unknown dim matches any)."""
    if a.shape is None or b.shape is None:
        return a.shape is b.shape
    return len(a.shape) == len(b.shape) and all(
        x is None or y is None or x == y for x, y in zip(a.shape, b.shape))


def subgraph_layers(model: Model) -> dict[int, int]:
    """Graph index -> number of quantized layers, for the graphs other than the main
    one (IF/WHILE branches and bodies, other signatures)."""
    counts = {gi: len(quantized_layers(model, gi)) for gi in range(1, len(model.graphs))}
    return {gi: n for gi, n in counts.items() if n}


@dataclass
class Analysis:
    """What `analyze` measured.

    Attributes:
        other_graphs: graph index -> quantized layers there, left unmeasured.
        notes: what was left out and why (layers of other subgraphs, tensors the
            interpreter did not keep).
        model_metrics: custom model metric -> its mean over the samples.
    """

    layers: list[Layer]
    samples: int
    float_outputs: list[np.ndarray]
    quant_outputs: list[np.ndarray]
    other_graphs: dict[int, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    model_metrics: dict[str, float] = field(default_factory=dict)


class _Reader:
    """Reads tensors of one runtime after a run; remembers those it holds no data for
    (control-flow tensors, unallocated dynamic tensors) instead of failing."""

    def __init__(self, rt) -> None:
        self.rt = rt
        self.missing: dict[int, str] = {}

    def __call__(self, index: int) -> np.ndarray | None:
        from modelkit.runtime.tflite import TensorUnavailableError

        try:
            return self.rt.tensor(index)
        except TensorUnavailableError as e:
            self.missing.setdefault(index, e.message)
            return None


def analyze(float_bytes: bytes, quant_bytes: bytes,
            samples: Callable[[], Iterable[Sequence[np.ndarray]]], *,
            debug_bytes: bytes | None = None, progress=None,
            count: int = 0, float_name: str | None = None,
            quant_name: str | None = None,
            metrics: CustomMetrics | None = None) -> Analysis:
    """Measure every quantized layer of `quant_bytes` against `float_bytes`.

    Args:
        float_bytes: the float TFLite model.
        quant_bytes: the quantized TFLite model made from it.
        samples: a factory of iterables of per-input float arrays (batch of one), in
            the float model's input order.
        debug_bytes: the debug-mode model (NumericVerify ops), when there is one; its
            NumericVerify outputs give the TF statistics, else the local error does.
        progress: a modelkit Progress for a per-sample bar.
        count: number of samples (for the bar).
        float_name/quant_name: what errors call the two models (the user's files).
        metrics: custom metrics (TF's QuantizationDebugOptions kinds; see
            `modelkit.debug.metrics`). With the debug-mode model they get what TF's
            debugger gives them (NumericVerify differences, the debug model's float and
            quantized tensors and its outputs); without it, each layer's local error
            (the quantized op fed the float model's inputs) and the quantized model's
            outputs.

    Raises:
        UsageError: the models' inputs do not pair up.
        MetricError: a custom metric failed or returned something else than a number.
    """
    from modelkit.runtime import open_runtime

    with tempfile.TemporaryDirectory(prefix="modelkit-debug-") as work:
        workdir = Path(work)
        fmodel, _ = _load_ir(float_bytes, workdir, "float.tflite")
        qmodel, _ = _load_ir(quant_bytes, workdir, "quant.tflite")
        matches = match_tensors(qmodel, fmodel)
        layers_q = quantized_layers(qmodel)
        cut_model, _ = _load_ir(quant_bytes, workdir, "cut_src.tflite")
        cut_inputs = isolate_ops(cut_model)
        from modelkit.formats.tflite import save as save_tflite

        cut_path = workdir / "cut.tflite"
        save_tflite(cut_model, cut_path)

        f_rt = open_runtime(workdir / "float.tflite", preserve_all_tensors=True,
                            name=float_name)
        q_rt = open_runtime(workdir / "quant.tflite", preserve_all_tensors=True,
                            name=quant_name)
        c_rt = open_runtime(cut_path, preserve_all_tensors=True, name=quant_name)
        # NOTE: TF's debugger runs the debug model in tf.lite.Interpreter with its
        # default delegate (XNNPACK takes the float reference ops); the same here gives
        # the same float references, hence the same statistics.
        d_rt = None
        if debug_bytes is not None:
            from modelkit.runtime.tfenv import quiet_native_stderr

            with quiet_native_stderr():  # the delegate announces itself on stderr
                d_rt = open_runtime(debug_bytes, preserve_all_tensors=True, delegates=True,
                                    name=quant_name)
        if len(f_rt.inputs) != len(q_rt.inputs):
            raise UsageError(f"the float model has {len(f_rt.inputs)} inputs, the quantized "
                             f"model {len(q_rt.inputs)}: not the same model")
        q_order = _pair_inputs(f_rt.inputs, q_rt.inputs)

        q_values = {v.index: v for v in qmodel.graphs[0].values if v.index is not None}
        accs: dict[int, LayerAccumulator] = {}
        layers: list[Layer] = []
        for node, v in layers_q:
            layer = Layer(node=int(node.index or 0), node_name=node.name, op_name=node.op,
                          tensor_idx=int(v.index or 0), tensor_name=v.name,
                          scale=float(v.quant.scale[0]),  # type: ignore[union-attr]
                          zero_point=int(v.quant.zero_point[0]),  # type: ignore[union-attr]
                          dtype=v.dtype.value)  # type: ignore[union-attr]
            m = matches.get(layer.tensor_idx)
            if m is not None:
                layer.float_tensor, layer.match = m[0].name, m[1]
            layers.append(layer)
            accs[layer.tensor_idx] = LayerAccumulator(layer.scale)

        # Which layers have every fed input matched (a true local error).
        cut_by_node: dict[int, list] = {}
        for ci in cut_inputs:
            node_index = int(ci.name.rsplit("@", 1)[1].split(":")[0])
            cut_by_node.setdefault(node_index, []).append(ci)
        local_ok = {layer.tensor_idx: all(ci.source_index in matches
                                          for ci in cut_by_node.get(layer.node, []))
                    for layer in layers}
        c_specs = {s.name: s for s in c_rt.inputs}
        nv = _numeric_verify_ops(d_rt) if d_rt is not None else []
        by_tf_name = {layer.tensor_name: layer for layer in layers}
        collector = MetricCollector(metrics) if metrics else None
        checked = d_rt if d_rt is not None else q_rt
        out_order = _pair_outputs(f_rt.outputs, checked.outputs) \
            if collector is not None and collector.metrics.model else []

        float_outs: list[np.ndarray] = []
        quant_outs: list[np.ndarray] = []
        read_f, read_q, read_c = _Reader(f_rt), _Reader(q_rt), _Reader(c_rt)
        n = 0
        with contextlib.ExitStack() as stack:
            step = stack.enter_context(progress.counter("measuring layers", count)) \
                if progress is not None else (lambda: None)
            for sample in samples():
                feeds = [np.asarray(x) for x in sample]
                f_out = f_rt.run(feeds)
                q_out = q_rt.run([feeds[i] for i in q_order])
                float_outs.append(np.asarray(next(iter(f_out.values()))))
                quant_outs.append(np.asarray(next(iter(q_out.values()))))
                fvals: dict[str, np.ndarray | None] = {}

                def float_value(fv: Value) -> np.ndarray | None:
                    if fv.name not in fvals:
                        raw = read_f(int(fv.index))  # type: ignore[arg-type]
                        fvals[fv.name] = None if raw is None else _real(raw, fv)
                    return fvals[fv.name]

                # Accumulated error.
                for layer in layers:
                    m = matches.get(layer.tensor_idx)
                    if m is None:
                        continue
                    fv, qraw = float_value(m[0]), read_q(layer.tensor_idx)
                    if fv is not None and qraw is not None:
                        accs[layer.tensor_idx].add_accumulated(
                            fv, _real(qraw, q_values[layer.tensor_idx]))
                # Local error: every op fed the float model's inputs.
                cut_feeds, unfed = [], set()
                for ci in cut_inputs:
                    spec = c_specs[ci.name]
                    m = matches.get(ci.source_index)
                    value = float_value(m[0]) if m is not None else None
                    if value is not None:
                        cut_feeds.append(spec.from_real(value.astype(np.float32))
                                         if spec.is_quantized else value.astype(spec.dtype))
                        continue
                    raw = read_q(ci.source_index)
                    if raw is None:
                        # NOTE: zeros keep the cut model running; the ops fed them get
                        # no local error for this sample.
                        unfed.add(ci.source_index)
                        raw = np.zeros([1 if d is None else d for d in spec.shape],
                                       spec.dtype)
                    cut_feeds.append(raw)
                c_rt.run(cut_feeds, quantize=False, dequantize=False)
                for layer in layers:
                    m = matches.get(layer.tensor_idx)
                    if m is None or not local_ok[layer.tensor_idx] or any(
                            ci.source_index in unfed for ci in cut_by_node.get(layer.node, [])):
                        continue
                    fv = float_value(m[0])
                    # NOTE: the writer keeps every original tensor at its index; the
                    # cut inputs are appended after them.
                    raw = read_c(layer.tensor_idx)
                    if fv is None or raw is None:
                        continue
                    local = _real(raw, q_values[layer.tensor_idx])
                    accs[layer.tensor_idx].add_local(fv, local)
                    if d_rt is None:
                        accs[layer.tensor_idx].add_diffs(local - fv)
                        if collector is not None:
                            where = f"layer {layer.tensor_name!r}, sample {n}"
                            collector.add_diffs(layer.tensor_idx, local - fv, where)
                            collector.add_direct(layer.tensor_idx, fv, raw, layer.scale,
                                                 layer.zero_point, where)
                # TF's statistics from the debug model.
                checked_out = q_out
                if d_rt is not None:
                    checked_out = d_rt.run(feeds)
                    for nv_name, out_index, q_index, f_index in nv:
                        layer = by_tf_name.get(tf_tensor_name(nv_name))
                        if layer is not None:
                            diffs = d_rt.tensor(out_index)
                            accs[layer.tensor_idx].add_diffs(diffs)
                            if collector is not None:
                                _debug_model_metrics(collector, d_rt, layer, diffs, q_index,
                                                     f_index, n)
                if collector is not None and out_order:
                    outs = list(checked_out.values())
                    collector.add_outputs([np.asarray(v) for v in f_out.values()],
                                          [np.asarray(outs[i]) for i in out_order],
                                          f"sample {n}")
                n += 1
                step()
        for layer in layers:
            stats = accs[layer.tensor_idx].result()
            layer.stats = stats
            if collector is not None and collector.metrics.layer_names:
                layer.metrics = collector.layer_result(layer.tensor_idx)
        rank_layers(layers)
        for rt in (f_rt, q_rt, c_rt, d_rt):
            if rt is not None:
                rt.close()
        others = subgraph_layers(qmodel)
        notes = _skipped_notes(qmodel, others, read_f, read_q, read_c)
        model_metrics = collector.model_result() if collector is not None else {}
        return Analysis(layers, n, float_outs, quant_outs, others, notes, model_metrics)


def _debug_model_metrics(collector: MetricCollector, d_rt, layer: Layer, diffs: np.ndarray,
                         q_index: int, f_index: int, sample: int) -> None:
    """The custom layer metrics of one NumericVerify op, fed as TF's debugger feeds
    them: its difference output; its float and quantized inputs as stored, with the
    quantized input's first scale and zero point."""
    where = f"layer {layer.tensor_name!r}, sample {sample}"
    collector.add_diffs(layer.tensor_idx, diffs, where)
    if not collector.metrics.direct:
        return
    params = d_rt.interpreter._get_tensor_details(q_index, 0)[  # noqa: SLF001
        "quantization_parameters"]
    collector.add_direct(layer.tensor_idx, d_rt.tensor(f_index), d_rt.tensor(q_index),
                         float(params["scales"][0]), int(params["zero_points"][0]), where)


def _pair_outputs(float_outputs, other_outputs) -> list[int]:
    """For each float model output, the position of the other model's output that
    holds it: by name when every name matches, else in order."""
    from modelkit.runtime import match_key

    names = [match_key(s.name) for s in other_outputs]
    order = [names.index(match_key(s.name)) if match_key(s.name) in names else -1
             for s in float_outputs]
    if len(other_outputs) != len(float_outputs) or sorted(order) != list(range(len(order))):
        order = list(range(min(len(float_outputs), len(other_outputs))))
    return order


def _skipped_notes(qmodel: Model, others: dict[int, int], *readers: _Reader) -> list[str]:
    """What the measurement left out: layers of other subgraphs, unreadable tensors."""
    notes = []
    if others:
        where = ", ".join(f"graph {gi} '{qmodel.graphs[gi].name}' ({k})"
                          for gi, k in others.items())
        notes.append(f"{sum(others.values())} quantized layer(s) in subgraphs other than "
                     f"the main one are not measured: {where}; the interpreter keeps no "
                     "per-run values of IF branches and WHILE bodies")
    missing: dict[int, str] = {}
    for reader in readers:
        for index, why in reader.missing.items():
            missing.setdefault(index, why)
    if missing:
        names = [why.split(" holds no data")[0] for why in missing.values()]
        notes.append(f"{len(missing)} tensor(s) of the main graph held no data after a run "
                     f"(dynamic or unallocated), their layers measured without them: "
                     f"{', '.join(names[:5])}")
    return notes


def rank_layers(layers: list[Layer]) -> None:
    """Rank 1 = worst: lowest local SQNR, then highest rmse/scale, then highest
    accumulated error. Layers without a local measurement follow."""
    def key(layer: Layer):
        s = layer.stats
        local = s.get("local_sqnr_db")
        step = s.get("rmse_scale")
        acc = s.get("accumulated_rmse")
        return (local is None, local if local is not None else 0.0,
                -(step if step is not None else -1.0), -(acc if acc is not None else -1.0))

    for rank, layer in enumerate(sorted(layers, key=key), start=1):
        layer.rank = rank


def _real(raw: np.ndarray, v: Value) -> np.ndarray:
    """Float values of a tensor of the model `v` belongs to."""
    if v.quant is not None and v.dtype is not None and v.dtype.value in _INT_STORAGE:
        return v.quant.dequantize(raw)
    return np.asarray(raw, dtype=np.float32)


def _pair_inputs(float_inputs, quant_inputs) -> list[int]:
    """For each quantized model input, the position of the float model input it takes."""
    from modelkit.runtime import match_key

    names = [match_key(s.name) for s in float_inputs]
    order = []
    for pos, spec in enumerate(quant_inputs):
        key = match_key(spec.name)
        order.append(names.index(key) if key in names else pos)
    if sorted(order) != list(range(len(quant_inputs))):
        order = list(range(len(quant_inputs)))
    return order


def _numeric_verify_ops(rt) -> list[tuple[str, int, int, int]]:
    """(NumericVerify output name, its tensor index, its quantized input's index, its
    float input's index) in op order."""
    interp = rt.interpreter
    out = []
    for op in interp._get_ops_details():  # noqa: SLF001 (as TF's debugger reads them)
        if op["op_name"] == "NumericVerify":
            index = int(op["outputs"][0])
            q_index, f_index = (int(i) for i in op["inputs"][:2])
            out.append((interp._get_tensor_details(index, 0)["name"],  # noqa: SLF001
                        index, q_index, f_index))
    return out
