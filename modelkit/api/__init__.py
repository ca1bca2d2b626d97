"""modelkit's commands as Python functions, for notebooks and scripts.

    import modelkit.api as mk

    report = mk.check("model.tflite")              # a CheckReport; report.ok
    fixed = mk.fix("model.tflite", "fixed.tflite")
    result = mk.run("model_uint8.tflite", x_test, labels=y_test, mean=0, std=255)
    layers = mk.debug("frozen.pb", "model_uint8.tflite", x_test, labels=y_test)

Every function takes a path or a loaded `modelkit.Model` where the command takes a
model, and numpy arrays (one array, a dict of arrays by input name, or a list in
input order) or a path where the command takes a data file. Each returns a
dataclass whose `to_dict()` is the command's `--json` document; results show as
tables in Jupyter (`_repr_html_`) and turn into pandas DataFrames (`to_pandas()`,
when pandas is installed). Errors are `modelkit.ModelkitError` subclasses: nothing
exits and nothing is printed on stdout (warnings and notes go to stderr, as the
commands say them).

A model given as a TFLite or GraphDef `Model` is run or converted as it is in
memory (written to a temporary file first, so edits count); a Model of another
format is run from its own file. The `modelkit` command is a thin layer over these
functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from modelkit.api._check import CheckReport, FixResult
    from modelkit.api._reports import ConvertReport, DebugResult, ReduceResult, RunResult
    from modelkit.api._results import (CompareResult, DiffResult, ExportResult, ExtractResult,
                                       Summary, TransformResult)
    from modelkit.convert.progress import Progress
    from modelkit.ir import Model

__all__ = ["CheckReport", "CompareResult", "ConvertReport", "DebugResult", "DiffResult",
           "ExportResult", "ExtractResult", "FixResult", "ReduceResult", "RunResult",
           "Summary", "TransformResult", "check", "compare", "convert", "debug", "diff",
           "export", "extract", "fix", "load", "reduce", "run", "summarize", "transform"]

# Result classes, imported on first use (the commands that run nothing stay quick).
_RESULTS = {"Summary": "_results", "TransformResult": "_results", "CompareResult": "_results",
            "DiffResult": "_results", "ExtractResult": "_results", "ExportResult": "_results",
            "CheckReport": "_check",
            "FixResult": "_check", "ConvertReport": "_reports", "RunResult": "_reports",
            "DebugResult": "_reports", "ReduceResult": "_reports"}

def __getattr__(name: str) -> Any:
    module = _RESULTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    """Names given as a list or as a comma separated string; None when not given."""
    if value is None:
        return None
    if isinstance(value, str):
        from modelkit.convert.selective import parse_list

        return parse_list(value) or None
    return [str(v) for v in value] or None


def load(model: str | Path | Model, format: str | None = None) -> Model:
    """Read a model of any supported format into the IR.

    Args:
        model: a file or folder (a Model is returned as is).
        format: force the format (`tflite`, `graphdef`, `savedmodel`, `checkpoint`,
            `keras_h5`, `keras_zip`) instead of detecting it.

    Returns:
        The model.

    Raises:
        ModelReadError: the model cannot be read (missing, empty, corrupt, unknown).
    """
    from modelkit.api._sources import load_model

    return load_model(model, format)


def summarize(model: str | Path | Model, *, tensors: bool = False,
              subgraph: int | None = None, format: str | None = None) -> Summary:
    """The facts of a model: format, inputs and outputs with their quantization, ops,
    parameters (`modelkit summarize`).

    Args:
        model: a path or a loaded Model.
        tensors: add every tensor as a table.
        subgraph: restrict graphs, ops, parameters and tensors to this graph index.
        format: force the input format.

    Returns:
        The summary; `to_dict()` is `summarize --json`.

    Raises:
        ModelReadError: the model cannot be read.
        UsageError: the subgraph is out of range.
    """
    from modelkit.analysis.summary import summarize as facts_of
    from modelkit.api._results import Summary
    from modelkit.api._sources import load_model

    loaded = load_model(model, format)
    warnings = [str(w) for w in loaded.metadata.get("warnings") or ()]
    return Summary(facts_of(loaded, tensors=tensors, subgraph=subgraph), warnings)


def check(model: str | Path | Model, target: str = "tflite", *,
          format: str | None = None) -> CheckReport:
    """What a target runtime refuses or silently computes wrong, per node, without
    running the model (`modelkit check`).

    Args:
        model: a path or a loaded Model.
        target: `tflite` (builtin kernels), `micro`, `edgetpu`, `gpu` or `xnnpack`.
        format: force the input format.

    Returns:
        The report; `ok` is False when there are errors; `to_dict()` is
        `check --json`.

    Raises:
        ModelReadError: the model cannot be read.
        UsageError: an unknown target.
    """
    from modelkit.api._check import CheckReport
    from modelkit.api._sources import display_name, is_path, load_model
    from modelkit.check import check_model

    loaded = load_model(model, format)
    report = check_model(loaded, target)
    report.path = display_name(model) if is_path(model) else loaded.path
    report.graph_names = [g.name for g in loaded.graphs]
    return CheckReport.from_report(report)


def fix(model: str | Path | Model, dst: str | Path | None = None, *,
        rules: str | Sequence[str] | None = None, target: str = "tflite",
        force: bool = False, format: str | None = None) -> FixResult:
    """Repair what `check` finds and a pass can repair without changing what the
    model computes (`modelkit fix`).

    Args:
        model: a TFLite model: a path or a loaded Model (never modified).
        dst: where to write the repaired model; None keeps it in memory only
            (`result.model`).
        rules: only findings of these check rules or repair passes.
        target: whose findings to repair.
        force: replace an existing `dst`.
        format: force the input format.

    Returns:
        What changed per node, what could not be fixed and why, and the check of the
        repaired model; `to_dict()` is `fix --json`.

    Raises:
        UsageError: not a TFLite model, an unknown rule, an existing `dst` without
            `force`.
        ModelReadError: the model cannot be read.
    """
    from modelkit.api._check import fix_model
    from modelkit.api._sources import check_dst, display_name, load_model
    from modelkit.formats.registry import save

    if dst is not None:
        check_dst(dst, model, force)
    loaded = load_model(model, format)
    if isinstance(rules, str):
        rules = [rules]
    result = fix_model(loaded, target=target, rules=list(rules) if rules else None)
    result.source = display_name(model)
    result.output = None if dst is None else str(dst)
    if result.changed and dst is not None:
        save(result.model, dst, force=force)
        result.written = True
    return result


def transform(model: str | Path | Model, transforms: str, dst: str | Path | None = None, *,
              inputs: str | Sequence[str] | None = None,
              outputs: str | Sequence[str] | None = None, format: str | None = None,
              signature: str = "serving_default", force: bool = False,
              progress: Progress | None = None) -> TransformResult:
    """Run graph_transforms passes on a TF graph or rewrites on a TFLite model, with
    TensorFlow's `transform_graph` syntax (`modelkit transform`).

    Args:
        model: a path or a loaded Model; a SavedModel, checkpoint or Keras file is
            frozen to a GraphDef first.
        transforms: the passes, e.g. `"strip_unused_nodes remove_nodes(op=Identity)"`
            or `"dequantize_legacy"`.
        dst: where to write the result (`.pb`/`.pbtxt`, or `.tflite`); None keeps it
            in memory only (`result.model`).
        inputs: input node names (default: the placeholders the outputs need).
        outputs: output node names (default: the detected inference outputs).
        format: force the input format.
        signature: the SavedModel signature to freeze.
        force: replace an existing `dst`.
        progress: where each pass's line goes (default: nowhere).

    Returns:
        Per pass what it changed, and the model; `to_dict()` is `transform --json`.

    Raises:
        UsageError: an unknown transform, a bad parameter, passes of the other kind
            of model, a bad or existing `dst`.
        ModelReadError: the model cannot be read.
        TransformError: a pass failed (nothing is written).
    """
    from modelkit.api import _transform
    from modelkit.api._results import TransformResult
    from modelkit.api._sources import display_name, is_model, is_path, quiet
    from modelkit.errors import UsageError

    shown = display_name(model) or ""
    if is_model(model) and model.format not in ("tflite", "graphdef"):  # type: ignore[union-attr]
        # NOTE: a SavedModel, checkpoint or Keras model is frozen from its own file.
        if not model.path:  # type: ignore[union-attr]
            raise UsageError(f"this {model.format} model has no file to freeze; save it "
                             "and give the path")
        model = Path(model.path)  # type: ignore[union-attr]
    elif not is_model(model) and not is_path(model):
        raise UsageError(f"transform takes a path or a modelkit Model, not "
                         f"{type(model).__name__}")
    source = model if is_model(model) else Path(model)  # type: ignore[arg-type]
    out, ctx, reports, before, after = _transform.run(
        source, None if dst is None else Path(dst), transforms, inputs=_names(inputs),
        outputs=_names(outputs), source_format=format, signature=signature, force=force,
        progress=quiet(progress), shown=shown)
    return TransformResult(out, shown, None if dst is None else str(dst), ctx.inputs,
                           ctx.outputs, before, after, reports)


def convert(src: str | Path | Model, dst: str | Path, *, quantize: str = "none",
            data: Any = None, io_type: str | None = None, calibration_steps: int = 100,
            mean: float | str | Sequence[float] | None = None,
            std: float | str | Sequence[float] | None = None,
            default_ranges: str | tuple[float, float] | None = None,
            inputs: str | Sequence[str] | None = None,
            outputs: str | Sequence[str] | None = None,
            input_shapes: str | Sequence[Sequence[int | None]] | None = None,
            signature: str = "serving_default", allow_select_tf_ops: bool = False,
            allow_custom_ops: bool = False, allow_unsafe_ops: bool = False,
            denylist_nodes: str | Sequence[str] | None = None,
            denylist_ops: str | Sequence[str] | None = None,
            dequantize_legacy: bool = False, verify: bool = True, preflight: bool = True,
            to: str | None = None, format: str | None = None, force: bool = False,
            max_drop: float | None = None, eval_data: Any = None, labels: Any = None,
            min_sqnr: float | None = None, target: str | None = None,
            recipe: str | Path | None = None, show_logs: bool = False,
            progress: Progress | None = None) -> Any:
    """Convert a TF-family model to TFLite (with quantization), a frozen GraphDef or a
    SavedModel, verified against the source (`modelkit convert`).

    Args:
        src: the source: a path or a loaded Model (a GraphDef Model is converted as it
            is in memory).
        dst: the output: `.tflite`, `.pb`, or a folder (SavedModel).
        quantize: `none`, `dynamic`, `int8`, `float16`, `int16x8` or `uint8` (legacy).
        data: representative data: arrays or a path (.npy, .npz, image folder).
        io_type: int8/int16x8: the model's input and output type.
        calibration_steps: samples used for calibration.
        mean: uint8: the mean per input (`real = (q - mean) / std`).
        std: uint8: the std per input.
        default_ranges: uint8: `(min, max)` for tensors without a range (dummy
            quantization).
        inputs: input names.
        outputs: output names.
        input_shapes: one shape per input, or the CLI's `"1,224,224,3:1,10"`.
        signature: the SavedModel signature to convert.
        allow_select_tf_ops: keep unsupported ops as Select TF ops.
        allow_custom_ops: keep unknown ops as custom ops.
        allow_unsafe_ops: convert a graph that holds ops acting on this machine.
        denylist_nodes: int8: keep these ops (by output tensor name in the float model)
            in float.
        denylist_ops: int8: keep every op of these TFLite types in float.
        dequantize_legacy: first reverse TF1 legacy quantization to a float graph.
        verify: run both models on the same inputs and compare.
        preflight: check ops and shapes before the converter runs.
        to: the output format when `dst` does not say it.
        format: force the input format.
        force: replace an existing output.
        max_drop: int8: the accuracy drop (points) `eval_data` may show; above it the
            per-layer precision search runs (`--max-drop`).
        eval_data: held-out inputs the budget is measured on.
        labels: class ids of `eval_data`.
        min_sqnr: budget: every output's SQNR against the float model (dB).
        target: search only what this runtime runs.
        recipe: quantize with this recipe (a `DST.recipe.json`).
        show_logs: let TensorFlow's own logs through.
        progress: where stages go (default: only warnings and notes, on stderr).

    Returns:
        The conversion report (a ConvertReport; with `max_drop`, `min_sqnr`, `target`
        or `recipe`, the precision search's report); `to_dict()` is `convert --json`.

    Raises:
        UsageError: bad options or names, an existing output (exit 2 in the CLI).
        ModelReadError: the source cannot be read.
        UnsupportedError: the preflight found ops or shapes the converter cannot take.
        ConversionError: the converter or TensorFlow failed.
        VerificationError: the result is numerically broken (nothing written).
    """
    from modelkit.api import _sources
    from modelkit.api._feeding import floats
    from modelkit.api._reports import ConvertReport
    from modelkit.convert.options import parse_shapes
    from modelkit.convert.pipeline import ConvertOptions
    from modelkit.convert.pipeline import convert as run_convert
    from modelkit.errors import UsageError

    ranges = default_ranges
    if isinstance(ranges, str) or (ranges is not None and len(ranges) != 2):
        values = floats(ranges, "--default-ranges")
        if len(values) != 2:
            raise UsageError("--default-ranges takes MIN,MAX, e.g. 0,6")
        ranges = (values[0], values[1])
    shapes = parse_shapes(input_shapes) if isinstance(input_shapes, str) else (
        [tuple(s) for s in input_shapes] if input_shapes is not None else None)
    _keep_source(src, dst, force)
    with _sources.model_file(src, format, "src") as (path, fmt), \
            _sources.data_file(data) as data_path, \
            _sources.data_file(eval_data, "eval_data") as eval_path, \
            _sources.data_file(labels, "labels") as labels_path:
        progress = _sources.quiet(progress, ((path, src), (data_path, data),
                                             (eval_path, eval_data), (labels_path, labels)))
        opts = ConvertOptions(
            src=path, dst=Path(dst), to=to, source_format=fmt, quantize=quantize,
            io_type=io_type, data=data_path, calibration_steps=calibration_steps,
            mean=floats(mean, "--mean"), std=floats(std, "--std"),
            default_ranges=ranges, inputs=_names(inputs), outputs=_names(outputs),
            input_shapes=shapes, signature=signature,
            allow_select_tf_ops=allow_select_tf_ops, allow_custom_ops=allow_custom_ops,
            verify=verify, preflight=preflight, force=force, debug=show_logs,
            dequantize_legacy=dequantize_legacy, allow_unsafe_ops=allow_unsafe_ops,
            denylist_nodes=_names(denylist_nodes) or [],
            denylist_ops=[op.upper() for op in _names(denylist_ops) or []])
        advice = (max_drop, eval_path, labels_path, min_sqnr, target, recipe)
        if any(v is not None for v in advice):
            from modelkit.advisor.advise import AdviceOptions, advise, apply_recipe

            adv = AdviceOptions(max_drop, eval_path, labels_path, min_sqnr, target,
                                None if recipe is None else Path(recipe))
            if adv.recipe is not None:
                return apply_recipe(opts, adv.recipe, progress)
            return advise(opts, adv, progress)
        from modelkit import interrupts

        with interrupts.recording():
            result = run_convert(opts, progress)
        result = ConvertReport.from_report(result)
        if not _sources.is_path(src):
            result.src = _sources.display_name(src) or result.src
        return result


def run(model: str | Path | Model, data: Any, *, labels: Any = None,
        mean: float | str | Sequence[float] | None = None,
        std: float | str | Sequence[float] | None = None, raw: bool = False,
        output: str | Path | None = None, force: bool = False, limit: int | None = None,
        top_k: int = 5, signature: str | None = None,
        inputs: str | Sequence[str] | None = None,
        outputs: str | Sequence[str] | None = None, delegates: bool = False,
        format: str | None = None, allow_unsafe_ops: bool = False, show_logs: bool = False,
        progress: Progress | None = None) -> RunResult:
    """Run a model on real inputs, with its own input quantization and normalization
    (`modelkit run`).

    Args:
        model: a path or a loaded Model of any runnable format.
        data: the inputs in the float domain: one array (one input), a dict of arrays
            by input name, a list in input order, or a path (.npy, .npz, image folder).
        labels: class ids (an array or a path) for top-1 accuracy.
        mean: subtract first, one value or one per channel: `(x - mean) / std`.
        std: divide by, one value or one per channel.
        raw: feed the values as they are, cast to the inputs' own types.
        output: also save the (dequantized) outputs as an .npz keyed by output name.
        force: replace an existing `output`.
        limit: use the first `limit` samples.
        top_k: classes kept per sample for classifier outputs.
        signature: the TFLite or SavedModel signature to run.
        inputs: graphs: input names (default: detected placeholders).
        outputs: graphs: output names (default: detected inference outputs).
        delegates: TFLite: let the interpreter apply its default delegates (XNNPACK).
        format: force the model's format.
        allow_unsafe_ops: run a graph that holds ops acting on this machine.
        show_logs: let TensorFlow's and the interpreter's own logs through.
        progress: where stages go (default: only warnings and notes, on stderr).

    Returns:
        Per output its summary (and accuracy), and every output's values in
        `values`; `to_dict()` is `run --json`.

    Raises:
        UsageError: data, labels or options that do not fit the model.
        ModelReadError: the model cannot be read.
        UnsafeOpsError: the graph holds ops that act on this machine.
    """
    from modelkit.api import _sources
    from modelkit.api._feeding import floats, open_model, prepare_inputs
    from modelkit.api._reports import RunResult
    from modelkit.errors import UsageError
    from modelkit.runtime.batch import run_samples
    from modelkit.runtime.results import load_labels, summarize_output

    if top_k < 1:
        raise UsageError("--top-k must be at least 1")
    out_path = _output_file(output, force, (model, data, labels))
    with _sources.model_file(model, format) as (path, fmt), \
            _sources.data_file(data) as data_path, \
            _sources.data_file(labels, "labels") as labels_path:
        progress = _sources.quiet(progress, ((path, model), (data_path, data),
                                             (labels_path, labels)))
        if data_path is None:
            raise UsageError("run needs data (arrays or an .npy, .npz or image folder)")
        rt = open_model(path, fmt, signature=signature, delegates=delegates,
                        allow_unsafe_ops=allow_unsafe_ops, inputs=_names(inputs),
                        outputs=_names(outputs), debug=show_logs)
        with rt:
            arrays, fed, total = prepare_inputs(
                rt, data_path, floats(mean, "--mean"), floats(std, "--std"), raw=raw,
                limit=limit, progress=progress)
            count = int(arrays[0].shape[0])
            truth = load_labels(labels_path, count, total=total) \
                if labels_path is not None else None
            with progress.counter("running", count) as step:
                def advance(n: int) -> None:
                    for _ in range(n):
                        step()
                outs = run_samples(rt, arrays, progress=advance, quantize=not raw)
            ran = next((int(v.shape[0]) for v in outs.values()), 0)
            truth = truth[:ran] if truth is not None else None
            report = RunResult(_sources.display_name(model) or "", rt.format, ran,
                               _sources.display_name(data) or "", inputs=fed, values=outs)
            report.outputs = [summarize_output(s, outs[s.name], top_k=top_k, labels=truth)
                              for s in rt.outputs]
    misfits = [o.label_misfit for o in report.outputs if o.label_misfit]
    if labels is not None and not any(o.accuracy is not None for o in report.outputs):
        if misfits:
            raise UsageError(misfits[0], _sources.display_name(labels))
        raise UsageError("--labels needs a classifier output ([samples, classes]); "
                         f"the outputs are {', '.join(o.name for o in report.outputs)}")
    report.notes.extend(f"no accuracy: {m}" for m in misfits)
    if out_path is not None:
        _save_npz(out_path, outs, force, model)
        report.notes.append(f"outputs saved to {out_path}")
    return report


def _keep_source(model: Any, dst: str | Path, force: bool) -> None:
    """Refuse an output that is (or holds) the file an in-memory Model was read from:
    the library sees only the temporary copy it runs."""
    from modelkit.api._sources import is_model
    from modelkit.fileio import check_output

    if is_model(model) and model.path:
        check_output(dst, force=force, sources=(model.path,),
                     folder=Path(dst).suffix == "")


def _output_file(output: str | Path | None, force: bool, inputs: tuple) -> Path | None:
    """The .npz path `output` names, checked before anything runs."""
    if output is None:
        return None
    from modelkit.api._sources import is_model, is_path
    from modelkit.errors import UsageError
    from modelkit.fileio import check_output

    path = Path(output)
    if path.suffix.lower() != ".npz":
        raise UsageError("the outputs are written as an .npz; name the file with the .npz "
                         f"extension (the name ends in {path.suffix or 'no extension'})",
                         str(path))
    sources = tuple(x.path if is_model(x) else x for x in inputs
                    if (is_path(x) or (is_model(x) and x.path)))
    check_output(path, force=force, sources=sources)
    return path


def _save_npz(path: Path, outputs: dict, force: bool, model: Any) -> None:
    """Write the outputs as one .npz, atomically."""
    import numpy as np

    from modelkit.api._sources import is_path
    from modelkit.fileio import atomic_output

    sources = (model,) if is_path(model) else ()
    with atomic_output(path, force=force, sources=sources) as tmp, open(tmp, "wb") as f:
        np.savez(f, **outputs)


def compare(a: str | Path | Model, b: str | Path | Model, data: Any, *, atol: float = 1e-5,
            rtol: float = 1e-5, mean: float | str | Sequence[float] | None = None,
            std: float | str | Sequence[float] | None = None, limit: int | None = None,
            signature: str | None = None, delegates: bool = False,
            format_a: str | None = None, format_b: str | None = None,
            allow_unsafe_ops: bool = False, show_logs: bool = False,
            progress: Progress | None = None) -> CompareResult:
    """Run two models on the same inputs and compare their outputs with Polygraphy's
    tolerance semantics (`modelkit compare`).

    An element mismatches where |A - B| > atol and |A - B| / |B| > rtol (B the
    reference); quantized models are compared in the float domain.

    Args:
        a: the model under test: a path or a loaded Model.
        b: the reference model.
        data: the inputs in the float domain (arrays or a path), fed to both.
        atol: absolute tolerance.
        rtol: relative tolerance (of |B|).
        mean: normalize the inputs of both models first: `(x - mean) / std`.
        std: see `mean`.
        limit: use the first `limit` samples.
        signature: the signature, for both models.
        delegates: TFLite: the interpreter's default delegates.
        format_a: force A's format.
        format_b: force B's format.
        allow_unsafe_ops: run graphs that hold ops acting on this machine.
        show_logs: let TensorFlow's and the interpreter's own logs through.
        progress: where stages go (default: only warnings and notes, on stderr).

    Returns:
        Per output pair the error statistics and the tolerances that would pass;
        `passed`; both models' outputs; `to_dict()` is `compare --json`.

    Raises:
        UsageError: a tolerance is negative or NaN; inputs or outputs do not pair up.
        ModelReadError: a model cannot be read.
    """
    from modelkit.api import _sources
    from modelkit.api._feeding import floats, open_model, prepare_inputs
    from modelkit.api._results import CompareResult
    from modelkit.errors import UsageError
    from modelkit.runtime.compare import check_tolerances, compare_arrays, run_pair

    check_tolerances(atol, rtol)
    opts = dict(signature=signature, delegates=delegates, allow_unsafe_ops=allow_unsafe_ops,
                debug=show_logs)
    with _sources.model_file(a, format_a, "a") as (path_a, fmt_a), \
            _sources.model_file(b, format_b, "b") as (path_b, fmt_b), \
            _sources.data_file(data) as data_path:
        progress = _sources.quiet(progress, ((path_a, a), (path_b, b), (data_path, data)))
        if data_path is None:
            raise UsageError("compare needs data (arrays or an .npy, .npz or image folder)")
        with open_model(path_a, fmt_a, **opts) as rt_a, \
                open_model(path_b, fmt_b, **opts) as rt_b:  # type: ignore[arg-type]
            # NOTE: the same float inputs go to both; a model's metadata normalization
            # is not applied, so that A and B see the same values.
            arrays, fed, _ = prepare_inputs(rt_a, data_path, floats(mean, "--mean"),
                                            floats(std, "--std"), raw=False, limit=limit,
                                            progress=progress, metadata=False)
            count = int(arrays[0].shape[0])
            with progress.counter("running both models", 2 * count) as step:
                def advance(n: int) -> None:
                    for _ in range(n):
                        step()
                pairs, out_a, out_b = run_pair(rt_a, rt_b, arrays, progress=advance)
            results = [compare_arrays(out_a[sa.name], out_b[sb.name], atol=atol, rtol=rtol,
                                      name=sa.name, other_name=sb.name) for sa, sb in pairs]
            samples = next((int(v.shape[0]) for v in out_a.values()), 0)
            return CompareResult(
                {"path": _sources.display_name(a), "format": rt_a.format},
                {"path": _sources.display_name(b), "format": rt_b.format},
                _sources.display_name(data) or "", samples, atol, rtol, fed, results,
                out_a, out_b)


def debug(float_model: str | Path | Model, quant_model: str | Path | Model | None = None,
          data: Any = None, *, labels: Any = None, calibration_data: Any = None,
          quantize: str = "int8", io_type: str | None = None, samples: int = 200,
          calibration_steps: int = 100, denylisted_nodes: str | Sequence[str] | None = None,
          denylisted_ops: str | Sequence[str] | None = None,
          layer_debug_metrics: Mapping[str, Callable[[np.ndarray], float]] | None = None,
          layer_direct_compare_metrics: Mapping[
              str, Callable[[np.ndarray, np.ndarray, float, int], float]] | None = None,
          model_debug_metrics: Mapping[
              str, Callable[[Sequence[np.ndarray], Sequence[np.ndarray]], float]] | None = None,
          save: str | Path | None = None, signature: str = "serving_default",
          verify_advice: bool | None = None, max_drop: float = 1.0, force: bool = False,
          show_logs: bool = False, progress: Progress | None = None) -> DebugResult:
    """Per-layer quantization error: TF's QuantizationDebugger statistics and more,
    the layers to keep in float, and the convert command that does it
    (`modelkit debug`).

    With `quant_model` None, `float_model` is quantized as `convert` does (and the
    debug-mode model with NumericVerify ops gives TF's statistics); with a quantized
    TFLite `quant_model`, the pair is compared as it is (tensors matched by name,
    then position).

    The custom metrics take TF's `QuantizationDebugOptions` forms, by name:
    `layer_debug_metrics` `fn(diffs)` of one sample's dequantized minus float values
    of a layer; `layer_direct_compare_metrics` `fn(float_values, quantized_values,
    scale, zero_point)` (the quantized values as stored: cast to int32 before
    subtracting the zero point); both averaged per layer with `np.nanmean` over the
    samples. `model_debug_metrics` `fn(float_outputs, quantized_outputs)` of the two
    models' output lists, averaged with `np.mean`. When `float_model` is quantized
    here, the metrics see what TF's debugger shows them (the debug-mode model's
    NumericVerify differences, tensors and outputs); with a given `quant_model`, each
    layer's own error (the quantized op fed the float model's inputs) and the
    quantized model's outputs.

    Args:
        float_model: the float model (any format; a float TFLite too).
        quant_model: a quantized TFLite made from it, or None to quantize here.
        data: representative inputs (arrays or a path), for calibration and
            measurement.
        labels: class ids (an array or a path) to report top-1 accuracy.
        calibration_data: calibrate on these inputs instead of `data`.
        quantize: `int8` or `int16x8`.
        io_type: the model's input/output type, as for convert.
        samples: samples measured (from `data`).
        calibration_steps: samples used for calibration.
        denylisted_nodes: keep these ops (by output tensor name in the float model) in
            float; the model is quantized again so.
        denylisted_ops: keep every op of these TFLite types (`FULLY_CONNECTED`) in float.
        layer_debug_metrics: name -> `fn(diffs)`.
        layer_direct_compare_metrics: name -> `fn(float_values, quantized_values,
            scale, zero_point)`.
        model_debug_metrics: name -> `fn(float_outputs, quantized_outputs)`.
        save: write the quantized model made here (.tflite).
        signature: the SavedModel signature.
        verify_advice: convert with the suggested denylist and measure the result
            (default: when `labels` are given); see `advice_verified`.
        max_drop: points of accuracy the verified advice may lose.
        force: replace an existing `save` file.
        show_logs: let TensorFlow's own logs through.
        progress: where stages go (default: only warnings and notes, on stderr).

    Returns:
        The layers with their statistics and custom metrics, the suggestion and the
        accuracies; `to_dict()` is `debug --json`, `to_csv()` the per-layer CSV in
        QuantizationDebugger's layout.

    Raises:
        UsageError: bad options, data or labels; a metric name given twice or a
            metric that fails (MetricError).
        ModelReadError: a model cannot be read.
        ConversionError: conversion or quantization failed.
    """
    from modelkit.api import _sources
    from modelkit.api._reports import DebugResult
    from modelkit.convert.data import check_data
    from modelkit.convert.selective import Denylist
    from modelkit.debug.metrics import CustomMetrics
    from modelkit.debug.session import DebugOptions, run_debug, validate
    from modelkit.errors import UsageError
    from modelkit.fileio import check_output
    from modelkit.runtime.results import load_labels

    metrics = CustomMetrics(layer_debug_metrics or {}, layer_direct_compare_metrics or {},
                            model_debug_metrics or {})
    denylist = Denylist(_names(denylisted_nodes) or [],
                        [op.upper() for op in _names(denylisted_ops) or []])
    with _sources.model_file(float_model, None, "float_model") as (src, _), \
            _sources.model_file(quant_model, None, "quant_model") as (quant, _), \
            _sources.data_file(data) as data_path, \
            _sources.data_file(calibration_data, "calibration_data") as calib_path, \
            _sources.data_file(labels, "labels") as labels_path:
        opts = DebugOptions(
            src=src, quant=quant, data=data_path, calibration_data=calib_path,
            quantize=quantize, io_type=io_type, samples=samples,
            calibration_steps=calibration_steps, denylist=denylist, labels=labels_path,
            save=None if save is None else Path(save), signature=signature, force=force,
            debug=show_logs, metrics=metrics or None)
        validate(opts)
        # NOTE: the output, the data and the labels are checked before anything is
        # converted or measured (and before TensorFlow loads): a bad one costs nothing.
        if opts.save is not None:
            check_output(opts.save, force=force, sources=tuple(
                p for p in (src, quant, data_path, calib_path, labels_path) if p))
        total = check_data(data_path)
        check_data(calib_path)
        if labels_path is not None and total is not None:
            load_labels(labels_path, min(samples, total), total=total)
        if not 0 <= max_drop <= 100:
            raise UsageError(f"--max-drop {max_drop:g}: give points between 0 and 100")
        progress = _sources.quiet(progress, ((src, float_model), (quant, quant_model),
                                             (data_path, data), (calib_path, calibration_data),
                                             (labels_path, labels)))
        report = DebugResult.from_report(run_debug(opts, progress))
        if labels is not None if verify_advice is None else verify_advice:
            from modelkit.advisor import verify

            if verify.applies(opts, report):
                report.advice_verified = verify.verify_advice(opts, report, max_drop,
                                                              progress)
        _rename_debug(report, ((src, float_model), (quant, quant_model), (data_path, data),
                               (calib_path, calibration_data)))
    return report


def _rename_debug(report, given) -> None:
    """A debug report names what the caller gave, not the temporary files: a model by
    its path (or `<memory>`), arrays by the file name a command line would read them
    from, with a note saying so."""
    from modelkit.api._sources import display_name, is_model, is_path

    for path, original in given:
        if path is None or original is None or is_path(original):
            continue
        shown = display_name(original) or ""
        if report.model == str(path):
            report.model = shown
        if report.quantized_model == str(path):
            report.quantized_model = shown
        if str(path) in report.convert_command:
            if not is_model(original):
                shown = path.name
                report.notes.append(f"the convert command reads the data from {shown}: "
                                    "save the arrays there (numpy.save or numpy.savez)")
            else:
                report.notes.append(f"the convert command names {shown}, the file the model "
                                    "was read from: save the model there first if it was "
                                    "changed in memory")
            report.convert_command = report.convert_command.replace(str(path), shown)
        report.notes = [n.replace(str(path), shown) for n in report.notes]


def diff(a: str | Path | Model, b: str | Path | Model, *more: str | Path | Model,
         weights: bool = True, graph: int | None = None,
         format: str | None = None) -> DiffResult:
    """Compare two or more models of any formats: nodes, attributes, tensors,
    quantization, weights (`modelkit diff`). With more models, each step (A -> B,
    B -> C) is compared.

    Args:
        a: the first model: a path or a loaded Model.
        b: the second model.
        *more: further models.
        weights: compare constant data too (else only structure, types and
            quantization).
        graph: compare only this graph index of each model.
        format: force the input format of every model given as a path.

    Returns:
        The change lists; `same`; `to_dict()` is `diff --json`.

    Raises:
        ModelReadError: a model cannot be read.
        UsageError: a graph index out of range.
    """
    from modelkit.api._results import DiffResult
    from modelkit.api._sources import load_model
    from modelkit.diff.changes import diff_models

    models = [load_model(m, format) for m in (a, b, *more)]
    return DiffResult([diff_models(x, y, weights=weights, graph=graph)
                       for x, y in zip(models, models[1:])])


def extract(model: str | Path | Model, dst: str | Path | None = None, *,
            outputs: str | Sequence[str], inputs: str | Sequence[str] | None = None,
            format: str | None = None, force: bool = False,
            progress: Progress | None = None) -> ExtractResult:
    """Cut the ops between some tensors of a TFLite or GraphDef model into a new model
    (`modelkit extract`): fed the whole model's values at `inputs`, it computes the
    whole model's values at `outputs`.

    Args:
        model: a path or a loaded Model (TFLite or GraphDef).
        dst: where to write the cut model (same format); None keeps it in memory
            only (`result.model`).
        outputs: the tensors the cut model ends at (names or `#index`).
        inputs: the tensors that become its inputs (default: the model's).
        format: force the input format.
        force: replace an existing `dst`.
        progress: where its warnings go (default: stderr).

    Returns:
        The cut model and what it holds; `to_dict()` is `extract --json`.

    Raises:
        UsageError: an unknown tensor, an output that needs an input not given, a
            model of another format, an existing `dst`.
        ModelReadError: the model cannot be read.
    """
    from modelkit.api._results import ExtractResult
    from modelkit.api._sources import check_dst, display_name, load_model, quiet
    from modelkit.formats.registry import save
    from modelkit.reduce.extract import check_destination
    from modelkit.reduce.extract import extract as cut_out

    if dst is not None:
        check_dst(dst, model, force)
    loaded = load_model(model, format)
    if dst is not None:
        check_destination(dst, loaded.format)
    cut = cut_out(loaded, _names(inputs), _names(outputs) or [])
    if dst is not None:
        save(cut.model, dst, force=force)
    progress = quiet(progress)
    for note in cut.notes:
        progress.warn(note)
    return ExtractResult(cut.model, display_name(model) or "",
                         None if dst is None else str(dst), loaded.format,
                         len(loaded.graphs[0].nodes), cut.nodes, cut.notes)


def reduce(model: str | Path | Model, dst: str | Path, *, until: str | None = None,
           check: str | None = None, fail_regex: str | None = None, target: str = "tflite",
           reference: str | Path | Model | None = None, data: Any = None,
           atol: float = 1e-5, rtol: float = 1e-5, limit: int = 1,
           artifacts: str | Path | None = None, timeout: float = 60.0, mode: str = "bisect",
           delegates: bool = False, format: str | None = None, force: bool = False,
           show_logs: bool = False, progress: Progress | None = None) -> ReduceResult:
    """Cut a failing TFLite or GraphDef model down to the ops that still fail
    (`modelkit reduce`).

    Args:
        model: the failing model: a path or a loaded Model.
        dst: where to write the reduced model.
        until: the failure: `refused` (the interpreter refuses it), `check-error`
            (`check` reports an error) or `mismatch` (outputs differ from `reference`).
        check: a command that fails on a failing model (`{model}`: its path;
            `{inputs}`: an .npz of its input values), instead of `until`.
        fail_regex: count a failure only when its message (or the command's output)
            matches this.
        target: check-error: the target checked.
        reference: mismatch: the reference model (any format).
        data: inputs in the float domain (arrays or a path); default: generated once,
            seed 0.
        atol: mismatch: absolute tolerance.
        rtol: mismatch: relative tolerance.
        limit: samples of `data` used.
        artifacts: keep every model tried in this folder (good/ and bad/).
        timeout: seconds one run may take.
        mode: `bisect` or `linear`.
        delegates: TFLite: let the interpreter apply its default delegates.
        format: force the input format.
        force: replace an existing `dst`.
        show_logs: let TensorFlow's and the interpreter's own logs through.
        progress: where stages go (default: only warnings and notes, on stderr).

    Returns:
        The ops kept and every candidate tried; `to_dict()` is `reduce --json`.

    Raises:
        UsageError: bad options, an existing `dst`.
        ConditionNotMetError: the condition does not fail on the model.
        ModelReadError: a model cannot be read.
    """
    from modelkit.api import _sources
    from modelkit.api._reports import ReduceResult
    from modelkit.reduce.reducer import ReduceOptions, reduce_model

    _keep_source(model, dst, force)
    with _sources.model_file(model, format) as (path, fmt), \
            _sources.model_file(reference, None, "reference") as (ref, _), \
            _sources.data_file(data) as data_path:
        opts = ReduceOptions(src=path, dst=Path(dst), until=until, check=check,
                             fail_regex=fail_regex, target=target, reference=ref,
                             data=data_path, atol=atol, rtol=rtol, limit=limit,
                             artifacts=None if artifacts is None else Path(artifacts),
                             force=force, fmt=fmt, delegates=delegates, timeout=timeout,
                             mode=mode, debug=show_logs)
        progress = _sources.quiet(progress, ((path, model), (ref, reference),
                                             (data_path, data)))
        report = ReduceResult.from_report(reduce_model(opts, progress))
        if not _sources.is_path(model):
            report.model = _sources.display_name(model) or report.model
    return report


def export(model: str | Path | Model, out: str | Path | None = None, *, to: str | None = None,
           check: str | None = None, overlay: str | Path | DebugResult | None = None,
           diff: str | Path | Model | None = None, graph: int | None = None,
           format: str | None = None, force: bool = False,
           progress: Progress | None = None) -> ExportResult:
    """A model's graph as one offline HTML page, SVG, DOT, Mermaid, Model Explorer JSON
    or modelkit's graph JSON, with check findings, per-layer error or a diff marked on
    it (`modelkit export`).

    Args:
        model: a path or a loaded Model.
        out: the file to write (its extension picks the format); None renders in
            memory only (`result.text`; give `to`).
        to: `html`, `svg`, `dot`, `mermaid`, `model-explorer` or `json`.
        check: mark what `check` finds for this target.
        overlay: mark the per-layer error of a debug report: a `debug` result, or the
            path of the JSON `modelkit debug --json` wrote.
        diff: mark what the model adds or changes against this other model.
        graph: only this graph (svg and mermaid draw graph 0 by default).
        format: force the input format.
        force: replace an existing output.
        progress: where its notes go (default: stderr): how much of the overlay
            matched (a warning when some of it did not), which graph was drawn.

    Returns:
        The files rendered (OUT, and Model Explorer node data beside it), the graph
        drawn, the nodes each kind of mark marks and the notes; `to_dict()` is
        `export --json`.

    Raises:
        UsageError: an unknown format or target, an output that exists without `force`,
            a malformed overlay or one written for another model.
        ModelReadError: a model cannot be read.
    """
    import json
    import tempfile

    from modelkit.api._results import ExportResult
    from modelkit.api._sources import display_name, is_model, is_path, load_model, quiet
    from modelkit.errors import UsageError
    from modelkit.export import formats
    from modelkit.export.document import Document
    from modelkit.export.marks import Marks, check_marks, debug_marks, diff_marks

    if out is None and to is None:
        raise UsageError("export needs `out` or `to` (html, svg, dot, mermaid, "
                         "model-explorer or json)")
    target = Path(out) if out is not None else Path(f"model.{_EXPORT_EXT.get(to, to)}")
    kind = formats.resolve(target, to)
    sources = tuple(x.path if is_model(x) else x for x in (model, overlay, diff)
                    if is_path(x) or (is_model(x) and x.path))
    # NOTE: every output, the target and the overlay are refused before any model is
    # read, so a wrong call costs nothing.
    if out is not None:
        planned = [target]
        if kind == "model-explorer":
            planned += [formats.node_data_path(target, k) for k, given in
                        (("check", check), ("debug", overlay), ("diff", diff)) if given]
        formats.check_outputs(planned, force=force, sources=sources)
    if check is not None:
        from modelkit.check import TARGETS

        if check not in TARGETS:
            raise UsageError(f"unknown --check target {check!r}; choose one of "
                             f"{', '.join(TARGETS)}")
    if is_path(overlay):
        from modelkit.debug.overlay import read_report

        read_report(overlay)  # type: ignore[arg-type]
    progress = quiet(progress)
    loaded = load_model(model, format)
    marks = Marks()
    notes: list[str] = []
    if check is not None:
        marks.merge(check_marks(loaded, check))
    if overlay is not None:
        if is_path(overlay):
            found = debug_marks(loaded, overlay)  # type: ignore[arg-type]
        else:
            with tempfile.TemporaryDirectory(prefix="modelkit-api-") as work:
                report = Path(work) / "debug.json"
                report.write_text(json.dumps(overlay.to_dict()))  # type: ignore[union-attr]
                found = debug_marks(loaded, report)
        marks.merge(found)
        line = found.notes[0]
        notes.append(line)
        said = f"{display_name(overlay)}: {line}" if is_path(overlay) else line
        (progress.warn if "not shown" in line else progress.note)(said)
    if diff is not None:
        marks.merge(diff_marks(loaded, load_model(diff, format, "diff"), graph))
    pick = graph
    if pick is None and kind in ("svg", "mermaid") and len(loaded.graphs) > 1:
        pick = 0
        notes.append(f"{display_name(model)} has {len(loaded.graphs)} graphs; drawing "
                     "graph 0 (--graph N picks another)")
        progress.note(notes[-1])
    doc = Document.build(loaded, marks, pick)
    files = formats.render(doc, kind, target)
    if out is not None:
        formats.write(files, force=force, sources=sources)
    marked = {k: sum(1 for (gi, _), ms in marks.by_node.items()
                     if (pick is None or gi == pick) and any(m.kind == k for m in ms))
              for k in marks.kinds}
    return ExportResult(display_name(model) or "", kind, files,
                        sum(len(g.nodes) for g in doc.graphs),
                        None if out is None else str(out), notes, pick, marked)


# The extension a format's in-memory rendering is named with (`export(model, to=...)`).
_EXPORT_EXT = {"html": "html", "svg": "svg", "dot": "dot", "mermaid": "mmd",
               "model-explorer": "json", "json": "json"}
