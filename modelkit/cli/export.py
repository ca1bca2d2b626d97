"""Export a model's graph: one offline HTML page, SVG, DOT, Mermaid, Model Explorer JSON
or modelkit's own graph JSON, with check findings, per-layer error or a diff on it.

Examples:

    modelkit export model.tflite model.html
    modelkit export model.tflite model.html --check micro --overlay debug.json
    modelkit export fixed.tflite changes.html --diff model.tflite
    modelkit export model.pb model.dot            (dot -Tsvg model.dot -o model.svg)
    modelkit export model.tflite model.json --to model-explorer --check tflite
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from modelkit.cli.main import app, reporting_errors

_HELP = __doc__

_DETAILS = (
    "The format follows OUT's name (.html, .svg, .dot/.gv, .mmd/.md) or --to; a .json OUT "
    "needs --to model-explorer or --to json. The HTML page is one file that works offline "
    "(no server, no network): the graph drawn with the layered layout `browse` uses, pan "
    "and zoom, node details (attributes, tensors, quantization formulas, weight "
    "statistics), search, and the marks with a legend. --check TARGET marks what `modelkit "
    "check --target TARGET` finds, --overlay the per-layer error of a `modelkit debug "
    "--json` report, --diff OTHER what this model adds or changes against OTHER. With "
    "marks, --to model-explorer also writes OUT.<kind>.nodedata.json beside OUT for Model "
    "Explorer's node data panel. See docs/export.md.")


@app.command(help=" ".join(_HELP.split("\n\n")[0].split()) + "\n\n" + _DETAILS)
def export(
    model: Path = typer.Argument(..., help="Model file or folder (any supported format)."),
    out: Path = typer.Argument(..., help="The file to write (its extension picks the format)."),
    to: Optional[str] = typer.Option(None, "--to", metavar="FORMAT",
                                     help="html, svg, dot, mermaid, model-explorer or json."),
    overlay: Optional[Path] = typer.Option(
        None, "--overlay", metavar="DEBUG.json",
        help="Mark per-layer error from the JSON `modelkit debug --json` wrote."),
    check: Optional[str] = typer.Option(None, "--check", metavar="TARGET",
                                        help="Mark what `modelkit check --target TARGET` "
                                             "finds."),
    diff: Optional[Path] = typer.Option(None, "--diff", metavar="OTHER",
                                        help="Mark the nodes this model adds or changes "
                                             "against OTHER."),
    graph: Optional[int] = typer.Option(None, "--graph", metavar="N",
                                        help="Only graph N (svg and mermaid draw graph 0 "
                                             "by default)."),
    fmt: Optional[str] = typer.Option(None, "--from", help="Force the input format."),
    force: bool = typer.Option(False, "--force", help="Replace an existing OUT."),
) -> None:
    """Export a model's graph as HTML, SVG, DOT, Mermaid or JSON."""
    with reporting_errors():
        from modelkit.export import formats
        from modelkit.export.document import Document
        from modelkit.export.marks import Marks, check_marks, debug_marks, diff_marks
        from modelkit.formats.registry import load

        kind = formats.resolve(out, to)
        sources = tuple(p for p in (model, overlay, diff) if p is not None)
        # NOTE: every output is refused before any model is read, so a wrong command
        # line costs nothing.
        planned = [out]
        if kind == "model-explorer":
            planned += [formats.node_data_path(out, k) for k, given in
                        (("check", check), ("debug", overlay), ("diff", diff)) if given]
        formats.check_outputs(planned, force=force, sources=sources)
        if check is not None:
            from modelkit.check import TARGETS
            from modelkit.errors import UsageError

            if check not in TARGETS:
                raise UsageError(f"unknown --check target {check!r}; choose one of "
                                 f"{', '.join(TARGETS)}")
        if overlay is not None:
            from modelkit.debug.overlay import read_report

            # NOTE: a malformed overlay is refused before the model is read.
            read_report(overlay)
        loaded = load(model, fmt)
        marks = Marks()
        if check is not None:
            marks.merge(check_marks(loaded, check))
        if overlay is not None:
            found = debug_marks(loaded, overlay)
            marks.merge(found)
            line = found.notes[0]
            level = "warning" if "not shown" in line else "note"
            print(f"modelkit: {level}: {overlay}: {line}", file=sys.stderr)
        if diff is not None:
            marks.merge(diff_marks(loaded, load(diff, fmt), graph))
        pick = graph
        if pick is None and kind in ("svg", "mermaid") and len(loaded.graphs) > 1:
            pick = 0
            print(f"modelkit: note: {model} has {len(loaded.graphs)} graphs; drawing graph 0 "
                  "(--graph N picks another)", file=sys.stderr)
        doc = Document.build(loaded, marks, pick)
        files = formats.render(doc, kind, out)
        formats.write(files, force=force, sources=sources)
        nodes = sum(len(g.nodes) for g in doc.graphs)
        for path, text in files:
            size = len(text.encode("utf-8"))
            print(f"modelkit: wrote {path} ({kind if path == out else 'node data'}, "
                  f"{_size(size)}, {nodes:,} nodes)", file=sys.stderr)


def _size(n: int) -> str:
    from modelkit.analysis.units import human_bytes

    return human_bytes(n)
