"""The export formats: their names, the extensions that imply them, and what each writes.

`resolve` picks the format from `--to` and OUT's extension; `render` turns a Document
into the files to write (OUT, and for Model Explorer with marks, one node-data file
per kind of mark beside it); `write` writes them all atomically or none.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

from modelkit.errors import UsageError
from modelkit.export.document import Document

# Format name -> the extensions that imply it. `.json` is shared by two formats and
# implies neither: it needs --to.
FORMATS: dict[str, tuple[str, ...]] = {
    "html": (".html", ".htm"),
    "svg": (".svg",),
    "dot": (".dot", ".gv"),
    "mermaid": (".mmd", ".md"),
    "model-explorer": (".json",),
    "json": (".json",),
}
_BY_EXT = {ext: name for name, exts in FORMATS.items() for ext in exts if ext != ".json"}


def resolve(out: str | os.PathLike, to: str | None) -> str:
    """The format to write OUT in.

    Raises:
        UsageError: unknown `--to`; `--to` against what OUT's extension says; no `--to`
            and an extension that names no format (or `.json`, which names two).
    """
    ext = Path(out).suffix.lower()
    names = ", ".join(FORMATS)
    if to is not None:
        if to not in FORMATS:
            raise UsageError(f"unknown --to {to!r}; choose one of {names}")
        said = _BY_EXT.get(ext)
        if said is not None and said != to:
            raise UsageError(f"--to {to}, but the name says {said} ({ext}); name the output "
                             f"for {to} ({', '.join(FORMATS[to])}) or drop --to", str(out))
        if ext == ".json" and to not in ("model-explorer", "json"):
            raise UsageError(f"--to {to}, but the name ends in .json; name the output "
                             f"{', '.join(FORMATS[to])}", str(out))
        return to
    if ext == ".json":
        raise UsageError("a .json output is either Model Explorer's graph or modelkit's own: "
                         "say --to model-explorer or --to json", str(out))
    if ext not in _BY_EXT:
        raise UsageError(f"cannot tell the format from the name ({ext or 'no extension'}); "
                         f"give --to ({names}) or name it .html, .svg, .dot, .mmd or .md",
                         str(out))
    return _BY_EXT[ext]


def node_data_path(out: Path, kind: str) -> Path:
    """Where the Model Explorer node data of one kind of mark goes: `OUT.KIND.nodedata.json`
    beside OUT (`model.json` -> `model.check.nodedata.json`)."""
    stem = out.name[:-5] if out.name.lower().endswith(".json") else out.name
    return out.with_name(f"{stem}.{kind}.nodedata.json")


def render(doc: Document, fmt: str, out: Path) -> list[tuple[Path, str]]:
    """The files `fmt` writes for `doc`: (path, text), OUT first.

    Raises:
        UsageError: a graph too large for Mermaid.
    """
    if fmt == "html":
        from modelkit.export.html import render_html

        return [(out, render_html(doc))]
    if fmt == "svg":
        from modelkit.export.svg import svg_document

        return [(out, svg_document(doc, doc.graphs[0]))]
    if fmt == "dot":
        from modelkit.export.dot import render_dot

        return [(out, render_dot(doc))]
    if fmt == "mermaid":
        from modelkit.export.mermaid import check_size, render_mermaid

        check_size(doc.graphs[0], str(out))
        return [(out, render_mermaid(doc, doc.graphs[0], fenced=out.suffix.lower() == ".md"))]
    if fmt == "model-explorer":
        from modelkit.export.model_explorer import render_graphs, render_node_data

        files = [(out, render_graphs(doc))]
        for kind in doc.marks.kinds:
            files.append((node_data_path(out, kind), render_node_data(doc, kind)))
        return files
    if fmt == "json":
        from modelkit.export.graph_json import render_json

        return [(out, render_json(doc))]
    raise UsageError(f"unknown format {fmt!r}")


def check_outputs(paths: list[Path], *, force: bool, sources: tuple) -> None:
    """Refuse outputs that would lose something the user has (see modelkit.fileio).

    Raises:
        OutputExistsError, UsageError: an output exists without --force, is an input...
    """
    from modelkit.fileio import check_output

    for p in paths:
        check_output(p, force=force, sources=sources)


def write(files: list[tuple[Path, str]], *, force: bool, sources: tuple) -> None:
    """Write every file atomically; when one cannot be written, none is left.

    Raises:
        UsageError: an output cannot be written (one line naming it and why).
    """
    from modelkit.fileio import atomic_output

    with ExitStack() as stack:
        for path, text in files:
            try:
                tmp = stack.enter_context(atomic_output(path, force=force, sources=sources))
                tmp.write_text(text, encoding="utf-8")
            except OSError as e:
                raise UsageError(f"cannot write: {e.strerror or e}", str(path)) from None
