"""Progress on stderr: one line per stage; a rich bar for calibration on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Progress:
    """Reports stages (load, preflight, convert, calibrate, verify) on stderr.

    Args:
        quiet: print nothing (library use).
    """

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    @property
    def _tty(self) -> bool:
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty and isatty())

    def stage(self, text: str) -> None:
        """Announce a stage."""
        if not self.quiet:
            print(f"modelkit: {text}", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        """A note the user should read (not an error)."""
        print(f"modelkit: note: {text}", file=sys.stderr, flush=True)

    def detail(self, text: str) -> None:
        """A line of a report that explains the error that follows."""
        print(f"modelkit: {text}", file=sys.stderr, flush=True)

    def warn(self, text: str) -> None:
        """A warning the user should read."""
        print(f"modelkit: warning: {text}", file=sys.stderr, flush=True)

    @contextmanager
    def counter(self, label: str, total: int) -> Iterator[Callable[[], None]]:
        """Yield a function to call once per step; a bar on a terminal."""
        if self.quiet or not self._tty:
            yield lambda: None
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn

        with Bar(TextColumn(f"modelkit: {label}"), BarColumn(), MofNCompleteColumn(),
                 console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(label, total=total)
            yield lambda: bar.advance(task)
