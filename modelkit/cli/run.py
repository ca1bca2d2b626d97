"""Run any model on real inputs, with its own input quantization and normalization,
and summarize (or save) what comes out.

Examples:

    modelkit run model_int8.tflite --data test.npz --labels test.npz
    modelkit run legacy_uint8.tflite --data pixels.npy --mean 0 --std 255
    modelkit run saved_model/ --data images/ --output outputs.npz
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Optional

import typer

from modelkit.cli.main import _state, app, reporting_errors

_HELP = __doc__


@app.command(help=_HELP.split("\n\n")[0] + "\n\n" + """\
--data: an .npy (one input), an .npz (one array per input, by name or in
order) or a folder of images (resized to the input's H,W, scaled to [0,1]).
Values are in the float domain: an int8/uint8/int16 input gets them quantized
with its own scale and zero point, and quantized outputs come back as floats.

--mean/--std normalize first, (x - mean) / std, one value or one per channel;
for an image folder they are in pixel units (0..255), as TFLite metadata's.
When a TFLite model's metadata states a normalization, it is applied unless
--mean/--std or --raw say otherwise (and said on stderr). --raw feeds the
values as they are, cast to the input's own type.""")
def run(
    model: Path = typer.Argument(..., help="Model: .tflite, .pb/.pbtxt, SavedModel folder, "
                                 "Keras .h5/.keras, checkpoint."),
    data: Path = typer.Option(..., "--data", help="Inputs: .npy, .npz or an image folder."),
    mean: list[str] = typer.Option(None, "--mean", help="Subtract (repeat or comma list "
                                   "for per-channel values)."),
    std: list[str] = typer.Option(None, "--std", help="Divide by (per channel allowed)."),
    raw: bool = typer.Option(False, "--raw", help="Feed the values as they are: no "
                             "normalization, no quantization."),
    labels: Path = typer.Option(None, "--labels", help="Class ids (.npy, or .npz with 'y') "
                                "for top-1 accuracy."),
    output: str = typer.Option(None, "--output", "-o", help="Save the (dequantized) "
                               "outputs as .npz keyed by output name."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing --output."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use the first N samples."),
    top_k: int = typer.Option(5, "--top-k", help="Classes shown per sample for classifiers."),
    signature: str = typer.Option(None, "--signature", help="TFLite/SavedModel signature."),
    inputs: str = typer.Option(None, "--inputs", help="Graphs: input names, comma "
                               "separated (default: detected placeholders)."),
    outputs: str = typer.Option(None, "--outputs", help="Graphs: output names (default: "
                                "detected inference outputs)."),
    delegates: bool = typer.Option(False, "--delegates", help="TFLite: let the interpreter "
                                   "apply its default delegates (XNNPACK)."),
    from_: str = typer.Option(None, "--from", help="Model format, when detection fails."),
    allow_unsafe_ops: bool = typer.Option(False, "--allow-unsafe-ops", help="Run even when "
                                          "the graph holds ops that act on this machine."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Run MODEL on --data and summarize its outputs."""
    with reporting_errors():
        from modelkit import api
        from modelkit.cli.feeding import comma_list
        from modelkit.cli.paths import check_outputs, output_option
        from modelkit.convert.progress import Progress

        out_path = output_option(output, "--output", ".npz", "the outputs as an .npz")
        check_outputs({"--output": out_path}, inputs=(model, data, labels), force=force)
        report = api.run(model, data, labels=labels, mean=mean or None, std=std or None,
                         raw=raw, output=out_path, force=force, limit=limit, top_k=top_k,
                         signature=signature, inputs=comma_list(inputs),
                         outputs=comma_list(outputs), delegates=delegates, format=from_,
                         allow_unsafe_ops=allow_unsafe_ops, show_logs=_state["debug"],
                         progress=Progress())
        if as_json:
            from modelkit.cli.output import emit_json

            emit_json(report.to_dict())
        else:
            for line in report.lines():
                print(line)
            if out_path is not None:
                print(f"saved outputs to {out_path}")
        sys.stdout.flush()
        # NOTE: TensorFlow's heap makes the exit-time collection slow; see convert.
        gc.freeze()
