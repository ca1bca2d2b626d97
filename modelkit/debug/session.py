"""`modelkit debug`: quantize a model as convert does (or take a quantized TFLite the
user already has) and measure the error of every quantized layer.

Two ways in:

- `SRC` alone (GraphDef, SavedModel, Keras H5, checkpoint or a float TFLite): SRC is
  converted to a float TFLite by the convert pipeline, calibrated on `--data` as the
  converter calibrates, and quantized by the MLIR quantizer twice: the model convert
  writes and the debug-mode model with NumericVerify ops whose outputs are TF's
  QuantizationDebugger statistics. `--denylist-*` keeps those parts in float, as
  `modelkit convert --denylist-*` does.
- `FLOAT QUANT.tflite`: no conversion of the pair; FLOAT (any format) is turned into a
  float TFLite only to read its intermediate tensors, matched to QUANT's by name, then
  by position. The statistics come from each layer's local error.

TensorFlow is imported only when something has to be converted.
"""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelkit.convert.data import InputSpec, check_data, load_data
from modelkit.convert.progress import Progress
from modelkit.convert.selective import Denylist
from modelkit.debug.analyze import Analysis, Layer, analyze
from modelkit.debug.metrics import CustomMetrics
from modelkit.errors import UsageError
from modelkit.fileio import atomic_output, check_output
from modelkit.formats import registry
from modelkit.runtime.results import label_misfit, load_labels

SCHEMA_VERSION = 1
DEBUG_MODES = ("int8", "int16x8")
# TF's debugger guide flags layers whose error exceeds 0.7 quantization steps.
RMSE_SCALE_THRESHOLD = 0.7
# A layer's own error this close to its signal (SQNR in dB) loses the information.
LOCAL_SQNR_THRESHOLD_DB = 10.0
# Ops that keep their input's scale: the quantizer cannot keep them in float alone.
SAME_SCALE_OPS = frozenset({
    "MAX_POOL_2D", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "CONCATENATION", "TRANSPOSE",
    "SLICE", "STRIDED_SLICE", "GATHER", "SPLIT", "SPLIT_V", "PAD", "PADV2",
    "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "BROADCAST_TO", "TILE", "PACK", "UNPACK",
    "MAXIMUM", "MINIMUM", "RESIZE_NEAREST_NEIGHBOR"})
# The CSV of TF's QuantizationDebugger.layer_statistics_dump: these, with the custom
# per-layer metrics between them and CSV_TAIL, then CSV_TAIL; modelkit's own columns
# follow (CSV_EXTRA).
CSV_HEAD = ("op_name", "tensor_idx", "num_elements", "stddev", "mean_error",
            "max_abs_error", "mean_squared_error")
CSV_TAIL = ("scale", "zero_point", "tensor_name")
CSV_EXTRA = ("node", "rmse_scale", "accumulated_rmse", "local_rmse", "local_sqnr_db",
             "sqnr_db", "cosine", "rank", "float_tensor_name")


@dataclass
class DebugOptions:
    """Everything `modelkit debug` takes; see the CLI help."""

    src: Path
    quant: Path | None = None
    data: Path | None = None
    calibration_data: Path | None = None
    quantize: str = "int8"
    io_type: str | None = None
    samples: int = 200
    calibration_steps: int = 100
    denylist: Denylist = field(default_factory=Denylist)
    labels: Path | None = None
    save: Path | None = None
    signature: str = "serving_default"
    force: bool = False
    debug: bool = False
    metrics: CustomMetrics | None = None


@dataclass
class DebugReport:
    """The measurement; `to_dict()` is the `--json` report."""

    model: str
    quantized_model: str | None
    mode: str
    quantize: str
    samples: int
    layers: list[Layer]
    denylist: Denylist
    suggest_denylist: list[str]
    convert_command: str
    accuracy: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    model_metrics: dict[str, float] = field(default_factory=dict)

    def ranked(self) -> list[Layer]:
        return sorted(self.layers, key=lambda layer: layer.rank)

    def metric_names(self) -> list[str]:
        """The custom per-layer metrics measured, in TF's CSV order."""
        names: dict[str, None] = {}
        for layer in self.layers:
            names.update(dict.fromkeys(layer.metrics))
        return list(names)

    def csv_columns(self, extra: bool = True) -> list[str]:
        """TF's QuantizationDebugger CSV header (custom per-layer metrics before
        `scale`), then, with `extra`, modelkit's own columns."""
        cols = [*CSV_HEAD, *self.metric_names(), *CSV_TAIL]
        return cols + list(CSV_EXTRA) if extra else cols

    def to_csv(self, *, extra: bool = True) -> str:
        """The per-layer table as CSV text (csv's default dialect, as TF writes it), in
        node order; an unmeasured value is empty."""
        import csv
        import io

        columns = self.csv_columns(extra)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, columns, extrasaction="ignore")
        writer.writeheader()
        for layer in sorted(self.layers, key=lambda x: x.node):
            row = {**layer.to_dict(), **layer.metrics}
            writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})
        return buf.getvalue()

    def to_dict(self) -> dict:
        out = {
            "schema_version": SCHEMA_VERSION,
            "model": self.model,
            "quantized_model": self.quantized_model,
            "mode": self.mode,
            "quantize": self.quantize,
            "samples": self.samples,
            "denylist": {"nodes": self.denylist.nodes, "ops": self.denylist.ops},
            "layers": [layer.to_dict() for layer in self.ranked()],
            "suggest_denylist": self.suggest_denylist,
            "convert_command": self.convert_command,
            "accuracy": self.accuracy or None,
            "notes": self.notes,
        }
        if self.model_metrics:
            out["model_metrics"] = dict(self.model_metrics)
        return out


# ----------------------------------------------------------------------------- helpers


def _specs(rt) -> list[InputSpec]:
    return [InputSpec(s.name, np.dtype(s.real_dtype), tuple(s.shape)) for s in rt.inputs]


def _sample_factory(arrays: list[np.ndarray], count: int, progress: Progress | None = None,
                    label: str = ""):
    """A factory of per-sample feeds (batch of one), with a progress bar when labelled."""
    def samples() -> Iterator[list[np.ndarray]]:
        if progress is None:
            for i in range(count):
                yield [a[i:i + 1] for a in arrays]
            return
        with progress.counter(label, count) as step:
            for i in range(count):
                yield [a[i:i + 1] for a in arrays]
                step()
    return samples


def _accuracy(outputs: list[np.ndarray], labels: np.ndarray, where: Path | None) -> float:
    """Top-1 accuracy of per-sample outputs.

    Raises:
        UsageError: a label is not one of the output's classes.
    """
    classes = int(outputs[0].size) if outputs else 0
    misfit = label_misfit(labels[:len(outputs)], classes) if outputs else None
    if misfit is not None:
        raise UsageError(misfit, str(where) if where is not None else None)
    pred = np.array([int(np.argmax(o.reshape(-1))) for o in outputs])
    return float(np.mean(pred == labels[:len(pred)]))


def _is_float_tflite(path: Path) -> bool:
    from modelkit.debug.analyze import quantized_layers, subgraph_layers
    from modelkit.formats.tflite import load as load_tflite

    model = load_tflite(path)
    return not quantized_layers(model) and not subgraph_layers(model)


def _float_tflite(opts: DebugOptions, src: Path, fmt: str, workdir: Path,
                  progress: Progress) -> bytes:
    """The float TFLite model of `src`: read as is, or converted by the convert pipeline."""
    if fmt == "tflite":
        if not _is_float_tflite(src):
            raise UsageError("this TFLite model is already quantized; give the float model "
                             "first: modelkit debug FLOAT QUANT.tflite --data ...", str(src))
        return src.read_bytes()
    from modelkit.convert.pipeline import ConvertOptions, convert

    out = workdir / "float.tflite"
    progress.stage(f"converting {src} to a float TFLite model")
    convert(ConvertOptions(src=src, dst=out, quantize="none", verify=False,
                           signature=opts.signature, debug=opts.debug),
            Progress(quiet=True))
    return out.read_bytes()


def _convert_command(opts: DebugOptions, nodes: list[str], ops: list[str]) -> str:
    """The `modelkit convert` line that keeps `nodes`/`ops` in float."""
    out = opts.src.with_name(opts.src.stem.rstrip("/") + f"_selective_{opts.quantize}.tflite")
    args = ["modelkit", "convert", str(opts.src), str(out), "--quantize", opts.quantize,
            "--data", str(opts.calibration_data or opts.data)]
    if opts.calibration_steps != 100:
        args += ["--calibration-steps", str(opts.calibration_steps)]
    if opts.io_type:
        args += ["--io-type", opts.io_type]
    args += Denylist(nodes, ops).options()
    return shlex.join(args)


def suggest(layers: list[Layer]) -> list[str]:
    """Float-model tensor names to keep in float: the layers whose own error is large
    (8-bit: rmse/scale above TF's guide threshold; any: local SQNR under 10 dB),
    except ops that keep their input's scale (they cannot stay float alone)."""
    names = []
    for layer in sorted(layers, key=lambda x: x.rank):
        s = layer.stats
        step, local = s.get("rmse_scale"), s.get("local_sqnr_db")
        # NOTE: a 16-bit step is 256 times finer; int16x8's error in steps is
        # dominated by its 8-bit weights, so the 8-bit threshold says nothing there.
        eight_bit = layer.dtype in ("int8", "uint8")
        bad = (eight_bit and step is not None and step > RMSE_SCALE_THRESHOLD) or \
            (local is not None and local < LOCAL_SQNR_THRESHOLD_DB)
        if bad and layer.op_name not in SAME_SCALE_OPS and layer.float_tensor:
            names.append(layer.float_tensor)
    return list(dict.fromkeys(names))


# ----------------------------------------------------------------------------- driver


def validate(opts: DebugOptions) -> None:
    """Reject option combinations before anything loads.

    Raises:
        UsageError: what to change.
    """
    if opts.data is None:
        raise UsageError("debug needs --data (an .npy, .npz or image folder of "
                         "representative inputs), e.g. a few hundred samples")
    if opts.quantize not in DEBUG_MODES:
        raise UsageError(f"--quantize {opts.quantize!r}: debug measures "
                         f"{' and '.join(DEBUG_MODES)} models")
    if opts.samples < 1 or opts.calibration_steps < 1:
        raise UsageError("--samples and --calibration-steps must be at least 1")
    if opts.quant is not None:
        if opts.denylist:
            raise UsageError("--denylist-* re-quantizes the source; give SRC alone "
                             "(modelkit debug SRC --data ... --denylist-nodes ...)")
        if opts.save is not None or opts.calibration_data is not None:
            raise UsageError("--save and --calibration-data apply when debug quantizes "
                             "SRC; with FLOAT QUANT the quantized model is QUANT itself")
    if opts.denylist and opts.quantize != "int8":
        raise UsageError("--denylist-nodes/--denylist-ops apply to --quantize int8")
    allowed = {"int8": ("int8", "uint8", "float32"), "int16x8": ("int16", "float32")}
    if opts.io_type is not None and opts.io_type not in allowed[opts.quantize]:
        raise UsageError(f"--io-type {opts.io_type} does not apply to --quantize "
                         f"{opts.quantize} ({'|'.join(allowed[opts.quantize])})")


def run_debug(opts: DebugOptions, progress: Progress | None = None) -> DebugReport:
    """Measure the per-layer quantization error; see the module docstring.

    Raises:
        UsageError: bad options or data (exit 2).
        ModelReadError: a model cannot be read (exit 3).
        ConversionError: conversion or quantization failed (exit 1).
    """
    progress = progress or Progress()
    validate(opts)
    src_fmt = registry.detect_format(opts.src)
    if opts.quant is not None:
        quant_fmt = registry.detect_format(opts.quant)
        if quant_fmt != "tflite":
            raise UsageError("the quantized model must be a TFLite file", str(opts.quant))
    if opts.save is not None:
        check_output(opts.save, force=opts.force, sources=(opts.src,))

    from modelkit.runtime import open_runtime

    with tempfile.TemporaryDirectory(prefix="modelkit-debug-") as work:
        workdir = Path(work)
        float_bytes = _float_tflite(opts, opts.src, src_fmt, workdir, progress)
        with open_runtime(float_bytes, name=str(opts.src)) as rt:
            specs = _specs(rt)
        arrays = load_data(opts.data, specs, limit=opts.samples,  # type: ignore[arg-type]
                           warn=progress.warn)
        count = int(arrays[0].shape[0])
        labels = (load_labels(opts.labels, count, total=check_data(opts.data))
                  if opts.labels is not None else None)
        samples = _sample_factory(arrays, count)
        accuracy: dict[str, float] = {}
        notes: list[str] = []

        debug_bytes = None
        if opts.quant is not None:
            mode = "pair"
            quant_bytes = opts.quant.read_bytes()
            quantized_path: str | None = str(opts.quant)
            quantize = "given"
        else:
            mode = "convert"
            quantize = opts.quantize
            if opts.quantize == "int16x8":
                quant_bytes, debug_bytes, baseline = _int16x8(opts, src_fmt, workdir,
                                                              progress), None, None
            else:
                quant_bytes, debug_bytes, baseline = _quantize(opts, float_bytes, arrays,
                                                               specs, progress, notes)
            quantized_path = str(opts.save) if opts.save is not None else None
            if labels is not None and baseline is not None:
                with open_runtime(baseline, name=f"{opts.src} (quantized)") as rt:
                    outs = [next(iter(rt.run(s).values())) for s in samples()]
                accuracy["quantized_without_denylist"] = _accuracy(outs, labels, opts.labels)

        progress.stage(f"measuring every quantized layer on {count} samples")
        try:
            result: Analysis = analyze(
                float_bytes, quant_bytes, samples, debug_bytes=debug_bytes,
                progress=progress, count=count, float_name=str(opts.src),
                quant_name=str(opts.quant) if opts.quant else f"{opts.src} (quantized)",
                metrics=opts.metrics)
        except UsageError as e:
            # NOTE: the runtime names the temporary copies it ran; the user's files
            # are the data and the pair.
            what = f"{opts.src} and {opts.quant}" if opts.quant else str(opts.src)
            raise UsageError(f"running {what} on the data failed: {e.message}",
                             str(opts.data)) from None
        if labels is not None:
            accuracy["float"] = _accuracy(result.float_outputs, labels, opts.labels)
            key = "quantized_with_denylist" if opts.denylist else "quantized"
            accuracy[key] = _accuracy(result.quant_outputs, labels, opts.labels)
        if opts.save is not None:
            with atomic_output(opts.save, force=opts.force, sources=(opts.src,)) as tmp:
                tmp.write_bytes(quant_bytes)

    notes.extend(result.notes)
    if not result.layers and not result.other_graphs:
        notes.append("the quantized model has no integer activations (dynamic range or "
                     "float16 weights only): there is no per-layer quantization to measure")
    unmatched = [layer.tensor_name for layer in result.layers if not layer.float_tensor]
    if unmatched:
        notes.append(f"{len(unmatched)} quantized tensor(s) have no float counterpart "
                     f"(no accumulated or local error): {', '.join(unmatched[:5])}")
    suggested = suggest(result.layers)
    nodes = list(dict.fromkeys(opts.denylist.nodes + suggested))
    command = "" if src_fmt == "tflite" or (mode == "convert" and opts.quantize != "int8") \
        else _convert_command(opts, nodes, opts.denylist.ops)
    if mode == "convert" and opts.quantize != "int8" and suggested:
        notes.append("selective quantization (--denylist-*) is int8 only; with int16x8 "
                     "the listed layers lose the most")
    if src_fmt == "tflite" and nodes:
        notes.append("the float model is a TFLite file, which convert does not take: "
                     "convert its source model with --denylist-nodes "
                     + ",".join(nodes))
    return DebugReport(str(opts.src), quantized_path, mode, quantize, result.samples,
                       result.layers, opts.denylist, suggested, command, accuracy, notes,
                       result.model_metrics)


def _int16x8(opts: DebugOptions, src_fmt: str, workdir: Path, progress: Progress) -> bytes:
    """The int16x8 model `modelkit convert --quantize int16x8` writes (the converter's
    own quantizer; it has no debug mode, so the statistics come from the local error)."""
    if src_fmt == "tflite":
        raise UsageError("--quantize int16x8 quantizes the source model with the converter; "
                         "give the model the float TFLite was converted from", str(opts.src))
    from modelkit.convert.pipeline import ConvertOptions, convert

    out = workdir / "int16x8.tflite"
    progress.stage(f"converting {opts.src} with --quantize int16x8")
    convert(ConvertOptions(src=opts.src, dst=out, quantize="int16x8",
                           data=opts.calibration_data or opts.data,
                           calibration_steps=opts.calibration_steps, io_type=opts.io_type,
                           verify=False, signature=opts.signature, debug=opts.debug),
            Progress(quiet=True))
    return out.read_bytes()


def _quantize(opts: DebugOptions, float_bytes: bytes, arrays: list[np.ndarray],
              specs: list[InputSpec], progress: Progress,
              notes: list[str]) -> tuple[bytes, bytes | None, bytes | None]:
    """(quantized model, debug-mode model or None, quantized model without the denylist
    when one is given), calibrated on the first --calibration-steps samples of
    --calibration-data, else of --data."""
    from modelkit.convert import selective
    from modelkit.runtime.tfenv import import_tf, quiet_native_stderr

    if opts.denylist:
        rows = selective.op_outputs(float_bytes)
        selective.check_names(opts.denylist, [r[1] for r in rows], [r[0] for r in rows],
                              str(opts.src))
    if opts.calibration_data is not None:
        arrays = load_data(opts.calibration_data, specs, limit=opts.calibration_steps,
                           warn=progress.warn)
    calib_count = min(opts.calibration_steps, int(arrays[0].shape[0]))
    calib = _sample_factory(arrays, calib_count, progress, "calibrating")
    progress.stage("loading TensorFlow")
    tf = import_tf(opts.debug, needed_for="quantizing the float model", path=opts.src)
    progress.stage(f"calibrating on {calib_count} samples from "
                   f"{opts.calibration_data or opts.data}")
    with quiet_native_stderr(opts.debug):
        calibrated = selective.calibrate(tf, float_bytes, calib)
        progress.stage("quantizing (int8, and the debug model with NumericVerify ops)")
        quant = selective.quantize_calibrated(tf, calibrated, io_type=opts.io_type or "int8",
                                              denylist=opts.denylist)
        debug = selective.quantize_calibrated(tf, calibrated, denylist=opts.denylist,
                                              numeric_verify=True)
        baseline = None
        if opts.denylist:
            baseline = selective.quantize_calibrated(tf, calibrated,
                                                     io_type=opts.io_type or "int8")
    if opts.denylist:
        left = selective.left_quantized(selective.op_outputs(quant), opts.denylist)
        if left:
            text = (f"still quantized despite the denylist: {', '.join(left)} (ops that "
                    "keep their input's scale follow their neighbours)")
            notes.append(text)
            progress.warn(text)
    return quant, debug, baseline
