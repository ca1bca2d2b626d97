"""Convert a TF-family model to TFLite (or freeze or export it), quantize and verify.

Examples:

    modelkit convert model.pb model.tflite
    modelkit convert saved_model/ model.tflite --quantize int8 --data calib.npy
    modelkit convert frozen.pb legacy.tflite --quantize uint8 --mean 0 --std 255 \\
        --default-ranges 0,6
    modelkit convert ckpt_dir/ frozen.pb --outputs probs
    modelkit convert legacy_quantized.pb model.tflite --dequantize-legacy \\
        --quantize int8 --data calib.npy
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import typer

from modelkit.cli.main import _state, app, reporting_errors

_HELP = __doc__


@app.command(help=_HELP.split("\n\n")[0] + "\n\n" + """\
The output format comes from DST's extension (.tflite, .pb) or --to; a DST
without extension is a SavedModel folder. The report (input/output
quantization, verification) goes to stdout; progress to stderr.

--input-shapes: one comma list per input, inputs separated by ':', e.g.
'1,224,224,3:1,10'; '?' or -1 for an unknown dim.

--data: an .npy (one input), an .npz (one array per input, by name or in
order) or a folder of images (resized to the input's H,W, channels matched,
scaled to float [0,1]).""")
def convert(
    src: Path = typer.Argument(..., help="Source model: .pb/.pbtxt, SavedModel folder, "
                               "Keras .h5/.keras, checkpoint (folder, prefix or .meta)."),
    dst: Path = typer.Argument(..., help="Output: .tflite, .pb, or a SavedModel folder."),
    to: str = typer.Option(None, "--to", help="Output format: tflite|graphdef|savedmodel."),
    from_: str = typer.Option(None, "--from", help="Source format, when detection fails: "
                              "graphdef|savedmodel|checkpoint|keras_h5."),
    quantize: str = typer.Option("none", "--quantize", "-q",
                                 help="none|dynamic|int8|float16|int16x8|uint8 (legacy)."),
    io_type: str = typer.Option(None, "--io-type", help="int8: input/output type "
                                "int8 (default)|uint8|float32; int16x8: float32|int16."),
    data: Path = typer.Option(None, "--data", help="Representative data (.npy, .npz or an "
                              "image folder) for calibration and verification."),
    calibration_steps: int = typer.Option(100, "--calibration-steps",
                                          help="Samples used for calibration."),
    mean: list[str] = typer.Option(None, "--mean", help="uint8: mean per input "
                                   "(repeat or comma list); real = (q - mean) / std."),
    std: list[str] = typer.Option(None, "--std", help="uint8: std per input."),
    default_ranges: str = typer.Option(None, "--default-ranges", metavar="MIN,MAX",
                                       help="uint8: dummy range for tensors without one "
                                       "(accuracy drops; prefer --quantize int8 --data)."),
    inputs: str = typer.Option(None, "--inputs", help="Input names, comma separated "
                               "(with or without :0)."),
    outputs: str = typer.Option(None, "--outputs", help="Output names, comma separated."),
    input_shapes: str = typer.Option(None, "--input-shapes",
                                     help="e.g. 1,224,224,3 or 1,8:1,10 for two inputs."),
    signature: str = typer.Option("serving_default", "--signature",
                                  help="SavedModel signature to convert."),
    allow_select_tf_ops: bool = typer.Option(False, "--allow-select-tf-ops",
                                             help="Keep unsupported ops as Select TF ops."),
    allow_custom_ops: bool = typer.Option(False, "--allow-custom-ops",
                                          help="Keep unknown ops as custom ops."),
    allow_unsafe_ops: bool = typer.Option(False, "--allow-unsafe-ops",
                                          help="Convert even when the graph holds ops that "
                                          "act on this machine (file I/O, Python calls)."),
    denylist_nodes: str = typer.Option(None, "--denylist-nodes", metavar="NAME,...",
                                       help="int8: keep these ops (by output tensor name in "
                                       "the float model, see `modelkit debug`) in float."),
    denylist_ops: str = typer.Option(None, "--denylist-ops", metavar="OP,...",
                                     help="int8: keep every op of these TFLite types "
                                     "(e.g. FULLY_CONNECTED) in float."),
    dequantize_legacy: bool = typer.Option(False, "--dequantize-legacy",
                                           help="First reverse TF1 legacy quantization "
                                           "(graph_transforms quantize_nodes/quantize_weights) "
                                           "to a float graph."),
    no_verify: bool = typer.Option(False, "--no-verify",
                                   help="Skip running both models to compare outputs."),
    no_preflight: bool = typer.Option(False, "--no-preflight",
                                      help="Skip the op and shape checks before converting."),
    max_drop: float = typer.Option(None, "--max-drop", metavar="PCT", help="int8: when "
                                   "accuracy on --eval-data drops more than PCT points, search "
                                   "per-layer int8/int16/float and write the cheapest model "
                                   "that keeps it (and DST.recipe.json)."),
    eval_data: Path = typer.Option(None, "--eval-data", help="Held-out inputs the budget is "
                                   "measured on (.npy/.npz)."),
    labels: Path = typer.Option(None, "--labels", help="Class ids of --eval-data (without: "
                                "top-1 agreement with the float model)."),
    min_sqnr: float = typer.Option(None, "--min-sqnr", metavar="DB", help="Budget: every "
                                   "output's SQNR against the float model."),
    target: str = typer.Option(None, "--target", help="Search only what this runtime runs "
                               "(tflite|micro|edgetpu|gpu|xnnpack); its check must be clean."),
    recipe: Path = typer.Option(None, "--recipe", help="Quantize with this ai-edge-quantizer "
                                "recipe (a DST.recipe.json --max-drop wrote)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing output."),
) -> None:
    """Convert SRC to DST (TFLite, frozen GraphDef or SavedModel)."""
    with reporting_errors():
        from modelkit import api, interrupts
        from modelkit.convert.progress import Progress
        from modelkit.errors import ModelkitError

        with interrupts.recording():
            try:
                result = api.convert(
                    src, dst, quantize=quantize, data=data, io_type=io_type,
                    calibration_steps=calibration_steps, mean=mean or None, std=std or None,
                    default_ranges=default_ranges, inputs=inputs, outputs=outputs,
                    input_shapes=input_shapes, signature=signature,
                    allow_select_tf_ops=allow_select_tf_ops,
                    allow_custom_ops=allow_custom_ops, allow_unsafe_ops=allow_unsafe_ops,
                    denylist_nodes=denylist_nodes, denylist_ops=denylist_ops,
                    dequantize_legacy=dequantize_legacy, verify=not no_verify,
                    preflight=not no_preflight, to=to, format=from_, force=force,
                    max_drop=max_drop, eval_data=eval_data, labels=labels,
                    min_sqnr=min_sqnr, target=target, recipe=recipe,
                    show_logs=_state["debug"], progress=Progress())
            except ModelkitError as e:
                interrupts.check()  # NOTE: no report of a run that was interrupted.
                # A broken result (VerificationError) or a budget no model keeps
                # (BudgetError) still has its report: print it, then the error line.
                report = getattr(e, "result", None) or getattr(e, "report", None)
                if report is not None:
                    _print(report, as_json)
                raise
        _print(result, as_json)
        # NOTE: TensorFlow leaves a large heap; the collection at interpreter exit
        # walks all of it (about 0.5 s). Freezing it makes the exit as quick as a
        # bare converter script's.
        gc.freeze()


def _print(result, as_json: bool) -> None:
    if as_json:
        from modelkit.cli.output import emit_json

        emit_json(result.to_dict())
    else:
        for line in result.lines():
            print(line)
    sys.stdout.flush()
