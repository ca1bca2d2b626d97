"""`modelkit summarize MODEL`: the facts of any model, as text or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from modelkit.cli.main import app, reporting_errors


@app.command()
def summarize(
    model: Path = typer.Argument(..., help="Model file or folder (any supported format)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (see README for the schema)."),
    tensors: bool = typer.Option(False, "--tensors", help="Add every tensor as a table."),
    subgraph: Optional[int] = typer.Option(None, "--subgraph", help="Only this graph index."),
    fmt: Optional[str] = typer.Option(None, "--from", help="Force the input format."),
) -> None:
    """Summarize a model: format, inputs/outputs with quantization, ops, parameters."""
    with reporting_errors():
        from modelkit.analysis.summary import summarize as facts_of
        from modelkit.cli.output import emit_json, emit_text
        from modelkit.formats.registry import load

        loaded = load(model, fmt)
        for warning in loaded.metadata.get("warnings") or ():
            typer.echo(f"warning: {model}: {warning}", err=True)
        facts = facts_of(loaded, tensors=tensors, subgraph=subgraph)
        if json_out:
            emit_json(facts)
        else:
            from modelkit.analysis.render import render_summary

            emit_text(render_summary(facts))
