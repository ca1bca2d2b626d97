"""The change list laid on the nodes of the second model: what `export --diff` and
`browse --diff` mark.

`changes_on_nodes(d)` takes a `ModelDiff` of A -> B and says, per node of B (by
graph and position in `Graph.nodes`), whether it is added or changed and which
changes of the list land on it: a node change on its node; a tensor change on
the node that writes the tensor, or on every node that reads it when nobody
writes it (a constant, a graph input). Nodes only A has are the `removed`
changes. Nothing here formats for a screen or a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelkit.diff.changes import Change, ModelDiff

# The symbols of the marks (each drawn with its word, never by colour alone).
DIFF_SYMBOL = {"added": "✚", "changed": "✎", "removed": "⊖"}


@dataclass
class NodeChanges:
    """What the change list says about one node of B.

    Attributes:
        kind: `added` (only B has it) or `changed`.
        changes: the changes that land on it, in the list's order.
        lines: one line per change (`only in this model`, `changed: op, inputs`,
            `conv/w: tensor changed: weights`).
        fields: the changed fields, with those of the tensors (`tensor` for an added one).
    """

    kind: str
    changes: list[Change] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)


@dataclass
class ChangesOnNodes:
    """The change list by node of B.

    Attributes:
        by_node: per (graph, position in `Graph.nodes`) of B, what landed there.
        removed: the node changes of nodes only A has, in the list's order.
    """

    by_node: dict[tuple[int, int], NodeChanges] = field(default_factory=dict)
    removed: list[Change] = field(default_factory=list)

    def count(self, kind: str) -> int:
        """Nodes marked `added` or `changed`, or the `removed` ones."""
        if kind == "removed":
            return len(self.removed)
        return sum(1 for e in self.by_node.values() if e.kind == kind)


def changes_on_nodes(d: ModelDiff) -> ChangesOnNodes:
    """Lay the changes of `d` (A -> B) on the nodes of B."""
    model = d.model_b
    node_at: list[dict[int, int]] = [
        {(n.index if n.index is not None else i): i for i, n in enumerate(g.nodes)}
        for g in model.graphs]
    value_at = [{(v.index if v.index is not None else i): v for i, v in enumerate(g.values)}
                for g in model.graphs]
    node_pos = [{id(n): i for i, n in enumerate(g.nodes)} for g in model.graphs]
    out = ChangesOnNodes()

    def note(gi: int, ni: int, kind: str, change: Change, text: str, fields: list[str]) -> None:
        entry = out.by_node.setdefault((gi, ni), NodeChanges(kind))
        if kind == "added":
            entry.kind = "added"
        entry.changes.append(change)
        entry.lines.append(text)
        entry.fields += fields

    for c in d.changes:
        if c.what == "node":
            if c.kind == "removed":
                out.removed.append(c)
                continue
            ni = node_at[c.b.graph].get(c.b.index) if c.b is not None else None
            if ni is None:
                continue
            if c.kind == "added":
                note(c.b.graph, ni, "added", c, "only in this model", [])
            else:
                note(c.b.graph, ni, "changed", c, "changed: " + ", ".join(c.fields), c.fields)
        elif c.what == "tensor" and c.b is not None:
            v: Any = value_at[c.b.graph].get(c.b.index)
            if v is None:
                continue
            what = "added tensor" if c.kind == "added" else \
                "tensor changed: " + ", ".join(c.fields)
            pos = node_pos[c.b.graph]
            if v.producer is not None and id(v.producer) in pos:
                targets = [pos[id(v.producer)]]
            else:
                targets = sorted({pos[id(n)] for n, _ in v.consumers if id(n) in pos})
            for ni in targets:
                note(c.b.graph, ni, "changed", c, f"{v.name}: {what}", c.fields or ["tensor"])
    return out
