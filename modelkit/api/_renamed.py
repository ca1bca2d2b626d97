"""Progress lines that name what the caller gave rather than the temporary files the
API made for arrays and in-memory models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from modelkit.convert.progress import Progress


class Renamed(Progress):
    """Passes every line to `inner`, with each temporary path replaced by its name."""

    def __init__(self, inner: Progress, names: dict[str, str]) -> None:
        super().__init__(inner.quiet)
        self.inner = inner
        self.names = names

    def _named(self, text: str) -> str:
        for path, shown in self.names.items():
            text = text.replace(path, shown)
        return text

    def stage(self, text: str) -> None:
        self.inner.stage(self._named(text))

    def note(self, text: str) -> None:
        self.inner.note(self._named(text))

    def detail(self, text: str) -> None:
        self.inner.detail(self._named(text))

    def warn(self, text: str) -> None:
        self.inner.warn(self._named(text))

    @contextmanager
    def counter(self, label: str, total: int) -> Iterator[Callable[[], None]]:
        with self.inner.counter(self._named(label), total) as step:
            yield step
