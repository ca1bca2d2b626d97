"""Speed of `modelkit browse` on big models, measured with Pilot as a user sees it.

Models: a 20,000-node GraphDef and a 1,000-op int8 TFLite file, both generated
into benchmarks/_work (never committed). For each:

- whole process: from starting `modelkit browse MODEL` on a terminal (a pseudo-
  terminal of 120x36) to the first screen that shows the first node's details, as a
  user waits for it: interpreter start, imports, reading the model, the app;

and, after the model is read, with Pilot:

- first screen: from app start (indexing included) to the first screen update
  that shows the node list and the first node's details;
- one keystroke of search (`/`) and of the node-list filter (`f`): from the key
  press to the screen update that shows the new list;
- the graph view of a node: from the key press (`g` from the list, `]` to the
  next op inside the view) to the screen update that shows the drawing centred
  on it, over random nodes;
- the whole-graph layout, computed once in a worker (not blocking the UI).

"Browser code" is the part spent in the browser's own handlers; the rest is
Textual's frame pacing (up to one 1/60 s frame) and compositing.

Run: .venv/bin/python benchmarks/bench_tui.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import functools
import os
import random
import select
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MODELKIT, ROOT, WORK, row  # noqa: E402
from common import precompile as precompile_modelkit  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "tui"))

from synth_models import chain_model  # noqa: E402

import modelkit  # noqa: E402
from tui.app import ModelBrowser  # noqa: E402
from tui.model_index import NODE, Target  # noqa: E402
from tui.screens.search import SearchScreen  # noqa: E402
from tui.widgets.graph_pane import GraphPane  # noqa: E402
from tui.widgets.graph_view import GraphLayouts, GraphView  # noqa: E402

HANDLER: list[tuple[float, float]] = []
FULL_LAYOUT: list[float] = []


def _timed(cls, name: str, into: list) -> None:
    """Record (start, end) of each call of `cls.name` in `into`."""
    method = getattr(cls, name)

    # NOTE: wraps() keeps the signature, which Textual reads to call watchers.
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            into.append((t0, time.perf_counter()))

    setattr(cls, name, wrapper)


_timed(SearchScreen, "update", HANDLER)
_timed(GraphPane, "_apply", HANDLER)
_timed(GraphView, "show", HANDLER)
_timed(GraphLayouts, "compute_full", FULL_LAYOUT)


def precompile() -> None:
    """Bytecode of modelkit and the browser, as installing the package writes it."""
    import compileall

    precompile_modelkit()
    compileall.compile_dir(str(ROOT / "tui"), quiet=1)


def make_graphdef(path: Path, nodes: int = 20_000) -> None:
    """A GraphDef of `nodes` nodes: blocks of MatMul (Const weights) -> Relu -> AddV2 with a
    skip connection, between a Placeholder and an Identity."""
    import numpy as np
    from tensorflow.core.framework import attr_value_pb2, graph_pb2, tensor_shape_pb2, types_pb2
    from tensorflow.python.framework import tensor_util

    gd = graph_pb2.GraphDef()
    t = attr_value_pb2.AttrValue(type=types_pb2.DT_FLOAT)
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=s) for s in (1, 16)]
    shape = attr_value_pb2.AttrValue(shape=tensor_shape_pb2.TensorShapeProto(dim=dims))
    weights = attr_value_pb2.AttrValue(
        tensor=tensor_util.make_tensor_proto(np.full((16, 16), 0.01, np.float32)))

    def node(name: str, op: str, inputs=(), **attrs) -> None:
        nd = gd.node.add(name=name, op=op, input=list(inputs))
        for k, v in attrs.items():
            nd.attr[k].CopyFrom(v)

    node("input", "Placeholder", dtype=t, shape=shape)
    cur, i = "input", 0
    while len(gd.node) < nodes - 1:
        b = f"block_{i}"
        node(f"{b}/w", "Const", dtype=t, value=weights)
        node(f"{b}/mm", "MatMul", [cur, f"{b}/w"], T=t)
        node(f"{b}/relu", "Relu", [f"{b}/mm"], T=t)
        node(f"{b}/add", "AddV2", [f"{b}/relu", cur], T=t)
        cur, i = f"{b}/add", i + 1
    node("output", "Identity", [cur], T=t)
    path.write_bytes(gd.SerializeToString())


def make_tflite(path: Path, ops: int = 1000) -> None:
    """An int8 TFLite file of `ops` CONV_2D / ADD / DEPTHWISE_CONV_2D / FULLY_CONNECTED ops."""
    modelkit.save(chain_model(ops), path)


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def whole_process(path: Path, marker: bytes, size=(120, 36), timeout: float = 60
                  ) -> tuple[float, float]:
    """(wall, CPU) seconds from starting `modelkit browse PATH` on a pseudo-terminal to
    the first output holding `marker` (text of the first screen); then `q` ends it.

    The CPU time is the process's own (from /proc): on a machine shared with other
    work it varies much less than the wall time.
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(size[0]),
           "LINES": str(size[1])}
    t0 = time.perf_counter()
    proc = subprocess.Popen([MODELKIT, "browse", str(path)], stdin=slave, stdout=slave,
                            stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    seen, out = None, b""
    try:
        while seen is None and time.perf_counter() - t0 < timeout:
            if select.select([master], [], [], 0.02)[0]:
                try:
                    chunk = os.read(master, 1 << 16)
                except OSError:
                    break
                out += chunk
                # NOTE: the marker may straddle two reads; look at the tail of both.
                if marker in out[-(len(chunk) + len(marker)):]:
                    seen = time.perf_counter() - t0
                    cpu = _cpu_seconds(proc.pid)
        os.write(master, b"q")
        deadline = time.perf_counter() + 20
        while proc.poll() is None and time.perf_counter() < deadline:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 1 << 16)
                except OSError:
                    break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    if seen is None:
        raise RuntimeError(f"modelkit browse {path.name}: no first screen within {timeout} s "
                           f"(exit {proc.returncode}): {out[-300:]!r}")
    return seen, cpu


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


async def _keys(pilot, clock: DisplayClock, keys: list[str], before=None
                ) -> dict[str, list[float]]:
    """Per key: seconds in the browser's handlers and until the result is on screen.

    "Shown" is the first screen update after the browser's last handler for the
    key returned. `before(i)` runs (untimed) before key i. Pilot's own waits
    are not counted.
    """
    out: dict[str, list[float]] = {"code": [], "shown": []}
    for i, key in enumerate(keys):
        if before is not None:
            await before(i)
            await pilot.pause()
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
    return out


async def measure(model, query: str, samples: int, seed: int) -> dict:
    """One run on a loaded model: first screen, keystrokes, graph view of random nodes."""
    FULL_LAYOUT.clear()
    t0 = time.perf_counter()
    app = ModelBrowser(model, cursor_blink=False, run_check=False)
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
        search = await _keys(pilot, clock, list(query))
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        filt = await _keys(pilot, clock, list(query) + ["backspace"] * len(query))
        await pilot.press("escape")
        await pilot.pause()
        n = len(model.graphs[0].nodes)
        rng = random.Random(seed)
        picks = [rng.randrange(n - 1) for _ in range(samples)]

        async def goto_in_list(i: int) -> None:
            if screen.graph_shown:
                await pilot.press("g")
            screen.show(Target(NODE, 0, picks[i]), record=True)

        opened = await _keys(pilot, clock, ["g"] * samples, goto_in_list)

        async def goto_in_view(i: int) -> None:
            if not screen.graph_shown:
                await pilot.press("g")
            screen.show(Target(NODE, 0, picks[i]), record=True)

        stepped = await _keys(pilot, clock, ["right_square_bracket"] * samples, goto_in_view)
        # The whole-graph layout (a worker): wait for it, at most a minute.
        while not FULL_LAYOUT and time.perf_counter() - ready < 60:
            await pilot.pause(0.05)
        full = FULL_LAYOUT[0][1] - FULL_LAYOUT[0][0] if FULL_LAYOUT else None
        layouts = screen.layouts
        reason = layouts.full(0) if isinstance(layouts.full(0), str) else ""
    return {"first": first, "search": search, "filter": filt, "open": opened,
            "step": stepped, "full": full, "reason": reason}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=12, help="random nodes per run")
    parser.add_argument("--process-runs", type=int, default=7,
                        help="whole-process runs of `modelkit browse` per model")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    cases = [("20,000-node GraphDef", WORK / "browse_20k.pb", make_graphdef, "block_12"),
             ("1,000-op int8 TFLite", WORK / "browse_1000.tflite", make_tflite, "block_1")]
    print("### browse: timings\n")
    print("Time from the key press (or the app start, or the start of the process) to the "
          "screen update that shows the result, at 120x36; median and worst over the "
          "keystrokes of all runs.\n")
    print(row(["browse: measure", "what"] + [c[0] for c in cases]))
    print(row(["---"] * (2 + len(cases))))
    results = []
    precompile()
    for label, path, make, query in cases:
        if not path.exists():
            print(f"generating {path.name} ...", file=sys.stderr)
            make(path)
        # The title of the first node's details, as the first screen shows it.
        whole_process(path, b"node #0")  # warm-up: file cache, bytecode
        wholes = [whole_process(path, b"node #0") for _ in range(args.process_runs)]
        t0 = time.perf_counter()
        model = modelkit.load(path)
        read = time.perf_counter() - t0
        runs = [asyncio.run(measure(model, query, args.samples, seed))
                for seed in range(args.runs)]
        results.append((read, runs, query, len(model.graphs[0].nodes), wholes))

    def ms(runs, what: str, key: str) -> str:
        xs = [t for r in runs for t in r[what][key]]
        if not xs:
            return "n/a"
        return f"median {statistics.median(xs) * 1e3:.1f} ms, worst {max(xs) * 1e3:.1f} ms"

    def line(name: str, what: str, cell) -> None:
        print(row([name, what] + [cell(r) for r in results]))

    line("whole process", "`modelkit browse MODEL` start -> first screen (on a terminal)",
         lambda r: f"{statistics.median(w for w, _ in r[4]) * 1e3:.0f} ms (median of "
                   f"{len(r[4])}, best {min(w for w, _ in r[4]) * 1e3:.0f} ms); CPU "
                   f"{statistics.median(c for _, c in r[4]) * 1e3:.0f} ms")
    line("model read", "`modelkit.load` (before the app starts)",
         lambda r: f"{r[0] * 1e3:.0f} ms ({r[3]:,} nodes)")
    line("first screen", "app start, indexing included -> node list and details shown",
         lambda r: f"{statistics.median(x['first'] for x in r[1]) * 1e3:.0f} ms "
                   f"(median of {len(r[1])})")
    for what, label in (("search", "`/` search, one keystroke"),
                        ("filter", "`f` list filter, one keystroke (typing, deleting)")):
        line(f"{what}: on screen", label, lambda r, w=what: ms(r[1], w, "shown"))
        line(f"{what}: browser code", "filtering + list rebuild",
             lambda r, w=what: ms(r[1], w, "code"))
    line("graph view: open", "`g` on a random node -> drawing centred on it",
         lambda r: ms(r[1], "open", "shown"))
    line("graph view: next op", "`]` in the view -> drawing centred on the next op",
         lambda r: ms(r[1], "step", "shown"))
    line("graph view: browser code", "layout of the neighbourhood or lookup in the whole one",
         lambda r: ms(r[1], "step", "code"))
    line("whole-graph layout", "once per graph, in a worker thread",
         lambda r: (f"{statistics.median(x['full'] for x in r[1]) * 1e3:.0f} ms"
                    if r[1][0]["full"] is not None and not r[1][0]["reason"]
                    else f"not made: {r[1][0]['reason'] or 'still running after 60 s'}; "
                         "neighbourhoods only"))


if __name__ == "__main__":
    main()
