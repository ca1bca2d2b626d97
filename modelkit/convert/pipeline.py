"""`modelkit convert`: TF-family model -> TFLite (with quantization), frozen GraphDef
or SavedModel. The driver: safety check, preflight, conversion, input/output
quantization report, verification, atomic write.

The pieces live beside it: options (options.py), the source opened with TF
(sources.py), the TFLite converter (converter.py), verification (verify.py), the
report (result.py). TensorFlow is imported inside `convert()` only.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from modelkit import interrupts
from modelkit.convert.converter import Conversion, summarize_converter_error
from modelkit.convert.data import check_data, load_data
from modelkit.convert.options import (ConvertOptions, command_line, parse_floats,
                                      parse_shapes, target_format, validate)
from modelkit.convert.preflight import (preflight_graph, preflight_savedmodel,
                                        raise_if_errors)
from modelkit.convert.progress import Progress
from modelkit.convert.result import ConvertResult
from modelkit.convert.sources import (GraphIO, Source, frozen_graph, graph_io_for,
                                      graph_io_without_ir, open_source)
from modelkit.errors import ConversionError, ModelkitError, UsageError, VerificationError
from modelkit.fileio import atomic_output, check_output
from modelkit.formats import registry
from modelkit.ir import Model
from modelkit.runtime import Backend

VERIFY_RANDOM_SAMPLES = 16
VERIFY_MAX_SAMPLES = 200


def _load_ir(opts: ConvertOptions, source: str) -> Model | None:
    """The source as IR, or None when its adapter is not installed."""
    try:
        return registry.load(opts.src, source)
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("modelkit.formats"):
            return None
        raise


def convert(opts: ConvertOptions, progress: Progress | None = None) -> ConvertResult:
    """Convert `opts.src` to `opts.dst`; see the module docstring.

    Raises:
        UsageError: bad options, names, existing output (exit 2).
        ModelReadError: the source cannot be read (exit 3).
        UnsupportedError: the preflight found ops/shapes the converter cannot take, or
            the graph holds ops with host side effects (exit 4).
        ConversionError: the converter or TensorFlow failed (exit 1).
        VerificationError: the result is numerically broken (exit 1); `.result` holds
            the report.
    """
    progress = progress or Progress()
    source = registry.detect_format(opts.src, opts.source_format)
    target = target_format(opts.dst, opts.to)
    validate(opts, source, target)
    check_output(opts.dst, force=opts.force, sources=(opts.src,),
                 folder=target == "savedmodel")
    check_data(opts.data)  # bad data (NaN, Inf, empty) is refused before TF loads

    progress.stage(f"loading {opts.src} ({registry.DESCRIPTIONS.get(source, source)})")
    model = _load_ir(opts, source)
    if model is not None and not opts.allow_unsafe_ops:
        from modelkit.runtime.safety import refuse_unsafe

        refuse_unsafe(model, opts.src, "converting")
    if opts.dequantize_legacy:
        model = _dequantize_legacy(opts, model, progress)
    result = ConvertResult(str(opts.src), str(opts.dst), source, target, opts.quantize)

    gio: GraphIO | None = None
    if source in ("graphdef", "checkpoint") and model is not None:
        graph = model.graphs[0]
        gio = graph_io_for(graph, opts, str(opts.src))
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
        result.preflight = preflight_savedmodel(
            model, opts.signature if source == "savedmodel" else None,
            allow_select_tf_ops=opts.allow_select_tf_ops,
            allow_custom_ops=opts.allow_custom_ops)
    for line in result.preflight.lines("warning"):
        progress.warn(line)
    for line in result.preflight.lines("error"):
        progress.detail(line)
    raise_if_errors(result.preflight, str(opts.src),
                    legacy_fix=command_line(opts, "--dequantize-legacy"))

    with tempfile.TemporaryDirectory(prefix="modelkit-convert-") as work:
        run_opts = opts
        if opts.dequantize_legacy and model is not None:
            run_opts = _float_source(opts, model, Path(work))
        run = Conversion(run_opts, source, target, progress, Path(work))
        _convert(run, result, gio)
    return result


def _dequantize_legacy(opts: ConvertOptions, model: Model | None,
                       progress: Progress) -> Model:
    """--dequantize-legacy: the TF1 eight-bit graph reversed to float (dequantize_legacy).

    Raises:
        UsageError: no graph reader to rewrite the graph with.
        TransformError: an eight-bit tensor has no float source (exit 1).
    """
    if model is None:
        raise UsageError("--dequantize-legacy needs the GraphDef reader", str(opts.src))
    from modelkit.transform import PassContext, parse_spec, run_passes

    progress.stage("reversing TF1 legacy quantization (dequantize_legacy)")
    ctx = PassContext(list(opts.inputs or []), list(opts.outputs or []))
    model, reports = run_passes(model, parse_spec("dequantize_legacy"), ctx)
    for report in reports:
        progress.detail(report.line())
    return model


def _float_source(opts: ConvertOptions, model: Model, work: Path) -> ConvertOptions:
    """The options with the reversed float graph (written in `work`) as the source."""
    from dataclasses import replace

    from modelkit.formats.graphdef import to_graphdef

    path = work / "dequantized.pb"
    path.write_bytes(to_graphdef(model).SerializeToString(deterministic=True))
    return replace(opts, src=path)


def _convert(run: Conversion, result: ConvertResult, gio: GraphIO | None) -> None:
    """Open the source, convert, write, report and verify (TensorFlow loaded)."""
    opts, source, target, progress = run.opts, run.source, run.target, run.progress
    if source in ("graphdef", "checkpoint") and gio is None:
        gio = graph_io_without_ir(opts)
    if target == source:
        raise UsageError(f"the source is already a {registry.DESCRIPTIONS.get(source, source)}")
    # NOTE: each stage starts by checking for an interrupt that TensorFlow swallowed
    # in the one before (see modelkit.interrupts).
    interrupts.stage("load")
    with run.tf_errors("loading the source with TensorFlow"):
        src = open_source(run.tf, opts, source, gio, progress)
    interrupts.stage("convert")
    with run.tf_errors("the conversion"):
        content = _content(run, src, gio)

    result.converter = run.converter_kind
    result.notes = run.notes
    with atomic_output(opts.dst, force=opts.force, sources=(opts.src,),
                       folder=target == "savedmodel") as tmp:
        interrupts.stage("write")
        if content is not None:
            tmp.write_bytes(content)
        else:
            with run.tf_errors("writing the SavedModel"):
                _write_savedmodel(run, src, gio, tmp)
        size = _size(tmp)
        interrupts.stage("verify")
        try:
            with run.tf_errors("verifying the result"):
                if target == "tflite":
                    _tflite_report(run, result, tmp, src.backend)
                    _check_float_left(run, result, tmp)
                elif opts.verify:
                    _verify_other(run, result, tmp, target, src.backend)
        except ModelkitError as e:
            # NOTE: the result is checked in its temporary place; the user knows DST.
            if e.path is not None and Path(e.path) == tmp:
                e.path = str(opts.dst)
                e.message += " (nothing written)"
                e.args = (e.message,)
            raise
        if result.verification is not None and result.verification.broken:  # type: ignore[attr-defined]
            err = VerificationError(
                "the converted model is numerically broken: "
                + "; ".join(result.verification.broken)  # type: ignore[attr-defined]
                + " (nothing written)", str(opts.dst))
            err.result = result  # type: ignore[attr-defined]
            raise err
        interrupts.stage("rename")
        interrupts.check()
    # The file is there now (renamed into place): only now does the report name its size.
    result.size_bytes = size
    result.written = True


def _content(run: Conversion, src: Source, gio: GraphIO | None) -> bytes | None:
    """The converted model's bytes (None: a SavedModel folder, written later)."""
    opts, source, target, tf, progress = run.opts, run.source, run.target, run.tf, run.progress
    content: bytes | None = None
    if source in ("graphdef", "checkpoint"):
        assert gio is not None
        if target == "tflite":
            content = run.tflite_from_graph(src.graph_def, gio, src.backend.inputs)
        elif target == "graphdef":
            content = src.graph_def.SerializeToString()  # type: ignore[attr-defined]
    elif source == "savedmodel":
        if target == "tflite":
            content = run.tflite_from_savedmodel([src.backend.inputs])
        else:
            from modelkit.runtime.tf_loaders import freeze_savedmodel

            progress.stage("freezing the SavedModel signature")
            graph_def, _, _ = freeze_savedmodel(tf, opts.src, opts.signature, progress)
            content = graph_def.SerializeToString()
    elif src.keras_model is not None and target != "savedmodel":
        content = _from_keras(run, src)
    elif src.keras_model is not None:
        content = None
    else:
        raise UsageError(f"cannot convert {registry.DESCRIPTIONS.get(source, source)} "
                         f"to {target}")
    return content


def _from_keras(run: Conversion, src: Source) -> bytes:
    """A Keras model -> TFLite, or its frozen GraphDef."""
    from modelkit.convert.export import keras_concrete_function
    from modelkit.runtime.tf_loaders import freeze_concrete_function, frozen_function

    tf, opts, keras_model = run.tf, run.opts, src.keras_model
    if run.target == "tflite":
        if opts.input_shapes:
            # NOTE: frozen first: from_concrete_functions keeps variables read inside a
            # while loop (LSTM/GRU bodies) as VAR_HANDLE/READ_VARIABLE with nothing that
            # assigns them, and the interpreter fails at invoke (read_variable.cc).
            fn = frozen_function(keras_concrete_function(tf, keras_model, opts.input_shapes))
            converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], keras_model)
            run.converter_kind = "tf.lite.TFLiteConverter.from_concrete_functions"
        else:
            converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
            run.converter_kind = "tf.lite.TFLiteConverter.from_keras_model"
        run.configure(converter, src.backend.inputs)
        return run.run_converter(converter)
    fn = keras_concrete_function(tf, keras_model, opts.input_shapes)
    graph_def, _, _ = freeze_concrete_function(tf, fn)
    return graph_def.SerializeToString()


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
    if help_text is None or run.opts.denylist_nodes or run.opts.denylist_ops:
        # NOTE: with a denylist, float ops are what was asked for.
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


def _write_savedmodel(run: Conversion, src: Source, gio: GraphIO | None, tmp: Path) -> None:
    """Write the SavedModel output (Keras export, or a frozen graph via the v1 builder)."""
    from modelkit.convert.export import export_keras, graph_def_to_savedmodel

    run.progress.stage("writing the SavedModel")
    if src.keras_model is not None:
        export_keras(src.keras_model, tmp)
        return
    assert gio is not None
    graph_def = src.graph_def if src.graph_def is not None else \
        frozen_graph(run.tf, run.opts, run.source, gio, run.progress)
    graph_def_to_savedmodel(run.tf, graph_def, gio.inputs, gio.outputs, tmp)


def _samples(run: Conversion, source: Backend, target: Backend | None, step: int):
    """Verification inputs (source order): --data when given, else random inputs in
    each quantized input's real range; a multiple of `step` samples."""
    from modelkit.convert.verify import real_range_inputs

    specs = source.inputs
    if run.opts.data is not None:
        arrays = load_data(run.opts.data, specs, limit=VERIFY_MAX_SAMPLES)
        n = int(arrays[0].shape[0])
        keep = max(step, n - n % step)
        if n < keep:
            arrays = [a[np.arange(keep) % n] for a in arrays]
        return [a[:keep] for a in arrays], str(run.opts.data)
    count = -(-VERIFY_RANDOM_SAMPLES // step) * step
    return (real_range_inputs(target.inputs if target is not None else [], specs, count),
            "random inputs in each input's range")


def _open_result(run: Conversion, result: ConvertResult, path: Path) -> Backend | None:
    """The written TFLite model in the interpreter: builtin kernels, else with the
    default delegates (some custom ops run only there); None when neither loads
    (Select TF or custom ops): the report then comes from the file."""
    from modelkit.runtime.tflite import InterpreterUnsupportedError, TFLiteBackend
    from modelkit.runtime.tfenv import quiet_native_stderr

    failure: InterpreterUnsupportedError | None = None
    for delegates in (False, True):
        try:
            with quiet_native_stderr(run.opts.debug):
                backend = TFLiteBackend(path, delegates=delegates)
        except InterpreterUnsupportedError as e:
            failure = failure or e
            continue
        if delegates:
            run.note("the TFLite interpreter runs the model only with its default delegates "
                     f"(builtin kernels: {failure.message if failure else ''}); verified so")
        return backend
    assert failure is not None
    run.note(f"the TFLite interpreter cannot run the result: {failure.message}; the "
             "input/output report comes from the file and verification is skipped")
    _report_from_file(result, path)
    return None


def _report_from_file(result: ConvertResult, path: Path) -> None:
    """Input/output rows read from the flatbuffer (the interpreter could not load it)."""
    from modelkit.formats.tflite import load as load_tflite
    from modelkit.quant.io_report import TensorIO

    graph = load_tflite(path).graphs[0]

    def rows(values, role: str) -> list[TensorIO]:
        return [TensorIO(v.name, role, v.dtype, tuple(-1 if d is None else d
                                                        for d in (v.shape or ())),
                         v.quant if v.dtype.is_integer else None) for v in values]

    result.inputs = rows(graph.inputs, "input")
    result.outputs = rows(graph.outputs, "output")


def _tflite_report(run: Conversion, result: ConvertResult, path: Path,
                   source: Backend) -> None:
    """Fill the input/output quantization report and, unless --no-verify, verify."""
    from modelkit.convert.verify import tensor_ios
    from modelkit.runtime.batch import batch_step

    target = _open_result(run, result, path)
    if target is None:
        return
    result.inputs = tensor_ios(target.inputs, "input")
    result.outputs = tensor_ios(target.outputs, "output")
    if not run.opts.verify:
        return
    run.progress.stage("verifying against the source")
    samples, origin = _samples(run, source, target, batch_step(source, target))
    with run.progress.counter("verifying", 2 * int(samples[0].shape[0])) as step:
        result.verification = _compare_or_note(run, source, target, samples, origin, step)


def _verify_other(run: Conversion, result: ConvertResult, path: Path, target: str,
                  source: Backend) -> None:
    """Verify a frozen GraphDef or SavedModel output against the source."""
    from modelkit.runtime.batch import batch_step
    from modelkit.runtime.tf_graph import GraphBackend
    from modelkit.runtime.tf_loaders import read_graph_def

    tf = run.tf
    run.progress.stage("verifying against the source")
    if target == "graphdef":
        graph_def = read_graph_def(tf, path)
        placeholders = [n.name + ":0" for n in graph_def.node if n.op == "Placeholder"]
        consumed = {i.split(":")[0].lstrip("^") for n in graph_def.node for i in n.input}
        outs = [n.name + ":0" for n in graph_def.node
                if n.name not in consumed and n.op not in ("Const", "NoOp", "Placeholder")]
        if len(placeholders) != len(source.inputs) or len(outs) != len(source.outputs):
            run.note("verification skipped: cannot pair the frozen graph's inputs/outputs "
                     "with the source's")
            return
        other: Backend = GraphBackend(tf, graph_def, placeholders, outs, path=str(path))
    else:
        from modelkit.runtime.savedmodel import SavedModelBackend

        other = SavedModelBackend(path, "serving_default", allow_unsafe_ops=True,
                                  debug=run.opts.debug)
    samples, origin = _samples(run, source, None, batch_step(source, other))
    result.verification = _compare_or_note(run, source, other, samples, origin)


def _compare_or_note(run: Conversion, source: Backend, target: Backend, samples, origin: str,
                     step=lambda: None):
    """Verify; when a model cannot run the samples, the conversion still stands: the
    report says why verification was skipped."""
    from modelkit.convert.verify import compare
    from modelkit.runtime.tflite import InvokeError

    try:
        return compare(source, target, samples, origin, step)
    except InvokeError as e:
        # NOTE: a model its own interpreter cannot run is a failed conversion, not a
        # skipped verification: writing it with exit 0 would say it works.
        interrupts.check()
        raise VerificationError(f"the converted model fails in the TFLite interpreter: "
                                f"{e.message} (nothing written)", str(run.opts.dst)) from None
    except (UsageError, ConversionError) as e:
        interrupts.check()
        run.note(f"verification skipped: {e.message}")
        return None


def run_quietly(opts: ConvertOptions) -> ConvertResult:
    """Library entry: convert without progress output."""
    return convert(opts, Progress(quiet=True))


__all__ = ["ConversionError", "ConvertOptions", "ConvertResult", "ModelkitError", "convert",
           "parse_floats", "parse_shapes", "run_quietly", "summarize_converter_error",
           "target_format"]
