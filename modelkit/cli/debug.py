"""Find the layers that lose accuracy when a model is quantized.

Examples:

    modelkit debug saved_model/ --data calib.npy
    modelkit debug model.h5 --data calib.npy --labels labels.npy --denylist-nodes NAME
    modelkit debug float.pb quant.tflite --data calib.npy --csv layers.csv
"""

from __future__ import annotations

import gc
import math
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from modelkit.cli.main import _state, app, reporting_errors

_HELP = __doc__


@app.command(help=_HELP.split("\n\n")[0] + "\n\n" + """\
With SRC alone (GraphDef, SavedModel, Keras H5, checkpoint or a float TFLite),
SRC is quantized as `modelkit convert` does and each quantized tensor gets TF's
QuantizationDebugger statistics (same numbers), its error in quantization
steps (rmse/scale), the error it accumulated from the float model and its own
local error. With FLOAT QUANT.tflite the pair is compared as is, tensors
matched by name, then by position.

Layers are ranked by their own (local) error; the text report draws it per
layer, says which layers to keep in float and prints the convert command that
does it. --denylist-* re-quantizes with those kept in float; with --labels the
accuracy of the float, quantized and selective models is shown.""")
def debug(
    src: Path = typer.Argument(..., help="The float model (any format)."),
    quant: Optional[Path] = typer.Argument(None, help="A quantized TFLite made from SRC "
                                           "(skip to let debug quantize SRC)."),
    data: Path = typer.Option(None, "--data", help="Representative inputs: .npy, .npz or "
                              "an image folder (calibration and measurement)."),
    calibration_data: Path = typer.Option(None, "--calibration-data",
                                          help="Calibrate on these inputs instead of "
                                          "--data (e.g. training samples)."),
    quantize: str = typer.Option("int8", "--quantize", "-q", help="int8|int16x8."),
    io_type: str = typer.Option(None, "--io-type", help="Model input/output type, as for "
                                "convert: int8 (default)|uint8|float32; int16x8: "
                                "float32 (default)|int16."),
    samples: int = typer.Option(200, "--samples", help="Samples measured (from --data)."),
    calibration_steps: int = typer.Option(100, "--calibration-steps",
                                          help="Samples used for calibration."),
    denylist_nodes: str = typer.Option(None, "--denylist-nodes", metavar="NAME,...",
                                       help="Keep these ops (by output tensor name in the "
                                       "float model) in float."),
    denylist_ops: str = typer.Option(None, "--denylist-ops", metavar="OP,...",
                                     help="Keep every op of these types in float "
                                     "(e.g. FULLY_CONNECTED)."),
    labels: Path = typer.Option(None, "--labels", help="Class labels (.npy, or .npz with "
                                "`y`) to report top-1 accuracy."),
    csv_out: str = typer.Option(None, "--csv", help="Write the per-layer table as CSV "
                                "(.csv)."),
    overlay: str = typer.Option(None, "--model-explorer", help="Write rmse/scale per node "
                                "as Model Explorer node data JSON (.json)."),
    save: str = typer.Option(None, "--save", help="Write the quantized model debug made "
                             "(.tflite)."),
    signature: str = typer.Option("serving_default", "--signature",
                                  help="SavedModel signature."),
    top: int = typer.Option(0, "--top", help="Show only the N worst layers (0 = all)."),
    verify_advice: Optional[bool] = typer.Option(
        None, "--verify-advice/--no-verify-advice", help="Convert with the suggested "
        "denylist and measure it (default: on with --labels)."),
    max_drop: float = typer.Option(1.0, "--max-drop", metavar="PCT", help="Points of "
                                   "accuracy the verified advice may lose."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace existing outputs."),
) -> None:
    """Per-layer quantization error, the layers to keep in float, and the fix."""
    with reporting_errors():
        from modelkit import api
        from modelkit.cli.paths import check_outputs, output_option
        from modelkit.convert.progress import Progress

        csv_path = output_option(csv_out, "--csv", ".csv", "a CSV table")
        overlay_path = output_option(overlay, "--model-explorer", ".json",
                                     "Model Explorer node data (JSON)")
        save_path = output_option(save, "--save", ".tflite", "a TFLite flatbuffer")
        if data is not None:
            # NOTE: every output is checked before anything is converted or measured
            # (and before TensorFlow loads): a bad one costs nothing. Without --data,
            # the library says what is missing first.
            check_outputs({"--csv": csv_path, "--model-explorer": overlay_path,
                           "--save": save_path},
                          inputs=(src, quant, data, calibration_data, labels), force=force)
        report = api.debug(src, quant, data, labels=labels, calibration_data=calibration_data,
                           quantize=quantize, io_type=io_type, samples=samples,
                           calibration_steps=calibration_steps,
                           denylisted_nodes=denylist_nodes, denylisted_ops=denylist_ops,
                           save=save_path, signature=signature,
                           verify_advice=verify_advice, max_drop=max_drop, force=force,
                           show_logs=_state["debug"], progress=Progress())
        if csv_path is not None:
            report.to_csv(csv_path, force=force)
        if overlay_path is not None:
            report.model_explorer(overlay_path, force=force)
        if as_json:
            from modelkit.cli.output import emit_json

            emit_json(report.to_dict())
        else:
            render(report, top)
            check = report.advice_verified
            for line in check.lines() if check is not None else []:
                print(line)
            _suggest_reduce(report, src, quant or save_path, data)
        sys.stdout.flush()
        # NOTE: as in convert: TensorFlow's heap makes the exit-time collection slow.
        gc.freeze()


def _suggest_reduce(report, src: Path, quant: Path | None, data: Path | None) -> None:
    """Point to `modelkit reduce --until mismatch` when a layer computes wrong: it cuts
    the quantized model down to the first op whose output leaves the float model's by
    more than that layer's error threshold (in its own quantization steps)."""
    from modelkit.debug.session import RMSE_SCALE_THRESHOLD

    worst = min(report.layers, key=lambda x: x.rank, default=None)
    step = None if worst is None else worst.stats.get("rmse_scale")
    if (quant is None or data is None or step is None or not math.isfinite(step)
            or step <= RMSE_SCALE_THRESHOLD or not worst.scale):
        return
    small = quant.with_name(f"{quant.stem}_reduced{quant.suffix}")
    atol = format(RMSE_SCALE_THRESHOLD * worst.scale, ".3g")
    print(f"modelkit: note: to cut the quantized model down to the first op whose output "
          f"leaves the float model's by more than {RMSE_SCALE_THRESHOLD} steps of the worst "
          f"layer's scale: modelkit reduce {shlex.quote(str(quant))} "
          f"{shlex.quote(str(small))} --until mismatch --reference {shlex.quote(str(src))} "
          f"--data {shlex.quote(str(data))} --atol {atol}", file=sys.stderr)


def _num(x: float | None, fmt: str = ".3g") -> str:
    if x is None:
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return format(x, fmt)


def _short(name: str, width: int = 44) -> str:
    """The last part of a fused tensor name (`a;b;c` -> `a`), cut to `width`."""
    first = name.split(";")[0]
    return first if len(first) <= width else "…" + first[-(width - 1):]


def render(report, top: int = 0) -> None:
    """The text report on stdout: per-layer table with error bars, advice, accuracy."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from modelkit.debug.session import RMSE_SCALE_THRESHOLD

    console = Console(highlight=False, soft_wrap=False,
                      width=None if sys.stdout.isatty() else 140)
    layers = sorted(report.layers, key=lambda x: x.node)
    if top > 0:
        keep = {id(x) for x in sorted(report.layers, key=lambda x: x.rank)[:top]}
        layers = [x for x in layers if id(x) in keep]
    steps = [x.stats.get("rmse_scale") or 0.0 for x in layers]
    biggest = max([RMSE_SCALE_THRESHOLD * 2] + [s for s in steps if math.isfinite(s)])
    where = report.quantized_model or "quantized in memory"
    console.print(f"{report.model} vs {where}: {len(report.layers)} quantized layers, "
                  f"{report.samples} samples ({report.mode}, {report.quantize})")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col, just in (("#", "right"), ("op", "left"), ("tensor", "left"),
                      ("rmse/scale", "right"), ("", "left"), ("local SQNR dB", "right"),
                      ("acc. RMSE", "right"), ("SQNR dB", "right"), ("rank", "right")):
        table.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]
    for layer in layers:
        s = layer.stats
        step = s.get("rmse_scale")
        width = 0 if step is None or not math.isfinite(step) or step <= 0 else \
            max(1, round(24 * min(step, biggest) / biggest))
        bad = layer.float_tensor in report.suggest_denylist or (
            layer.dtype in ("int8", "uint8") and step is not None
            and step > RMSE_SCALE_THRESHOLD)
        bar = Text("█" * width, style="red" if bad else "green")
        table.add_row(str(layer.node), layer.op_name, _short(layer.tensor_name),
                      _num(step), bar, _num(s.get("local_sqnr_db"), ".1f"),
                      _num(s.get("accumulated_rmse")), _num(s.get("sqnr_db"), ".1f"),
                      str(layer.rank))
    console.print(table)
    worst = min(report.layers, key=lambda x: x.rank, default=None)
    if worst is not None:
        console.print(f"worst layer (own error): #{worst.node} {worst.op_name} "
                      f"{worst.tensor_name}")
    for key, value in report.accuracy.items():
        console.print(f"accuracy {key.replace('_', ' ')}: {value:.4f}")
    if report.suggest_denylist:
        console.print("keep in float: " + ", ".join(report.suggest_denylist))
    else:
        console.print("keep in float: nothing (no layer's own error exceeds "
                      f"{RMSE_SCALE_THRESHOLD} steps or drops under 10 dB SQNR)")
    if report.convert_command and (report.suggest_denylist or report.denylist):
        console.print("convert with: " + report.convert_command, soft_wrap=True)
    for note in report.notes:
        print(f"modelkit: note: {note}", file=sys.stderr)
