"""`modelkit check MODEL [--target T] [--json]`: what a runtime refuses or computes wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from modelkit.cli.main import app, reporting_errors


@app.command()
def check(
    model: Path = typer.Argument(..., help="Model file or folder (any supported format)."),
    target: str = typer.Option("tflite", "--target", "-t",
                               help="tflite (builtin kernels, no delegates)|micro|edgetpu|gpu|"
                                    "xnnpack."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (see README for the schema)."),
    fmt: Optional[str] = typer.Option(None, "--from", help="Force the input format."),
) -> None:
    """Check a model against a target runtime's rules, per node, without running it.

    Exit 4 when there is an error (the target refuses the model or computes wrong
    results), 0 otherwise.
    """
    with reporting_errors():
        from modelkit.check import check_model
        from modelkit.cli.output import emit_json, emit_text
        from modelkit.errors import ExitCode
        from modelkit.formats.registry import load

        report = check_model(load(model, fmt), target)
        report.path = str(model)
        if json_out:
            emit_json(report.to_dict())
        else:
            from modelkit.check.render import render_report

            emit_text(render_report(report))
        if not report.ok:
            raise typer.Exit(int(ExitCode.UNSUPPORTED))
