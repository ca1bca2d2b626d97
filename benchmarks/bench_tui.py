"""Speed of `modelkit browse` on a generated model of 1,000+ ops, measured with Pilot.

Prints markdown table rows: time from app start to the first screen being ready,
and the time for one keystroke to update the search results and the graph
filter (median and worst over the keystrokes of a typed query), from the key
press to the screen update that shows the new list, and the part of it spent
in the browser's own code (the rest is Textual's frame pacing, up to one 1/60 s
frame, and compositing).

Run: .venv/bin/python benchmarks/bench_tui.py [--ops 1200]
"""

from __future__ import annotations

import argparse
import functools
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, row  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "tui"))

from synth_models import chain_model  # noqa: E402

from tui.app import ModelBrowser  # noqa: E402
from tui.screens.search import SearchScreen  # noqa: E402
from tui.widgets.graph_pane import GraphPane  # noqa: E402

HANDLER: list[tuple[float, float]] = []


def _timed(cls, name: str) -> None:
    """Record (start, end) of each call of `cls.name` in HANDLER (the browser's own work)."""
    method = getattr(cls, name)

    # NOTE: wraps() keeps the signature, which Textual reads to call watchers.
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            HANDLER.append((t0, time.perf_counter()))

    setattr(cls, name, wrapper)


_timed(SearchScreen, "update")
_timed(GraphPane, "_apply")


class DisplayClock:
    """Records when the app last put an update on the (headless) screen.

    Headless apps composite every update but skip writing it; the clock also
    renders the update to terminal sequences, so that cost is counted too.
    """

    def __init__(self, app) -> None:
        self.times: list[float] = []
        self._app = app
        self._display = app._display
        app._display = self

    def __call__(self, screen, renderable) -> None:
        self._display(screen, renderable)
        if renderable is not None and hasattr(renderable, "render_segments"):
            renderable.render_segments(self._app.console)
            self.times.append(time.perf_counter())


async def _type(pilot, clock: DisplayClock, keys: list[str]) -> dict[str, list[float]]:
    """Per key: seconds in the browser's handler, until the new list is on screen, and
    until the screen settles.

    "Shown" is the first screen update after the browser's handler for the key
    returned; "settled" is the last update the key caused (Textual may follow up
    with a frame for scrollbars). Pilot's own waits (fixed sleeps until the app is
    idle) are not counted.
    """
    out: dict[str, list[float]] = {"code": [], "shown": [], "settled": []}
    for key in keys:
        t0 = time.perf_counter()
        clock.times.clear()
        HANDLER.clear()
        await pilot.press(key)
        await pilot.pause()
        if not HANDLER or not clock.times:
            continue
        done = HANDLER[-1][1]
        out["code"].append(sum(end - start for start, end in HANDLER))
        out["shown"].append(next((t for t in clock.times if t >= done), clock.times[-1]) - t0)
        out["settled"].append(clock.times[-1] - t0)
    return out


async def measure(num_ops: int, query: str) -> dict:
    """One run: first-screen time and per-keystroke times for search and filter."""
    model = chain_model(num_ops)
    t0 = time.perf_counter()
    app = ModelBrowser(model, cursor_blink=False)
    async with app.run_test(size=(120, 36)) as pilot:
        clock = DisplayClock(app)
        screen = app.screen
        # NOTE: run_test returns once the app is running; its first frames may
        # already be out, so displays before the content was ready do not count.
        while screen.current is None or not app.query_one("#graph-list").option_count:
            if time.perf_counter() - t0 > 30:
                raise RuntimeError("the first screen did not appear within 30 s")
            await pilot.pause(0.001)
        ready = time.perf_counter()
        await pilot.pause()
        # The first screen update once the content is there is when a person sees it.
        first = next((t for t in clock.times if t >= ready), ready) - t0
        await pilot.press("slash")
        await pilot.pause()
        search = await _type(pilot, clock, list(query))
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        filt = await _type(pilot, clock, list(query) + ["backspace"] * len(query))
    return {"first": first, "search": search, "filter": filt}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--query", default="block_1")
    args = parser.parse_args()
    runs = [asyncio.run(measure(args.ops, args.query)) for _ in range(args.runs)]

    def ms(what: str, key: str) -> str:
        xs = [t for r in runs for t in r[what][key]]
        return f"median {statistics.median(xs) * 1e3:.1f} ms, worst {max(xs) * 1e3:.1f} ms"

    first = statistics.median(r["first"] for r in runs)
    print("### browse: Pilot timings\n")
    print(row(["browse: measure", f"generated model, {args.ops} ops, 120x36", "result"]))
    print(row(["---", "---", "---"]))
    print(row(["first screen ready", "app start (indexing included) -> graph list and "
               "first node's details shown", f"{first * 1e3:.0f} ms (median of {args.runs})"]))
    for what, label in (("search", f"`/` search, typing {args.query!r}"),
                        ("filter", f"graph filter, typing {args.query!r} then deleting it")):
        print(row([f"{what} keystroke: list on screen", label, ms(what, "shown")]))
        print(row([f"{what} keystroke: screen settled", label, ms(what, "settled")]))
        print(row([f"{what} keystroke: browser code", "filtering + list rebuild",
                   ms(what, "code")]))


if __name__ == "__main__":
    main()
