"""`modelkit summarize MODEL...`: the facts of any model, as text or JSON; one model or
many (files, folders searched)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from modelkit.cli.main import app, error, reporting_errors

if TYPE_CHECKING:
    from modelkit.cli.many import Outcome


def summarize_job(path: str, tensors: bool, subgraph: int | None,
                  fmt: str | None) -> tuple[dict, list[str]]:
    """The summary of one model and its load warnings (in a worker process).

    Raises:
        ModelkitError: the model could not be read, or the subgraph is out of range.
    """
    from modelkit import api

    summary = api.summarize(path, tensors=tensors, subgraph=subgraph, format=fmt)
    return summary.to_dict(), summary.warnings


@app.command()
def summarize(
    models: list[Path] = typer.Argument(
        ..., metavar="MODEL...",
        help="Model files or folders; a folder that is not itself a model (SavedModel, "
             "checkpoint) is searched for models."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (see README for the schema)."),
    tensors: bool = typer.Option(False, "--tensors", help="Add every tensor as a table."),
    subgraph: Optional[int] = typer.Option(None, "--subgraph", help="Only this graph index."),
    fmt: Optional[str] = typer.Option(None, "--from", help="Force the input format."),
    verbose: bool = typer.Option(False, "--verbose", "-v",
                                 help="Tell which files in searched folders are skipped."),
) -> None:
    """Summarize models: format, inputs/outputs with quantization, ops, parameters."""
    with reporting_errors():
        from modelkit.cli.output import emit_json, emit_text

        if len(models) == 1 and not models[0].is_dir():
            paths, many = models, False  # NOTE: one file: the start imports nothing more
        else:
            from modelkit.cli.many import model_paths

            paths, many = model_paths(models, verbose)
        if many:
            code = _summarize_many(paths, json_out, tensors, subgraph, fmt)
            if code:
                raise typer.Exit(code)
            return
        from modelkit import api

        model = paths[0]
        summary = api.summarize(model, tensors=tensors, subgraph=subgraph, format=fmt)
        for warning in summary.warnings:
            typer.echo(f"warning: {model}: {warning}", err=True)
        if json_out:
            emit_json(summary.to_dict())
        else:
            emit_text(summary.text())


def _summarize_many(paths: list[Path], json_out: bool, tensors: bool, subgraph: int | None,
                    fmt: str | None) -> int:
    """Summarize every model in worker processes: text summaries one after the other, or
    a JSON array (a model that could not be read: `{"path", "error", "exit_code"}`)."""
    from modelkit.analysis.render import render_summary
    from modelkit.cli.many import run_jobs, worst
    from modelkit.cli.output import emit_json, emit_text

    first = [True]

    def done(outcome: Outcome) -> None:
        if outcome.error:
            error(outcome.error)
            return
        facts, warnings = outcome.value
        for warning in warnings:
            typer.echo(f"warning: {outcome.path}: {warning}", err=True)
        if not json_out:
            emit_text(("" if first[0] else "\n") + render_summary(facts))
            first[0] = False

    outcomes = run_jobs(summarize_job, paths, (tensors, subgraph, fmt), on_done=done)
    if json_out:
        emit_json([{"path": o.path, "error": o.error, "exit_code": o.code} if o.error
                   else o.value[0] for o in outcomes])
    return worst([o.code for o in outcomes if o.error])
