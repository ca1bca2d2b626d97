"""Read a TFLite flatbuffer into the IR: memory-mapped, lazy, bounds-checked.

Constant data stays in the file: every `Value.data` is a `BufferData` view on a
read-only mmap (buffers inside the flatbuffer, and buffers stored after it with
`offset`/`size` as in models over 2 GB). Nothing here imports TensorFlow, LiteRT,
flatbuffers or numpy: table layouts and enum names come from `_schema_tables`.

Files without the `TFL3` identifier (written by very old converters) are
accepted when the root table verifies and says schema version 3; anything else
without the identifier is refused.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from modelkit.errors import ModelReadError
from modelkit.formats.tflite import _fb
from modelkit.formats.tflite.options import decode, enum_names, enum_value, is_subgraph_field
from modelkit.ir import (BufferData, DType, Graph, Model, Node, QuantParams, Signature,
                         SignatureIO, Value)

IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
L = _fb.layout


def sniff(path: str | os.PathLike) -> bool:
    """True when bytes 4..8 of the file are the TFLite identifier `TFL3`."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return len(head) == 8 and head[4:8] == IDENTIFIER


def load(path: str | os.PathLike, **options) -> Model:
    """Load a .tflite file.

    Raises:
        ModelReadError: missing, unreadable, empty, or not a valid TFLite flatbuffer.
    """
    if options:
        raise TypeError(f"unknown TFLite load options: {', '.join(options)}")
    p = Path(path)
    if p.is_dir():
        raise ModelReadError("is a folder, not a TFLite file", str(p))
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise ModelReadError("the file is empty", str(p))
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise ModelReadError("no such file", str(p)) from None
    except OSError as e:
        raise ModelReadError(f"cannot read: {e.strerror or e}", str(p)) from None
    try:
        return _Reader(buf, size, str(p)).model()
    except _fb.Corrupt as e:
        raise ModelReadError(f"not a valid TFLite file: {e}", str(p)) from None


def op_name(code: int) -> str:
    """Builtin operator name of `code` (`CONV_2D`), `"BuiltinOperator <n>"` when unknown."""
    return enum_names("BuiltinOperator").get(code, f"BuiltinOperator {code}")


class _Reader:
    """One pass over a verified flatbuffer, building the IR."""

    def __init__(self, buf, size: int, path: str) -> None:
        self.buf = buf
        self.size = size
        self.path = path
        self._buffers: list[_fb.Table] = []
        self._buffer_cache: dict[int, tuple[int, int] | None] = {}

    def model(self) -> Model:
        root = _fb.root(self.buf, self.size, L("Model"))
        version = root.scalar("version")
        has_id = bytes(self.buf[4:8]) == IDENTIFIER
        if not has_id and version != SCHEMA_VERSION:
            raise _fb.Corrupt(f"no {IDENTIFIER.decode()} identifier at byte 4")
        opcodes = [self._opcode(t) for t in
                   root.tables("operator_codes", L("OperatorCode"), "operator code")]
        self._buffers = root.tables("buffers", L("Buffer"), "buffer")
        sg_tables = root.tables("subgraphs", L("SubGraph"), "subgraph")
        graphs = [self._graph(i, t, opcodes) for i, t in enumerate(sg_tables)]
        signatures = [self._signature(t, graphs) for t in
                      root.tables("signature_defs", L("SignatureDef"), "signature")]

        entries: dict[str, bytes | str] = {}
        for t in root.tables("metadata", L("Metadata"), "metadata"):
            name = t.string("name") or ""
            data = self._buffer_bytes(t.scalar("buffer"))
            if name == "min_runtime_version":
                entries[name] = data.rstrip(b"\0").decode("utf-8", "replace")
            else:
                entries[name] = data
        metadata = {
            "version": version,
            "description": root.string("description") or "",
            "file_size": self.size,
            "metadata": entries,
        }
        if "min_runtime_version" in entries:
            metadata["min_runtime_version"] = entries["min_runtime_version"]
        # NOTE: metadata flatbuffers and the zip of associated files (labels) decode here.
        from modelkit.formats.tflite.metadata import attach
        attach(metadata, self.buf, self.size, self.path)
        meta = {"operator_codes": opcodes, "has_identifier": has_id}
        legacy = root.numbers("metadata_buffer", "i")
        if legacy:
            meta["metadata_buffer"] = [self._buffer_bytes(i) for i in legacy]
        return Model("tflite", self.path, graphs, signatures, metadata, meta)

    # -- pieces ---------------------------------------------------------------------

    @staticmethod
    def _opcode(t: _fb.Table) -> dict:
        deprecated = t.scalar("deprecated_builtin_code")
        code = t.scalar("builtin_code")
        # NOTE: old files only set the int8 deprecated code; newer ones set both, with
        # deprecated = 127 (PLACEHOLDER_FOR_GREATER_OP_CODES) for codes above it.
        return {"builtin_code": max(code, deprecated), "custom_code": t.string("custom_code"),
                "version": t.scalar("version")}

    def _buffer_span(self, index: int) -> tuple[int, int] | None:
        """(offset, length) of buffer `index`'s bytes in the file, None when empty."""
        if index in self._buffer_cache:
            return self._buffer_cache[index]
        if index >= len(self._buffers):
            raise _fb.Corrupt(f"buffer index {index} is out of range ({len(self._buffers)})")
        t = self._buffers[index]
        start, n = t.vector("data", 1)
        span = (start, n) if n else None
        if span is None:
            offset, size = t.scalar("offset"), t.scalar("size")
            if offset > 1 and size:
                if offset + size > self.size:
                    raise _fb.Corrupt(f"buffer {index} lies beyond the end of the file")
                span = (offset, size)
        self._buffer_cache[index] = span
        return span

    def _buffer_bytes(self, index: int) -> bytes:
        span = self._buffer_span(index)
        return b"" if span is None else bytes(self.buf[span[0]:span[0] + span[1]])

    def _graph(self, gi: int, sg: _fb.Table, opcodes: list[dict]) -> Graph:
        tensor_layout = L("Tensor")
        values = [self._value(i, t) for i, t in
                  enumerate(sg.tables("tensors", tensor_layout, "tensor"))]
        n = len(values)

        def pick(indices: tuple | None, what: str) -> list[Value | None]:
            out: list[Value | None] = []
            for i in indices or ():
                if i == -1:
                    out.append(None)
                elif 0 <= i < n:
                    out.append(values[i])
                else:
                    raise _fb.Corrupt(f"subgraph {gi}: {what} refers to tensor {i} of {n}")
            return out

        nodes = []
        for oi, op in enumerate(sg.tables("operators", L("Operator"), "operator")):
            nodes.append(self._node(gi, oi, op, opcodes, pick))
        name = sg.string("name") or f"subgraph_{gi}"
        inputs = [v for v in pick(sg.numbers("inputs", "i"), "an input") if v is not None]
        outputs = [v for v in pick(sg.numbers("outputs", "i"), "an output") if v is not None]
        meta = {"subgraph_index": gi, "has_name": sg.has("name")}
        dbg = sg.scalar("debug_metadata_index")
        if dbg != -1:
            meta["debug_metadata_index"] = dbg
        return Graph(name, nodes, values, inputs, outputs, meta)

    def _value(self, index: int, t: _fb.Table) -> Value:
        code = t.scalar("type")
        try:
            dtype: DType | None = DType.from_tflite(code)
        except ValueError:
            dtype = None
        shape = t.numbers("shape", "i") or ()
        signature = t.numbers("shape_signature", "i")
        buffer = t.scalar("buffer")
        meta: dict = {"buffer": buffer, "has_rank": t.scalar("has_rank")}
        if dtype is None:
            meta["tflite_type"] = code
        quant = None
        q = t.table("quantization", L("QuantizationParameters"), "quantization")
        if q is not None:
            try:
                quant = self._quant(q, dtype, shape, meta)
            except _fb.Corrupt as e:
                raise _fb.Corrupt(f"tensor {index}: {e}") from None
        sp = t.table("sparsity", L("SparsityParameters"), "sparsity")
        if sp is not None:
            meta["sparsity"] = self._sparsity(sp)
        variants = t.tables("variant_tensors", L("VariantSubType"), "variant subtype")
        if variants:
            meta["variant_tensors"] = [
                {"shape": list(v.numbers("shape", "i") or ()), "type": v.scalar("type"),
                 "has_rank": v.scalar("has_rank")} for v in variants]
        data = None
        if buffer:
            span = self._buffer_span(buffer)
            if span is not None and dtype is not None:
                dims = shape if all(d >= 0 for d in shape) else (span[1],)
                data = BufferData(self.buf, span[0], span[1], dtype, dims)
        return Value(t.string("name") or "", dtype, shape, shape_signature=signature,
                     quant=quant, data=data, index=index, is_variable=t.scalar("is_variable"),
                     meta=meta)

    def _quant(self, q: _fb.Table, dtype: DType | None, shape: tuple,
               meta: dict) -> QuantParams | None:
        scale = q.numbers("scale", "f")
        zero_point = q.numbers("zero_point", "q")
        lo, hi = q.numbers("min", "f"), q.numbers("max", "f")
        axis = q.scalar("quantized_dimension")
        details: dict = {}
        details_type = q.scalar("details_type")
        if details_type:
            name = enum_names("QuantizationDetails").get(details_type)
            if name is not None:
                tab = q.table("details", L(name), name)
                fields = decode(tab) if tab is not None else {}
                details = {"type": name, **fields}
                if name == "CustomQuantization" and fields.get("custom") is not None:
                    details["custom"] = bytes(fields["custom"])
        if not scale:
            if lo or hi or details:
                # NOTE: a range without scales (recorded by old converters) is not
                # quantization the runtime applies; keep it for the writer only.
                meta["quant_range"] = {"min": list(lo or ()), "max": list(hi or ()),
                                       "details": details, "quantized_dimension": axis}
            return None
        if len(scale) == 1 and axis:
            # NOTE: per-channel quantization of a single channel; keep the axis the
            # runtime reports.
            details["quantized_dimension"] = axis
        if zero_point and len(zero_point) != len(scale):
            raise _fb.Corrupt(f"{len(scale)} scales but {len(zero_point)} zero points")
        if len(scale) > 1 and not 0 <= axis < max(len(shape), 1):
            raise _fb.Corrupt(f"quantized dimension {axis} is out of range")
        if zero_point is None or len(zero_point) == 0:
            details["no_zero_point"] = True
            zero_point = (0,)
        return QuantParams(scale=scale, zero_point=zero_point,
                           axis=axis if len(scale) > 1 else None,
                           min=lo or None, max=hi or None, storage=dtype, details=details)

    def _sparsity(self, sp: _fb.Table) -> dict:
        dims = []
        for d in sp.tables("dim_metadata", L("DimensionMetadata"), "dimension metadata"):
            entry = {"format": enum_value("DimensionType", d.scalar("format")),
                     "dense_size": d.scalar("dense_size")}
            for field in ("array_segments", "array_indices"):
                kind = d.scalar(field + "_type")
                name = enum_names("SparseIndexVector").get(kind)
                if not kind or name is None:
                    continue
                tab = d.table(field, L(name), name)
                fmt = {"Int32Vector": "i", "Uint16Vector": "H", "Uint8Vector": "B"}[name]
                values = tab.numbers("values", fmt) if tab is not None else None
                entry[field] = {"type": name, "values": list(values or ())}
            dims.append(entry)
        return {"traversal_order": list(sp.numbers("traversal_order", "i") or ()),
                "block_map": list(sp.numbers("block_map", "i") or ()),
                "dim_metadata": dims}

    def _node(self, gi: int, oi: int, op: _fb.Table, opcodes: list[dict], pick) -> Node:
        ci = op.scalar("opcode_index")
        if ci >= len(opcodes):
            raise _fb.Corrupt(f"subgraph {gi} operator {oi}: operator code {ci} is out of "
                              f"range ({len(opcodes)})")
        opcode = opcodes[ci]
        custom = opcode["builtin_code"] == 32  # BuiltinOperator.CUSTOM
        name = (opcode["custom_code"] or "") if custom else op_name(opcode["builtin_code"])
        inputs = pick(op.numbers("inputs", "i"), f"operator {oi} input")
        outputs = pick(op.numbers("outputs", "i"), f"operator {oi} output")
        if any(v is None for v in outputs):
            raise _fb.Corrupt(f"subgraph {gi} operator {oi} has an output -1")
        attrs: dict = {}
        meta: dict = {"opcode_index": ci}
        for union, enum in (("builtin_options", "BuiltinOptions"),
                            ("builtin_options2", "BuiltinOptions2")):
            kind = op.scalar(union + "_type")
            if not kind:
                continue
            table = enum_names(enum).get(kind)
            if table is None:
                meta[union + "_unknown"] = kind
                continue
            meta[union + "_type"] = table
            tab = op.table(union, L(table), table)
            if tab is not None:
                attrs.update(decode(tab))
        custom_bytes = None
        if op.has("custom_options"):
            start, n = op.vector("custom_options", 1)
            custom_bytes = bytes(self.buf[start:start + n])
        large_size = op.scalar("large_custom_options_size")
        if large_size:
            offset = op.scalar("large_custom_options_offset")
            if offset + large_size > self.size:
                raise _fb.Corrupt(f"operator {oi}: large custom options lie beyond the file")
            custom_bytes = bytes(self.buf[offset:offset + large_size])
            meta["large_custom_options"] = True
        if custom_bytes is not None:
            attrs["custom_options"] = custom_bytes
            attrs["custom_options_format"] = enum_value("CustomOptionsFormat",
                                                        op.scalar("custom_options_format"))
        mutating = op.numbers("mutating_variable_inputs", "?")
        if mutating:
            meta["mutating_variable_inputs"] = list(mutating)
        intermediates = op.numbers("intermediates", "i")
        if intermediates:
            pick(intermediates, f"operator {oi} intermediate")
            meta["intermediates"] = list(intermediates)
        dbg = op.scalar("debug_metadata_index")
        if dbg != -1:
            meta["debug_metadata_index"] = dbg
        subgraphs: list[int] = []
        for key, value in attrs.items():
            if is_subgraph_field(key):
                subgraphs.extend(value if isinstance(value, list) else [value])
        node_name = outputs[0].name if outputs and outputs[0] else f"{name}_{oi}"
        return Node(node_name, name, "tflite", inputs, outputs, attrs=attrs, index=oi,
                    subgraphs=subgraphs, version=opcode["version"], custom=custom, meta=meta)

    def _signature(self, t: _fb.Table, graphs: list[Graph]) -> Signature:
        gi = t.scalar("subgraph_index")
        key = t.string("signature_key") or ""
        if gi >= len(graphs):
            raise _fb.Corrupt(f"signature {key!r} refers to subgraph {gi} of {len(graphs)}")
        values = graphs[gi].values

        def ios(field: str) -> list[SignatureIO]:
            out = []
            for m in t.tables(field, L("TensorMap"), "signature tensor"):
                idx = m.scalar("tensor_index")
                if idx >= len(values):
                    raise _fb.Corrupt(f"signature {key!r} refers to tensor {idx}")
                v = values[idx]
                out.append(SignatureIO(m.string("name") or "", v.name, v.dtype, v.shape, v))
            return out

        return Signature(key, ios("inputs"), ios("outputs"), graph=gi)
