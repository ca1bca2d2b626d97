"""Plain-text rendering of summary facts: aligned, stable, grep-friendly."""

from __future__ import annotations

from modelkit.analysis.units import human_bytes


def _table(rows: list[list[str]], indent: str = "  ", empty: str = "") -> list[str]:
    """Left-aligned columns; the last column is not padded; `empty` when there are no rows."""
    if not rows:
        return [f"{indent}{empty}"] if empty else []
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(max(map(len, rows)))]
    out = []
    for r in rows:
        cells = [c.ljust(widths[i]) if i < len(r) - 1 else c for i, c in enumerate(r)]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def _kv(pairs: list[tuple[str, object]]) -> list[str]:
    """`Key:  value` lines with the values aligned; None shows as `-`."""
    width = max(len(k) for k, _ in pairs) + 1
    return [f"{(k + ':').ljust(width)} {'-' if v is None else v}" for k, v in pairs]


def _type(dtype: str | None, shape: list | None) -> str:
    """`int8[1,8,8,1]`; `?` for an unknown dimension, `[*]` for unknown rank."""
    dims = "*" if shape is None else ",".join("?" if d is None else str(d) for d in shape)
    return f"{dtype or '?'}[{dims}]"


def _io_lines(ios: list[dict], role: str) -> list[str]:
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
            if role == "input":
                lines.append(f"      feed float x as {q['feed']}")
            else:
                lines.append(f"      read as {q['read']}")
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
    conv = meta.get("conversion_metadata")
    if conv:
        head.append(["Converted by", _conversion_line(conv)])
    head.append(["Graphs", str(facts["graph_count"])])
    lines += _table(head, indent="")
    lines += _tflite_metadata_lines(meta)
    if "tf" in facts:
        # NOTE: the TF-family section lists inputs, outputs, signatures and op types the
        # way summarize_graph and saved_model_cli do; the generic lists would repeat them.
        lines.append("")
        lines.append(render_tf_summary(facts["tf"]).rstrip("\n"))
        lines += _tensor_table(facts)
        return "\n".join(lines) + "\n"
    for g in facts["graphs"]:
        title = f"Graph {g['index']}" + (f" {g['name']!r}" if g["name"] else "")
        lines.append("")
        lines.append(f"{title}: nodes {g['nodes']}, tensors {g['tensors']}")
        if g["inputs"]:
            lines.append(" Inputs")
            lines += _io_lines(g["inputs"], "input")
        if g["outputs"]:
            lines.append(" Outputs")
            lines += _io_lines(g["outputs"], "output")
    if facts["signatures"]:
        lines.append("")
        lines.append("Signatures")
        for s in facts["signatures"]:
            method = f" ({s['method_name']})" if s.get("method_name") else ""
            lines.append(f"  {s['key']}{method}, graph {s['graph']}")
            rows = [[f"  {d}", io["key"], _type(io["dtype"], io["shape"]), io["tensor"]]
                    for d, ios in (("in ", s["inputs"]), ("out", s["outputs"])) for io in ios]
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
    lines += _tensor_table(facts)
    return "\n".join(lines) + "\n"


def _conversion_line(conv: dict) -> str:
    """`TensorFlow 2.21.0 (API v2) from TF_SAVED_MODEL; PTQ_FULL_INTEGER`."""
    if "error" in conv:
        return f"(unreadable: {conv['error']})"
    env, opts = conv.get("environment") or {}, conv.get("options") or {}
    text = f"TensorFlow {env.get('tensorflow_version', '?')}"
    if env.get("api_version"):
        text += f" (API v{env['api_version']})"
    if env.get("model_type") not in (None, "NONE"):
        text += f" from {env['model_type']}"
    flags = list(opts.get("model_optimization_modes", ()))
    flags += [k for k in ("allow_custom_ops", "enable_select_tf_ops", "force_select_tf_ops")
              if opts.get(k)]
    return text + ("; " + ", ".join(flags) if flags else "")


def _numbers(values: list) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def _tensor_metadata_line(role: str, t: dict) -> list[str]:
    """One tensor's metadata: content, normalization, range, files."""
    parts = []
    content = t.get("content") or {}
    kind = content.get("content_properties_type")
    if kind:
        props = content.get("content_properties") or {}
        kind = kind.removesuffix("Properties").lower()
        if props.get("color_space"):
            kind += f" {props['color_space']}"
        if props.get("default_size"):
            size = props["default_size"]
            kind += f" {size.get('width', '?')}x{size.get('height', '?')}"
        parts.append(kind)
    if t.get("dimension_names"):
        parts.append("dims " + ",".join(t["dimension_names"]))
    for unit in t.get("process_units", ()):
        opts = unit.get("options") or {}
        if unit.get("options_type") == "NormalizationOptions":
            parts.append(f"normalize (x - mean) / std, mean {_numbers(opts.get('mean', []))}"
                         f" std {_numbers(opts.get('std', []))}")
        elif unit.get("options_type"):
            parts.append(unit["options_type"])
    stats = t.get("stats") or {}
    if "min" in stats or "max" in stats:
        parts.append(f"range {_numbers(stats.get('min', []))}..{_numbers(stats.get('max', []))}")
    files = [f.get("name", "?") for f in t.get("associated_files", ())]
    if files:
        parts.append("files " + ", ".join(files))
    return [role, t.get("name") or "", "; ".join(parts)]


def _tflite_metadata_lines(meta: dict) -> list[str]:
    """The TFLite metadata (ModelMetadata) and associated files, or nothing."""
    lines: list[str] = []
    md = meta.get("tflite_metadata")
    if md:
        lines += ["", "TFLite metadata"]
        if "error" in md:
            lines.append(f"  (unreadable: {md['error']})")
        else:
            about = [(k.replace("_", " ").capitalize(), md[k]) for k in
                     ("name", "description", "version", "author", "license",
                      "min_parser_version") if md.get(k)]
            if about:
                lines += ["  " + line for line in _kv(about)]
            for i, sg in enumerate(md.get("subgraph_metadata", ())):
                rows = [_tensor_metadata_line(role, t) for key, role in
                        (("input_tensor_metadata", "input"), ("output_tensor_metadata", "output"))
                        for t in sg.get(key, ())]
                if rows:
                    if len(md["subgraph_metadata"]) > 1:
                        lines.append(f"  Subgraph {i}")
                    lines += _table(rows, indent="  ")
    files = meta.get("associated_files")
    if files:
        lines += ["", f"Associated files ({len(files)})"]
        rows = []
        for f in files:
            note = f.get("type", "")
            if "labels" in f:
                shown = ", ".join(f["labels"][:5]) + (", ..." if len(f["labels"]) > 5 else "")
                note += f" {len(f['labels'])} label(s): {shown}"
            rows.append([f["name"], human_bytes(f["size"]), note.strip()])
        lines += _table(rows)
    if meta.get("associated_files_error"):
        lines += ["", f"Associated files: {meta['associated_files_error']}"]
    return lines


def _tensor_table(facts: dict) -> list[str]:
    """The `--tensors` table, or nothing."""
    lines: list[str] = []
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
                         t["quantization_text"] + (" sparse" if t["sparse"] else "")])
        lines += _table(rows)
    return lines


def render_tf_summary(facts: dict) -> str:
    """Plain text of `summarize_tf` facts: aligned sections, one fact per line."""
    fmt = facts.get("format")
    lines: list[str] = []
    if fmt in ("graphdef", "checkpoint"):
        lines += _kv([("Nodes", facts["nodes"]), ("Functions", facts["functions"]),
                      ("Producer", facts.get("producer")),
                      ("Control edges", facts["control_edges"]),
                      ("Const params", f"{facts['const_params']} ({facts['const_params_human']})"),
                      ("Variable params",
                       f"{facts['variable_params']} ({facts['variable_params_human']})")])
        lines += ["", f"Inputs ({len(facts['inputs'])})"]
        lines += _table([[i["name"], i["op"] or "", _type(i["dtype"], i["shape"])]
                         for i in facts["inputs"]], empty="(none)")
        lines += ["", f"Outputs ({len(facts['outputs'])})"]
        lines += _table([[o["name"], o["op"]] for o in facts["outputs"]], empty="(none)")
        if facts.get("training_only_sinks"):
            lines += ["", f"Training-only sinks ({len(facts['training_only_sinks'])})"]
            lines += [f"  {n}" for n in facts["training_only_sinks"]]
        lines += ["", f"Variables ({len(facts['variables'])})"]
        lines += _table([[v["name"], _type(v["dtype"], v["shape"]), str(v["params"])]
                         for v in facts["variables"]], empty="(none)")
        lines += ["", "Nodes per device"]
        lines += _table([[d or "(unplaced)", str(c)] for d, c in facts["devices"].items()],
                        empty="(none)")
        lines += ["", f"Op types ({len(facts['op_types'])})"]
        lines += _table([[op, str(c)] for op, c in facts["op_types"].items()], empty="(none)")
        lines += ["", "Convert with", f"  {facts['convert_command']}"]
    elif fmt == "savedmodel":
        lines += _kv([("Schema version", facts.get("saved_model_schema_version")),
                      ("TensorFlow", facts.get("tensorflow_version")),
                      ("Producer", facts.get("producer")),
                      ("Functions", facts.get("functions")),
                      ("Variables", facts["variable_count"]),
                      ("Variable params",
                       f"{facts['variable_params']} ({facts['variable_params_human']})")])
        lines += ["", f"Tag-sets ({len(facts['tag_sets'])})"]
        lines += [f"  {','.join(t) or '(none)'}" for t in facts["tag_sets"]]
        for s in facts["signatures"]:
            lines += ["", f"Signature {s['key']}  tags={','.join(s['tags'])}  "
                          f"method={s['method_name'] or '-'}"]
            for side in ("inputs", "outputs"):
                rows = [[side[:-1], io["key"], _type(io["dtype"], io["shape"]),
                         io["tensor_name"]] for io in s[side]]
                if rows:
                    lines += _table(rows, empty="(none)")
        lines += ["", f"Variables ({len(facts['variables'])})"]
        lines += _table([[v["name"], v.get("full_name", ""), _type(v["dtype"], v["shape"])]
                         for v in facts["variables"]], empty="(none)")
        lines += ["", f"Op types ({len(facts['op_types'])})"]
        lines += _table([[op, str(c)] for op, c in facts["op_types"].items()], empty="(none)")
    elif fmt in ("keras_h5", "keras_zip"):
        lines += _kv([("Model", f"{facts['name']} ({facts.get('model_class') or 'weights'})"),
                      ("Keras version", facts.get("keras_version")),
                      ("Backend", facts.get("backend")),
                      ("Params", f"{facts['params']} ({facts['params_human']})"),
                      ("Trainable params", facts["trainable_params"]),
                      ("Non-trainable params", facts["non_trainable_params"]),
                      ("Optimizer", facts.get("optimizer")),
                      ("Optimizer weights", facts["optimizer_weights"]),
                      ("Training config", "yes" if facts["has_training_config"] else "no")])
        lines += ["", f"Layers ({len(facts['layers'])})"]
        lines += _table([[la["name"], la["class_name"],
                          " ".join(_type(None, s).lstrip("?") for s in la["output_shapes"]),
                          str(la["params"]), "" if la["trainable"] else "frozen"]
                         for la in facts["layers"]], empty="(none)")
        if facts.get("warnings"):
            lines += ["", f"Warnings ({len(facts['warnings'])})"]
            lines += [f"  {w}" for w in facts["warnings"]]
        if not facts["layers"]:
            lines += ["", f"Weights ({len(facts['weights'])})"]
            lines += _table([[w["name"], _type(w["dtype"], w["shape"])]
                             for w in facts["weights"]], empty="(none)")
    return "\n".join(lines) + "\n"

