"""Plain-text rendering of summary facts: aligned, stable, grep-friendly."""

from __future__ import annotations

from modelkit.analysis.summary import human_bytes, human_count


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Left-aligned columns; the last column is not padded."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(max(map(len, rows)))]
    out = []
    for r in rows:
        cells = [c.ljust(widths[i]) if i < len(r) - 1 else c for i, c in enumerate(r)]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def _type(dtype: str | None, shape: list | None) -> str:
    """`int8[1,8,8,1]`; `?` for an unknown dimension, `[*]` for unknown rank."""
    dims = "*" if shape is None else ",".join("?" if d is None else str(d) for d in shape)
    return f"{dtype or '?'}[{dims}]"


def _io_lines(ios: list[dict]) -> list[str]:
    lines = []
    rows = []
    for io in ios:
        q = io.get("quantization")
        rows.append([io["name"], io["type"],
                     "" if q is None or q["per_channel"] else q["describe"][0]])
    table = _table(rows)
    for line, io in zip(table, ios):
        lines.append(line)
        q = io.get("quantization")
        if q and "feed" in q:
            extra = f"mean {q['mean']:g}, std {q['std']:.6g}"
            if "uint8_mean" in q:
                extra += f" (as uint8: mean {q['uint8_mean']:g})"
            lines.append(f"      feed float x as {q['feed']}; read back {q['read']}")
            lines.append(f"      legacy form real = (q - mean) / std: {extra}")
    return lines


def render_summary(facts: dict) -> str:
    """The text that `modelkit summarize` prints."""
    lines: list[str] = []
    meta = facts.get("metadata") or {}
    head = [["Model", str(facts.get("path"))],
            ["Format", f"{facts['format_name']}" + (f" (schema v{meta['version']})"
                                                   if "version" in meta else "")],
            ["Size", human_bytes(facts.get("file_size"))]]
    for key, label in (("description", "Producer"), ("min_runtime_version", "Min runtime")):
        if meta.get(key):
            head.append([label, str(meta[key])])
    q = facts["quantization"]
    head.append(["Quantization", q["description"]])
    p = facts["parameters"]
    head.append(["Parameters", f"{p['count']:,} ({p['human']}), {human_bytes(p['bytes'])}"])
    for dtype, entry in p["by_dtype"].items():
        head.append(["", f"{dtype}: {entry['count']:,} in {human_bytes(entry['bytes'])}"])
    head.append(["Graphs", str(facts["graph_count"])])
    lines += _table(head, indent="")
    for g in facts["graphs"]:
        title = f"Graph {g['index']}" + (f" {g['name']!r}" if g["name"] else "")
        lines.append("")
        lines.append(f"{title}: nodes {g['nodes']}, tensors {g['tensors']}")
        if g["inputs"]:
            lines.append(" Inputs")
            lines += _io_lines(g["inputs"])
        if g["outputs"]:
            lines.append(" Outputs")
            lines += _io_lines(g["outputs"])
    if facts["signatures"]:
        lines.append("")
        lines.append("Signatures")
        for s in facts["signatures"]:
            method = f" ({s['method_name']})" if s.get("method_name") else ""
            lines.append(f"  {s['key']}{method}, graph {s['graph']}")
            rows = [[f"  {d}", io["key"], _type(io["dtype"], io["shape"]), io["tensor"]] for d, ios in (("in ", s["inputs"]), ("out", s["outputs"]))
                    for io in ios]
            lines += _table(rows, indent="  ")
    lines.append("")
    lines.append(f"Ops ({facts['op_count']} in {len(facts['graphs'])} graph(s))")
    versions = facts.get("op_versions", {})
    lines += _table([[op, str(n), ("v" + ",".join(map(str, versions[op]))) if op in versions
                      else ""] for op, n in facts["ops"].items()])
    if facts["custom_ops"]:
        lines.append("Custom ops")
        lines += _table([[op, str(n)] for op, n in facts["custom_ops"].items()])
    if facts.get("sparse_tensors"):
        lines.append(f"Sparse tensors  {facts['sparse_tensors']}")
    if "tf" in facts:
        from modelkit.analysis.tf_summary import render_tf_summary

        lines.append("")
        lines.append(render_tf_summary(facts["tf"]).rstrip("\n"))
    if "tensors" in facts:
        lines.append("")
        lines.append("Tensors")
        rows = [["graph", "index", "name", "type", "shape", "bytes", "buffer", "quantization"]]
        for t in facts["tensors"]:
            rows.append([str(t["graph"]), str(t["index"] if t["index"] is not None else ""),
                         t["name"], t["dtype"] or "?",
                         _type(None, t["shape"])[1:],
                         str(t["bytes"] if t["bytes"] is not None else "?"),
                         "" if t["buffer"] is None else str(t["buffer"]),
                         t["quantization"] + (" sparse" if t["sparse"] else "")])
        lines += _table(rows)
    return "\n".join(lines) + "\n"


__all__ = ["render_summary", "human_bytes", "human_count"]
