"""One model as stable, line-oriented text, for `git diff` (`modelkit diff --textconv`).

Every line says where it belongs (`node 0:3 ...`, `tensor 0:11 ...`), so a
changed line reads on its own in a diff hunk. The text holds no path, size or
time, so the same model always gives the same text; constant data is shown by
its content digest, so a weight edit changes exactly one line.
"""

from __future__ import annotations

import json

from modelkit.diff.attrs import attr_text
from modelkit.diff.hashing import Hashes
from modelkit.ir import Model, Value

# Metadata that names the file rather than the model.
_SKIP_METADATA = ("file_size", "warnings", "path")


def dump_model(model: Model, *, weights: bool = True) -> str:
    """The text form of `model` (see the module docstring).

    Args:
        weights: show each constant's content digest (reads every constant).
    """
    hashes = Hashes(model.path) if weights else None
    lines = [f"model {model.format}: {len(model.graphs)} graph(s), "
             f"{len(model.signatures)} signature(s)"]
    for key in sorted(model.metadata):
        if key in _SKIP_METADATA:
            continue
        lines.append(f"metadata {key} {_short(model.metadata[key])}")
    for s in model.signatures:
        ins = ", ".join(f"{io.key}={io.tensor_name}" for io in s.inputs)
        outs = ", ".join(f"{io.key}={io.tensor_name}" for io in s.outputs)
        lines.append(f"signature '{s.key}' graph {s.graph}: inputs {ins}; outputs {outs}")
    for gi, g in enumerate(model.graphs):
        lines.append(f"graph {gi} '{g.name}': {len(g.nodes)} nodes, {len(g.values)} tensors")
        index = {id(v): (v.index if v.index is not None else i) for i, v in enumerate(g.values)}
        for i, v in enumerate(g.inputs):
            lines.append(f"input {gi}:{i} '{v.name}' {v.type_str()}")
        for i, v in enumerate(g.outputs):
            lines.append(f"output {gi}:{i} '{v.name}' {v.type_str()}")
        for i, n in enumerate(g.nodes):
            own = {id(v.data) for v in n.outputs if v.data is not None}
            ins = ", ".join("-" if v is None else v.name for v in n.inputs)
            outs = ", ".join(f"{v.name} {v.type_str()}" for v in n.outputs)
            attrs = " ".join(f"{k}={attr_text(a)}" for k, a in sorted(n.attrs.items())
                             if id(a) not in own)
            extra = []
            if n.version is not None:
                extra.append(f"version {n.version}")
            if n.control_inputs:
                extra.append("after " + ", ".join(n.control_inputs))
            if n.subgraphs:
                extra.append("calls " + ", ".join(str(s) for s in n.subgraphs))
            if n.device:
                extra.append(f"device {n.device}")
            where = n.index if n.index is not None else i
            line = f"node {gi}:{where} {n.op} '{n.name}' ({ins}) -> ({outs})"
            if attrs:
                line += f" {attrs}"
            if extra:
                line += "; " + "; ".join(extra)
            lines.append(line)
        for v in g.values:
            lines.extend(_tensor_lines(gi, index[id(v)], v, hashes))
    return "\n".join(lines) + "\n"


def _tensor_lines(gi: int, index: int, v: Value, hashes: Hashes | None) -> list[str]:
    head = f"tensor {gi}:{index} '{v.name}'"
    line = f"{head} {v.type_str()}"
    if v.is_variable:
        line += " variable"
    if v.data is not None:
        line += " const"
        if hashes is not None:
            line += f" sha256 {hashes.of(v.data).hex()[:32]}"  # type: ignore[union-attr]
    out = [line]
    if v.quant is not None:
        out.extend(f"{head} quant {q}" for q in v.quant.describe().splitlines())
    return out


def _short(value) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, sort_keys=True, default=_plain, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."


def _plain(x):
    if isinstance(x, (bytes, bytearray, memoryview)):
        return f"<{len(x)} bytes>"
    return str(x)
