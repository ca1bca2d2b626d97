"""What an export lays over the graph: check findings, per-layer error, diff marks.

Every mark carries a symbol and a word beside its colour (the legend explains them),
so a drawing reads without colour. Marks are made here once; each renderer only
formats them.

- check findings (`modelkit.check.check_model`): ✖ error, ▲ warning, ℹ info;
- per-layer quantization error (the JSON `modelkit debug --json` writes, read and
  matched by `modelkit.debug.overlay`): ○ ◔ ◑ ● by rmse/scale;
- diff against another model (`modelkit.diff.diff_models`, the other model as A and
  the exported one as B): ✚ added, ✎ changed (the node, or a tensor it writes or a
  constant it reads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelkit.diff.nodes import DIFF_SYMBOL
from modelkit.errors import UsageError
from modelkit.ir import Model

SEVERITY_SYMBOL = {"error": "✖", "warning": "▲", "info": "ℹ"}


@dataclass
class Mark:
    """One mark on one node.

    Attributes:
        kind: `check`, `debug` or `diff`.
        symbol: the symbol drawn on the node.
        css: its style class (`error`, `warning`, `info`, `q0`..`q3`, `added`, `changed`).
        short: the text drawn on the node (`✖ 2 errors`, `◑ 0.84`, `✎ weights`).
        lines: (label, text) lines for the node's details.
        value: the figure behind it (rmse/scale for `debug`), else None.
    """

    kind: str
    symbol: str
    css: str
    short: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    value: float | None = None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind, "symbol": self.symbol, "class": self.css,
                               "text": self.short, "lines": [list(x) for x in self.lines]}
        if self.value is not None:
            out["value"] = self.value
        return out


@dataclass
class Marks:
    """Every mark of an export, by (graph, position in `Graph.nodes`).

    Attributes:
        by_node: the marks of each marked node.
        notes: one-line remarks shown above the drawing (what was checked, how much of
            an overlay matched, nodes only the other model has).
        legend: (symbol, class, meaning) of each symbol in use.
        kinds: the kinds of marks asked for (even when none was found).
    """

    by_node: dict[tuple[int, int], list[Mark]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    legend: list[tuple[str, str, str]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)

    def of(self, graph: int, node: int) -> list[Mark]:
        return self.by_node.get((graph, node), [])

    def add(self, graph: int, node: int, mark: Mark) -> None:
        self.by_node.setdefault((graph, node), []).append(mark)

    def merge(self, other: Marks) -> None:
        for key, marks in other.by_node.items():
            self.by_node.setdefault(key, []).extend(marks)
        self.notes += other.notes
        self.legend += [x for x in other.legend if x not in self.legend]
        self.kinds += [k for k in other.kinds if k not in self.kinds]


def fmt(x: Any) -> str:
    """A figure in at most 4 significant digits."""
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, float):
        return "nan" if math.isnan(x) else f"{x:.4g}"
    return str(x)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# -- check ----------------------------------------------------------------------------

def check_marks(model: Model, target: str) -> Marks:
    """Run `modelkit check --target TARGET`'s engine on `model` and mark each finding's node.

    Raises:
        UsageError: unknown target.
    """
    from modelkit.check import check_model

    report = check_model(model, target)
    marks = Marks(kinds=["check"])
    per_node: dict[tuple[int, int], list] = {}
    loose = []
    for f in report.findings:
        if f.node is None:
            loose.append(f)
        else:
            per_node.setdefault((f.graph, f.node), []).append(f)
    for (gi, ni), found in per_node.items():
        worst = next(s for s in SEVERITY_SYMBOL if any(f.severity == s for f in found))
        n = sum(1 for f in found if f.severity == worst)
        word = worst if n == 1 else f"{n} {worst}s"
        lines = []
        for f in found:
            lines.append((f"{SEVERITY_SYMBOL.get(f.severity, '?')} {f.severity}",
                          f"[{f.rule}] {f.message}"))
            if f.explanation:
                lines.append(("why", f.explanation))
            if f.fix:
                lines.append(("fix", f.fix))
        marks.add(gi, ni, Mark("check", SEVERITY_SYMBOL[worst], worst,
                               f"{SEVERITY_SYMBOL[worst]} {word}", lines))
    totals = report.totals()
    marks.notes.append(f"check {target}: " + ", ".join(
        f"{SEVERITY_SYMBOL[s]} {_plural(totals[s], s)}" for s in SEVERITY_SYMBOL))
    for f in loose:
        where = f"graph {f.graph}: " if len(model.graphs) > 1 else ""
        marks.notes.append(f"{SEVERITY_SYMBOL.get(f.severity, '?')} {where}[{f.rule}] "
                           f"{f.message}")
    used = {f.severity for f in report.findings}
    marks.legend = [(SEVERITY_SYMBOL[s], s, f"check {target}: {s}") for s in SEVERITY_SYMBOL
                    if s in used]
    return marks


# -- debug overlay --------------------------------------------------------------------

_DEBUG_FIGURES = (("sqnr", "sqnr_db", " dB"), ("cosine", "cosine", ""),
                  ("mean error", "mean_error", ""), ("max |error|", "max_abs_error", ""),
                  ("mse", "mean_squared_error", ""), ("stddev", "stddev", ""),
                  ("accumulated rmse", "accumulated_rmse", ""),
                  ("local rmse", "local_rmse", ""), ("elements", "num_elements", ""))


def debug_marks(model: Model, path: str | Path) -> Marks:
    """Mark the nodes the layers of a `modelkit debug --json` report were measured on.

    Raises:
        UsageError: the file is not such a report (one line naming the first problem),
            or none of its layers matches a node of `model` (it was written for another
            model): the message says how many layers it holds and how many matched.
    """
    from modelkit.debug.overlay import ERROR_LEVELS, error_level, match_layers, read_report
    from modelkit.debug.overlay import rmse_scale as layer_rmse_scale

    doc = read_report(path)
    layers = doc["layers"]
    found = match_layers(layers, model)
    other = doc.get("quantized_model") or doc.get("model")
    total = len(layers)
    if total and not found:
        said = f" (it names {other})" if other else ""
        raise UsageError(f"0 of the overlay's {_plural(total, 'layer')} match a node of the "
                         f"model by operator index, name and op: it was written for another "
                         f"model{said}; give the `modelkit debug --json` report of this "
                         "model", str(path))
    marks = Marks(kinds=["debug"])
    levels = set()
    for (gi, ni), layer in found.items():
        rs = layer_rmse_scale(layer)
        lvl = error_level(rs)
        symbol = ERROR_LEVELS[lvl][1] if lvl is not None else "?"
        lines = [("quant error", f"{symbol} rmse/scale {fmt(rs)}"
                  + (f" ({ERROR_LEVELS[lvl][2]})" if lvl is not None else ""))]
        for label, key, unit in _DEBUG_FIGURES:
            if layer.get(key) is not None:
                lines.append((label, fmt(layer[key]) + unit))
        if layer.get("scale") is not None:
            lines.append(("output q", f"scale {fmt(layer.get('scale'))}, zero point "
                                       f"{fmt(layer.get('zero_point'))}"))
        if lvl is not None:
            levels.add(lvl)
        marks.add(gi, ni, Mark("debug", symbol, f"q{lvl if lvl is not None else 'x'}",
                               f"{symbol} {fmt(rs)}", lines, rs))
    text = f"debug overlay: {len(found)} of {_plural(total, 'layer')} match a node"
    if len(found) < total:
        text += f"; the other {total - len(found)} (another model's?) are not shown"
    marks.notes.append(text)
    marks.legend = [(sym, f"q{i}", f"rmse/scale: {name}")
                    for i, (_, sym, name) in enumerate(ERROR_LEVELS) if i in levels]
    return marks


def debug_match_line(marks: Marks) -> str:
    """The overlay's match line (for the command's stderr)."""
    return next((n for n in marks.notes if n.startswith("debug overlay:")), "")


# -- diff -----------------------------------------------------------------------------

def diff_marks(model: Model, other: Model, graph: int | None = None) -> Marks:
    """Mark what `model` adds or changes against `other` (diff other -> model).

    Added and changed nodes are marked on themselves; a changed tensor on the node
    that writes it, or on every node that reads it when it is a constant nobody
    writes. Nodes only `other` has are listed in the notes.
    """
    from modelkit.diff import diff_models
    from modelkit.diff.nodes import changes_on_nodes

    d = diff_models(other, model, graph=graph)
    marks = Marks(kinds=["diff"])
    on = changes_on_nodes(d)
    removed = [c.a.name if c.a else "?" for c in on.removed]
    on_node = on.by_node
    used = set()
    for (gi, ni), entry in on_node.items():
        kind = entry.kind
        used.add(kind)
        fields = list(dict.fromkeys(f.split(".", 1)[0] for f in entry.fields))
        short = f"{DIFF_SYMBOL[kind]} added" if kind == "added" else \
            f"{DIFF_SYMBOL[kind]} " + (",".join(fields[:2]) or "changed")
        marks.add(gi, ni, Mark("diff", DIFF_SYMBOL[kind], kind, short,
                               [(f"{DIFF_SYMBOL[kind]} diff", t) for t in entry.lines]))
    other_name = Path(other.path).name if other.path else "the other model"
    added = on.count("added")
    changed = len(on_node) - added
    marks.notes.append(f"diff against {other_name}: {_plural(added, 'node')} added, "
                       f"{changed:,} changed, {len(removed):,} removed")
    if removed:
        shown = ", ".join(removed[:20]) + (f" and {len(removed) - 20} more"
                                          if len(removed) > 20 else "")
        marks.notes.append(f"only in {other_name}: {shown}")
    marks.legend = [(DIFF_SYMBOL[k], k, f"diff: {k} (against {other_name})")
                    for k in ("added", "changed") if k in used]
    return marks
