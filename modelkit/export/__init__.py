"""`modelkit export`: a model's graph as one offline HTML page, SVG, DOT, Mermaid,
Model Explorer JSON or modelkit's own graph JSON.

    from modelkit.export import Document, formats
    from modelkit.export.marks import check_marks
    doc = Document.build(model, check_marks(model, "micro"))
    files = formats.render(doc, "html", Path("model.html"))   # [(path, text)]
    formats.write(files, force=False, sources=(model.path,))

Each renderer is a small module that only formats a `Document`.
"""

from modelkit.export.document import Document
from modelkit.export.marks import Mark, Marks

__all__ = ["Document", "Mark", "Marks"]
