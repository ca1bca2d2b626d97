"""`ModelBrowser`: the Textual app behind `modelkit browse`.

The app is given a loaded `Model` and never reads files itself, so it can be
driven in tests with models built in code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from modelkit.ir import Model
from tui.model_index import ModelIndex
from tui.overlays import DebugOverlay, DiffOverlay, Overlays


class ModelBrowser(App[None]):
    """Browse the graphs, nodes, tensors and quantization of a model.

    Args:
        model: the model to browse.
        cursor_blink: blink text cursors (tests and screenshots turn it off).
        target: the `check` target to mark the nodes for (None: the default, tflite).
        debug: per-layer error from `modelkit debug --json`, bound to `model`.
        diff: the changes of `model` against another model (`DiffOverlay.compute`).
        run_check: run `check` in the background when the model opens.
        graph: open in the graph view rather than the node list.
        show_traceback: print Textual's traceback when the app stops on an unexpected
            error; either way `crash` holds the error and `return_code` is 1.
        on_first_screen: called once, when the first screen is out.
    """

    CSS_PATH = "app.tcss"
    TITLE = "modelkit browse"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        # NOTE: a priority binding is looked at before any widget sees the key, so
        # Ctrl-C quits from anywhere, text boxes included (Textual's default only
        # says how to quit).
        Binding("ctrl+c,ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(self, model: Model, *, cursor_blink: bool = True, target: str | None = None,
                 debug: DebugOverlay | None = None, diff: DiffOverlay | None = None,
                 run_check: bool = True,
                 graph: bool = False, show_traceback: bool = True,
                 on_first_screen: Callable[[], None] | None = None) -> None:
        super().__init__()
        self._on_first_screen = on_first_screen
        self.show_traceback = show_traceback
        self.crash: BaseException | None = None
        self.model = model
        self.cursor_blink = cursor_blink
        self.index = ModelIndex(model)
        self.overlays = Overlays(target=target, debug=debug, diff=diff)
        self.run_check = run_check
        self.start_in_graph = graph
        self.model_name = Path(model.path).name if model.path else ""
        self.sub_title = self.model_name

    # NOTE: the two methods below are Textual's hooks for an exception no handler
    # caught (the app then exits with return code 1); the CLI reports `crash` in one
    # line and exits non-zero.

    def _handle_exception(self, error: Exception) -> None:
        if self.crash is None:
            self.crash = error
        super()._handle_exception(error)

    def _fatal_error(self) -> None:
        if self.show_traceback:
            super()._fatal_error()
        else:
            self.bell()
            self._close_messages_no_wait()

    def first_screen_shown(self) -> None:
        """The main screen has been drawn once (its content included)."""
        callback, self._on_first_screen = self._on_first_screen, None
        if callback is not None:
            callback()

    def get_default_screen(self) -> Screen:
        from tui.screens.main import MainScreen

        return MainScreen(self.index, self.overlays)

    def action_help(self) -> None:
        """Show every key binding."""
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
