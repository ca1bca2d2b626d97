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
    "Explorer's node data panel. --json prints what was written (files, format, graph, "
    "nodes each kind of mark marks) on stdout. See docs/export.md.")


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
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
    force: bool = typer.Option(False, "--force", help="Replace an existing OUT."),
) -> None:
    """Export a model's graph as HTML, SVG, DOT, Mermaid or JSON."""
    with reporting_errors():
        from modelkit import api
        from modelkit.analysis.units import human_bytes
        from modelkit.convert.progress import Progress

        result = api.export(model, out, to=to, check=check, overlay=overlay, diff=diff,
                            graph=graph, format=fmt, force=force, progress=Progress())
        for path, text in result.files:
            size = human_bytes(len(text.encode("utf-8")))
            print(f"modelkit: wrote {path} ({result.format if path == out else 'node data'}, "
                  f"{size}, {result.nodes:,} nodes)", file=sys.stderr)
        if as_json:
            from modelkit.cli.output import emit_json

            emit_json(result.to_dict())
