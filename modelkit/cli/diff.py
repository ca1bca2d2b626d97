"""Compare two or more models of any formats: nodes, attributes, tensors, quantization,
weights.

Examples:

    modelkit diff samples/digits_float.tflite samples/digits_int8.tflite
    modelkit diff model.pb fixed.pb --json
    modelkit diff v1.tflite v2.tflite v3.tflite
    modelkit diff --textconv model.tflite        (the text `git diff` shows)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from modelkit.cli.main import app, reporting_errors

_HELP = __doc__


_DETAILS = (
    "Nodes and tensors are matched across the two graphs (signature inputs and outputs, "
    "then names, then structure), so a renamed tensor is a rename; a TFLite op named after "
    "the source nodes it fused (a;b;c) matches them. Reported: nodes added, removed and "
    "changed (op, attributes, inputs, output types, name), tensors changed (name, type, "
    "shape, quantization, weights: compared dequantized), graph inputs/outputs, signatures, "
    "and a summary line (op, parameter and size deltas). With more models, each step "
    "(A->B, B->C) is compared.\n\n"
    "Exit codes as diff(1): 0 the same, 1 different, 2 usage, 3 a model could not be read. "
    "--textconv prints one model as stable text for git (see docs/diff.md).")


@app.command(help=" ".join(_HELP.split("\n\n")[0].split()) + "\n\n" + _DETAILS)
def diff(
    models: list[Path] = typer.Argument(..., metavar="A B [C ...]",
                                        help="Models (files or folders, any format)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (schema in the README)."),
    weights: bool = typer.Option(True, "--weights/--no-weights",
                                 help="Compare constant data (default) or only structure, "
                                      "types and quantization."),
    graph: Optional[int] = typer.Option(None, "--graph", help="Compare only this graph "
                                        "index of each model."),
    textconv: bool = typer.Option(False, "--textconv", help="Print one model as stable "
                                  "text (for git's diff.<driver>.textconv)."),
    fmt: Optional[str] = typer.Option(None, "--from", help="Force the input format of "
                                      "every model."),
) -> None:
    """Compare models; exit 1 when they differ."""
    with reporting_errors():
        from modelkit.errors import UsageError
        from modelkit.formats.registry import load

        if textconv:
            if len(models) != 1 or json_out or graph is not None:
                raise UsageError("--textconv takes exactly one model and no --json/--graph")
            from modelkit.diff.dump import dump_model

            sys.stdout.write(dump_model(load(models[0], fmt), weights=weights))
            return
        if len(models) < 2:
            raise UsageError("diff needs at least two models (A B [C ...])")
        from modelkit import api
        from modelkit.cli.output import emit_json, emit_text

        result = api.diff(*models, weights=weights, graph=graph, format=fmt)
        if json_out:
            emit_json(result.to_dict())
        else:
            emit_text(result.text())
        sys.stdout.flush()
        if not result.same:
            raise typer.Exit(1)
