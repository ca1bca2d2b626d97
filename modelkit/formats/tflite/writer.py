"""Write the IR as a TFLite flatbuffer.

Everything is rebuilt from the IR (tensors, quantization, constant data, ops,
options from attrs), so edits made to a loaded model are written. Tables are
packed with the generated object-API classes; buffers are packed here so their
data is 16-byte aligned. Models whose constant data does not fit in a 2 GB
flatbuffer keep their buffers after it, addressed by `offset`/`size`, as the
TFLite converter does.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from modelkit.errors import UnsupportedError
from modelkit.fileio import atomic_output
from modelkit.formats.tflite import _fb
from modelkit.formats.tflite.options import encode, options_table_for
from modelkit.ir import BufferData, DType, Graph, Model, Node, TensorData, Value
from modelkit.ir.tensor import ArrayData

ALIGNMENT = 16
# NOTE: flatbuffers address at most 2 GiB; leave room for the tables themselves.
EXTERNAL_THRESHOLD = 2**31 - 2**27
CUSTOM = 32  # BuiltinOperator.CUSTOM
_DEPRECATED_CODE_MAX = 127  # BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES


def save(model: Model, path: str | os.PathLike, *, force: bool = False,
         external_buffers: bool | None = None) -> None:
    """Write `model` as a .tflite file, atomically.

    Args:
        model: the model; any format's IR with TFLite op names and types.
        path: output file; the model's own source file is never overwritten.
        force: replace an existing output.
        external_buffers: store constant data after the flatbuffer (offset/size);
            None decides by size (needed above 2 GB).

    Raises:
        OutputExistsError: the output exists (without force) or is the input.
        UnsupportedError: the IR holds something TFLite cannot store.
    """
    sources = (model.path,) if model.path else ()
    blob, tail = _Writer(model).build(external_buffers)
    with atomic_output(Path(path), force=force, sources=sources) as tmp:
        with open(tmp, "wb") as f:
            f.write(blob)
            for offset, data in tail:
                f.seek(offset)
                f.write(data)
        _append_associated_files(model, tmp)


def _append_associated_files(model: Model, path: Path) -> None:
    """Append the source file's zip of associated files (labels...) to the new file.

    NOTE: MediaPipe and TFLite Support models carry their label files in a zip
    appended to the flatbuffer; a rewritten model keeps them. The members are
    written into a new archive so its offsets fit the new file.
    """
    members = model.metadata.get("associated_files")
    if not members or not model.path or not Path(model.path).is_file():
        return
    import zipfile

    from modelkit.errors import ModelReadError
    try:
        with zipfile.ZipFile(model.path) as src, zipfile.ZipFile(path, "a") as dst:
            for info in src.infolist():
                if not info.is_dir():
                    dst.writestr(info, src.read(info))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise ModelReadError(f"the zip of associated files could not be copied: {e}",
                             model.path) from None


def op_code(name: str) -> int:
    """BuiltinOperator number of an op name (`CONV_2D`, or `BuiltinOperator <n>`).

    Raises:
        UnsupportedError: not a TFLite builtin op.
    """
    code = getattr(_fb.schema().BuiltinOperator, name, None)
    if isinstance(code, int):
        return code
    prefix = "BuiltinOperator "
    if name.startswith(prefix) and name[len(prefix):].isdigit():
        return int(name[len(prefix):])
    raise UnsupportedError(f"{name!r} is not a TFLite builtin operator")


def tensor_bytes(data: TensorData) -> bytes | memoryview:
    """Bytes of constant data as TFLite stores them (sub-byte types packed)."""
    if isinstance(data, BufferData):
        return data.raw()
    dtype = data.dtype
    if dtype == DType.STRING:
        return _string_buffer(np.asarray(data.numpy()).reshape(-1))
    bits = dtype.bits
    if bits is None or dtype.numpy is None:
        raise UnsupportedError(f"cannot store {dtype} constant data in TFLite")
    arr = np.ascontiguousarray(np.asarray(data.numpy()).astype(dtype.numpy, copy=False))
    if bits in (2, 4):
        per_byte = 8 // bits
        flat = arr.reshape(-1).astype(np.uint8) & ((1 << bits) - 1)
        pad = (-flat.size) % per_byte
        flat = np.concatenate([flat, np.zeros(pad, np.uint8)]).reshape(-1, per_byte)
        packed = np.zeros(flat.shape[0], np.uint8)
        for i in range(per_byte):
            packed |= flat[:, i] << (bits * i)
        return packed.tobytes()
    return arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()


def _string_buffer(items: np.ndarray) -> bytes:
    """TFLite string tensor layout: count, offsets (count + 1), then the bytes."""
    parts = [s if isinstance(s, bytes) else str(s).encode() for s in items]
    head = 4 * (len(parts) + 2)
    offsets, pos = [], head
    for p in parts:
        offsets.append(pos)
        pos += len(p)
    offsets.append(pos)
    return struct.pack(f"<{len(offsets) + 1}i", len(parts), *offsets) + b"".join(parts)


class _Buffer:
    """A Buffer table packed with 16-byte-aligned data (duck-types BufferT.Pack)."""

    __slots__ = ("data", "offset", "size")

    def __init__(self, data: bytes | memoryview | None) -> None:
        self.data = data
        self.offset = 0
        self.size = 0

    def Pack(self, builder):  # noqa: N802 (the generated classes' protocol)
        mod = _fb.schema()
        vec = None
        if self.data is not None and len(self.data):
            n = len(self.data)
            builder.StartVector(1, n, ALIGNMENT)
            builder.head = builder.head - n
            builder.Bytes[builder.head:builder.head + n] = self.data
            vec = builder.EndVector()
        mod.BufferStart(builder)
        if vec is not None:
            mod.BufferAddData(builder, vec)
        if self.offset:
            mod.BufferAddOffset(builder, self.offset)
            mod.BufferAddSize(builder, self.size)
        return mod.BufferEnd(builder)


class _Writer:
    """Turns a Model into flatbuffer bytes."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.s = _fb.schema()
        self.buffers: list[_Buffer] = [_Buffer(None)]
        self._buffer_ids: dict[tuple, int] = {}
        self.opcode_keys: list[tuple[int, str | None, int]] = []
        self._opcode_index: dict[tuple, int] = {}
        # graph index -> (id(Value) -> tensor position, Values in tensor order)
        self._positions: dict[int, tuple[dict[int, int], list[Value]]] = {}

    # -- top level ------------------------------------------------------------------

    def build(self, external: bool | None) -> tuple[bytes | memoryview, list]:
        """(flatbuffer bytes, [(file offset, data)] written after it)."""
        s, m = self.s, self.model
        model_t = s.ModelT()
        model_t.version = 3
        self._seed_opcodes()
        model_t.subgraphs = [self._subgraph(i, g) for i, g in enumerate(m.graphs)]
        model_t.operatorCodes = [self._opcode_t(k) for k in self.opcode_keys]
        desc = m.metadata.get("description")
        model_t.description = desc if desc else None
        model_t.signatureDefs = [self._signature(sig) for sig in m.signatures] or None
        entries = m.metadata.get("metadata", {})
        model_t.metadata = []
        for name, value in entries.items():
            if isinstance(value, str):
                raw = value.encode()
                # NOTE: the converter pads the version string with NULs to 16 bytes.
                raw = raw + b"\0" * max(0, 16 - len(raw))
            else:
                raw = bytes(value)
            meta_t = s.MetadataT()
            meta_t.name = name
            meta_t.buffer = self._new_buffer(raw)
            model_t.metadata.append(meta_t)
        legacy = m.meta.get("metadata_buffer") if m.format == "tflite" else None
        if legacy:
            model_t.metadataBuffer = [self._new_buffer(b) for b in legacy]
        model_t.metadata = model_t.metadata or None
        model_t.buffers = self.buffers

        total = sum(len(b.data) for b in self.buffers if b.data is not None)
        if external is None:
            external = total > EXTERNAL_THRESHOLD
        if not external:
            return self._pack(model_t, total), []
        # External buffers: pack once with placeholder offsets to learn the size of
        # the flatbuffer (offsets are fixed-width, so it does not change), then again.
        datas = [b.data for b in self.buffers]
        for b in self.buffers:
            if b.data is not None and len(b.data):
                b.offset, b.size = 1, len(b.data)
            b.data = None
        size = len(self._pack(model_t, 0))
        tail, pos = [], _align(size)
        for b, data in zip(self.buffers, datas):
            if data is not None and len(data):
                b.offset = pos
                tail.append((pos, data))
                pos = _align(pos + len(data))
        blob = self._pack(model_t, 0)
        if len(blob) != size:
            raise AssertionError("flatbuffer size changed between the two packing passes")
        return blob, tail

    def _pack(self, model_t, data_size: int) -> memoryview:
        import flatbuffers
        builder = flatbuffers.Builder(data_size + 65536)
        root = model_t.Pack(builder)
        builder.Finish(root, file_identifier=b"TFL3")
        return memoryview(builder.Bytes)[builder.Head():]

    # -- buffers --------------------------------------------------------------------

    def _new_buffer(self, data) -> int:
        self.buffers.append(_Buffer(data))
        return len(self.buffers) - 1

    def _data_buffer(self, value: Value) -> int:
        data = value.data
        if data is None:
            return 0
        if isinstance(data, BufferData):
            key = ("buf", id(data.buffer), data.offset, data.length)
        elif isinstance(data, ArrayData):
            key = ("arr", id(data.array))
        else:
            key = ("obj", id(data))
        found = self._buffer_ids.get(key)
        if found is None:
            found = self._new_buffer(tensor_bytes(data))
            self._buffer_ids[key] = found
        return found

    # -- operator codes ------------------------------------------------------------

    def _seed_opcodes(self) -> None:
        """Keep the source's operator code order for the codes still used."""
        used = set()
        for g in self.model.graphs:
            for n in g.nodes:
                used.add(self._node_key(n))
        if self.model.format == "tflite":
            for oc in self.model.meta.get("operator_codes", []):
                key = (oc["builtin_code"], oc["custom_code"] if oc["builtin_code"] == CUSTOM
                       else None, oc["version"])
                if key in used and key not in self._opcode_index:
                    self._opcode_index[key] = len(self.opcode_keys)
                    self.opcode_keys.append(key)

    @staticmethod
    def _node_key(node: Node) -> tuple[int, str | None, int]:
        version = node.version if node.version is not None else 1
        if node.custom:
            return CUSTOM, node.op, version
        return op_code(node.op), None, version

    def _opcode_for(self, node: Node) -> int:
        key = self._node_key(node)
        idx = self._opcode_index.get(key)
        if idx is None:
            idx = self._opcode_index[key] = len(self.opcode_keys)
            self.opcode_keys.append(key)
        return idx

    def _opcode_t(self, key: tuple[int, str | None, int]):
        code, custom, version = key
        t = self.s.OperatorCodeT()
        t.builtinCode = code
        t.deprecatedBuiltinCode = min(code, _DEPRECATED_CODE_MAX)
        t.customCode = custom
        t.version = version
        return t

    # -- graphs ---------------------------------------------------------------------

    def _subgraph(self, gi: int, graph: Graph):
        s = self.s
        values = list(graph.values)
        position = {id(v): i for i, v in enumerate(values)}

        def index(v: Value | None) -> int:
            if v is None:
                return -1
            i = position.get(id(v))
            if i is None:
                # NOTE: a Value a transformation wired in without listing it in
                # graph.values; it still has to be written.
                i = position[id(v)] = len(values)
                values.append(v)
            return i

        by_source_index = {v.index: v for v in graph.values if v.index is not None}
        ops = []
        for node in graph.nodes:
            ops.append(self._operator(node, index, by_source_index))
        sg = s.SubGraphT()
        sg.inputs = [index(v) for v in graph.inputs]
        sg.outputs = [index(v) for v in graph.outputs]
        sg.operators = ops
        sg.tensors = [self._tensor(v) for v in values]
        if graph.meta.get("has_name", True) or graph.name != f"subgraph_{gi}":
            sg.name = graph.name
        if "debug_metadata_index" in graph.meta:
            sg.debugMetadataIndex = graph.meta["debug_metadata_index"]
        self._positions[gi] = (position, values)
        return sg

    def _operator(self, node: Node, index, by_source_index: dict):
        s = self.s
        op = s.OperatorT()
        op.opcodeIndex = self._opcode_for(node)
        op.inputs = [index(v) for v in node.inputs]
        op.outputs = [index(v) for v in node.outputs]
        attrs = node.attrs
        tables = {u: node.meta[u + "_type"] for u in ("builtin_options", "builtin_options2")
                  if u + "_type" in node.meta}
        if not tables and not node.custom and attrs:
            # NOTE: a node made in memory: store its attrs in the op's usual table.
            found = options_table_for(node.op)
            if found is not None:
                tables[found[0]] = found[1]
        for union, enum in (("builtin_options", "BuiltinOptions"),
                            ("builtin_options2", "BuiltinOptions2")):
            table = tables.get(union)
            if table is None:
                continue
            code = getattr(getattr(s, enum), table)
            obj = encode(table, attrs)
            if union == "builtin_options":
                op.builtinOptionsType, op.builtinOptions = code, obj
            else:
                op.builtinOptions2Type, op.builtinOptions2 = code, obj
        custom = attrs.get("custom_options")
        if custom is not None:
            op.customOptions = np.frombuffer(bytes(custom), dtype=np.uint8)
            fmt = attrs.get("custom_options_format")
            op.customOptionsFormat = getattr(fmt, "code", 0)
        if node.meta.get("mutating_variable_inputs"):
            op.mutatingVariableInputs = list(node.meta["mutating_variable_inputs"])
        if node.meta.get("intermediates"):
            op.intermediates = [index(by_source_index[i]) if i in by_source_index else -1
                                for i in node.meta["intermediates"]]
        if "debug_metadata_index" in node.meta:
            op.debugMetadataIndex = node.meta["debug_metadata_index"]
        return op

    def _tensor(self, v: Value):
        s = self.s
        t = s.TensorT()
        t.name = v.name
        if v.dtype is not None and v.dtype.tflite is not None:
            t.type = v.dtype.tflite
        elif "tflite_type" in v.meta:
            t.type = v.meta["tflite_type"]
        else:
            raise UnsupportedError(f"tensor {v.name!r}: TFLite has no {v.dtype} type")
        shape = v.shape or ()
        t.shape = [(-1 if d is None else int(d)) for d in shape]
        if v.shape_signature is not None:
            t.shapeSignature = list(v.shape_signature)
        elif any(d is None for d in shape):
            t.shapeSignature = list(t.shape)
            t.shape = [1 if d == -1 else d for d in t.shape]
        t.hasRank = bool(v.meta.get("has_rank", v.shape is not None))
        t.isVariable = bool(v.is_variable)
        t.buffer = self._data_buffer(v)
        t.quantization = self._quant(v)
        if "sparsity" in v.meta:
            t.sparsity = self._sparsity(v.meta["sparsity"])
        for sub in v.meta.get("variant_tensors", ()):
            vt = s.VariantSubTypeT()
            vt.shape, vt.type, vt.hasRank = list(sub["shape"]), sub["type"], sub["has_rank"]
            t.variantTensors = (t.variantTensors or []) + [vt]
        return t

    def _quant(self, v: Value):
        s = self.s
        q = v.quant
        extra = v.meta.get("quant_range")
        if q is None and extra is None:
            return None
        qt = s.QuantizationParametersT()
        if q is not None:
            qt.scale = [float(x) for x in q.scale]
            if not q.details.get("no_zero_point"):
                qt.zeroPoint = [int(x) for x in q.zero_point]
            qt.quantizedDimension = (q.axis if q.axis is not None
                                     else q.details.get("quantized_dimension", 0))
            if q.min is not None:
                qt.min = [float(x) for x in q.min]
            if q.max is not None:
                qt.max = [float(x) for x in q.max]
            details = q.details
        else:
            qt.min, qt.max = list(extra["min"]) or None, list(extra["max"]) or None
            qt.quantizedDimension = extra.get("quantized_dimension", 0)
            details = extra.get("details", {})
        kind = details.get("type")
        if kind:
            qt.detailsType = getattr(s.QuantizationDetails, kind)
            qt.details = encode(kind, details)
        return qt

    def _sparsity(self, sp: dict):
        s = self.s
        t = s.SparsityParametersT()
        t.traversalOrder = list(sp["traversal_order"])
        t.blockMap = list(sp["block_map"])
        t.dimMetadata = []
        dtypes = {"Int32Vector": np.int32, "Uint16Vector": np.uint16, "Uint8Vector": np.uint8}
        for d in sp["dim_metadata"]:
            dm = s.DimensionMetadataT()
            dm.format = getattr(d["format"], "code", d["format"])
            dm.denseSize = d["dense_size"]
            for field, attr in (("array_segments", "arraySegments"),
                                ("array_indices", "arrayIndices")):
                if field not in d:
                    continue
                kind = d[field]["type"]
                vec = getattr(s, kind + "T")()
                vec.values = np.asarray(d[field]["values"], dtype=dtypes[kind])
                setattr(dm, attr + "Type", getattr(s.SparseIndexVector, kind))
                setattr(dm, attr, vec)
            t.dimMetadata.append(dm)
        return t

    def _signature(self, sig):
        s = self.s
        position, values = self._positions[sig.graph]
        by_name = {v.name: i for i, v in enumerate(values)}

        def maps(ios):
            out = []
            for io in ios:
                tm = s.TensorMapT()
                tm.name = io.key
                idx = position.get(id(io.value)) if io.value is not None else None
                if idx is None:
                    idx = by_name.get(io.tensor_name)
                if idx is None:
                    raise UnsupportedError(f"signature {sig.key!r}: no tensor "
                                           f"{io.tensor_name!r} in graph {sig.graph}")
                tm.tensorIndex = idx
                out.append(tm)
            return out

        sd = s.SignatureDefT()
        sd.signatureKey = sig.key
        sd.subgraphIndex = sig.graph
        sd.inputs = maps(sig.inputs)
        sd.outputs = maps(sig.outputs)
        return sd


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
