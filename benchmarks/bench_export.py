"""`modelkit export` on big models: export time, file sizes and the page in a browser.

Models: the 1,000-op int8 TFLite file and the 20,000-node GraphDef of bench_tui.py
(its generators), generated into benchmarks/_work. For each:

- export: wall and CPU time and peak RSS of `modelkit export MODEL OUT.html` as a fresh
  process (median of --runs), and the page's size; the same for SVG, DOT and Model
  Explorer JSON (one run each);
- the page in headless Chromium (when one is installed): from navigation to the load
  event, and to the first frame drawn after it (two requestAnimationFrame callbacks:
  the drawing is on screen); then choosing a node near the end of the graph among the
  search results, until the frame that shows it (its part drawn, centred, detailed);
- the alternative: Graphviz drawing the DOT export (`dot -Tsvg`), what a user without
  the HTML page would run; only for the 1,000-op model (the 20,000-node graph is not
  attempted: Graphviz's layout of it runs for many minutes).

Run: .venv/bin/python benchmarks/bench_export.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from common import MODELKIT, ROOT, WORK, generated, measure, precompile, row  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "export"))
from browser import Browser, find_chromium  # noqa: E402


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _page_times(page: Path, last_node: int) -> tuple[float, float, float]:
    """(load event, first frame after it, choosing node `last_node` among search results
    until the frame that shows it), seconds."""
    chromium = find_chromium()
    with Browser(chromium) as b:
        b.open(ROOT / "README.md")  # NOTE: a first page, so browser start-up is not counted
        t0 = time.perf_counter()
        b.send("Page.navigate", url=page.resolve().as_uri())
        b.wait_event("Page.loadEventFired", timeout=300)
        load = time.perf_counter() - t0
        frame_ms = b.eval("new Promise(r => requestAnimationFrame(() => "
                          "requestAnimationFrame(() => r(performance.now()))))")
        drawn = b.eval("document.querySelectorAll('#mk-view [data-node]').length")
        assert drawn > 0, "nothing drawn"
        name = b.eval(f"JSON.parse(document.getElementById('mk-data').textContent)"
                      f".graphs[0].nodes[{last_node}].n")
        b.eval(f"""new Promise(r => {{
            const s = document.getElementById('mk-search'); s.value = {name!r};
            s.dispatchEvent(new Event('input')); setTimeout(r, 300); }})""")
        select_ms = b.eval(f"""new Promise(r => {{
            const t = performance.now();
            document.querySelector('#mk-results [data-go="{last_node}"]').click();
            requestAnimationFrame(() => requestAnimationFrame(
                () => r(performance.now() - t))); }})""")
        assert b.eval("document.body.dataset.selected") == str(last_node)
        assert b.requests()[-1] == page.resolve().as_uri()
        return load, frame_ms / 1000, select_ms / 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    precompile()
    from bench_tui import make_graphdef, make_tflite

    out = WORK / "export"
    out.mkdir(parents=True, exist_ok=True)
    cases = [("1,000-op int8 TFLite", generated(WORK / "browse_1000.tflite", make_tflite), 990),
             ("20,000-node GraphDef", generated(WORK / "browse_20k.pb", make_graphdef), 19990)]
    chromium = find_chromium()
    print("## modelkit export\n")
    print(row(["model", "format", "export wall", "export CPU", "peak RSS", "output size"]))
    print(row(["---"] * 6))
    pages = []
    for label, model, last in cases:
        html = out / (model.stem + ".html")
        m = measure([MODELKIT, "export", str(model), str(html), "--force"], runs=args.runs)
        print(row([label, "html", f"{m.wall:.2f} s", f"{m.cpu:.2f} s", f"{m.rss_mb:.0f} MB",
                   _mb(html.stat().st_size)]))
        pages.append((label, html, last))
        for fmt, ext in (("svg", ".svg"), ("dot", ".dot"), ("model-explorer", ".json")):
            dst = out / (model.stem + ext)
            extra = ["--to", fmt] if fmt == "model-explorer" else []
            m = measure([MODELKIT, "export", str(model), str(dst), "--force", *extra],
                        runs=1, warmup=0)
            print(row([label, fmt, f"{m.wall:.2f} s", f"{m.cpu:.2f} s", f"{m.rss_mb:.0f} MB",
                       _mb(dst.stat().st_size)]))
    print()
    if chromium is None:
        print("No chromium installed: the page was not timed in a browser.")
    else:
        print("### The page in headless Chromium\n")
        print(row(["model", "load event", "first drawing",
                   "select a node near the end (search result click to frame)"]))
        print(row(["---"] * 4))
        for label, html, last in pages:
            load, frame, select = _page_times(html, last)
            print(row([label, f"{load:.2f} s", f"{frame:.2f} s", f"{select * 1000:.0f} ms"]))
    print()
    if shutil.which("dot") is None:
        print("Graphviz is not installed: `dot -Tsvg` was not timed.")
    else:
        dot_file = out / (cases[0][1].stem + ".dot")
        t0 = time.perf_counter()
        res = subprocess.run(["dot", "-Tsvg", str(dot_file), "-o", str(out / "dot.svg")],
                             capture_output=True, timeout=1800)
        took = time.perf_counter() - t0
        state = "ok" if res.returncode == 0 else f"exit {res.returncode}"
        print(f"Alternative: Graphviz `dot -Tsvg` on the DOT export of the {cases[0][0]} model: "
              f"{took:.1f} s ({state}); on the 20,000-node graph: not attempted.")


if __name__ == "__main__":
    main()
