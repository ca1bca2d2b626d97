"""Renderers of a ModelDiff: text like a unified diff, and JSON (a contract).

Text: a `---`/`+++` header per pair of models, `# ` notes, then one line per
change, `-` removed, `+` added, `~` changed, each with its location (kind,
graph:index, op, name) so that `grep` finds it, and a summary line at the end
(like `git diff --stat`). JSON: `schema_version` 1, documented in the README.
"""

from __future__ import annotations

import json
from typing import Any

from modelkit.diff.changes import Change, ModelDiff, Ref
from modelkit.diff.weights import WeightStats

SCHEMA_VERSION = 1
_MARK = {"added": "+", "removed": "-", "changed": "~"}
# Channels of a per-channel quantization shown on one line; the JSON has them all.
_CHANNELS_SHOWN = 3


# -- JSON -----------------------------------------------------------------------

def step_json(d: ModelDiff) -> dict:
    """One comparison (A -> B) as JSON-ready data."""
    return {
        "same": d.same,
        "a": _model_json(d.model_a),
        "b": _model_json(d.model_b),
        "graphs": [{"a": p.a, "b": p.b, "name_a": p.matching.graph_a.name,
                    "name_b": p.matching.graph_b.name,
                    "cross_domain": p.matching.cross_domain,
                    "matched_nodes": len(p.matching.nodes),
                    "matched_tensors": len(p.matching.values)} for p in d.pairs],
        "changes": [c.to_dict() for c in d.changes],
        "summary": d.stats,
        "notes": list(d.notes),
    }


def render_json(diffs: list[ModelDiff]) -> dict:
    """The JSON document: one comparison at top level, or `steps` for more models."""
    if len(diffs) == 1:
        return {"schema_version": SCHEMA_VERSION, **step_json(diffs[0])}
    paths = [str(diffs[0].model_a.path)] + [str(d.model_b.path) for d in diffs]
    return {"schema_version": SCHEMA_VERSION, "same": all(d.same for d in diffs),
            "models": paths, "steps": [step_json(d) for d in diffs]}


def _model_json(m) -> dict:
    return {"path": str(m.path) if m.path is not None else None, "format": m.format,
            "graphs": len(m.graphs)}


# -- text -----------------------------------------------------------------------

def render_text(diffs: list[ModelDiff]) -> str:
    """Every comparison as text, each ending with its summary line."""
    lines: list[str] = []
    for d in diffs:
        lines.extend(step_lines(d))
    return "\n".join(lines) + "\n"


def step_lines(d: ModelDiff) -> list[str]:
    out = [f"--- {d.model_a.path} ({d.model_a.format})",
           f"+++ {d.model_b.path} ({d.model_b.format})"]
    out.extend(f"# {n}" for n in d.notes)
    out.extend(change_line(c) for c in d.changes)
    out.append(summary_line(d))
    return out


def _place(ref: Ref, what: str) -> str:
    if what == "signature":
        return f"'{ref.name}' (graph {ref.graph})"
    if what == "graph":
        return f"{ref.index} '{ref.name}'"
    parts = [f"{ref.graph}:{ref.index if ref.index is not None else '?'}"]
    if ref.op is not None:
        parts.append(ref.op)
    parts.append(f"'{ref.name}'")
    return " ".join(parts)


def location(c: Change) -> str:
    """`node 0:3 CONV_2D 'conv1'`, with what differs on B's side after `->`."""
    first = c.a if c.a is not None else c.b
    assert first is not None
    text = f"{c.what} {_place(first, c.what)}"
    if c.a is not None and c.b is not None:
        a, b = c.a, c.b
        other = []
        if (a.graph, a.index) != (b.graph, b.index) and c.what not in ("signature", "graph"):
            other.append(f"{b.graph}:{b.index if b.index is not None else '?'}")
        if a.op != b.op and b.op is not None:
            other.append(b.op)
        if a.name != b.name:
            other.append(f"'{b.name}'")
        if other:
            text += " -> " + " ".join(other)
    return text


def change_line(c: Change) -> str:
    """One change on one line."""
    line = f"{_MARK[c.kind]} {location(c)}"
    if c.fields:
        line += ": " + "; ".join(field_text(f, c.details.get(f)) for f in c.fields)
    return line


def _value(x: Any) -> str:
    if x is None:
        return "none"
    if isinstance(x, str):
        return x if x else "''"
    text = json.dumps(x, separators=(",", ":"), default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _shape_text(s) -> str:
    if s is None:
        return "[*]"
    return "[" + ",".join("?" if d is None else str(d) for d in s) + "]"


def field_text(name: str, detail: Any) -> str:
    """`attrs.padding SAME -> VALID`, `weights 1 of 72 elements differ, ...`."""
    if not isinstance(detail, dict):
        return name
    if name == "weights":
        if not detail.get("compared", True):
            return f"weights differ ({detail.get('reason', 'not compared')})"
        keys = WeightStats.__dataclass_fields__
        return "weights " + WeightStats(**{k: detail[k] for k in keys if k in detail}).text()
    if name == "fused":
        names = detail.get("a") or detail.get("b") or []
        side = "A" if detail.get("a") else "B"
        return f"fused {', '.join(repr(n) for n in names)} (nodes of {side})"
    if name == "quantization":
        return f"quantization {_quant_text(detail.get('a'), detail.get('b'))}"
    if name == "inputs" and "positions" in detail:
        a, b = detail["a"], detail["b"]
        parts = []
        for i in detail["positions"]:
            x = a[i] if i < len(a) else "(none)"
            y = b[i] if i < len(b) else "(none)"
            parts.append(f"[{i}] {_value(x)} -> {_value(y)}")
        return "inputs " + ", ".join(parts)
    if name in ("dtype", "shape") and isinstance(detail.get("a"), list) and "tensors" in detail:
        fmt = _shape_text if name == "shape" else _value
        a = ",".join(fmt(x) for x in detail["a"])
        b = ",".join(fmt(x) for x in detail["b"])
        return f"{name} {a} -> {b}"
    if name == "shape":
        return f"shape {_shape_text(detail.get('a'))} -> {_shape_text(detail.get('b'))}"
    return f"{name} {_value(detail.get('a'))} -> {_value(detail.get('b'))}"


def _quant_text(a: dict | None, b: dict | None) -> str:
    """Dequantization formulas (QuantParams.describe), the changed channels only when
    both sides have the same channels."""
    if a is None or b is None or len(a["describe"]) != len(b["describe"]) \
            or len(a["describe"]) == 1:
        return f"{_quant_side(a)} -> {_quant_side(b)}"
    changed = [i for i, (x, y) in enumerate(zip(a["describe"], b["describe"])) if x != y]
    if not changed:
        changed = [i for i in range(len(a["describe"]))
                   if a["scale"][i] != b["scale"][i] or a["zero_point"][i] != b["zero_point"][i]]
    shown = changed[:_CHANNELS_SHOWN]
    left = ", ".join(a["describe"][i] for i in shown)
    right = ", ".join(b["describe"][i] for i in shown)
    more = f" ({len(changed)} of {len(a['describe'])} channels differ)" \
        if len(changed) > len(shown) else ""
    return f"{left} -> {right}{more}"


def _quant_side(q: dict | None) -> str:
    if q is None:
        return "none"
    lines = q["describe"]
    if len(lines) <= _CHANNELS_SHOWN:
        return ", ".join(lines)
    return (f"per-channel axis {q.get('axis')}: " + ", ".join(lines[:2])
            + f", ... ({len(lines)} channels)")


def summary_line(d: ModelDiff) -> str:
    """` 12 changes: node +2 ~10, tensor ~12; ops DEQUANTIZE +1 QUANTIZE +1; ...`."""
    s = d.stats
    if d.same:
        head = " no changes"
    else:
        parts = []
        for what, counts in s["counts"].items():
            marks = "".join(f" {_MARK[k]}{counts[k]}" for k in ("added", "removed", "changed")
                            if counts[k])
            parts.append(f"{what}{marks}")
        n = s["changes"]
        head = f" {n} change{'s' if n != 1 else ''}: " + ", ".join(parts)
    tail = []
    if s["ops"]:
        tail.append("ops " + " ".join(f"{op} {delta:+d}" for op, delta in s["ops"].items()))
    nodes = s["nodes"]
    tail.append(f"nodes {nodes['a']} -> {nodes['b']}")
    p = s["parameters"]
    tail.append(f"parameters {p['a']} -> {p['b']} ({p['delta']:+d})")
    pb = s["parameter_bytes"]
    tail.append(f"parameter bytes {pb['a']} -> {pb['b']} ({pb['delta']:+d})")
    f = s["file_size"]
    if f["a"] is not None and f["b"] is not None:
        tail.append(f"size {f['a']} -> {f['b']} bytes ({f['delta']:+d})")
    return head + "; " + "; ".join(tail)
