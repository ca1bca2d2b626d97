"""Shared TensorFlow protobuf <-> IR conversion for the GraphDef, SavedModel and checkpoint adapters.

Uses the generated protobuf modules shipped in `tensorboard.compat.proto`, so
no TensorFlow import is needed. Those modules lack `saved_model.proto` and
`tensor_bundle.proto`; the few messages needed from them (SavedModel,
BundleHeaderProto, BundleEntryProto, TensorSliceProto) are declared here at
runtime with the protobuf descriptor API, field for field as TensorFlow
declares them, and built on top of tensorboard's own MetaGraphDef and
TensorShapeProto. Every protobuf module is imported inside functions.

Lossless writing: a GraphDef is rebuilt from the IR, so edits to node attrs and
inputs are written. What the IR does not model is kept as plain data:
`Node.meta["tf_attr_kinds"]` (the AttrValue kind of each attr, e.g. `list.i`),
`Node.meta["tf_inputs"]` (the input strings as written, to keep `x` vs `x:0`),
`Node.meta["tf_nodedef_rest"]` (serialized NodeDef fields the IR lacks, such as
experimental_debug_info), `Graph.meta["tf_function_rest"]` (the FunctionDef
without its nodes) and `Model.meta["tf_graphdef_rest"]` (versions, debug info).
Tensor attrs keep their stored form in `TFTensorData`.
"""

from __future__ import annotations

import functools
from math import prod
from typing import Any

import numpy as np

from modelkit.ir import (BufferData, DType, EnumValue, FuncRef, Graph, Model, Node, TensorData,
                         Value)

# Ops with no outputs at all; every other op has at least one.
_NO_OUTPUT_OPS = frozenset({
    "NoOp", "SaveV2", "Save", "SaveSlices", "MergeV2Checkpoints", "AssignVariableOp",
    "AssignAddVariableOp", "AssignSubVariableOp", "ResourceApplyAdam",
    "ResourceApplyGradientDescent", "ResourceApplyMomentum", "ResourceApplyRMSProp",
    "ResourceApplyAdagrad", "DestroyResourceOp", "Assert", "PrintV2", "ControlTrigger",
    "ResourceScatterUpdate", "ResourceScatterAdd", "WriteScalarSummary", "_Retval",
})
# Ops whose output count is an int attr, or the length of a list attr.
_COUNT_ATTR = {"Split": "num_split", "SplitV": "num_split", "Unpack": "num",
               "ShapeN": "N", "Unstack": "num"}
_LIST_ATTR = {"RestoreV2": "dtypes", "IdentityN": "T", "StatefulPartitionedCall": "Tout",
              "PartitionedCall": "Tout", "If": "Tout", "StatelessIf": "Tout",
              "While": "T", "StatelessWhile": "T"}
# Attrs naming the dtype of output 0, most specific first.
_OUT_DTYPE_ATTRS = ("dtype", "DstT", "out_type", "output_type", "Tout", "out_idx")
_OUT_DTYPE_RANK = {a: i for i, a in enumerate(_OUT_DTYPE_ATTRS)}
_BOOL_OPS = frozenset({"Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual",
                       "LogicalAnd", "LogicalOr", "LogicalNot", "IsFinite", "IsNan", "IsInf",
                       "VarIsInitializedOp", "IsVariableInitialized", "ApproximateEqual"})
# Ops whose "T" is not the type of output 0.
_T_NOT_OUTPUT = frozenset({"Shape", "Size", "Rank", "ArgMax", "ArgMin", "Where",
                           "RandomUniform", "RandomStandardNormal", "TruncatedNormal",
                           "Assert", "Cast", "Bitcast"})
VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp", "TemporaryVariable"})


class TFTensorData(TensorData):
    """A TensorProto's data, kept in its stored form so it writes back unchanged.

    Attributes:
        rest: serialized TensorProto without its value fields (dtype, shape, version).
        content: `tensor_content` bytes, or None.
        fields: typed value fields (e.g. {"float_val": [...]}) when there is no content.
    """

    __slots__ = ("_rest", "_content", "_source", "_fields", "_array", "_pending")

    def __init__(self, dtype: DType, shape: tuple[int, ...], rest: bytes | None,
                 content: bytes | None, fields: dict[str, list] | None, source=None) -> None:
        super().__init__(dtype, shape)
        self._rest = rest
        self._content = content
        # NOTE: a big tensor_content stays in the parsed TensorProto `source` until
        # asked for: copying every weight out of the message at load would hold the
        # model twice in memory. With `rest` None the whole TensorProto is `source`,
        # split into rest, content and fields on first use (see `_split`).
        self._source = source
        self._fields = fields
        self._array: np.ndarray | None = None
        self._pending = rest is None

    @classmethod
    def pending(cls, dtype: DType, shape: tuple[int, ...], tp) -> TFTensorData:
        """Data of TensorProto `tp`, split into its stored fields only when first asked for.

        `shape` must be a tuple of ints (the constructor's conversion is skipped).
        """
        data = cls.__new__(cls)
        data.dtype = dtype
        data.shape = shape
        data._rest = data._content = data._fields = data._array = None
        data._source = tp
        data._pending = True
        return data

    def _split(self) -> None:
        tp = self._source
        self._rest, self._content, self._fields = _split_tensor_proto(tp)
        self._source = None
        self._pending = False

    @property
    def rest(self) -> bytes:
        if self._pending:
            self._split()
        return self._rest

    @rest.setter
    def rest(self, value: bytes) -> None:
        if self._pending:
            self._split()
        self._rest = value

    @property
    def fields(self) -> dict[str, list]:
        if self._pending:
            self._split()
        return self._fields

    @fields.setter
    def fields(self, value: dict[str, list]) -> None:
        if self._pending:
            self._split()
        self._fields = value

    @property
    def content(self) -> bytes | None:
        """The `tensor_content` bytes, or None when the values are in typed fields."""
        if self._pending:
            self._split()
        if self._source is not None:
            return self._source.tensor_content or None
        return self._content

    @content.setter
    def content(self, value: bytes | None) -> None:
        if self._pending:
            self._split()
        self._content = value
        self._source = None

    @property
    def nbytes(self) -> int:
        if self._pending:
            raw = self._source.tensor_content
            if raw:
                return len(raw)
        elif self._source is None and self._content is not None:
            return len(self._content)
        n = self.dtype.nbytes(self.size)
        return 0 if n is None else n

    def numpy(self) -> np.ndarray:
        """The values as an array of the tensor's shape.

        Raises:
            ModelReadError: the stored values do not fit the dtype or shape.
        """
        if self._array is None:
            try:
                self._array = _tensor_values(self)
            except ValueError as e:
                from modelkit.errors import ModelReadError
                raise ModelReadError(f"corrupt constant tensor data ({e})") from None
            self._array.setflags(write=False)
        return self._array


# Value fields of TensorProto per dtype (the field TF writes for a dtype).
_VALUE_FIELDS = ("half_val", "float_val", "double_val", "int_val", "string_val", "scomplex_val",
                 "int64_val", "bool_val", "dcomplex_val", "resource_handle_val", "variant_val",
                 "uint32_val", "uint64_val", "float8_val")


def _tensor_values(t: TFTensorData) -> np.ndarray:
    """Decode a TFTensorData into an array of its shape (scalars broadcast)."""
    dt = t.dtype
    count = t.size
    if t.content is not None:
        np_dtype = dt.numpy
        if dt.bits in (2, 4):
            from modelkit.ir.tensor import unpack_subbyte
            raw = np.frombuffer(t.content, np.uint8)
            return unpack_subbyte(raw, dt, count).reshape(t.shape)
        if np_dtype is None or np_dtype == np.dtype(object):
            raise ValueError(f"{dt} tensor_content has no numpy form")
        arr = np.frombuffer(t.content, dtype=np_dtype)
        if arr.size != count:
            raise ValueError(f"tensor_content holds {arr.size} values, shape needs {count}")
        return arr.reshape(t.shape)
    np_dtype = dt.numpy
    if dt == DType.STRING:
        vals = list(t.fields.get("string_val", []))
        arr = np.empty(len(vals), dtype=object)
        arr[:] = vals
    elif dt in (DType.RESOURCE, DType.VARIANT):
        vals = list(t.fields.get("resource_handle_val", []) or t.fields.get("variant_val", []))
        arr = np.empty(len(vals), dtype=object)
        arr[:] = vals
    elif dt in (DType.FLOAT16, DType.BFLOAT16):
        # NOTE: half types store their bit patterns in half_val as int32.
        arr = np.asarray(t.fields.get("half_val", []), dtype=np.uint16).view(np_dtype)
    elif dt in (DType.COMPLEX64, DType.COMPLEX128):
        name = "scomplex_val" if dt == DType.COMPLEX64 else "dcomplex_val"
        flat = np.asarray(t.fields.get(name, []), dtype=np.float64)
        arr = (flat[0::2] + 1j * flat[1::2]).astype(np_dtype)
    elif dt.value.startswith("float8"):
        raw = t.fields.get("float8_val", b"")
        arr = np.frombuffer(bytes(raw), np.uint8).view(np_dtype)
    else:
        vals: list = []
        for name in _VALUE_FIELDS:
            if t.fields.get(name):
                vals = t.fields[name]
                break
        if np_dtype is None:
            raise ValueError(f"{dt} values have no numpy form")
        arr = np.asarray(vals, dtype=np.float64 if dt.is_float else None)
        arr = arr.astype(np_dtype) if arr.size else np.zeros(0, np_dtype)
    if arr.size == count:
        return arr.reshape(t.shape)
    if arr.size == 0:
        return np.zeros(t.shape, dtype=arr.dtype if dt.numpy is None else dt.numpy)
    # NOTE: TF stores a tensor whose trailing values repeat with the last value once
    # (a splat constant has a single value); the last stored value fills the rest.
    out = np.empty(count, dtype=arr.dtype)
    n = min(arr.size, count)
    out[:n] = arr[:n]
    out[n:] = arr[n - 1]
    return out.reshape(t.shape)


def read_file(path) -> bytes:
    """The bytes of a model file.

    Raises:
        ModelReadError: unreadable.
    """
    from modelkit.errors import ModelReadError

    try:
        return path.read_bytes()
    except OSError as e:
        raise ModelReadError(f"cannot read: {e.strerror}", str(path)) from None


def varint(buf, pos: int, end: int) -> tuple[int, int]:
    """Decode a protobuf varint at `pos` (bytes before `end`); (value, next position).

    Raises:
        ValueError: truncated, or longer than 64 bits.
    """
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ValueError("truncated or overlong varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


@functools.cache
def pb() -> Any:
    """The tensorboard protobuf modules, imported once (about 20 ms)."""
    from types import SimpleNamespace

    from tensorboard.compat.proto import (attr_value_pb2, function_pb2, graph_pb2,
                                          meta_graph_pb2, node_def_pb2,
                                          saved_object_graph_pb2, tensor_pb2,
                                          tensor_shape_pb2, types_pb2, versions_pb2)
    return SimpleNamespace(attr_value=attr_value_pb2, function=function_pb2, graph=graph_pb2,
                           meta_graph=meta_graph_pb2, node_def=node_def_pb2,
                           saved_object_graph=saved_object_graph_pb2, tensor=tensor_pb2,
                           tensor_shape=tensor_shape_pb2, types=types_pb2,
                           versions=versions_pb2)


@functools.cache
def extra_messages() -> Any:
    """Message classes TensorFlow declares but tensorboard does not ship.

    Returns a namespace with SavedModel, BundleHeaderProto, BundleEntryProto and
    TensorSliceProto, declared field for field as in TensorFlow's
    saved_model.proto, tensor_bundle.proto and tensor_slice.proto.
    """
    from types import SimpleNamespace

    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    p = pb()
    F = descriptor_pb2.FieldDescriptorProto
    fd = descriptor_pb2.FileDescriptorProto(
        name="modelkit/tf_extra.proto", package="modelkit.tf_extra", syntax="proto3",
        dependency=[p.meta_graph.DESCRIPTOR.name, p.tensor_shape.DESCRIPTOR.name,
                    p.types.DESCRIPTOR.name, p.versions.DESCRIPTOR.name])

    def msg(name: str, fields: list[tuple], nested: list | None = None,
            enums: list | None = None, oneofs: list | None = None):
        m = fd.message_type.add(name=name)
        for fname, num, ftype, label, type_name, *oneof in fields:
            f = m.field.add(name=fname, number=num, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
            if oneof:
                f.oneof_index = oneof[0]
        for o in oneofs or []:
            m.oneof_decl.add(name=o)
        for sub in nested or []:
            m.nested_type.add().CopyFrom(sub)
        for e in enums or []:
            m.enum_type.add().CopyFrom(e)
        return m

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    msg("SavedModel", [
        ("saved_model_schema_version", 1, F.TYPE_INT64, opt, None),
        ("meta_graphs", 2, F.TYPE_MESSAGE, rep, ".tensorboard.MetaGraphDef"),
    ])
    extent = descriptor_pb2.DescriptorProto(name="Extent")
    extent.field.add(name="start", number=1, type=F.TYPE_INT64, label=opt)
    extent.field.add(name="length", number=2, type=F.TYPE_INT64, label=opt, oneof_index=0)
    extent.oneof_decl.add(name="has_length")
    msg("TensorSliceProto", [
        ("extent", 1, F.TYPE_MESSAGE, rep, ".modelkit.tf_extra.TensorSliceProto.Extent"),
    ], nested=[extent])
    endianness = descriptor_pb2.EnumDescriptorProto(name="Endianness")
    endianness.value.add(name="LITTLE", number=0)
    endianness.value.add(name="BIG", number=1)
    msg("BundleHeaderProto", [
        ("num_shards", 1, F.TYPE_INT32, opt, None),
        ("endianness", 2, F.TYPE_ENUM, opt, ".modelkit.tf_extra.BundleHeaderProto.Endianness"),
        ("version", 3, F.TYPE_MESSAGE, opt, ".tensorboard.VersionDef"),
    ], enums=[endianness])
    msg("BundleEntryProto", [
        ("dtype", 1, F.TYPE_ENUM, opt, ".tensorboard.DataType"),
        ("shape", 2, F.TYPE_MESSAGE, opt, ".tensorboard.TensorShapeProto"),
        ("shard_id", 3, F.TYPE_INT32, opt, None),
        ("offset", 4, F.TYPE_INT64, opt, None),
        ("size", 5, F.TYPE_INT64, opt, None),
        ("crc32c", 6, F.TYPE_FIXED32, opt, None),
        ("slices", 7, F.TYPE_MESSAGE, rep, ".modelkit.tf_extra.TensorSliceProto"),
    ])
    pool = descriptor_pool.Default()
    try:
        fdesc = pool.FindFileByName(fd.name)
    except KeyError:
        fdesc = pool.Add(fd) or pool.FindFileByName(fd.name)
    names = ("SavedModel", "TensorSliceProto", "BundleHeaderProto", "BundleEntryProto")
    return SimpleNamespace(**{
        n: message_factory.GetMessageClass(fdesc.message_types_by_name[n]) for n in names})


# ----------------------------------------------------------------------------- dtypes, shapes

def dtype_from_code(code: int) -> DType | EnumValue:
    """A DType for a TF DataType number; unknown numbers as EnumValue("DT_<n>")."""
    dt = _DTYPES.get(code)
    if dt is not None:
        return dt
    try:
        dt = DType.from_tf(code)
    except ValueError:
        return EnumValue(f"DT_{code}", code)
    _DTYPES[code] = dt
    return dt


# DType of each TF DataType number seen so far.
_DTYPES: dict[int, DType] = {}


def dtype_code(value: DType | EnumValue | int) -> int:
    """The TF DataType number of a DType (or an EnumValue/int kept from the source)."""
    if isinstance(value, DType):
        code = value.tf
        if code is None:
            raise ValueError(f"{value} has no TensorFlow DataType")
        return code
    if isinstance(value, EnumValue):
        return value.code
    return int(value)


def shape_from_proto(sp) -> tuple[int | None, ...] | None:
    """TensorShapeProto -> tuple (None for -1 dims), None for unknown rank."""
    if sp.unknown_rank:
        return None
    return tuple(None if d.size < 0 else int(d.size) for d in sp.dim)


def shape_to_proto(shape, sp) -> None:
    """Fill TensorShapeProto `sp` from a tuple (None dims -> -1, None -> unknown rank)."""
    sp.Clear()
    if shape is None:
        sp.unknown_rank = True
        return
    for d in shape:
        sp.dim.add(size=-1 if d is None else int(d))


# ----------------------------------------------------------------------------- tensors

# A TensorProto bigger than this keeps its tensor_content in the message until used.
_LAZY_CONTENT_BYTES = 4096


def tensor_from_proto(tp) -> TFTensorData:
    """A TensorProto as lazy TFTensorData (values decoded on first `numpy()`).

    Only dtype and shape are read here: a small tensor is split into its stored
    fields on first use, a big tensor_content is read from `tp` on use.
    """
    code = tp.dtype
    dtype = _DTYPES.get(code)
    if dtype is None:
        dtype = dtype_from_code(code)
        if not isinstance(dtype, DType):
            dtype = DType.VARIANT
    ts = tp.tensor_shape
    if ts.unknown_rank:
        shape: tuple[int, ...] = ()
    else:
        shape = tuple([s if s > 0 else 0 for s in [d.size for d in ts.dim]])
    stated = dtype.nbytes(prod(shape)) or 0
    if stated > _LAZY_CONTENT_BYTES and not any(
            len(getattr(tp, name)) for name in _VALUE_FIELDS):
        # NOTE: the bulk is tensor_content (the typed value fields are empty); it is
        # read from `tp` on use. dtype, shape and version are all the rest TF writes.
        rest_proto = pb().tensor.TensorProto(dtype=tp.dtype, version_number=tp.version_number)
        rest_proto.tensor_shape.CopyFrom(tp.tensor_shape)
        return TFTensorData(dtype, shape, rest_proto.SerializeToString(), None, {}, source=tp)
    return TFTensorData.pending(dtype, shape, tp)


def _split_tensor_proto(tp) -> tuple[bytes, bytes | None, dict[str, list]]:
    """(rest, content, fields) of a TensorProto: its bytes without the value fields, its
    tensor_content (None when empty) and its non-empty typed value fields."""
    fields: dict[str, list] = {}
    content = None
    if tp.tensor_content:
        content = tp.tensor_content
    for name in _VALUE_FIELDS:
        if name == "float8_val":
            if tp.float8_val:
                fields[name] = tp.float8_val
            continue
        vals = getattr(tp, name)
        if len(vals):
            if name == "resource_handle_val" or name == "variant_val":
                fields[name] = [v.SerializeToString() for v in vals]
            else:
                fields[name] = list(vals)
    rest_proto = pb().tensor.TensorProto()
    rest_proto.CopyFrom(tp)
    rest_proto.ClearField("tensor_content")
    for name in _VALUE_FIELDS:
        rest_proto.ClearField(name)
    return rest_proto.SerializeToString(), content, fields


def tensor_to_proto(data: TensorData, tp) -> None:
    """Fill TensorProto `tp` from any TensorData (TFTensorData written as stored)."""
    tp.Clear()
    if isinstance(data, TFTensorData):
        tp.ParseFromString(data.rest)
        if data.content is not None:
            tp.tensor_content = data.content
        for name, vals in data.fields.items():
            if name in ("resource_handle_val", "variant_val"):
                field = getattr(tp, name)
                for raw in vals:
                    field.add().ParseFromString(raw)
            elif name == "float8_val":
                tp.float8_val = vals
            else:
                getattr(tp, name).extend(vals)
        return
    tp.dtype = dtype_code(data.dtype)
    shape_to_proto(data.shape, tp.tensor_shape)
    if data.dtype == DType.STRING:
        for v in np.asarray(data.numpy(), dtype=object).reshape(-1):
            tp.string_val.append(v if isinstance(v, bytes) else str(v).encode())
        return
    if isinstance(data, BufferData) or data.dtype.numpy is not None:
        tp.tensor_content = data.tobytes() if isinstance(data, BufferData) else \
            np.ascontiguousarray(data.numpy(), dtype=data.dtype.numpy).tobytes()


# ----------------------------------------------------------------------------- attrs

def attr_from_proto(av) -> tuple[Any, str]:
    """An AttrValue as (python value, kind); kind says how to write it back."""
    kind = av.WhichOneof("value")
    if kind is None:
        return None, "none"
    if kind == "type":
        code = av.type
        dt = _DTYPES.get(code)
        return (dt if dt is not None else dtype_from_code(code)), kind
    if kind == "list":
        lst = av.list
        for sub in ("s", "i", "f", "b", "type", "shape", "tensor", "func"):
            items = getattr(lst, sub)
            if len(items):
                return [_scalar_attr(sub, x) for x in items], f"list.{sub}"
        return [], "list"
    if kind == "tensor":
        return tensor_from_proto(av.tensor), kind
    return _scalar_attr(kind, getattr(av, kind)), kind


def _scalar_attr(kind: str, x) -> Any:
    if kind == "s":
        try:
            return x.decode("utf-8")
        except UnicodeDecodeError:
            return bytes(x)
    if kind == "i":
        return int(x)
    if kind == "f":
        return float(x)
    if kind == "b":
        return bool(x)
    if kind == "type":
        return dtype_from_code(x)
    if kind == "shape":
        return shape_from_proto(x)
    if kind == "tensor":
        return tensor_from_proto(x)
    if kind == "func":
        return FuncRef(x.name, {k: attr_from_proto(v)[0] for k, v in x.attr.items()})
    if kind == "placeholder":
        return str(x)
    raise ValueError(f"unknown AttrValue kind {kind}")


def _guess_kind(value: Any) -> str:
    """The AttrValue kind for a python value that has no recorded kind."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "b"
    if isinstance(value, (DType, EnumValue)):
        return "type"
    if isinstance(value, (str, bytes)):
        return "s"
    if isinstance(value, (int, np.integer)):
        return "i"
    if isinstance(value, (float, np.floating)):
        return "f"
    if isinstance(value, TensorData):
        return "tensor"
    if isinstance(value, FuncRef):
        return "func"
    if isinstance(value, tuple):
        return "shape"
    if isinstance(value, list):
        if not value:
            return "list"
        inner = _guess_kind(value[0])
        return f"list.{inner}"
    raise ValueError(f"cannot write attr value of type {type(value).__name__}")


def _kind_fits(kind: str, value: Any) -> bool:
    """True when `value` can still be written with the recorded `kind`."""
    if kind == "placeholder":
        return isinstance(value, str)
    if kind == "list":
        return value == []
    if kind.startswith("list."):
        return isinstance(value, list) and all(_kind_fits(kind[5:], v) for v in value)
    if kind == "shape":
        return value is None or isinstance(value, tuple)
    if kind == "none":
        return value is None
    try:
        return _guess_kind(value) == kind
    except ValueError:
        return False


def attr_to_proto(value: Any, kind: str | None, av) -> None:
    """Fill AttrValue `av` from a python value, using `kind` when it still fits."""
    av.Clear()
    if kind is None or not _kind_fits(kind, value):
        kind = _guess_kind(value)
    if kind == "none":
        return
    if kind == "list":
        av.list.SetInParent()
        return
    if kind.startswith("list."):
        sub = kind[5:]
        av.list.SetInParent()
        field = getattr(av.list, sub)
        for v in value:
            if sub in ("shape", "tensor", "func"):
                _scalar_to_proto(sub, v, field.add())
            else:
                field.append(_plain_scalar(sub, v))
        return
    if kind in ("shape", "tensor", "func"):
        _scalar_to_proto(kind, value, getattr(av, kind))
    else:
        setattr(av, kind, _plain_scalar(kind, value))


def _plain_scalar(kind: str, v: Any) -> Any:
    if kind == "s":
        return v.encode("utf-8") if isinstance(v, str) else bytes(v)
    if kind == "type":
        return dtype_code(v)
    if kind == "i":
        return int(v)
    if kind == "f":
        return float(v)
    if kind == "b":
        return bool(v)
    if kind == "placeholder":
        return str(v)
    raise ValueError(f"unknown attr kind {kind}")


def _scalar_to_proto(kind: str, v: Any, msg) -> None:
    if kind == "shape":
        shape_to_proto(v, msg)
    elif kind == "tensor":
        tensor_to_proto(v, msg)
    else:
        msg.name = v.name
        for k, sub in v.attrs.items():
            attr_to_proto(sub, None, msg.attr[k])


# ----------------------------------------------------------------------------- graphs

def _split_input(s: str) -> tuple[str, int]:
    """`name:3` -> ("name", 3); `name` -> ("name", 0)."""
    name, sep, port = s.rpartition(":")
    if sep and port.isdigit():
        return name, int(port)
    return s, 0


# More outputs than any real node has (Split, Unpack, ShapeN, IdentityN, a port named by
# an input): past this, the count comes from a corrupt file.
_MAX_OUTPUTS = 1 << 16


def _output_count(op: str, attrs: dict, ports_seen: int) -> int:
    if op in _COUNT_ATTR and isinstance(attrs.get(_COUNT_ATTR[op]), int):
        return max(attrs[_COUNT_ATTR[op]], ports_seen)
    list_attr = _LIST_ATTR.get(op)
    if list_attr and isinstance(attrs.get(list_attr), list):
        return max(len(attrs[list_attr]), ports_seen)
    shapes = attrs.get("_output_shapes")
    n = len(shapes) if isinstance(shapes, list) else 0
    base = 0 if op in _NO_OUTPUT_OPS else 1
    return max(n, ports_seen, base)


def _output_dtype(op: str, attrs: dict, port: int):
    if port == 0:
        # The DType of the first of _OUT_DTYPE_ATTRS the node has (nodes have few attrs).
        found, rank = None, len(_OUT_DTYPE_ATTRS)
        for a, v in attrs.items():
            r = _OUT_DTYPE_RANK.get(a)
            if r is not None and r < rank and isinstance(v, DType):
                found, rank = v, r
        if found is not None:
            return found
        if op in _BOOL_OPS:
            return DType.BOOL
        if op not in _T_NOT_OUTPUT and isinstance(attrs.get("T"), DType):
            return attrs["T"]
    for a in ("dtypes", "T", "Tout"):
        v = attrs.get(a)
        if isinstance(v, list) and port < len(v) and isinstance(v[port], DType):
            return v[port]
    if op in _COUNT_ATTR and isinstance(attrs.get("T"), DType):
        return attrs["T"]
    return None


def _copy_without(msg, skip: tuple[str, ...]):
    """A copy of message `msg` without the fields named in `skip`.

    Copies only the other fields, so a skipped field holding the model's weights
    (nodes, function bodies) is never duplicated in memory.
    """
    from google.protobuf import unknown_fields

    rest = type(msg)()
    if len(unknown_fields.UnknownFieldSet(msg)):
        # NOTE: unknown fields are kept only by a whole-message copy (rare: newer writers).
        rest.CopyFrom(msg)
        for name in skip:
            rest.ClearField(name)
        return rest
    for fd, value in msg.ListFields():
        if fd.name in skip:
            continue
        if fd.is_repeated:
            getattr(rest, fd.name).MergeFrom(value)
        elif fd.message_type is not None:
            getattr(rest, fd.name).CopyFrom(value)
        else:
            setattr(rest, fd.name, value)
    return rest


# The NodeDef fields a Node models; the others are kept as `tf_nodedef_rest`.
_NODEDEF_MODELLED = ("name", "op", "input", "device", "attr")


@functools.cache
def _other_fields(descriptor, skip: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
    """(name, is a singular message) of each field of a message type not named in `skip`."""
    return tuple((f.name, f.message_type is not None and not f.is_repeated)
                 for f in descriptor.fields if f.name not in skip)


def _has_other_fields(msg, others: tuple[tuple[str, bool], ...]) -> bool:
    """True when `msg` has one of the fields `others` (see `_other_fields`) set, or an
    unknown field."""
    for name, singular_message in others:
        if singular_message:
            if msg.HasField(name):
                return True
        elif getattr(msg, name):
            return True
    return bool(len(_unknown_fields(msg)))


@functools.cache
def _unknown_field_set():
    from google.protobuf import unknown_fields
    return unknown_fields.UnknownFieldSet


def _unknown_fields(msg):
    """The unknown fields of a parsed message (fields its type does not declare)."""
    return _unknown_field_set()(msg)


def _node_from_proto(nd, index: int) -> Node:
    attrs: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    amap = nd.attr
    for key in sorted(amap):
        attrs[key], kinds[key] = attr_from_proto(amap[key])
    inputs = list(nd.input)
    node = Node(nd.name, nd.op, "tf", attrs=attrs, index=index, device=nd.device,
                control_inputs=[s[1:] for s in inputs if s.startswith("^")])
    meta = node.meta
    meta["tf_attr_kinds"] = kinds
    meta["tf_inputs"] = inputs
    if _has_other_fields(nd, _other_fields(nd.DESCRIPTOR, _NODEDEF_MODELLED)):
        raw = _copy_without(nd, _NODEDEF_MODELLED).SerializeToString()
        if raw:
            meta["tf_nodedef_rest"] = raw
    for v in attrs.values():
        if isinstance(v, FuncRef):
            node.subgraphs.append(v.name)
        elif isinstance(v, list) and v and isinstance(v[0], FuncRef):
            node.subgraphs.extend(f.name for f in v)
    return node


def graph_from_nodedefs(name: str, node_defs, *, function: bool = False,
                        arg_values: list[Value] | None = None) -> Graph:
    """Build a Graph from NodeDefs (a GraphDef body, or a function body).

    Args:
        name: graph name.
        node_defs: the NodeDef messages, in order.
        function: inputs use the function syntax `node:out_arg:idx`; Values are
            then named exactly as the consumers spell them.
        arg_values: Values of the function's input args (function bodies only).
    """
    graph = Graph(name)
    nodes = [_node_from_proto(nd, i) for i, nd in enumerate(node_defs)]
    values: dict[str, Value] = {}
    for v in arg_values or []:
        values[v.name] = v
        graph.values.append(v)
        graph.inputs.append(v)

    # The Value name each node's data inputs refer to, in order.
    keys: list[list[str]] = []
    if function:
        by_name = {n.name: n for n in nodes}
        # Output Values are the strings consumers reference, `node:out_arg:idx`.
        refs: dict[str, list[str]] = {}
        for node in nodes:
            data_inputs = [s for s in node.meta["tf_inputs"] if not s.startswith("^")]
            keys.append(data_inputs)
            for s in data_inputs:
                if s in values:
                    continue
                head = s.split(":", 1)[0]
                if head in by_name:
                    seen = refs.setdefault(head, [])
                    if s not in seen:
                        seen.append(s)
        for node in nodes:
            for s in sorted(refs.get(node.name, [])):
                v = Value(s, None, None)
                v.producer = node
                node.outputs.append(v)
                values[s] = v
        _fill_output_types(nodes, values, by_port=False)
    else:
        ports: dict[str, int] = {}
        for node in nodes:
            node_keys = []
            for s in node.meta["tf_inputs"]:
                if s.startswith("^"):
                    continue
                src, port = _split_input(s)
                node_keys.append(f"{src}:{port}")
                if ports.get(src, 0) <= port:
                    ports[src] = port + 1
            keys.append(node_keys)
        for node in nodes:
            attrs = node.attrs
            node_name = node.name
            op = node.op
            count = _output_count(op, attrs, ports.get(node_name, 0))
            if count > _MAX_OUTPUTS:
                from modelkit.errors import ModelReadError

                # NOTE: a corrupt count attr or input port (x:4000000000) would otherwise
                # make that many Values: a hang and a memory blow-up, not a model.
                raise ModelReadError(f"node {node_name!r} ({op}) would have {count} outputs "
                                     f"(more than {_MAX_OUTPUTS}): the graph is corrupt")
            shapes = attrs.get("_output_shapes")
            if not isinstance(shapes, list):
                shapes = ()
            outputs = node.outputs
            for port in range(count):
                shape = shapes[port] if port < len(shapes) else None
                # NOTE: an `_output_shapes` of another list kind (ints, strings) says
                # nothing about the shapes.
                v = Value(f"{node_name}:{port}", _output_dtype(op, attrs, port),
                          shape if isinstance(shape, tuple) else None)
                v.producer = node
                outputs.append(v)
                values[v.name] = v
        _fill_output_types(nodes, values, by_port=True)

    graph_values = graph.values
    for node, node_keys in zip(nodes, keys):
        for key in node_keys:
            v = values.get(key)
            if v is None:
                # NOTE: an input naming a missing node (or port) is kept as a dangling
                # Value so the graph still loads and writes back unchanged.
                v = Value(key, None, None, meta={"dangling": True})
                values[key] = v
                graph_values.append(v)
            node.append_input(v)
        graph_values.extend(node.outputs)
    graph.nodes.extend(nodes)
    if not function:
        graph.inputs.extend(n.outputs[0] for n in nodes
                            if n.op in ("Placeholder", "PlaceholderWithDefault") and n.outputs)
        graph.outputs = [n.outputs[0] for n in _sink_nodes(graph) if n.outputs]
    return graph


def _fill_output_types(nodes: list[Node], values: dict[str, Value], by_port: bool) -> None:
    """Shapes and data of constants, placeholders and variables from their attrs."""
    for node in nodes:
        if not node.outputs:
            continue
        out = node.outputs[0]
        if not by_port and out.dtype is None:
            out.dtype = _output_dtype(node.op, node.attrs, 0) \
                if len(node.outputs) == 1 else None
        if node.op == "Const" and isinstance(node.attrs.get("value"), TensorData):
            data = node.attrs["value"]
            out.data = data
            out.dtype = data.dtype
            out.shape = data.shape
        elif node.op in ("Placeholder", "VariableV2", "Variable", "VarHandleOp"):
            shape = node.attrs.get("shape")
            if out.shape is None and (isinstance(shape, tuple)):
                if node.op != "VarHandleOp":
                    out.shape = shape
            if node.op == "VarHandleOp":
                out.dtype = DType.RESOURCE
        if node.op in VARIABLE_OPS:
            out.is_variable = True


_SINK_EXCLUDED = frozenset({"Const", "Assign", "NoOp", "Placeholder", "PlaceholderWithDefault",
                            "SaveV2", "RestoreV2", "AssignVariableOp", "VarIsInitializedOp"})


def _sink_nodes(graph: Graph) -> list[Node]:
    """Nodes whose outputs nothing consumes and no node depends on (by control)."""
    controlled = {c for n in graph.nodes for c in n.control_inputs}
    return [n for n in graph.nodes
            if n.op not in _SINK_EXCLUDED and n.name not in controlled
            and not any(v.consumers for v in n.outputs)]


def function_to_graph(fdef) -> Graph:
    """A FunctionDef as its own Graph (inputs/outputs from the signature)."""
    sig = fdef.signature
    args = []
    for a in sig.input_arg:
        dt = dtype_from_code(a.type) if a.type else None
        args.append(Value(a.name, dt if isinstance(dt, DType) else None, None))
    graph = graph_from_nodedefs(sig.name, fdef.node_def, function=True, arg_values=args)
    by_name = {v.name: v for v in graph.values}
    for a in sig.output_arg:
        ref = fdef.ret.get(a.name, "")
        v = by_name.get(ref)
        if v is None:
            v = Value(ref or a.name, None, None, meta={"dangling": True})
            graph.values.append(v)
        if v.dtype is None and a.type:
            dt = dtype_from_code(a.type)
            v.dtype = dt if isinstance(dt, DType) else None
        graph.outputs.append(v)
    graph.meta["tf_function_rest"] = _copy_without(fdef, ("node_def",)).SerializeToString()
    graph.meta["tf_kind"] = "function"
    return graph


def graphs_from_graphdef(gd, name: str = "") -> tuple[list[Graph], dict]:
    """The main Graph and one Graph per library function; plus metadata.

    Returns:
        (graphs, metadata) where metadata holds producer/min_consumer.
    """
    main = graph_from_nodedefs(name, gd.node)
    main.meta["tf_kind"] = "graph"
    graphs = [main]
    for fdef in gd.library.function:
        graphs.append(function_to_graph(fdef))
    metadata = {"producer": int(gd.versions.producer),
                "min_consumer": int(gd.versions.min_consumer)}
    if gd.versions.bad_consumers:
        metadata["bad_consumers"] = list(gd.versions.bad_consumers)
    return graphs, metadata


def graphdef_rest(gd) -> bytes:
    """The GraphDef without nodes and function bodies (versions, debug info, gradients)."""
    rest = _copy_without(gd, ("node", "library"))
    if gd.HasField("library"):
        # NOTE: touching `rest.library` without this check would mark it present.
        rest.library.CopyFrom(_copy_without(gd.library, ("function",)))
    return rest.SerializeToString()


def _input_string(value: Value | None, original: str | None, function: bool) -> str:
    """The NodeDef input string of `value`, reusing the original spelling if it still fits."""
    if value is None:
        raise ValueError("a TensorFlow node input cannot be omitted")
    if original is not None:
        if function and original == value.name:
            return original
        if not function and "%s:%d" % _split_input(original) == value.name:
            return original
    if function:
        return value.name
    name, port = _split_input(value.name)
    return name if port == 0 else f"{name}:{port}"


def node_to_proto(node: Node, nd, function: bool = False) -> None:
    """Fill NodeDef `nd` from an IR node."""
    nd.Clear()
    rest = node.meta.get("tf_nodedef_rest")
    if rest:
        nd.ParseFromString(rest)
    nd.name = node.name
    nd.op = node.op
    if node.device:
        nd.device = node.device
    original = [s for s in node.meta.get("tf_inputs", []) if not s.startswith("^")]
    for i, v in enumerate(node.inputs):
        nd.input.append(_input_string(v, original[i] if i < len(original) else None, function))
    for c in node.control_inputs:
        nd.input.append("^" + c)
    kinds = node.meta.get("tf_attr_kinds", {})
    for key, value in node.attrs.items():
        attr_to_proto(value, kinds.get(key), nd.attr[key])


def graphdef_from_graphs(graphs: list[Graph], rest: bytes | None):
    """Rebuild a GraphDef message: the main graph's nodes plus every function graph."""
    gd = pb().graph.GraphDef()
    if rest:
        gd.ParseFromString(rest)
    main = graphs[0]
    for node in main.nodes:
        node_to_proto(node, gd.node.add())
    owner = main.meta.get("meta_graph", 0)
    for g in graphs[1:]:
        if g.meta.get("tf_kind") != "function" or g.meta.get("meta_graph", 0) != owner:
            continue
        fdef = gd.library.function.add()
        if g.meta.get("tf_function_rest"):
            fdef.ParseFromString(g.meta["tf_function_rest"])
        else:
            fdef.signature.name = g.name
        for node in g.nodes:
            node_to_proto(node, fdef.node_def.add(), function=True)
    return gd


def parse_graphdef(data: bytes, path: str, text: bool = False):
    """Parse GraphDef bytes (binary or text) and check it looks like one.

    Raises:
        ModelReadError: not a GraphDef.
    """
    from google.protobuf import message as pb_message
    from google.protobuf import text_format

    from modelkit.errors import ModelReadError
    gd = pb().graph.GraphDef()
    try:
        if text:
            text_format.Parse(data.decode("utf-8"), gd)
        else:
            gd.ParseFromString(data)
    except (pb_message.DecodeError, text_format.ParseError, UnicodeDecodeError) as e:
        kind = "text" if text else "binary"
        raise ModelReadError(f"not a {kind} GraphDef ({_short(e)})", path) from None
    check_graphdef(gd, path)
    return gd


def check_graphdef(gd, path: str) -> None:
    """Reject a message that parsed but is no GraphDef (e.g. another proto's bytes).

    Raises:
        ModelReadError: a node has no op or no name, or there is nothing at all.
    """
    from google.protobuf import unknown_fields

    from modelkit.errors import ModelReadError
    if not gd.node and not gd.library.function and not gd.versions.producer:
        raise ModelReadError("not a GraphDef: no nodes, functions or versions", path)
    hint = "(another protobuf, e.g. a MediaPipe graph?)"
    extra = [f.field_number for f in unknown_fields.UnknownFieldSet(gd)]
    if extra:
        raise ModelReadError(f"not a GraphDef: it has fields {sorted(set(extra))[:5]} that "
                             f"a GraphDef does not have {hint}", path)
    for i, nd in enumerate(gd.node):
        if not nd.op or not nd.name:
            raise ModelReadError(
                f"not a GraphDef: node #{i} has no {'op' if not nd.op else 'name'} {hint}", path)
        if len(unknown_fields.UnknownFieldSet(nd)):
            raise ModelReadError(
                f"not a GraphDef: node #{i} has fields a NodeDef does not have {hint}", path)


def _short(e: Exception) -> str:
    s = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return s[:160]


def model_from_graphdef(gd, fmt: str, path: str) -> Model:
    """A Model of one GraphDef (used by graphdef and, with a MetaGraph, by others)."""
    graphs, metadata = graphs_from_graphdef(gd)
    return Model(fmt, path, graphs, metadata=metadata,
                 meta={"tf_graphdef_rest": graphdef_rest(gd)})
