"""Run two models on the same inputs and compare their outputs with Polygraphy's
tolerance semantics.

Examples:

    modelkit compare saved_model/ model_int8.tflite --data test.npz
    modelkit compare float.tflite int8.tflite --data calib.npy --atol 0.01 --rtol 0.05
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
Any formats (SavedModel vs its TFLite, float vs int8...). Inputs and outputs are
paired by name (ignoring ':0', 'serving_default_', '/' vs '_'), else by order.
Quantized models are compared in the float domain: inputs quantized and outputs
dequantized with each model's own parameters.

Tolerances as in Polygraphy: with B the reference, an element mismatches only
where |A - B| > atol AND |A - B| / |B| > rtol (a zero in B counts as 2.22e-16,
Polygraphy's epsilon); NaN mismatches. Exit 1 when an output mismatches;
the report names the smallest atol (at the given rtol) and rtol (at the given
atol) that would pass.""")
def compare(
    model_a: Path = typer.Argument(..., metavar="A", help="The model under test."),
    model_b: Path = typer.Argument(..., metavar="B", help="The reference model."),
    data: Path = typer.Option(..., "--data", help="Inputs: .npy, .npz or an image folder "
                              "(float domain)."),
    atol: float = typer.Option(1e-5, "--atol", help="Absolute tolerance."),
    rtol: float = typer.Option(1e-5, "--rtol", help="Relative tolerance (of |B|)."),
    mean: list[str] = typer.Option(None, "--mean", help="Normalize the inputs of both "
                                   "models first: (x - mean) / std."),
    std: list[str] = typer.Option(None, "--std", help="See --mean."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use the first N samples."),
    signature: str = typer.Option(None, "--signature", help="Signature, for both models."),
    delegates: bool = typer.Option(False, "--delegates", help="TFLite: default delegates."),
    from_a: str = typer.Option(None, "--from-a", help="Format of A, when detection fails."),
    from_b: str = typer.Option(None, "--from-b", help="Format of B, when detection fails."),
    allow_unsafe_ops: bool = typer.Option(False, "--allow-unsafe-ops", help="Run graphs "
                                          "that hold ops acting on this machine."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Compare the outputs of A and B on the same inputs."""
    with reporting_errors():
        from modelkit import api
        from modelkit.convert.progress import Progress

        result = api.compare(model_a, model_b, data, atol=atol, rtol=rtol, mean=mean or None,
                             std=std or None, limit=limit, signature=signature,
                             delegates=delegates, format_a=from_a, format_b=from_b,
                             allow_unsafe_ops=allow_unsafe_ops, show_logs=_state["debug"],
                             progress=Progress())
        if as_json:
            from modelkit.cli.output import emit_json

            emit_json(result.to_dict())
        else:
            for line in result.lines():
                print(line)
        sys.stdout.flush()
        gc.freeze()
        if not result.passed:
            raise typer.Exit(1)
