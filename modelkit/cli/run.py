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
        from modelkit.cli.feeding import comma_list, open_model, prepare_inputs
        from modelkit.cli.paths import check_outputs, output_option
        from modelkit.convert.progress import Progress
        from modelkit.errors import UsageError
        from modelkit.runtime.batch import run_samples
        from modelkit.runtime.results import RunReport, load_labels, summarize_output

        out_path = output_option(output, "--output", ".npz", "the outputs as an .npz")
        check_outputs({"--output": out_path}, inputs=(model, data, labels), force=force)
        if top_k < 1:
            raise UsageError("--top-k must be at least 1")
        progress = Progress()
        rt = open_model(model, from_, signature=signature, delegates=delegates,
                        allow_unsafe_ops=allow_unsafe_ops, inputs=comma_list(inputs),
                        outputs=comma_list(outputs), debug=_state["debug"])
        arrays, fed, total = prepare_inputs(rt, data, mean, std, raw=raw, limit=limit,
                                            progress=progress)
        count = int(arrays[0].shape[0])
        truth = load_labels(labels, count, total=total) if labels is not None else None
        with progress.counter("running", count) as step:
            def advance(n: int) -> None:
                for _ in range(n):
                    step()
            outs = run_samples(rt, arrays, progress=advance, quantize=not raw)
        ran = next((int(v.shape[0]) for v in outs.values()), 0)
        truth = truth[:ran] if truth is not None else None
        report = RunReport(str(model), rt.format, ran, str(data), inputs=fed)
        report.outputs = [summarize_output(s, outs[s.name], top_k=top_k, labels=truth)
                          for s in rt.outputs]
        if labels is not None and not any(o.accuracy is not None for o in report.outputs):
            raise UsageError("--labels needs a classifier output ([samples, classes]); "
                             f"the outputs are {', '.join(o.name for o in report.outputs)}")
        if out_path is not None:
            _save(out_path, outs, force, model)
            report.notes.append(f"outputs saved to {out_path}")
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


def _save(path: Path, outputs: dict, force: bool, model: Path) -> None:
    """Write the outputs as one .npz, atomically."""
    import numpy as np

    from modelkit.fileio import atomic_output

    with atomic_output(path, force=force, sources=(model,)) as tmp, open(tmp, "wb") as f:
        np.savez(f, **outputs)
