"""TFLite buffer housekeeping: drop tensors and buffers nothing uses, share identical data.

The writer stores one buffer per distinct data span, so tensors that point to
the same bytes share a buffer and data no tensor holds is not written; this
pass makes that happen for tensors left behind by other edits (an op removed,
a constant duplicated by the converter).
"""

from __future__ import annotations

import hashlib

from modelkit.ir import BufferData, Graph, Model, Value
from modelkit.ir.edit import clone_model
from modelkit.ir.tensor import ArrayData
from modelkit.transform.base import Params, PassContext, PassResult, register


def _used(graph: Graph, model: Model, gi: int) -> set[int]:
    """ids of the Values an op, the graph IO, a signature or an op's intermediates use."""
    used = {id(v) for v in graph.inputs} | {id(v) for v in graph.outputs}
    by_index = {v.index: v for v in graph.values if v.index is not None}
    for n in graph.nodes:
        used.update(id(v) for v in n.inputs if v is not None)
        used.update(id(v) for v in n.outputs)
        for i in n.meta.get("intermediates", ()):
            if i in by_index:
                used.add(id(by_index[i]))
    for sig in model.signatures:
        if sig.graph == gi:
            used.update(id(io.value) for io in list(sig.inputs) + list(sig.outputs)
                        if io.value is not None)
    return used


def _span_key(v: Value) -> tuple | None:
    d = v.data
    if isinstance(d, BufferData):
        return ("buf", id(d.buffer), d.offset, d.length)
    if d is not None:
        return ("obj", id(d))
    return None


def _shared(base, v: Value):
    """`v`'s data as a view of `base`'s bytes (same buffer when written)."""
    if isinstance(base, BufferData):
        return BufferData(base.buffer, base.offset, base.length, v.data.dtype, v.data.shape)
    return base


@register("strip_unused_buffers", domain="tflite",
          doc="drop tensors and buffers nothing uses; tensors with identical constant data "
              "share one buffer")
def strip_unused_buffers(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Remove unused tensors (and so their buffers) and merge identical buffers.

    Variable tensors keep their own buffers (the runtime writes to them).
    """
    out = clone_model(model)
    dropped = dropped_bytes = 0
    for gi, graph in enumerate(out.graphs):
        used = _used(graph, out, gi)
        keep = []
        for v in graph.values:
            if id(v) in used:
                keep.append(v)
            else:
                dropped += 1
                dropped_bytes += v.data.nbytes if v.data is not None else 0
        graph.values = keep
        graph._by_name = None

    # Identical data -> one buffer. Spans already shared count once.
    first: dict[tuple, object] = {}
    seen_spans: set[tuple] = set()
    merged = merged_bytes = 0
    for graph in out.graphs:
        for v in graph.values:
            key = _span_key(v)
            if key is None or v.is_variable:
                continue
            data = v.data
            raw = data.raw() if isinstance(data, BufferData) else \
                (data.array.tobytes() if isinstance(data, ArrayData) else data.tobytes())
            digest = (len(raw), hashlib.blake2b(raw, digest_size=16).digest())
            base = first.get(digest)
            if base is None:
                first[digest] = data
                seen_spans.add(key)
                continue
            if key in seen_spans and _span_key(Value("", data=base)) == key:
                continue
            if bytes(raw) != (base.raw() if isinstance(base, BufferData) else base.tobytes()):
                continue
            if key not in seen_spans:
                merged += 1
                merged_bytes += len(raw)
                seen_spans.add(key)
            v.data = _shared(base, v)
    notes = []
    if dropped:
        notes.append(f"removed {dropped} unused tensor{'s' if dropped != 1 else ''} "
                     f"({dropped_bytes} bytes of data)")
    if merged:
        notes.append(f"merged {merged} duplicate buffer{'s' if merged != 1 else ''} "
                     f"({merged_bytes} bytes)")
    return PassResult(out, bool(dropped or merged), notes)
