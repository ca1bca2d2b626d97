"""`modelkit export`: a model's graph as one offline HTML page, SVG, DOT, Mermaid,
Model Explorer JSON or modelkit's own graph JSON.

    from modelkit.export import Document, render
    doc = Document.build(model, marks)          # marks: modelkit.export.marks
    text = render(doc, "html")

Each renderer is a small module that only formats a `Document`.
"""

from modelkit.export.document import Document
from modelkit.export.marks import Mark, Marks

__all__ = ["Document", "Mark", "Marks"]
