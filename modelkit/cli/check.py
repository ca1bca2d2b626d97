"""`modelkit check MODEL... [--target T ...] [--format text|json|sarif|junit]`: what a
runtime refuses or computes wrong, for one model or many (files, folders searched)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from modelkit.cli.main import app, error, reporting_errors

if TYPE_CHECKING:
    from modelkit.check import Report
    from modelkit.cli.many import Outcome

FORMATS = ("text", "json", "sarif", "junit")


def check_job(path: str, targets: tuple[str, ...], fmt: str | None) -> list[Report]:
    """Load one model and check it against each target (in a worker process when many).

    Raises:
        ModelkitError: the model could not be read.
    """
    from modelkit import api

    model = api.load(path, fmt)
    reports = []
    for target in targets:
        report = api.check(model, target)
        report.path = path
        reports.append(report)
    return reports


def _format(output_format: str | None, json_out: bool) -> str:
    from modelkit.errors import UsageError

    if output_format is not None and output_format not in FORMATS:
        raise UsageError(f"unknown --format {output_format!r}; choose one of "
                         f"{', '.join(FORMATS)}")
    if json_out and output_format not in (None, "json"):
        raise UsageError(f"--json asks for --format json, not --format {output_format}; "
                         "give one of them")
    return "json" if json_out else output_format or "text"


@app.command()
def check(
    models: list[Path] = typer.Argument(
        ..., metavar="MODEL...",
        help="Model files or folders; a folder that is not itself a model (SavedModel, "
             "checkpoint) is searched for models."),
    target: list[str] = typer.Option(
        None, "--target", "-t",
        help="tflite (builtin kernels, no delegates)|micro|edgetpu|gpu|xnnpack; repeat for "
             "several; default tflite."),
    output_format: Optional[str] = typer.Option(
        None, "--format", help="text (default)|json|sarif|junit."),
    json_out: bool = typer.Option(False, "--json", help="Same as --format json (see README)."),
    fmt: Optional[str] = typer.Option(None, "--from", help="Force the input format."),
    verbose: bool = typer.Option(False, "--verbose", "-v",
                                 help="Many models: full reports instead of one line each, "
                                      "and the files skipped in folders."),
) -> None:
    """Check models against a target runtime's rules, per node, without running them.

    Exit 4: a model has an error (refused, or wrong results); 3: one cannot be read.
    """
    with reporting_errors():
        from modelkit.check import TARGETS
        from modelkit.errors import UsageError
        from modelkit.formats.registry import adapter

        out = _format(output_format, json_out)
        targets = tuple(dict.fromkeys(target or ["tflite"]))
        for t in targets:
            if t not in TARGETS:
                raise UsageError(f"unknown target {t!r}; choose one of {', '.join(TARGETS)}")
        if fmt:
            adapter(fmt)
        if len(models) == 1 and not models[0].is_dir():
            paths, many = models, False  # NOTE: one file: the start imports nothing more
        else:
            from modelkit.cli.many import model_paths

            paths, many = model_paths(models, verbose)
        if not many:
            reports = check_job(str(paths[0]), targets, fmt)
            _emit(out, reports, targets, [])
            code = 0 if all(r.ok for r in reports) else 4
            if code and out == "text":
                _suggest_reduce(paths[0], next(r for r in reports if not r.ok).target)
        else:
            code = _check_many(paths, targets, fmt, out, verbose)
        if code:
            raise typer.Exit(code)


def _suggest_reduce(path: Path, target: str) -> None:
    """Point to `modelkit reduce`, which cuts a TFLite or GraphDef model down to the op
    in error (a small model to share or to debug)."""
    if path.suffix.lower() not in (".tflite", ".pb", ".pbtxt"):
        return
    import shlex
    import sys

    small = path.with_name(f"{path.stem}_reduced{path.suffix}")
    print(f"modelkit: note: to cut the model down to the op in error: modelkit reduce "
          f"{shlex.quote(str(path))} {shlex.quote(str(small))} --until check-error "
          f"--target {target}", file=sys.stderr)


def _check_many(paths: list[Path], targets: tuple[str, ...], fmt: str | None, out: str,
                verbose: bool) -> int:
    """Check every model in worker processes; print as `out` asks; the exit code."""
    from modelkit.check.render import render_report, summary_line
    from modelkit.cli.many import run_jobs, worst
    from modelkit.cli.output import emit_json, emit_text

    def done(outcome: Outcome) -> None:
        if outcome.error:
            error(outcome.error)
        elif out == "text":
            emit_text("".join(render_report(r) + "\n" if verbose else summary_line(r) + "\n"
                              for r in outcome.value))

    outcomes = run_jobs(check_job, paths, (targets, fmt), on_done=done)
    reports = [r for o in outcomes if not o.error for r in o.value]
    failures = [(o.path, o.error) for o in outcomes if o.error]
    if out == "text":
        bad = len({r.path for r in reports if not r.ok})
        emit_text(f"checked {len(paths)} model{'s' * (len(paths) != 1)} for "
                  f"{', '.join(targets)}: {bad} with errors, {len(failures)} unreadable\n")
    elif out == "json":
        emit_json([doc for o in outcomes for doc in _json_docs(o, targets)])
    else:
        _emit(out, reports, targets, failures)
    return worst([o.code for o in outcomes if o.error] + [4 for r in reports if not r.ok])


def _json_docs(outcome: Outcome, targets: tuple[str, ...]) -> list[dict]:
    """The `check --json` documents of one model, one per target; a model that could not
    be read gives `{"schema_version", "model", "target", "error", "exit_code"}` each."""
    from modelkit.check import SCHEMA_VERSION

    if not outcome.error:
        return [r.to_dict() for r in outcome.value]
    return [{"schema_version": SCHEMA_VERSION, "model": outcome.path, "target": t,
             "error": outcome.error, "exit_code": outcome.code} for t in targets]


def _emit(out: str, reports: list[Report], targets: tuple[str, ...],
          failures: list[tuple[str, str]]) -> None:
    """Print the reports in format `out`; JSON is one object for one report, else a list."""
    from modelkit.cli.output import emit_json, emit_text

    if out == "sarif":
        from modelkit.check.sarif import render_sarif

        emit_json(render_sarif(reports, targets, failures))
    elif out == "junit":
        from modelkit.check.junit import render_junit

        emit_text(render_junit(reports, targets, failures))
    elif out == "json":
        docs = [r.to_dict() for r in reports]
        emit_json(docs[0] if len(docs) == 1 else docs)
    else:
        from modelkit.check.render import render_report

        emit_text("\n".join(render_report(r) for r in reports))
