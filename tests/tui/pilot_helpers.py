"""Reading what the browser shows, for Pilot tests."""

from __future__ import annotations

from textual.widgets import OptionList, Static

import modelkit
from tui.app import ModelBrowser


def load_browser(path, **options) -> ModelBrowser:
    """A browser on the model at `path`, with a steady cursor for tests and screenshots.

    `check` does not run unless `run_check=True` is given: what it finds is its own
    tests' business, and screenshots must not change with its rules.
    """
    options.setdefault("run_check", False)
    return ModelBrowser(modelkit.load(path), cursor_blink=False, **options)


def plain(content) -> str:
    """Text of a Content/Text/str."""
    return getattr(content, "plain", str(content))


def static_text(app, selector: str) -> str:
    return plain(app.screen.query_one(selector, Static).content)


def option_texts(app, selector: str) -> list[str]:
    ol = app.screen.query_one(selector)
    return [plain(ol.get_option_at_index(i).prompt) for i in range(ol.option_count)]


def details_title(app) -> str:
    return static_text(app, "#details-title")


def details_facts(app) -> dict[str, str]:
    """The `label  value` lines of the details pane, as a dict (indented attrs included)."""
    facts = {}
    for line in static_text(app, "#details-facts").splitlines():
        key, _, value = line.strip().partition("  ")
        facts[key.strip()] = value.strip()
    return facts


def details_links(app) -> list[str]:
    return option_texts(app, "#details-links")


async def settle(pilot) -> None:
    """Wait for pending messages and workers, and for the whole-graph layout once the
    graph view has asked for it (it starts a moment after the view opens)."""
    import time

    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    if getattr(screen, "_layouts_started", False) and screen.current is not None:
        deadline = time.monotonic() + 30
        while screen.layouts.full(screen.current.graph) is None and time.monotonic() < deadline:
            await pilot.pause(0.05)
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def summary_view_text(path, size: tuple[int, int] = (120, 36)) -> str:
    """The browser's summary view (key `s`) of the model at `path`, as plain text."""
    app = load_browser(path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        return static_text(app, "#summary-text")


def screen_text(app) -> str:
    """What the terminal shows, as plain text lines (trailing blanks stripped)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip).rstrip() for strip in strips)
