"""`modelkit debug`'s keep-in-float advice, verified: the suggested `convert
--denylist-nodes` command is run (one conversion, TF's converter and MLIR quantizer as
`convert` runs them), the result is measured on debug's data against the float
source run by TensorFlow, and the verdict says whether the accuracy (with labels) or
the top-1 agreement with the float model came back within the budget; when it did
not, it names the `convert --max-drop` command that searches per-layer precision."""

from __future__ import annotations

import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from modelkit.advisor.evaluate import Budget, Evaluator, Measurement
from modelkit.convert.progress import Progress
from modelkit.errors import ModelkitError

DEFAULT_MAX_DROP = 1.0


@dataclass
class AdviceCheck:
    """The suggested conversion, measured.

    Attributes:
        command: the `modelkit convert` line debug printed.
        measure: the converted model against the float source.
        float_accuracy: the float source's accuracy (with labels).
        recovered: within `max_drop` points of the float model.
        search_command: the `convert --max-drop` line to run when it did not recover.
        error: why the conversion or the run failed ("" when it ran).
    """

    command: str
    nodes: list[str]
    budget: Budget
    measure: Measurement | None
    float_accuracy: float | None
    recovered: bool
    search_command: str
    seconds: float
    error: str = ""

    def lines(self) -> list[str]:
        if self.error:
            return [f"verified advice: the suggested conversion failed: {self.error}",
                    f"search per-layer precision instead: {self.search_command}"]
        m = self.measure
        assert m is not None
        if self.budget.labels and m.accuracy is not None:
            reached = f"accuracy {m.accuracy:.4f} (float {self.float_accuracy:.4f})"
        else:
            reached = f"top-1 agreement with the float model {m.agreement:.4f}"
        head = f"verified advice: converted with that denylist, {reached}"
        if self.recovered:
            return [f"{head}: recovered (drop {m.drop:.2f} points, within "
                    f"{self.budget.max_drop:g})"]
        return [f"{head}: did not recover (drop {m.drop:.2f} points, more than "
                f"{self.budget.max_drop:g}); search per-layer precision: "
                f"{self.search_command}"]

    def to_dict(self) -> dict:
        return {"command": self.command, "nodes": self.nodes,
                "max_drop_points": self.budget.max_drop, "metric": self.budget.metric,
                "measure": self.measure.to_dict() if self.measure is not None else None,
                "float_accuracy": self.float_accuracy, "recovered": self.recovered,
                "search_command": self.search_command, "seconds": round(self.seconds, 3),
                "error": self.error or None}


def _search_command(opts, max_drop: float) -> str:
    out = opts.src.with_name(opts.src.stem.rstrip("/") + "_mixed.tflite")
    args = ["modelkit", "convert", str(opts.src), str(out), "--quantize", "int8",
            "--data", str(opts.calibration_data or opts.data)]
    if opts.calibration_steps != 100:
        args += ["--calibration-steps", str(opts.calibration_steps)]
    if opts.io_type:
        args += ["--io-type", opts.io_type]
    args += ["--max-drop", f"{max_drop:g}", "--eval-data", str(opts.data)]
    if opts.labels is not None:
        args += ["--labels", str(opts.labels)]
    return shlex.join(args)


def applies(opts, report) -> bool:
    """True when debug's advice can be verified: debug quantized SRC itself (int8, not
    a TFLite file) and suggests layers the given denylist does not already hold."""
    from modelkit.formats import registry

    if report.mode != "convert" or report.quantize != "int8" or not report.suggest_denylist:
        return False
    if not set(report.suggest_denylist) - set(opts.denylist.nodes):
        return False
    return registry.detect_format(opts.src) != "tflite"


def verify_advice(opts, report, max_drop: float = DEFAULT_MAX_DROP,
                  progress: Progress | None = None) -> AdviceCheck:
    """Convert SRC with debug's suggested denylist and measure it on debug's data.

    Args:
        opts: debug's `DebugOptions`.
        report: debug's `DebugReport` (its suggestion and convert command).
        max_drop: points of accuracy (agreement without labels) the result may lose.

    Raises:
        UsageError, ModelReadError: the source or data cannot be run (as debug).
    """
    from modelkit.advisor.evaluate import input_specs
    from modelkit.convert.data import load_data
    from modelkit.convert.pipeline import ConvertOptions, convert
    from modelkit.runtime import open_runtime
    from modelkit.runtime.results import load_labels

    progress = progress or Progress()
    start = time.perf_counter()
    nodes = list(dict.fromkeys(opts.denylist.nodes + report.suggest_denylist))
    budget = Budget(max_drop, None, opts.labels is not None)
    search = _search_command(opts, max_drop)
    progress.stage("verifying the advice: converting with the suggested denylist")
    with open_runtime(opts.src, signature=opts.signature, debug=opts.debug) as src:
        arrays = load_data(opts.data, input_specs(src), limit=opts.samples,
                           warn=lambda text: None)
        n = int(arrays[0].shape[0])
        labels = load_labels(opts.labels, n) if opts.labels is not None else None
        ev = Evaluator.from_source(src, arrays, labels)
    with tempfile.TemporaryDirectory(prefix="modelkit-advice-") as work:
        out = Path(work) / "selective.tflite"
        try:
            convert(ConvertOptions(
                src=opts.src, dst=out, quantize="int8", io_type=opts.io_type,
                data=opts.calibration_data or opts.data,
                calibration_steps=opts.calibration_steps, signature=opts.signature,
                denylist_nodes=nodes, denylist_ops=list(opts.denylist.ops), verify=False,
                debug=opts.debug), Progress(quiet=True))
            m = ev.measure(ev.run_tflite(out, "the suggested conversion"))
        except ModelkitError as e:
            return AdviceCheck(report.convert_command, nodes, budget, None,
                               ev.float_accuracy, False, search,
                               time.perf_counter() - start, e.message)
    return AdviceCheck(report.convert_command, nodes, budget, m, ev.float_accuracy,
                       budget.meets(m), search, time.perf_counter() - start)
