"""`modelkit convert --max-drop`: convert, measure, and when the int8 model loses more
than the budget, search per-layer precision and write the cheapest model that keeps it.

1. Before any conversion: the outputs (DST and DST.recipe.json) may be written, the
   calibration and evaluation data are finite and fit the model's inputs, the
   labels are one per sample and within the model's classes (exit 2 otherwise). The
   float source then runs in TensorFlow on the evaluation data: the reference.
2. The plain conversion (`convert --quantize int8`, TF's converter) is measured;
   when it keeps the budget (and `--target`'s check is clean) it is written as is.
3. Else the source is converted to a float TFLite model, calibrated once with
   ai-edge-quantizer, and every candidate is that float model quantized with a
   recipe (int8, int16 activations with int8 weights, or float per layer),
   converted, checked for the target, run on the evaluation data and timed. The
   layers are tried in `modelkit debug`'s order (own error first) as
   `modelkit.advisor.search` describes.
4. The cheapest candidate that keeps the budget is written with its recipe
   (`DST.recipe.json`, ai-edge-quantizer's format) and the modelkit command that
   reproduces it (`convert --recipe`). When even every layer in float (behind the
   model's integer inputs and outputs) loses more than the budget, nothing is
   written and the command fails (exit 1): the evaluation data or labels do not
   belong to this model and its calibration data.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from modelkit import interrupts
from modelkit.advisor.evaluate import (Budget, Evaluator, Measurement, micro_available,
                                       micro_outputs)
from modelkit.advisor.recipe import (build_recipe, assignment_of, calibrate,
                                     precision_counts, quantize, set_io_type,
                                     signature_inputs, with_signature)
from modelkit.advisor.report import AdviceReport, short
from modelkit.advisor.search import Candidate, Search, SearchLayer, cost_of
from modelkit.convert.data import InputSpec, check_data, load_data, read_data
from modelkit.convert.options import ConvertOptions, command_line
from modelkit.convert.progress import Progress
from modelkit.errors import ConversionError, UsageError
from modelkit.fileio import atomic_output, check_output
from modelkit.formats import registry

# Layers measured for the ranking (samples of the evaluation data).
RANK_SAMPLES = 100
# The most candidates one search converts.
MAX_CANDIDATES = 60
# Precisions besides int8 each target runs. Micro's float layers only when its runtime
# is installed to run each candidate; the Edge TPU takes int8 only.
TARGET_PRECISIONS = {None: ("int16x8", "float"), "tflite": ("int16x8", "float"),
                     "xnnpack": ("float",), "gpu": ("float",), "micro": ("int16x8", "float"),
                     "edgetpu": ()}


class BudgetError(ConversionError):
    """No candidate keeps the budget (exit 1); `.report` holds what was tried."""


@dataclass
class AdviceOptions:
    """The options `convert` takes for the search (see the CLI help)."""

    max_drop: float | None = None
    eval_data: Path | None = None
    labels: Path | None = None
    min_sqnr: float | None = None
    target: str | None = None
    recipe: Path | None = None

    @property
    def searching(self) -> bool:
        return self.max_drop is not None or self.min_sqnr is not None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.max_drop, self.eval_data, self.labels,
                                           self.min_sqnr, self.target, self.recipe))


def recipe_path(dst: Path) -> Path:
    """Where the recipe of DST goes: `DST.recipe.json`."""
    return dst.with_name(dst.name + ".recipe.json")


def validate(opts: ConvertOptions, adv: AdviceOptions) -> None:
    """Reject option combinations before anything loads.

    Raises:
        UsageError: what to change.
    """
    from modelkit.check.rules import TARGETS
    from modelkit.convert.options import target_format

    from modelkit.convert.options import validate as validate_convert

    if target_format(opts.dst, opts.to) != "tflite":
        raise UsageError("--max-drop, --min-sqnr and --recipe write a TFLite model; name "
                         "DST .tflite", str(opts.dst))
    if opts.quantize != "int8":
        raise UsageError(f"--max-drop, --min-sqnr and --recipe start from --quantize int8 "
                         f"(got --quantize {opts.quantize}); add --quantize int8 --data CALIB")
    if opts.data is None:
        raise UsageError("--quantize int8 needs representative data: add --data calib.npy")
    if opts.denylist_nodes or opts.denylist_ops:
        raise UsageError("--denylist-* and the precision search both choose the layers "
                         "kept out of int8; give one of them")
    if opts.dequantize_legacy:
        raise UsageError("--max-drop measures against a float source; reverse the legacy "
                         "graph first (modelkit transform SRC float.pb --transforms "
                         "dequantize_legacy) and convert that")
    validate_convert(opts, registry.detect_format(opts.src, opts.source_format), "tflite")
    if adv.recipe is not None:
        if adv.searching or adv.eval_data or adv.labels or adv.target:
            raise UsageError("--recipe applies a recipe as it is; --max-drop, --min-sqnr, "
                             "--eval-data, --labels and --target belong to the search")
        return
    if not adv.searching:
        raise UsageError("--eval-data, --labels and --target belong to the precision "
                         "search: add --max-drop PCT (or --min-sqnr DB)")
    if adv.eval_data is None:
        raise UsageError("--max-drop/--min-sqnr measure on evaluation data: add --eval-data "
                         "X (.npy/.npz, held-out samples) and --labels Y")
    if adv.max_drop is not None and not 0 <= adv.max_drop <= 100:
        raise UsageError(f"--max-drop {adv.max_drop:g}: give the points of accuracy that may "
                         "be lost, between 0 and 100")
    if adv.min_sqnr is not None and not np.isfinite(adv.min_sqnr):
        raise UsageError("--min-sqnr must be a finite number of dB")
    if adv.target is not None and adv.target not in TARGETS:
        raise UsageError(f"--target {adv.target!r}: choose one of {', '.join(TARGETS)}")


# ----------------------------------------------------------------------------- checks


def _ir_io(opts: ConvertOptions, fmt: str) -> tuple[list[InputSpec] | None, int | None]:
    """The source's input specs and its first [N, classes] output's class count as its
    file says, without TensorFlow (None when the file does not say)."""
    try:
        model = registry.load(opts.src, fmt)
    except ModuleNotFoundError:
        return None, None
    if not model.graphs:
        return None, None
    ins, outs = model.graphs[0].inputs, model.graphs[0].outputs
    if fmt == "savedmodel":
        sig = next((s for s in model.signatures if s.key == opts.signature), None)
        if sig is None:
            return None, None
        ins, outs = sig.inputs, sig.outputs  # type: ignore[assignment]
    if fmt in ("graphdef", "checkpoint") and (opts.inputs or opts.input_shapes):
        ins = []

    def spec(v) -> InputSpec | None:
        shape = getattr(v, "shape", None)
        if shape is None:
            return None
        dtype = getattr(v, "dtype", None)
        np_dtype = np.dtype(dtype.numpy) if dtype is not None and dtype.numpy is not None \
            else np.dtype(np.float32)
        name = getattr(v, "key", None) or v.name
        return InputSpec(name, np_dtype, tuple(shape))

    specs = [spec(v) for v in ins]
    classes = None
    for v in outs:
        shape = getattr(v, "shape", None)
        if shape is not None and len(shape) == 2 and shape[1] is not None and shape[1] > 1:
            classes = int(shape[1])
            break
    known = specs if specs and all(s is not None for s in specs) else None
    return known, classes  # type: ignore[return-value]


def check_labels_range(labels: np.ndarray, classes: int | None, path: Path) -> None:
    """Refuse labels the model's outputs cannot predict.

    Raises:
        UsageError: a label is not below the number of classes.
    """
    from modelkit.runtime.results import label_misfit

    why = None if classes is None or not labels.size else label_misfit(labels, classes)
    if why is not None:
        raise UsageError(why, str(path))


def _sources(opts: ConvertOptions, adv: AdviceOptions) -> tuple:
    """The command's input files (outputs never replace them)."""
    return tuple(p for p in (opts.src, opts.data, adv.eval_data, adv.labels, adv.recipe)
                 if p is not None)


def precheck(opts: ConvertOptions, adv: AdviceOptions) -> np.ndarray | None:
    """Everything checked before TensorFlow loads: outputs, data, labels (count and,
    where the file says the classes, their range), the evaluation data's shape
    (where the file says the inputs). Returns the labels when given.

    Raises:
        UsageError, OutputExistsError: exit 2.
        ModelReadError: the source cannot be read (exit 3).
    """
    from modelkit.runtime.results import load_labels

    inputs = _sources(opts, adv)
    check_output(opts.dst, force=opts.force, sources=inputs)
    check_output(recipe_path(opts.dst), force=opts.force, sources=inputs)
    check_data(opts.data)
    total = check_data(adv.eval_data)
    fmt = registry.detect_format(opts.src, opts.source_format)
    specs, classes = _ir_io(opts, fmt)
    if specs is not None:
        read_data(adv.eval_data, specs, warn=lambda text: None)  # type: ignore[arg-type]
    labels = None
    if adv.labels is not None and total is not None:
        labels = load_labels(adv.labels, total, total=total)
        check_labels_range(labels, classes, adv.labels)
    return labels


# ----------------------------------------------------------------------------- driver


class _Run:
    """One search: the reference, the float model, the calibration, the candidates."""

    def __init__(self, opts: ConvertOptions, adv: AdviceOptions, progress: Progress,
                 work: Path) -> None:
        self.opts, self.adv, self.progress, self.work = opts, adv, progress, work
        self.budget = Budget(adv.max_drop, adv.min_sqnr, adv.labels is not None)
        self.ev: Evaluator | None = None
        self.notes: list[str] = []
        self.float_bytes = b""
        self.calibration = None
        self.conversions = 0
        self.io_type = opts.io_type or "int8"
        self.micro = adv.target == "micro" and micro_available()
        self.start = time.perf_counter()

    # -- reference

    def reference(self, labels: np.ndarray | None) -> Evaluator:
        """Run the float source in TensorFlow on the evaluation data."""
        from modelkit.advisor.evaluate import input_specs
        from modelkit.runtime import open_runtime
        from modelkit.runtime.results import load_labels

        opts, adv = self.opts, self.adv
        fmt = registry.detect_format(opts.src, opts.source_format)
        graph = fmt in ("graphdef", "checkpoint")
        self.progress.stage(f"running the float model {opts.src} on {adv.eval_data} "
                            "(TensorFlow)")
        with open_runtime(opts.src, fmt=fmt,
                          signature=opts.signature if fmt == "savedmodel" else None,
                          inputs=opts.inputs if graph else None,
                          outputs=opts.outputs if graph else None,
                          shapes=opts.input_shapes if graph else None,
                          allow_unsafe_ops=opts.allow_unsafe_ops, debug=opts.debug) as src:
            arrays = load_data(adv.eval_data, input_specs(src))  # type: ignore[arg-type]
            n = int(arrays[0].shape[0])
            if adv.labels is not None and labels is None:
                labels = load_labels(adv.labels, n, total=n)
            ev = Evaluator.from_source(src, arrays, labels)
        if ev.classifier is None and adv.max_drop is not None:
            raise UsageError("no output of the model holds class scores [N, classes]: "
                             "accuracy and top-1 agreement need one; give --min-sqnr DB "
                             "instead of --max-drop", str(opts.src))
        if labels is not None and ev.classifier is not None:
            classes = int(ev.reference[ev.classifier].shape[1])
            check_labels_range(labels, classes, adv.labels)  # type: ignore[arg-type]
            chance = float(np.max(np.bincount(labels, minlength=classes))) / len(labels)
            if ev.float_accuracy is not None and ev.float_accuracy <= chance + 0.02:
                self.notes.append(f"the float model's accuracy on these labels is "
                                  f"{100 * ev.float_accuracy:.2f}%, no better than "
                                  f"guessing the most frequent class "
                                  f"({100 * chance:.2f}%): the labels may not belong to "
                                  f"{adv.eval_data}")
        self.ev = ev
        return ev

    # -- candidates

    def assess(self, index: int, assignment: dict[str, str], content: bytes,
               origin: str) -> Candidate:
        """Check, run and time one converted model."""
        from modelkit.errors import ModelReadError, UnsupportedError
        from modelkit.formats.tflite import load as load_tflite
        from modelkit.runtime.tflite import InvokeError

        interrupts.stage("candidate")
        assert self.ev is not None
        path = self.work / f"candidate_{index}.tflite"
        path.write_bytes(content)
        counts = precision_counts(content)
        data: dict = {"path": path, "size": len(content), "counts": counts, "notes": []}
        rejected = ""
        if self.adv.target is not None:
            from modelkit.check.engine import check_model

            report = check_model(load_tflite(path), self.adv.target)
            data["check"] = {"errors": len(report.errors),
                             "warnings": len(report.of("warning"))}
            if report.errors:
                first = report.errors[0]
                rejected = (f"check --target {self.adv.target}: {len(report.errors)} "
                            f"error(s), first {first.rule} at {first.op}")
        outputs = None
        if not rejected:
            try:
                if self.micro:
                    outputs, why = micro_outputs(self.ev, content)
                    rejected = why
                else:
                    outputs = self.ev.run_tflite(path, name=f"candidate {index}")
            except (UsageError, InvokeError, UnsupportedError, ModelReadError) as e:
                rejected = f"the interpreter cannot run it: {e.message}"
        m = self.ev.measure(outputs) if outputs is not None else None
        if m is not None:
            data["measure"] = m
            data["latency_us"] = self.ev.latency_us(content)
        meets = not rejected and m is not None and self.budget.meets(m)
        shortfall = self.budget.shortfall(m) if m is not None and not rejected else np.inf
        c = Candidate(index, assignment, meets, float(shortfall),
                      cost_of(counts, len(content)), rejected, origin, data)
        self._announce(c)
        return c

    def _announce(self, c: Candidate) -> None:
        m = c.data.get("measure")
        what = ", ".join(f"{short(k)}={v}" for k, v in c.assignment.items()) or \
            ("TF converter int8" if c.origin == "converter" else "all int8")
        if c.rejected:
            verdict = "rejected: " + c.rejected
        else:
            verdict = ("meets" if c.meets else "over budget") + (
                f" (drop {m.drop:.2f} points)" if m is not None and m.drop is not None else
                f" (SQNR {m.sqnr_db:.1f} dB)" if m is not None and m.sqnr_db is not None
                else "")
        self.progress.stage(f"candidate {c.index}: {what}: {verdict}")

    def quantized(self, index: int, assignment: dict[str, str]) -> Candidate:
        """Quantize the float model with `assignment`'s recipe and assess it."""
        content = quantize(self.float_bytes, build_recipe(assignment), self.calibration)
        self.conversions += 1
        content, note = set_io_type(content, self.io_type)
        c = self.assess(index, assignment, content, "search")
        if note:
            c.data["notes"].append(note)
        return c

    # -- float model and calibration

    def float_model(self) -> bytes:
        """The source as a float TFLite model (convert --quantize none), signed."""
        from modelkit.convert.pipeline import convert

        out = self.work / "float.tflite"
        self.progress.stage("converting to a float TFLite model for the search")
        convert(replace(self.opts, dst=out, quantize="none", io_type=None, verify=False,
                        force=False), Progress(quiet=True))
        self.conversions += 1
        self.float_bytes = with_signature(out.read_bytes())
        return self.float_bytes

    def calibrate(self) -> None:
        """ai-edge-quantizer's calibration on the first --calibration-steps samples."""
        from modelkit.advisor.evaluate import input_specs
        from modelkit.runtime import open_runtime

        key, _ = signature_inputs(self.float_bytes)
        with open_runtime(self.float_bytes, name=str(self.opts.src)) as rt:
            arrays = load_data(self.opts.data, input_specs(rt),  # type: ignore[arg-type]
                               limit=self.opts.calibration_steps)
            order = [s.name for s in rt.inputs]
        n = int(arrays[0].shape[0])
        self.progress.stage(f"calibrating on {n} samples from {self.opts.data} "
                            "(ai-edge-quantizer)")
        samples = [{name: a[i:i + 1] for name, a in zip(order, arrays)} for i in range(n)]
        self.calibration = calibrate(self.float_bytes, samples, key)

    # -- ranking

    def ranking(self, int8: Candidate) -> list[SearchLayer]:
        """The search layers in `modelkit debug`'s order (own error first)."""
        from modelkit.debug.analyze import analyze
        from modelkit.debug.session import SAME_SCALE_OPS
        from modelkit.formats.tflite import load as load_tflite
        from modelkit.runtime import open_runtime

        assert self.ev is not None
        with open_runtime(self.float_bytes, name="float") as rt:
            arrays, _ = self.ev.pair(rt)
        count = min(RANK_SAMPLES, int(arrays[0].shape[0]))

        def samples():
            for i in range(count):
                yield [a[i:i + 1] for a in arrays]

        self.progress.stage(f"ranking layers by their own error on {count} samples "
                            "(modelkit debug)")
        result = analyze(self.float_bytes, int8.data["path"].read_bytes(), samples,
                         count=count, float_name=str(self.opts.src),
                         quant_name="all int8")
        fpath = self.work / "float_signed.tflite"
        fpath.write_bytes(self.float_bytes)
        graph = load_tflite(fpath).graphs[0]
        by_tensor = {}
        for node in graph.nodes:
            for v in node.outputs:
                by_tensor.setdefault(v.name, node)
        layers: dict[str, SearchLayer] = {}
        node_of: dict[str, object] = {}
        for layer in sorted(result.layers, key=lambda x: x.rank):
            node = by_tensor.get(layer.float_tensor or "")
            if node is None or node.op in SAME_SCALE_OPS:
                continue
            name = ";".join(v.name for v in node.outputs)
            if name not in layers:
                layers[name] = SearchLayer(name, node.op, [], layer.rank,
                                           layer.stats.get("local_sqnr_db"))
                node_of[name] = node
        for name, layer in layers.items():
            layer.producers = _producers(node_of[name], set(layers), SAME_SCALE_OPS)
        return list(layers.values())


def _producers(node, layers: set[str], passthrough) -> list[str]:
    """The layers whose outputs reach `node`'s inputs, through ops that keep their
    input's scale (RESHAPE, MAX_POOL_2D...)."""
    out: list[str] = []
    stack = [v for v in node.inputs if v is not None and v.producer is not None]
    seen = set()
    while stack:
        v = stack.pop()
        p = v.producer
        if p is None or id(p) in seen:
            continue
        seen.add(id(p))
        name = ";".join(x.name for x in p.outputs)
        if name in layers:
            out.append(name)
        elif p.op in passthrough:
            stack.extend(x for x in p.inputs if x is not None and x.producer is not None)
    return list(dict.fromkeys(out))


def advise(opts: ConvertOptions, adv: AdviceOptions,
           progress: Progress | None = None) -> AdviceReport:
    """Convert with the budget; see the module docstring.

    Raises:
        UsageError: bad options, data, labels or outputs (exit 2, before any conversion).
        BudgetError: no model keeps the budget (exit 1, nothing written); `.report`.
        ConversionError, ModelReadError, UnsupportedError: as `convert`.
    """
    from modelkit.convert.pipeline import convert

    progress = progress or Progress()
    start = time.perf_counter()
    validate(opts, adv)
    labels = precheck(opts, adv)
    with tempfile.TemporaryDirectory(prefix="modelkit-advisor-") as work:
        run = _Run(opts, adv, progress, Path(work))
        ev = run.reference(labels)
        budget = run.budget
        report = AdviceReport(str(opts.src), str(opts.dst), budget, ev.samples,
                              str(adv.eval_data), target=adv.target)
        report.float_measure = Measurement(ev.samples, accuracy=ev.float_accuracy,
                                           agreement=1.0 if ev.classifier else None)
        report.runtime = "TFLite Micro (Python runtime)" if run.micro else \
            "LiteRT, builtin kernels"
        report.notes.extend(run.notes)

        def finish(chosen: Candidate | None, recipe: list | None) -> AdviceReport:
            report.conversions = run.conversions
            report.seconds = time.perf_counter() - start
            if chosen is None:
                return report
            report.chosen = chosen
            report.check = chosen.data.get("check")
            report.notes.extend(chosen.data.get("notes", []))
            content = chosen.data["path"].read_bytes()
            sources = _sources(opts, adv)
            interrupts.check()
            with atomic_output(opts.dst, force=opts.force, sources=sources) as tmp:
                tmp.write_bytes(content)
            if recipe is not None:
                rpath = recipe_path(opts.dst)
                with atomic_output(rpath, force=opts.force, sources=sources) as tmp:
                    tmp.write_text(json.dumps(recipe, indent=2) + "\n")
                report.recipe = str(rpath)
                report.command = command_line(replace(opts, force=False), "--recipe",
                                              str(rpath))
            else:
                report.command = command_line(replace(opts, force=False))
                if recipe_path(opts.dst).exists():
                    report.notes.append(f"{recipe_path(opts.dst)} is left from an earlier "
                                        "run; it does not describe this model")
            report.written = True
            report.seconds = time.perf_counter() - start
            return report

        # 1. The plain conversion.
        plain_path = Path(work) / "plain.tflite"
        progress.stage("converting with --quantize int8 (TF converter)")
        convert(replace(opts, dst=plain_path, verify=False, force=False), progress)
        run.conversions += 1
        plain = run.assess(0, {}, plain_path.read_bytes(), "converter")
        report.candidates.append(plain)
        if plain.meets:
            return finish(plain, None)
        precisions = TARGET_PRECISIONS[adv.target]
        if adv.target == "micro" and not run.micro:
            precisions = ("int16x8",)
            report.notes.append("float layers are not tried for --target micro: TFLite "
                                "Micro's Python runtime (pip install tflite-micro) is not "
                                "installed to verify that Micro runs them")
        if not precisions:
            report = finish(None, None)
            raise _budget_error(report, f"--target {adv.target} runs int8 only, so no "
                                "layer can be kept in higher precision: the budget cannot "
                                f"be met on {adv.target}; nothing written")

        # 2. The search.
        run.float_model()
        run.calibrate()
        index = [len(report.candidates)]

        def try_candidate(_: int, assignment: dict[str, str]) -> Candidate:
            c = run.quantized(index[0], assignment)
            index[0] += 1
            report.candidates.append(c)
            return c

        search = Search([], precisions, try_candidate, limit=MAX_CANDIDATES)
        int8 = search.evaluate({})
        if not int8.meets:
            _bound(run, report, int8)
            layers = run.ranking(int8)
            report.ranking = [(x.name, x.op, x.local_sqnr_db) for x in layers]
            search.layers = layers
        search.run()
        chosen = search.best()
        if chosen is None and search.layers:
            everything = {x.name: "float" if "float" in precisions else precisions[-1]
                          for x in search.layers}
            last = search.evaluate(everything)
            chosen = last if last.meets else None
        if chosen is None:
            report = finish(None, None)
            raise _budget_error(report, f"no candidate keeps the budget "
                                f"({budget.describe()}) within {len(report.candidates)} "
                                "candidates; nothing written")
        return finish(chosen, build_recipe(chosen.assignment))


def _bound(run: _Run, report: AdviceReport, int8: Candidate) -> None:
    """Fail when even every layer in float (behind the integer inputs and outputs the
    candidates have) loses more than the budget.

    Raises:
        BudgetError: the budget cannot be met at all.
    """
    ev = run.ev
    assert ev is not None
    if int8.rejected:
        outputs = ev.run_tflite(run.float_bytes, "float")
        io = "float inputs and outputs"
    else:
        outputs = ev.fake_io(run.float_bytes, int8.data["path"].read_bytes())
        io = "float inputs and outputs" if run.io_type == "float32" else \
            f"the {run.io_type} inputs and outputs quantized as calibrated"
    m = ev.measure(outputs)
    report.notes.append(f"every layer in float with {io}: " + _describe(run.budget, m))
    if run.budget.meets(m):
        return
    ranges = ", ".join(f"{name} in [{lo:.4g}, {hi:.4g}]" for name, lo, hi in ev.input_ranges())
    calibrated = _calibrated_ranges(int8) if not int8.rejected else ""
    report.conversions = run.conversions
    report.seconds = time.perf_counter() - run.start
    what = "the evaluation data" + (" or its labels" if run.budget.labels else "")
    raise _budget_error(report, "the budget cannot be met: even with every layer in float "
                        f"({io}) {_describe(run.budget, m)}; {what} do not fit this model "
                        f"and its calibration data {run.opts.data} (evaluation inputs "
                        f"{ranges}{calibrated})"
                        + ("" if run.io_type == "float32" else
                           ", or the budget needs --io-type float32")
                        + "; nothing written")


def _calibrated_ranges(c: Candidate) -> str:
    """`; calibrated: x in [lo, hi]` from a quantized candidate's inputs."""
    from modelkit.runtime import open_runtime

    parts = []
    with open_runtime(c.data["path"], name="candidate") as rt:
        for s in rt.inputs:
            if s.is_quantized and s.quant is not None:
                lo, hi = s.quant.representable_range()
                parts.append(f"{s.name} in [{float(lo[0]):.4g}, {float(hi[0]):.4g}]")
    return f"; calibrated: {', '.join(parts)}" if parts else ""


def _describe(budget: Budget, m: Measurement) -> str:
    parts = []
    if budget.max_drop is not None and m.drop is not None:
        parts.append(f"{budget.metric} drops {m.drop:.2f} points (budget "
                     f"{budget.max_drop:g})")
    if budget.min_sqnr is not None and m.sqnr_db is not None:
        parts.append(f"output SQNR is {m.sqnr_db:.1f} dB (budget {budget.min_sqnr:g})")
    return " and ".join(parts)


def _budget_error(report: AdviceReport, message: str) -> BudgetError:
    """The error that ends a search no model passed; the CLI prints `.report` first."""
    err = BudgetError(message, report.output)
    err.report = report  # type: ignore[attr-defined]
    return err


# ----------------------------------------------------------------------------- --recipe


@dataclass
class RecipeResult:
    """What `convert --recipe` wrote."""

    model: str
    output: str
    recipe: str
    size: int
    counts: dict
    notes: list

    def lines(self) -> list[str]:
        return [f"wrote {self.output} ({self.size} bytes) from {self.model} with "
                f"{self.recipe}: {self.counts.get('float', 0)} float and "
                f"{self.counts.get('int16x8', 0)} int16 op(s), "
                f"{self.counts.get('int8', 0)} int8"] + [f"note: {n}" for n in self.notes]

    def to_dict(self) -> dict:
        return {"schema_version": 1, "model": self.model, "output": self.output,
                "recipe": self.recipe, "size_bytes": self.size, "ops": self.counts,
                "notes": self.notes}


def read_recipe(path: Path) -> list[dict]:
    """An ai-edge-quantizer recipe file.

    Raises:
        UsageError: missing, unreadable or not a list of entries.
    """
    if not path.is_file():
        raise UsageError("no such recipe file", str(path))
    try:
        recipe = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UsageError(f"cannot read the recipe as JSON: {e}", str(path)) from None
    if not isinstance(recipe, list) or not recipe or \
            not all(isinstance(e, dict) and "regex" in e for e in recipe):
        raise UsageError("not an ai-edge-quantizer recipe (a JSON list of entries with "
                         "'regex', 'operation', 'algorithm_key')", str(path))
    return recipe


def apply_recipe(opts: ConvertOptions, path: Path,
                 progress: Progress | None = None) -> RecipeResult:
    """`convert --recipe`: the float model quantized by ai-edge-quantizer with the
    recipe, calibrated on --data as the search calibrates; the model the search wrote
    with this recipe.

    Raises:
        UsageError: bad options, recipe, names or outputs (exit 2).
        ConversionError: the conversion or the quantizer failed (exit 1).
    """
    progress = progress or Progress()
    validate(opts, AdviceOptions(recipe=path))
    recipe = read_recipe(path)
    check_output(opts.dst, force=opts.force, sources=_sources(opts, AdviceOptions(recipe=path)))
    check_data(opts.data)
    with tempfile.TemporaryDirectory(prefix="modelkit-advisor-") as work:
        run = _Run(opts, AdviceOptions(), progress, Path(work))
        run.float_model()
        _check_recipe_names(recipe, run.float_bytes, path)
        run.calibrate()
        progress.stage(f"quantizing with {path} (ai-edge-quantizer)")
        content = quantize(run.float_bytes, recipe, run.calibration)
        content, note = set_io_type(content, run.io_type)
        with atomic_output(opts.dst, force=opts.force,
                           sources=_sources(opts, AdviceOptions(recipe=path))) as tmp:
            tmp.write_bytes(content)
    return RecipeResult(str(opts.src), str(opts.dst), str(path), len(content),
                        precision_counts(content), [note] if note else [])


def _check_recipe_names(recipe: list[dict], float_bytes: bytes, path: Path) -> None:
    """Refuse a per-layer entry that names no op of the float model."""
    import difflib

    from modelkit.convert.selective import op_outputs

    try:
        names = assignment_of(recipe)
    except ValueError:
        return  # another tool's recipe: ai-edge-quantizer matches it as it is
    known = {row[1] for row in op_outputs(float_bytes)}
    for name in names:
        if name not in known and not any(name.startswith(k + ";") for k in known):
            close = difflib.get_close_matches(name, sorted(known), n=2, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise UsageError(f"the recipe names {name!r}, which no op of the float model "
                             f"writes{hint}", str(path))


__all__ = ["AdviceOptions", "BudgetError", "advise", "apply_recipe",
           "recipe_path", "validate"]
