"""`modelkit browse MODEL`: the terminal model browser."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from modelkit.cli.main import app, reporting_errors


@app.command()
def browse(
    model: Path = typer.Argument(..., help="Model file or folder (any supported format)."),
    fmt: Optional[str] = typer.Option(None, "--from", help="Force the input format."),
) -> None:
    """Browse graphs, nodes, tensors and quantization in the terminal (q quits, ? lists keys)."""
    with reporting_errors():
        from modelkit.formats.registry import load

        # NOTE: the model is read before the app starts, so a bad file is one error
        # line and an exit code, never a half-drawn screen.
        loaded = load(model, fmt)
    # NOTE: Textual is imported here only, so `import modelkit` and other commands
    # never pay for it.
    from tui.app import ModelBrowser

    with reporting_errors():
        ModelBrowser(loaded).run()
