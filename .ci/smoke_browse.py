"""Drive `modelkit browse` headless with Pilot: python .ci/smoke_browse.py MODEL [DEBUG_JSON].

Opens the browser as `modelkit browse MODEL --graph --overlay DEBUG_JSON` does, waits
for the check's verdict in the header and the whole graph drawn with the first op
selected, toggles to the node list (g), checks that it names every op of the model,
quits (q); prints one line and exits 0, or prints what it saw and exits 1.
"""

from __future__ import annotations

import asyncio
import sys


async def main(path: str, overlay: str | None) -> int:
    import modelkit
    from tui.app import ModelBrowser
    from tui.overlays import DebugOverlay

    model = modelkit.load(path)
    debug = None
    if overlay is not None:
        debug = DebugOverlay.read(overlay)
        debug.bind(model)
    app = ModelBrowser(model, cursor_blink=False, debug=debug, graph=True)
    ops = [n.op for n in model.main.nodes]
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(100):  # NOTE: the check and the layout run in workers
            await pilot.pause(0.05)
            await app.workers.wait_for_complete()
            drawn = _screen_text(app)
            # NOTE: the header gives the check's verdict; the drawing boxes the selected op.
            if "check tflite:" in drawn and "whole graph" in drawn and f"┃ {ops[0]}" in drawn:
                break
        else:
            print(f"browse: no check verdict or drawn {ops[0]}:\n{drawn}", file=sys.stderr)
            return 1
        await pilot.press("g")
        await pilot.pause()
        await app.workers.wait_for_complete()
        listed = app.screen.query_one("#graph-list")
        rows = [getattr(p, "plain", str(p)) for p in
                (listed.get_option_at_index(i).prompt for i in range(listed.option_count))]
        missing = [op for op in ops if not any(op in r for r in rows)]
        if missing:
            print(f"browse: ops missing from the list: {missing}", file=sys.stderr)
            return 1
        await pilot.press("q")
    print(f"browse: ok ({len(ops)} ops listed and drawn)")
    return 0


def _screen_text(app) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)))
