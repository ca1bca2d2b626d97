"""`modelkit fix SRC DST [--rule ID ...] [--dry-run] [--json]`: apply the repairs check
names."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from modelkit.cli.main import app, reporting_errors


@app.command()
def fix(
    src: Path = typer.Argument(..., help="TFLite model to repair (never modified)."),
    dst: Path = typer.Argument(..., help="Repaired .tflite to write."),
    rule: list[str] = typer.Option(None, "--rule", "-r",
                                   help="Only findings of this check rule or repair pass "
                                        "(repeatable)."),
    target: str = typer.Option("tflite", "--target", "-t", help="Target whose findings to fix."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would change; write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing output."),
) -> None:
    """Repair what can be repaired without changing what the model computes.

    Prints what changed per node, then what could not be fixed and why. Exit 1 when
    there were errors and nothing could be fixed; 4 when errors remain after fixing.
    """
    with reporting_errors():
        from modelkit import api
        from modelkit.errors import ExitCode

        result = api.fix(src, None if dry_run else dst, rules=rule or None, target=target,
                         force=force)
        if as_json:
            from modelkit.cli.output import emit_json

            emit_json(result.to_dict())
        else:
            for line in result.lines():
                print(line)
            if result.written:
                print(f"wrote {dst}")
        if not result.changed:
            print("nothing changed; no file written", file=sys.stderr)
        elif dry_run:
            print("dry run: nothing written", file=sys.stderr)
        sys.stdout.flush()
        if result.errors_before and not result.changed:
            raise typer.Exit(int(ExitCode.FAILURE))
        if result.after is not None and not result.after.ok:
            raise typer.Exit(int(ExitCode.UNSUPPORTED))
