"""`modelkit browse MODEL`: the terminal model browser."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Optional

import typer

from modelkit.cli.main import _state, app, error, reporting_errors, warn
from modelkit.errors import ExitCode


@app.command()
def browse(
    model: Path = typer.Argument(..., help="Model file or folder (any supported format)."),
    fmt: Optional[str] = typer.Option(None, "--from", help="Force the input format."),
    target: Optional[str] = typer.Option(
        None, "--target", help="Mark the nodes with what `check --target T` finds "
                               "(default: tflite)."),
    overlay: Optional[Path] = typer.Option(
        None, "--overlay", help="Colour the graph by per-layer error from the JSON "
                                "`modelkit debug --json` wrote."),
    graph: bool = typer.Option(False, "--graph", help="Open in the graph view (g toggles)."),
    diff: Optional[Path] = typer.Option(
        None, "--diff", metavar="OTHER",
        help="Mark what MODEL adds (✚) or changes (✎) against OTHER (any format); d / D "
             "jump through them, v lists them with the nodes only OTHER has (⊖)."),
) -> None:
    """Browse graphs, nodes, tensors and quantization in the terminal (q quits, ? lists keys)."""
    # NOTE: reading a big graph makes hundreds of thousands of long-lived objects; the
    # cyclic garbage collector would walk them all again and again while the model is
    # read and Textual starts (about a third of the time to the first screen of a
    # 20,000-node GraphDef), and they are never garbage. It is off until the first
    # screen is out; then everything alive is frozen out of its reach and it is back.
    gc.disable()
    try:
        _browse(model, fmt, target, overlay, graph, diff)
    finally:
        gc.unfreeze()
        gc.enable()


def _first_screen_shown() -> None:
    gc.freeze()
    gc.enable()


def _browse(model: Path, fmt: str | None, target: str | None, overlay: Path | None,
            graph: bool, diff: Path | None = None) -> None:
    with reporting_errors():
        from modelkit.errors import UsageError
        from modelkit.formats.registry import load
        from tui.overlays import DebugOverlay, DiffOverlay

        if target is not None:
            try:
                from modelkit.check import TARGETS
            except ImportError:
                TARGETS = None
            if TARGETS is not None and target not in TARGETS:
                raise UsageError(f"unknown --target {target!r}; choose one of "
                                 f"{', '.join(TARGETS)}")
        # NOTE: the model and the overlay are read before the app starts, so a bad file
        # is one error line and an exit code, never a half-drawn screen.
        debug = DebugOverlay.read(overlay) if overlay is not None else None
        loaded = load(model, fmt)
        if debug is not None:
            debug.bind(loaded)
            if debug.warning:
                warn(f"{overlay}: {debug.match_text()}")
            else:
                print(f"modelkit: note: {overlay}: {debug.match_text()}", file=sys.stderr)
        changes = None
        if diff is not None:
            # NOTE: OTHER is read with the format sniffed from its own bytes (`--from`
            # names MODEL's), and diffed before the app starts, so an unreadable OTHER
            # is one error line naming it.
            changes = DiffOverlay.compute(loaded, load(diff))
            for note in changes.notes:
                print(f"modelkit: note: {diff}: {note}", file=sys.stderr)
    # NOTE: Textual is imported here only, so `import modelkit` and other commands
    # never pay for it.
    from tui.app import ModelBrowser

    with reporting_errors():
        browser = ModelBrowser(loaded, target=target, debug=debug, diff=changes, graph=graph,
                               show_traceback=_state["debug"],
                               on_first_screen=_first_screen_shown)
        browser.run()
    # NOTE: Textual ends the app on an unhandled exception and returns from run();
    # that is a failure of the browser, never a normal exit.
    if browser.crash is not None or browser.return_code not in (None, 0):
        crash = browser.crash
        what = f"{type(crash).__name__}: {crash}" if crash is not None else \
            f"return code {browser.return_code}"
        hint = "" if _state["debug"] else " (`modelkit --debug browse ...` shows the traceback)"
        error(f"{model}: the browser stopped on an unexpected error: {what}{hint}")
        raise typer.Exit(int(ExitCode.FAILURE))
