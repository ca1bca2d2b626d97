"""Facts about a model for people and scripts: the data behind `modelkit summarize`.

`summarize(model)` returns plain JSON-ready data (a contract, versioned by
SCHEMA_VERSION and documented in the README); `render_summary(facts)` turns
it into aligned text. Nothing here prints.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from modelkit.analysis.quantization import quantization_kind
from modelkit.analysis.units import human_count
from modelkit.errors import UsageError
from modelkit.ir import Graph, Model, QuantParams, Value

SCHEMA_VERSION = 2

FORMAT_NAMES = {
    "tflite": "TFLite", "graphdef": "GraphDef", "savedmodel": "SavedModel",
    "checkpoint": "TF checkpoint", "keras_h5": "Keras H5",
    "keras_zip": "Keras 3 (.keras)",
}


def path_size(path: str | os.PathLike | None) -> int | None:
    """Bytes of a file, or of every file under a folder."""
    if path is None:
        return None
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    if not p.exists():
        # A checkpoint prefix: model.ckpt names model.ckpt.index, .meta and .data-*.
        parts = list(p.parent.glob(p.name + ".*"))
        return sum(f.stat().st_size for f in parts if f.is_file()) if parts else None
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return None


def quant_facts(q: QuantParams | None, dtype) -> dict | None:
    """Quantization of one tensor as data, with what a user must apply to feed it."""
    if q is None:
        return None
    out = q.to_dict()
    # NOTE: a per-axis tensor of one channel keeps its axis in details (as the runtime
    # reports it), not in `axis`.
    axis = q.axis if q.axis is not None else q.details.get("quantized_dimension")
    out["quantized_dimension"] = axis or 0
    out["axis"] = axis
    storage = q.storage or dtype
    out["storage"] = str(storage) if storage is not None else None
    out["describe"] = q.describe().splitlines()
    if not q.per_channel and dtype is not None and dtype.bits == 8 and dtype.is_integer:
        mean, std = q.mean_std()
        out["mean"] = float(mean[0])
        out["std"] = float(std[0])
        if str(dtype) == "int8":
            mean_u8, _ = q.mean_std_uint8()
            out["uint8_mean"] = float(mean_u8[0])
        out["feed"] = q.feed_formula()
        out["read"] = q.read_formula()
    return out


def _signature(v: Value) -> list | None:
    """The shape signature, or the shape when the file stores none (as the runtime reports)."""
    sig = v.shape_signature if v.shape_signature is not None else v.shape
    return None if sig is None else list(sig)


def _identity(v: Value) -> dict:
    """Name, index, dtype, shape and shape signature of a tensor."""
    return {
        "name": v.name,
        "index": v.index,
        "dtype": str(v.dtype) if v.dtype else None,
        "shape": None if v.shape is None else list(v.shape),
        "shape_signature": _signature(v),
    }


def value_facts(v: Value) -> dict:
    """Name, index, dtype, shape and quantization of a graph input or output."""
    return {**_identity(v), "type": v.type_str(), "quantization": quant_facts(v.quant, v.dtype)}


def quant_text(q: QuantParams | None) -> str:
    """Short display form: `scale 0.00392157 zp -128`, `per-channel axis 0 (64 scales)`."""
    if q is None:
        return ""
    if q.per_channel:
        return f"per-channel axis {q.axis} ({q.num_channels} scales)"
    return f"scale {float(q.scale[0]):.6g} zp {int(q.zero_point[0])}"


def tensor_row(v: Value) -> dict:
    """One row of the tensor table, like the interpreter's tensor dump.

    `quantization` is the same object as on inputs and outputs (every channel's
    scale and zero point at full precision); `quantization_text` is its short form.
    """
    return {
        **_identity(v),
        "bytes": v.nbytes,
        "buffer": v.meta.get("buffer"),
        "const": v.data is not None,
        "variable": v.is_variable,
        "quantization": quant_facts(v.quant, v.dtype),
        "quantization_text": quant_text(v.quant),
        "sparse": "sparsity" in v.meta,
    }


def _parameters(graphs: list[Graph]) -> dict:
    """Parameter count and bytes of constants and variables, by dtype.

    A TFLite buffer shared by several tensors counts once, and so does a variable
    stored under several checkpoint keys (Keras' `variables/N` and `_all_variables/M`).
    Strings, resources and variants are not parameters.
    """
    by_dtype: dict[str, dict[str, int]] = {}
    seen_buffers: set = set()
    total = total_bytes = 0
    for g_index, g in enumerate(graphs):
        for v in g.values:
            if v.data is None and not v.is_variable:
                continue
            if v.dtype is not None and v.dtype.bits is None:
                continue
            key = v.meta.get("buffer")
            if key is None and "full_name" in v.meta:
                key = ("variable", v.meta["full_name"])
            if key is not None:
                if key in seen_buffers:
                    continue
                seen_buffers.add(key)
            n = v.data.size if v.data is not None else _elements(v)
            nbytes = v.nbytes or 0
            key = str(v.dtype) if v.dtype else "unknown"
            entry = by_dtype.setdefault(key, {"count": 0, "bytes": 0})
            entry["count"] += n
            entry["bytes"] += nbytes
            total += n
            total_bytes += nbytes
    return {"count": total, "human": human_count(total), "bytes": total_bytes,
            "by_dtype": dict(sorted(by_dtype.items()))}


def _elements(v: Value) -> int:
    if v.shape is None or any(d is None for d in v.shape):
        return 0
    n = 1
    for d in v.shape:
        n *= d  # type: ignore[operator]
    return n


def _graph_facts(index: int, g: Graph) -> dict:
    return {
        "index": index,
        "name": g.name,
        "nodes": len(g.nodes),
        "tensors": len(g.values),
        "inputs": [value_facts(v) for v in g.inputs],
        "outputs": [value_facts(v) for v in g.outputs],
    }


def _signature_facts(model: Model) -> list[dict]:
    out = []
    for s in model.signatures:
        out.append({
            "key": s.key,
            "graph": s.graph,
            "method_name": s.method_name or None,
            "inputs": [_sig_io(io) for io in s.inputs],
            "outputs": [_sig_io(io) for io in s.outputs],
        })
    return out


def _sig_io(io) -> dict:
    dtype = io.dtype or (io.value.dtype if io.value is not None else None)
    shape = io.shape if io.shape is not None else (io.value.shape if io.value else None)
    return {"key": io.key, "tensor": io.tensor_name or (io.value.name if io.value else ""),
            "index": io.value.index if io.value is not None else None,
            "dtype": str(dtype) if dtype else None,
            "shape": None if shape is None else list(shape)}


def _jsonable(x):
    """Metadata values as JSON data: text stays text, bytes become a size note."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bytes, bytearray, memoryview)):
        return {"bytes": len(x)}
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


def summarize(model: Model, *, tensors: bool = False, subgraph: int | None = None) -> dict:
    """All facts about `model` as JSON-ready data.

    Args:
        model: a loaded model.
        tensors: add every tensor as a table row.
        subgraph: restrict graphs, ops and tensors to this graph index.

    Raises:
        UsageError: `subgraph` is out of range.
    """
    graphs = list(enumerate(model.graphs))
    if subgraph is not None:
        if not 0 <= subgraph < len(model.graphs):
            raise UsageError(f"--subgraph {subgraph} is out of range: the model has "
                             f"{len(model.graphs)} graph(s), 0 to {len(model.graphs) - 1}")
        graphs = [graphs[subgraph]]
    ops: Counter[str] = Counter()
    custom: Counter[str] = Counter()
    versions: dict[str, set[int]] = {}
    for _, g in graphs:
        for n in g.nodes:
            ops[n.op] += 1
            if n.custom:
                custom[n.op] += 1
            if n.version is not None:
                versions.setdefault(n.op, set()).add(n.version)
    main = graphs[0][1] if graphs else Graph()
    facts: dict = {
        "schema_version": SCHEMA_VERSION,
        "path": model.path,
        "format": model.format,
        "format_name": FORMAT_NAMES.get(model.format, model.format),
        "file_size": path_size(model.path),
        "metadata": _jsonable(model.metadata),
        "graph_count": len(model.graphs),
        "graphs": [_graph_facts(i, g) for i, g in graphs],
        "signatures": _signature_facts(model),
        "inputs": [value_facts(v) for v in main.inputs],
        "outputs": [value_facts(v) for v in main.outputs],
        "op_count": sum(ops.values()),
        "ops": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
        "op_versions": {op: sorted(v) for op, v in sorted(versions.items())},
        "custom_ops": dict(sorted(custom.items())),
        "parameters": _parameters([g for _, g in graphs]),
        "quantization": quantization_kind(model),
        "sparse_tensors": sum(1 for _, g in graphs for v in g.values if "sparsity" in v.meta),
    }
    if model.format != "tflite":
        from modelkit.analysis.tf_summary import summarize_tf

        facts["tf"] = summarize_tf(model)
    if tensors:
        facts["tensors"] = [{"graph": i, **tensor_row(v)} for i, g in graphs for v in g.values]
    return facts
