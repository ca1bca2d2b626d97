"""`modelkit convert`: TF-family model -> TFLite (with quantization), frozen GraphDef
or SavedModel; preflight, conversion, input/output quantization report, verification.

TensorFlow is imported inside `convert()` only.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelkit.convert.data import InputSpec, load_data
from modelkit.analysis.tf_summary import needed_nodes, node_name
from modelkit.convert.preflight import (PreflightReport, inference_io, preflight_graph,
                                        preflight_model, raise_if_errors, resolve_names,
                                        tensor_name)
from modelkit.convert.progress import Progress
from modelkit.errors import (ConversionError, ModelkitError, UsageError, VerificationError)
from modelkit.fileio import atomic_output, check_output
from modelkit.formats import registry
from modelkit.ir import Graph, Model
from modelkit.quant.io_report import TensorIO, describe

QUANTIZE_MODES = ("none", "dynamic", "int8", "float16", "int16x8", "uint8")
TARGETS = ("tflite", "graphdef", "savedmodel")
TARGET_EXTENSIONS = {".tflite": "tflite", ".lite": "tflite", ".pb": "graphdef",
                     ".pbtxt": "graphdef"}
SCHEMA_VERSION = 1
VERIFY_RANDOM_SAMPLES = 16
VERIFY_MAX_SAMPLES = 200


@dataclass
class ConvertOptions:
    """Everything `modelkit convert` takes; see the CLI help for each option."""

    src: Path
    dst: Path
    to: str | None = None
    source_format: str | None = None
    quantize: str = "none"
    io_type: str | None = None
    data: Path | None = None
    calibration_steps: int = 100
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    default_ranges: tuple[float, float] | None = None
    inputs: list[str] | None = None
    outputs: list[str] | None = None
    input_shapes: list[tuple[int | None, ...]] | None = None
    signature: str = "serving_default"
    allow_select_tf_ops: bool = False
    allow_custom_ops: bool = False
    verify: bool = True
    preflight: bool = True
    force: bool = False
    debug: bool = False


@dataclass
class ConvertResult:
    """What a conversion did; `to_dict()` is the `--json` report."""

    src: str
    dst: str
    source_format: str
    target: str
    quantize: str
    converter: str = ""
    size_bytes: int = 0
    inputs: list[TensorIO] = field(default_factory=list)
    outputs: list[TensorIO] = field(default_factory=list)
    preflight: PreflightReport = field(default_factory=PreflightReport)
    verification: object | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "source": {"path": self.src, "format": self.source_format},
            "output": {"path": self.dst, "format": self.target, "size_bytes": self.size_bytes},
            "quantize": self.quantize,
            "converter": self.converter,
            "inputs": [io.to_dict() for io in self.inputs],
            "outputs": [io.to_dict() for io in self.outputs],
            "preflight": self.preflight.to_dict(),
            "verification": self.verification.to_dict() if self.verification else None,
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        """The human report (stdout)."""
        out = [f"wrote {self.dst} ({self.target}, {self.size_bytes} bytes, "
               f"quantize={self.quantize})"]
        if self.inputs or self.outputs:
            out.extend(describe(self.inputs + self.outputs))
        if self.verification is not None:
            out.extend(self.verification.lines())  # type: ignore[attr-defined]
        return out


# ----------------------------------------------------------------------------- options


def parse_shapes(text: str) -> list[tuple[int | None, ...]]:
    """`1,224,224,3:1,10` -> [(1,224,224,3), (1,10)]; `?` or -1 for an unknown dim.

    Raises:
        UsageError: not a list of integers.
    """
    shapes = []
    for part in text.split(":"):
        dims: list[int | None] = []
        for d in part.split(","):
            d = d.strip()
            if d in ("?", "-1", "None"):
                dims.append(None)
            elif d.isdigit():
                dims.append(int(d))
            else:
                raise UsageError(f"--input-shapes {text!r}: {d!r} is not a dim; write e.g. "
                                 "1,224,224,3 (several inputs separated by ':')")
        shapes.append(tuple(dims))
    return shapes


def parse_floats(values: list[str], option: str) -> list[float]:
    """Repeatable options or comma lists -> floats.

    Raises:
        UsageError: not numbers.
    """
    out = []
    for v in values:
        for part in str(v).split(","):
            try:
                out.append(float(part))
            except ValueError:
                raise UsageError(f"{option} {v!r}: not a number") from None
    return out


def target_format(dst: Path, to: str | None) -> str:
    """The output format: --to, else the extension, else SavedModel for a suffix-less path.

    Raises:
        UsageError: unknown format or extension.
    """
    if to:
        if to not in TARGETS:
            raise UsageError(f"--to {to!r}: choose one of {', '.join(TARGETS)}")
        return to
    suffix = dst.suffix.lower()
    if suffix in TARGET_EXTENSIONS:
        return TARGET_EXTENSIONS[suffix]
    if suffix == "" or dst.is_dir():
        return "savedmodel"
    raise UsageError(f"cannot tell the output format from {dst.name!r}; use a .tflite or .pb "
                     f"name, a folder name for a SavedModel, or --to {'|'.join(TARGETS)}")


def validate(opts: ConvertOptions, source: str, target: str) -> None:
    """Reject option combinations that cannot work, before TensorFlow loads.

    Raises:
        UsageError: with what to change.
    """
    q = opts.quantize
    if q not in QUANTIZE_MODES:
        raise UsageError(f"--quantize {q!r}: choose one of {', '.join(QUANTIZE_MODES)}")
    if target != "tflite" and q != "none":
        raise UsageError(f"--quantize {q} needs a .tflite output (the output is {target})")
    if target == "tflite" and source == "tflite":
        raise UsageError("the source is already a TFLite model")
    if source == "tflite":
        raise UsageError("converting from TFLite is not supported; the source must be a "
                         "GraphDef, SavedModel, checkpoint or Keras model")
    if q in ("int8", "int16x8") and opts.data is None:
        raise UsageError(f"--quantize {q} needs representative data: add --data calib.npy "
                         "(.npy for one input, .npz with one array per input, or a folder "
                         "of images), e.g. a few hundred training samples")
    if opts.io_type is not None:
        allowed = {"int8": ("int8", "uint8", "float32"), "int16x8": ("int16", "float32")}
        if opts.io_type not in allowed.get(q, ()):
            raise UsageError(f"--io-type {opts.io_type} does not apply to --quantize {q} "
                             "(int8: int8|uint8|float32; int16x8: int16|float32)")
    if q == "uint8":
        if source not in ("graphdef", "checkpoint"):
            raise UsageError("--quantize uint8 (legacy) works on frozen graphs and "
                             "checkpoints; for this model use --quantize int8 --data ...")
        if not opts.mean or not opts.std:
            raise UsageError("--quantize uint8 needs --mean and --std per input "
                             "(real = (q - mean) / std), e.g. --mean 0 --std 255 for inputs "
                             "in [0, 1]")
        if len(opts.mean) != len(opts.std):
            raise UsageError(f"{len(opts.mean)} --mean values but {len(opts.std)} --std values")
        if any(s <= 0 for s in opts.std):
            raise UsageError("--std must be positive")
    elif opts.mean or opts.std or opts.default_ranges:
        raise UsageError("--mean, --std and --default-ranges apply to --quantize uint8 only")
    if opts.calibration_steps < 1:
        raise UsageError("--calibration-steps must be at least 1")
    if source in ("savedmodel", "keras_h5") and (opts.inputs or opts.outputs):
        raise UsageError(f"--inputs/--outputs apply to graphs and checkpoints; a "
                         f"{registry.DESCRIPTIONS[source]} has its own inputs and outputs "
                         "(choose a SavedModel signature with --signature)")
    if opts.default_ranges is not None and opts.default_ranges[0] >= opts.default_ranges[1]:
        raise UsageError("--default-ranges MIN,MAX needs MIN < MAX")


# ----------------------------------------------------------------------------- IR side


def _load_ir(opts: ConvertOptions, source: str) -> Model | None:
    """The source as IR, or None when its adapter is not installed."""
    try:
        return registry.load(opts.src, source)
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("modelkit.formats"):
            return None
        raise


def _main_graph(model: Model) -> Graph:
    return model.graphs[0]


@dataclass
class GraphIO:
    """The inputs and outputs of a graph source, as tensor names (`x:0`)."""

    inputs: list[str]
    outputs: list[str]
    shapes: dict[str, tuple[int | None, ...]]
    description: str = ""


def _graph_io(graph: Graph, opts: ConvertOptions, path: str) -> GraphIO:
    """Resolve --inputs/--outputs (or detect them) and their shapes on the IR graph.

    Raises:
        UsageError: a name is not in the graph; nothing to detect; shape count mismatch.
    """
    found_inputs, found_outputs = ([], []) if opts.inputs and opts.outputs \
        else inference_io(graph)
    if opts.outputs:
        outputs = [tensor_name(n) for n in resolve_names(graph, opts.outputs, "Output")]
    else:
        outputs = found_outputs
        if not outputs:
            raise UsageError("found no output; name the outputs with --outputs", path)
    if opts.inputs:
        inputs = [tensor_name(n) for n in resolve_names(graph, opts.inputs, "Input")]
    else:
        if opts.outputs:
            placeholders = [n.name for n in graph.nodes if n.op in ("Placeholder",
                                                                    "PlaceholderV2")]
            used = {n.name for n in needed_nodes(graph, outputs, placeholders)}
            inputs = [tensor_name(p) for p in placeholders if p in used]
        else:
            inputs = found_inputs
        if not inputs:
            raise UsageError("found no input placeholder; name the inputs with --inputs", path)
    progress_note = f"inputs {', '.join(inputs)}; outputs {', '.join(outputs)}"
    shapes: dict[str, tuple[int | None, ...]] = {}
    if opts.input_shapes:
        if len(opts.input_shapes) != len(inputs):
            raise UsageError(f"--input-shapes gives {len(opts.input_shapes)} shapes for "
                             f"{len(inputs)} inputs ({', '.join(inputs)}); separate shapes "
                             "with ':'")
        shapes = dict(zip(inputs, opts.input_shapes))
    else:
        for name in inputs:
            v = graph.value(name)
            if v is not None and v.shape is not None:
                shapes[name] = v.shape
    return GraphIO(inputs, outputs, shapes, progress_note)


# ----------------------------------------------------------------------------- TF side


_ERROR_RE = re.compile(r"error:\s*(.*)")
_LOC_RE = re.compile(r"^loc\((.*?)\):\s*")


def summarize_converter_error(text: str) -> str:
    """The first meaningful `error:` line of a converter message, without MLIR noise."""
    for line in text.splitlines():
        m = _ERROR_RE.search(line)
        if not m:
            continue
        msg = m.group(1).strip()
        where = ""
        loc = _LOC_RE.match(msg)
        if loc:
            names = re.findall(r'"([^"]+)"', loc.group(1))
            msg = msg[loc.end():]
            where = " at " + " ".join(n.rstrip(":") for n in names) if names else ""
        if msg:
            return msg + where
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return "the converter failed"


def _input_stats(opts: ConvertOptions, inputs: list[str]) -> dict[str, tuple[float, float]]:
    n = len(inputs)
    mean, std = opts.mean, opts.std
    if len(mean) == 1 and n > 1:
        mean, std = mean * n, std * n
    if len(mean) != n:
        raise UsageError(f"{len(mean)} --mean/--std values for {n} inputs ({', '.join(inputs)})")
    return {node_name(i): (m, s) for i, m, s in zip(inputs, mean, std)}


class Conversion:
    """One conversion run: holds TF, the progress reporter and intermediate files."""

    def __init__(self, opts: ConvertOptions, source: str, target: str,
                 progress: Progress, workdir: Path) -> None:
        self.opts = opts
        self.source = source
        self.target = target
        self.progress = progress
        self.workdir = workdir
        self.notes: list[str] = []
        self.converter_kind = ""
        from modelkit.convert.tfenv import import_tf

        progress.stage("loading TensorFlow")
        self.tf = import_tf(opts.debug)

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.progress.note(text)

    # -- sources as frozen graphs / runnable objects

    def frozen_graph(self, gio: GraphIO):
        """The source as a frozen GraphDef (graphdef: read; checkpoint: freeze)."""
        from modelkit.convert.freeze import read_graph_def
        from modelkit.formats.checkpoint import freeze

        if self.source == "graphdef":
            return read_graph_def(self.tf, self.opts.src)
        self.progress.stage("freezing the checkpoint")
        graph_def = self.tf.compat.v1.GraphDef()
        graph_def.ParseFromString(freeze(self.opts.src, [node_name(o) for o in gio.outputs]))
        return graph_def

    # -- converters

    def _representative(self, specs: list[InputSpec], keyed: bool):
        arrays = load_data(self.opts.data, specs, limit=self.opts.calibration_steps)  # type: ignore[arg-type]
        count = int(arrays[0].shape[0])
        progress = self.progress

        def dataset():
            with progress.counter("calibrating", count) as step:
                for i in range(count):
                    sample = [a[i:i + 1] for a in arrays]
                    yield {s.name: x for s, x in zip(specs, sample)} if keyed else sample
                    step()
        self.progress.stage(f"calibrating on {count} samples from {self.opts.data}")
        return dataset

    def configure(self, converter, specs: list[InputSpec], keyed: bool = False) -> None:
        """Apply --quantize/--io-type/--allow-* to a converter (v1 or v2)."""
        tf, opts = self.tf, self.opts
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        q = opts.quantize
        if q in ("dynamic", "float16", "int8", "int16x8"):
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if q == "float16":
            converter.target_spec.supported_types = [tf.float16]
        elif q == "int8":
            converter.representative_dataset = self._representative(specs, keyed)
            ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            io = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}[opts.io_type or "int8"]
            converter.inference_input_type = io
            converter.inference_output_type = io
        elif q == "int16x8":
            converter.representative_dataset = self._representative(specs, keyed)
            ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            if opts.io_type == "int16":
                converter.inference_input_type = tf.int16
                converter.inference_output_type = tf.int16
        if opts.allow_select_tf_ops:
            ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
        converter.target_spec.supported_ops = ops
        converter.allow_custom_ops = opts.allow_custom_ops

    def run_converter(self, converter) -> bytes:
        """converter.convert() with TF's logs captured; errors become ConversionError."""
        from modelkit.convert.tfenv import quiet_native_stderr

        self.progress.stage("converting")
        from tensorflow.lite.python.convert_phase import ConverterError

        with quiet_native_stderr(self.opts.debug) as native:
            try:
                return converter.convert()
            except (ConverterError, ValueError, RuntimeError, self.tf.errors.OpError) as e:
                # NOTE: ValueError/RuntimeError are how the converter reports bad
                # settings and calibration failures; both name the cause in one line.
                failure = e
        summary = summarize_converter_error(str(failure) + "\n" + native.getvalue())
        raise ConversionError(f"the TFLite converter failed: {summary}", str(self.opts.src))

    def tflite_from_graph(self, graph_def, gio: GraphIO, specs: list[InputSpec]) -> bytes:
        """Frozen graph -> TFLite with the TF1 converter (every mode, uint8 legacy too)."""
        tf, opts = self.tf, self.opts
        path = self.workdir / "frozen.pb"
        path.write_bytes(graph_def.SerializeToString())
        shapes = {}
        for name in gio.inputs:
            shape = gio.shapes.get(name)
            if shape is not None:
                shapes[node_name(name)] = [1 if d is None else d for d in shape]
        converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
            str(path), [node_name(i) for i in gio.inputs], [node_name(o) for o in gio.outputs],
            shapes or None)
        self.converter_kind = "tf.compat.v1.lite.TFLiteConverter.from_frozen_graph"
        if opts.quantize == "uint8":
            converter.inference_type = tf.uint8
            converter.quantized_input_stats = _input_stats(opts, gio.inputs)
            if opts.default_ranges is not None:
                converter.default_ranges_stats = opts.default_ranges
                self.progress.warn(
                    f"--default-ranges {opts.default_ranges[0]:g},{opts.default_ranges[1]:g} "
                    "is dummy quantization: every tensor without recorded ranges gets this "
                    "range, and ACCURACY WILL DROP, often badly. Use --quantize int8 --data "
                    "calib.npy for calibrated ranges.")
            converter.allow_custom_ops = opts.allow_custom_ops
            if opts.allow_select_tf_ops:
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                                       tf.lite.OpsSet.SELECT_TF_OPS]
        else:
            self.configure(converter, specs)
        return self.run_converter(converter)

    def tflite_from_savedmodel(self, specs_holder: list) -> bytes:
        """SavedModel -> TFLite; the TF1 converter when the TF2 loader cannot read it."""
        tf, opts = self.tf, self.opts
        from modelkit.convert.tfenv import quiet_native_stderr

        with quiet_native_stderr(opts.debug):
            try:
                converter = tf.lite.TFLiteConverter.from_saved_model(
                    str(opts.src), signature_keys=[opts.signature])
                self.converter_kind = "tf.lite.TFLiteConverter.from_saved_model"
                keyed = True
            except (AttributeError, KeyError, TypeError, tf.errors.OpError) as e:
                # NOTE: TF 2.4-era Keras SavedModels fail the TF2 loader
                # ('_UserObject' object has no attribute 'add_slot'); the TF1 converter reads them.
                self.note(f"the TF2 loader cannot read this SavedModel ({type(e).__name__}); "
                          "falling back to tf.compat.v1.lite.TFLiteConverter.from_saved_model")
                converter = tf.compat.v1.lite.TFLiteConverter.from_saved_model(
                    str(opts.src), signature_key=opts.signature)
                self.converter_kind = "tf.compat.v1.lite.TFLiteConverter.from_saved_model"
                keyed = False
            except ValueError as e:
                if "signature" in str(e).lower():
                    raise UsageError(f"no signature {opts.signature!r} in the SavedModel "
                                     f"({summarize_converter_error(str(e))})",
                                     str(opts.src)) from None
                raise ConversionError(f"cannot load the SavedModel: "
                                      f"{summarize_converter_error(str(e))}",
                                      str(opts.src)) from None
        self.configure(converter, specs_holder[0] if specs_holder else [], keyed)
        return self.run_converter(converter)


# ----------------------------------------------------------------------------- runners


class GraphRunner:
    """A frozen GraphDef run in a TF1 Session."""

    def __init__(self, tf, graph_def, inputs: list[str], outputs: list[str],
                 shapes: dict[str, tuple]) -> None:
        v1 = tf.compat.v1
        self.graph = tf.Graph()
        with self.graph.as_default():
            v1.import_graph_def(graph_def, name="")
        self.v1 = v1
        self._session = None
        self.feeds = [self.graph.get_tensor_by_name(n) for n in inputs]
        self.fetches = [self.graph.get_tensor_by_name(n) for n in outputs]
        self.output_names = [node_name(n) for n in outputs]
        self.inputs = []
        for name, t in zip(inputs, self.feeds):
            shape = shapes.get(name)
            if shape is None:
                shape = tuple(t.shape.as_list()) if t.shape.rank is not None else (None,)
            self.inputs.append(InputSpec(node_name(name), np.dtype(t.dtype.as_numpy_dtype),
                                         tuple(shape)))

    def run(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        if self._session is None:
            # NOTE: a Session costs time; --no-verify never opens one.
            self._session = self.v1.Session(graph=self.graph)
        return self._session.run(self.fetches, dict(zip(self.feeds, feeds)))


class FunctionRunner:
    """A SavedModel signature or a Keras model called eagerly."""

    def __init__(self, tf, fn, input_specs: list[InputSpec], output_names: list[str],
                 keyed: bool) -> None:
        self.tf = tf
        self.fn = fn
        self.inputs = input_specs
        self.output_names = output_names
        self.keyed = keyed

    def run(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        tf = self.tf
        if self.keyed:
            out = self.fn(**{s.name: tf.constant(x) for s, x in zip(self.inputs, feeds)})
        else:
            args = [tf.constant(x) for x in feeds]
            out = self.fn(args if len(args) > 1 else args[0], training=False)
        if isinstance(out, dict):
            return [np.asarray(out[k]) for k in self.output_names]
        if isinstance(out, (list, tuple)):
            return [np.asarray(o) for o in out]
        return [np.asarray(out)]


def _savedmodel_runner(tf, opts: ConvertOptions, progress: Progress):
    """A runner of the SavedModel signature (TF2 loader, else the TF1 loader)."""
    from modelkit.convert.freeze import freeze_savedmodel

    try:
        loaded = tf.saved_model.load(str(opts.src))
    except (AttributeError, ValueError, KeyError, TypeError, tf.errors.OpError):
        graph_def, ins, outs = freeze_savedmodel(tf, opts.src, opts.signature)
        return GraphRunner(tf, graph_def, ins, outs, {})
    if opts.signature not in loaded.signatures:
        raise UsageError(f"no signature {opts.signature!r}; the SavedModel has "
                         f"{', '.join(sorted(loaded.signatures)) or 'none'}", str(opts.src))
    fn = loaded.signatures[opts.signature]
    args = fn.structured_input_signature[1]
    specs = [InputSpec(k, np.dtype(s.dtype.as_numpy_dtype), tuple(s.shape.as_list()))
             for k, s in sorted(args.items())]
    outputs = sorted(fn.structured_outputs)
    runner = FunctionRunner(tf, fn, specs, outputs, keyed=True)
    runner._keep = loaded  # type: ignore[attr-defined]
    return runner


def _keras_runner(tf, model):
    specs = [InputSpec(t.name.split(":")[0], np.dtype(str(t.dtype).replace("tf.", "")),
                       tuple(t.shape)) for t in model.inputs]
    names = [t.name.split(":")[0] for t in model.outputs]
    return FunctionRunner(tf, model, specs, names, keyed=False)


# ----------------------------------------------------------------------------- driver


def convert(opts: ConvertOptions, progress: Progress | None = None) -> ConvertResult:
    """Convert `opts.src` to `opts.dst`; see the module docstring.

    Raises:
        UsageError: bad options, names, existing output (exit 2).
        ModelReadError: the source cannot be read (exit 3).
        UnsupportedError: the preflight found ops/shapes the converter cannot take (exit 4).
        ConversionError: the converter failed (exit 1).
        VerificationError: the result is numerically broken (exit 1); `.result` holds
            the report.
    """
    progress = progress or Progress()
    source = registry.detect_format(opts.src, opts.source_format)
    target = target_format(opts.dst, opts.to)
    validate(opts, source, target)
    check_output(opts.dst, force=opts.force, sources=(opts.src,))

    progress.stage(f"loading {opts.src} ({registry.DESCRIPTIONS.get(source, source)})")
    model = _load_ir(opts, source)
    result = ConvertResult(str(opts.src), str(opts.dst), source, target, opts.quantize)

    gio: GraphIO | None = None
    if source in ("graphdef", "checkpoint") and model is not None:
        graph = _main_graph(model)
        gio = _graph_io(graph, opts, str(opts.src))
        progress.stage(gio.description)
        if opts.preflight:
            progress.stage("preflight")
            result.preflight = preflight_graph(
                graph, gio.inputs, gio.outputs,
                shapes_given=bool(opts.input_shapes),
                allow_select_tf_ops=opts.allow_select_tf_ops,
                allow_custom_ops=opts.allow_custom_ops, freezing=source == "checkpoint")
    elif model is not None and opts.preflight:
        progress.stage("preflight")
        result.preflight = preflight_model(model)
    for line in result.preflight.lines("warning"):
        progress.warn(line)
    for line in result.preflight.lines("error"):
        progress.detail(line)
    raise_if_errors(result.preflight, str(opts.src))

    with tempfile.TemporaryDirectory(prefix="modelkit-convert-") as work:
        run = Conversion(opts, source, target, progress, Path(work))
        tf = run.tf
        source_runner = None
        content: bytes | None = None
        if source in ("graphdef", "checkpoint"):
            if gio is None:
                gio = _graph_io_with_tf(tf, opts, source)
            graph_def = run.frozen_graph(gio)
            source_runner = GraphRunner(tf, graph_def, gio.inputs, gio.outputs, gio.shapes)
            if target == "tflite":
                content = run.tflite_from_graph(graph_def, gio, source_runner.inputs)
            elif target == "graphdef":
                if source == "graphdef":
                    raise UsageError("the source is already a GraphDef")
                content = graph_def.SerializeToString()
        elif source == "savedmodel":
            if target == "savedmodel":
                raise UsageError("the source is already a SavedModel")
            source_runner = _savedmodel_runner(tf, opts, progress)
            if target == "tflite":
                content = run.tflite_from_savedmodel([source_runner.inputs])
            else:
                from modelkit.convert.freeze import freeze_savedmodel

                progress.stage("freezing the SavedModel signature")
                graph_def, _, _ = freeze_savedmodel(tf, opts.src, opts.signature, progress)
                content = graph_def.SerializeToString()
        elif source == "keras_h5":
            from modelkit.convert.freeze import (freeze_concrete_function,
                                                 keras_concrete_function, load_keras)

            keras_model = load_keras(opts.src)
            source_runner = _keras_runner(tf, keras_model)
            if target == "tflite":
                if opts.input_shapes:
                    fn = keras_concrete_function(tf, keras_model, opts.input_shapes)
                    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], keras_model)
                    run.converter_kind = "tf.lite.TFLiteConverter.from_concrete_functions"
                else:
                    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
                    run.converter_kind = "tf.lite.TFLiteConverter.from_keras_model"
                run.configure(converter, source_runner.inputs)
                content = run.run_converter(converter)
            elif target == "graphdef":
                fn = keras_concrete_function(tf, keras_model, opts.input_shapes)
                graph_def, _, _ = freeze_concrete_function(tf, fn)
                content = graph_def.SerializeToString()
        else:
            raise UsageError(f"cannot convert {registry.DESCRIPTIONS.get(source, source)} "
                             f"to {target}")

        result.converter = run.converter_kind
        result.notes = run.notes
        with atomic_output(opts.dst, force=opts.force, sources=(opts.src,)) as tmp:
            if content is not None:
                tmp.write_bytes(content)
            else:
                _write_savedmodel(run, source, gio, tmp, locals().get("keras_model"))
            result.size_bytes = _size(tmp)
            if target == "tflite":
                _tflite_report(run, result, content, source_runner)  # type: ignore[arg-type]
                _check_float_left(run, result, tmp)
            elif opts.verify:
                _verify_other(run, result, tmp, target, source_runner)
            if result.verification is not None and result.verification.broken:  # type: ignore[attr-defined]
                err = VerificationError(
                    "the converted model is numerically broken: "
                    + "; ".join(result.verification.broken)  # type: ignore[attr-defined]
                    + " (nothing written)", str(opts.dst))
                err.result = result  # type: ignore[attr-defined]
                raise err
    return result


# What each integer mode should leave no float compute in, and what helps when it does.
_FLOAT_LEFT_HELP = {
    "int8": "give more representative --data, or allow float fallback ops knowingly",
    "int16x8": "give more representative --data",
    "uint8": "pass --default-ranges MIN,MAX (dummy ranges, accuracy drops) or convert the "
             "float graph with --quantize int8 --data calib.npy",
}


def _check_float_left(run: Conversion, result: ConvertResult, path: Path) -> None:
    """Warn when an integer mode left ops computing in float (they lacked min/max data)."""
    help_text = _FLOAT_LEFT_HELP.get(run.opts.quantize)
    if help_text is None:
        return
    from modelkit.analysis.quantization import float_compute_ops
    from modelkit.formats.tflite import load as load_tflite

    ops = float_compute_ops(load_tflite(path))
    if not ops:
        return
    listed = ", ".join(f"{op} x{n}" for op, n in sorted(ops.items()))
    text = (f"{sum(ops.values())} op(s) still compute in float32 although --quantize "
            f"{run.opts.quantize} was asked ({listed}): the converter had no min/max data "
            f"for them; {help_text}")
    result.notes.append(text)
    run.progress.warn(text)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _write_savedmodel(run: Conversion, source: str, gio: GraphIO | None, tmp: Path,
                      keras_model) -> None:
    """Write the SavedModel output (Keras export, or a frozen graph via the v1 builder)."""
    from modelkit.convert.freeze import export_keras, graph_def_to_savedmodel

    run.progress.stage("writing the SavedModel")
    if source == "keras_h5":
        export_keras(keras_model, tmp)
        return
    assert gio is not None
    graph_def = run.frozen_graph(gio)
    graph_def_to_savedmodel(run.tf, graph_def, gio.inputs, gio.outputs, tmp)


def _graph_io_with_tf(tf, opts: ConvertOptions, source: str) -> GraphIO:
    """Inputs/outputs when no IR adapter is installed: the user must name them."""
    if not opts.inputs or not opts.outputs:
        raise UsageError("name the graph's --inputs and --outputs (no graph reader available "
                         "to detect them)", str(opts.src))
    shapes = dict(zip([tensor_name(i) for i in opts.inputs], opts.input_shapes or []))
    return GraphIO([tensor_name(i) for i in opts.inputs],
                   [tensor_name(o) for o in opts.outputs], shapes)


def _samples(run: Conversion, specs: list[InputSpec], target_io: list[TensorIO]):
    from modelkit.convert.verify import real_range_inputs

    if run.opts.data is not None:
        arrays = load_data(run.opts.data, specs, limit=VERIFY_MAX_SAMPLES)
        return arrays, str(run.opts.data)
    return (real_range_inputs(target_io, specs, VERIFY_RANDOM_SAMPLES),
            "random inputs in each input's range")


def _tflite_report(run: Conversion, result: ConvertResult, content: bytes,
                   source_runner) -> None:
    """Fill the input/output quantization report and, unless --no-verify, verify."""
    from modelkit.convert.verify import TFLiteRunner, compare

    from modelkit.convert.tfenv import quiet_native_stderr

    with quiet_native_stderr(run.opts.debug):
        target = TFLiteRunner(content, [s.name for s in source_runner.inputs],
                              source_runner.output_names)
    result.inputs = target.input_io
    result.outputs = target.output_io
    if not run.opts.verify:
        return
    run.progress.stage("verifying against the source")
    specs = source_runner.inputs
    samples, origin = _samples(run, specs, target.input_io)
    with run.progress.counter("verifying", int(samples[0].shape[0])) as step:
        result.verification = compare(source_runner, target, samples, origin, step)


def _verify_other(run: Conversion, result: ConvertResult, path: Path, target: str,
                  source_runner) -> None:
    """Verify a frozen GraphDef or SavedModel output against the source."""
    from modelkit.convert.freeze import read_graph_def
    from modelkit.convert.verify import compare

    tf = run.tf
    run.progress.stage("verifying against the source")
    if target == "graphdef":
        graph_def = read_graph_def(tf, path)
        placeholders = [n.name + ":0" for n in graph_def.node if n.op == "Placeholder"]
        consumed = {i.split(":")[0].lstrip("^") for n in graph_def.node for i in n.input}
        outs = [n.name + ":0" for n in graph_def.node
                if n.name not in consumed and n.op not in ("Const", "NoOp", "Placeholder")]
        if len(placeholders) != len(source_runner.inputs) or \
                len(outs) != len(source_runner.output_names):
            run.note("verification skipped: cannot pair the frozen graph's inputs/outputs "
                     "with the source's")
            return
        target_runner = GraphRunner(tf, graph_def, placeholders, outs, {})
    else:
        opts = ConvertOptions(src=path, dst=path, signature="serving_default")
        target_runner = _savedmodel_runner(tf, opts, run.progress)
    specs = source_runner.inputs
    specs = [InputSpec(s.name, s.dtype, tuple(1 if d is None else d for d in s.shape))
             for s in specs]
    samples, origin = _samples(run, specs, [])
    result.verification = compare(source_runner, target_runner, samples, origin)


def run_quietly(opts: ConvertOptions) -> ConvertResult:
    """Library entry: convert without progress output."""
    return convert(opts, Progress(quiet=True))


__all__ = ["ConvertOptions", "ConvertResult", "ModelkitError", "convert", "parse_floats",
           "parse_shapes", "run_quietly", "summarize_converter_error", "target_format"]
