"""The common graph IR: Model, Graph, Node, Value, Signature.

Plain Python objects; no protobuf or flatbuffer object is held here. Format
adapters keep what they need to write a file back without loss in the
`meta` dicts, as plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelkit.ir.dtypes import DType
from modelkit.ir.quant import QuantParams
from modelkit.ir.tensor import TensorData


class EnumValue(str):
    """An enum attribute: compares and prints as its name, keeps its number.

    `EnumValue("RELU", 1)` == "RELU"; `.code` == 1. Unknown numbers get the
    name `"<Enum> <n>"` so nothing is lost.
    """

    __slots__ = ("code",)

    def __new__(cls, name: str, code: int) -> EnumValue:
        obj = super().__new__(cls, name)
        obj.code = int(code)
        return obj

    def __repr__(self) -> str:
        return f"{str(self)}({self.code})"

    def __reduce__(self):
        return (EnumValue, (str(self), self.code))


@dataclass(frozen=True)
class FuncRef:
    """A reference to a function (TF `func` attr), with its own attrs."""

    name: str
    attrs: dict = field(default_factory=dict, hash=False, compare=False)


class Value:
    """A tensor as an edge of the graph.

    Attributes:
        name: tensor name (TF: `node:port`; TFLite: the tensor name).
        dtype: element type, or None when unknown.
        shape: dims, None for an unknown dimension; None for unknown rank.
        shape_signature: TFLite's shape signature (-1 for dynamic dims), when kept.
        quant: quantization parameters, or None.
        data: constant data, or None for activations.
        producer: the node that writes it, None for inputs and constants.
        consumers: (node, input position) pairs, kept by `Node.set_input`.
        index: the location in the source (TFLite tensor index), or None.
        is_variable: a variable (TF variable, TFLite variable tensor, checkpoint entry).
        meta: format-specific plain data (buffer index, sparsity, ...).
    """

    __slots__ = ("name", "dtype", "shape", "shape_signature", "quant", "data", "producer",
                 "consumers", "index", "is_variable", "meta")

    def __init__(self, name: str, dtype: DType | None = None,
                 shape: tuple[int | None, ...] | None = None, *,
                 shape_signature: tuple[int, ...] | None = None,
                 quant: QuantParams | None = None, data: TensorData | None = None,
                 index: int | None = None, is_variable: bool = False,
                 meta: dict | None = None) -> None:
        self.name = name
        self.dtype = dtype
        self.shape = None if shape is None else tuple(shape)
        self.shape_signature = None if shape_signature is None else tuple(shape_signature)
        self.quant = quant
        self.data = data
        self.producer: Node | None = None
        self.consumers: list[tuple[Node, int]] = []
        self.index = index
        self.is_variable = is_variable
        self.meta = meta if meta is not None else {}

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def nbytes(self) -> int | None:
        """Bytes of the constant data, or of one dense tensor of the shape when known."""
        if self.data is not None:
            return self.data.nbytes
        if self.dtype is None or self.shape is None or any(d is None for d in self.shape):
            return None
        n = 1
        for d in self.shape:
            n *= d  # type: ignore[operator]
        return self.dtype.nbytes(n)

    def type_str(self) -> str:
        """`int8[1,34]`, `float32[?,224,224,3]`, `float32[*]` for unknown rank."""
        dt = str(self.dtype) if self.dtype else "?"
        if self.shape is None:
            return f"{dt}[*]"
        dims = []
        sig = self.shape_signature
        for i, d in enumerate(self.shape):
            dynamic = sig is not None and i < len(sig) and sig[i] == -1
            dims.append("?" if d is None or dynamic else str(d))
        return f"{dt}[{','.join(dims)}]"

    def __repr__(self) -> str:
        return f"Value({self.name!r}, {self.type_str()})"


class Node:
    """An operation.

    Attributes:
        name: node name (TFLite: the first output's name, as the runtime shows it).
        op: the op type in the format's own vocabulary (`Conv2D`, `CONV_2D`, `Dense`).
        domain: `tf`, `tflite` or `keras`.
        inputs: ordered input Values; None for an omitted optional input.
        outputs: ordered output Values.
        attrs: typed attributes (enums as EnumValue, functions as FuncRef, tensors as TensorData).
        index: the location in the source (TFLite operator index, GraphDef node position).
        subgraphs: indices or names of graphs this node calls (WHILE body, function).
        control_inputs: names of nodes that must run first (TF `^name`).
        device: placement (TF), else "".
        version: op version (TFLite operator code version), else None.
        custom: True for a TFLite custom op (op is then its custom_code).
        meta: format-specific plain data for lossless writing.
    """

    __slots__ = ("name", "op", "domain", "_inputs", "outputs", "attrs", "index", "subgraphs",
                 "control_inputs", "device", "version", "custom", "meta")

    def __init__(self, name: str, op: str, domain: str, inputs=(), outputs=(), *,
                 attrs: dict[str, Any] | None = None, index: int | None = None,
                 subgraphs: list | None = None, control_inputs: list[str] | None = None,
                 device: str = "", version: int | None = None, custom: bool = False,
                 meta: dict | None = None) -> None:
        self.name = name
        self.op = op
        self.domain = domain
        self._inputs: list[Value | None] = []
        self.outputs: list[Value] = []
        self.attrs = attrs if attrs is not None else {}
        self.index = index
        self.subgraphs = subgraphs if subgraphs is not None else []
        self.control_inputs = control_inputs if control_inputs is not None else []
        self.device = device
        self.version = version
        self.custom = custom
        self.meta = meta if meta is not None else {}
        for v in inputs:
            self.append_input(v)
        for v in outputs:
            self.add_output(v)

    @property
    def inputs(self) -> tuple[Value | None, ...]:
        """Input Values; change them only through `set_input`/`append_input`."""
        return tuple(self._inputs)

    def append_input(self, value: Value | None) -> None:
        self._inputs.append(None)
        self.set_input(len(self._inputs) - 1, value)

    def set_input(self, position: int, value: Value | None) -> None:
        """Point input `position` at `value`, keeping both Values' consumers right."""
        old = self._inputs[position]
        if old is not None:
            old.consumers = [(n, i) for n, i in old.consumers if not (n is self and i == position)]
        self._inputs[position] = value
        if value is not None:
            value.consumers.append((self, position))

    def add_output(self, value: Value) -> None:
        value.producer = self
        self.outputs.append(value)

    def __repr__(self) -> str:
        return f"Node({self.name!r}, {self.op})"


@dataclass
class SignatureIO:
    """One named input or output of a signature."""

    key: str
    tensor_name: str = ""
    dtype: DType | None = None
    shape: tuple[int | None, ...] | None = None
    value: Value | None = None


@dataclass
class Signature:
    """A named entry point (TFLite SignatureDef, SavedModel signature)."""

    key: str
    inputs: list[SignatureIO] = field(default_factory=list)
    outputs: list[SignatureIO] = field(default_factory=list)
    graph: int = 0
    method_name: str = ""
    meta: dict = field(default_factory=dict)


class Graph:
    """A graph: TFLite subgraph, GraphDef, TF function, Keras model.

    Attributes:
        name: graph name ("" when the format has none).
        nodes: nodes in execution order where the format has one, else source order.
        values: every tensor, in the format's order (TFLite: tensor index).
        inputs: graph inputs.
        outputs: graph outputs.
        meta: format-specific plain data.
    """

    __slots__ = ("name", "nodes", "values", "inputs", "outputs", "meta", "_by_name")

    def __init__(self, name: str = "", nodes: list[Node] | None = None,
                 values: list[Value] | None = None, inputs: list[Value] | None = None,
                 outputs: list[Value] | None = None, meta: dict | None = None) -> None:
        self.name = name
        self.nodes = nodes if nodes is not None else []
        self.values = values if values is not None else []
        self.inputs = inputs if inputs is not None else []
        self.outputs = outputs if outputs is not None else []
        self.meta = meta if meta is not None else {}
        self._by_name: dict[str, Value] | None = None

    def value(self, name: str) -> Value | None:
        """The first Value called `name` (also without a trailing `:0`)."""
        if self._by_name is None or len(self._by_name) > len(self.values):
            self._by_name = {}
            for v in self.values:
                self._by_name.setdefault(v.name, v)
        found = self._by_name.get(name)
        if found is None and name.endswith(":0"):
            found = self._by_name.get(name[:-2])
        if found is None and ":" not in name:
            found = self._by_name.get(name + ":0")
        return found

    def node(self, name: str) -> Node | None:
        """The node called `name`, or None."""
        for n in self.nodes:
            if n.name == name:
                return n
        return None

    @property
    def constants(self) -> list[Value]:
        return [v for v in self.values if v.data is not None and not v.is_variable]

    @property
    def variables(self) -> list[Value]:
        return [v for v in self.values if v.is_variable]

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, {len(self.nodes)} nodes, {len(self.values)} values)"


class Model:
    """A loaded model of any format.

    Attributes:
        format: the adapter's name (`tflite`, `graphdef`, `savedmodel`, `checkpoint`, `keras_h5`).
        path: where it was read from (a file or a folder), or None.
        graphs: the main graph first; subgraphs and library functions follow.
        signatures: named entry points.
        metadata: producer, versions, description, min runtime, metadata buffers.
        meta: format-specific plain data the writer needs.
    """

    __slots__ = ("format", "path", "graphs", "signatures", "metadata", "meta")

    def __init__(self, format: str, path: str | None = None, graphs: list[Graph] | None = None,
                 signatures: list[Signature] | None = None, metadata: dict | None = None,
                 meta: dict | None = None) -> None:
        self.format = format
        self.path = path
        self.graphs = graphs if graphs is not None else []
        self.signatures = signatures if signatures is not None else []
        self.metadata = metadata if metadata is not None else {}
        self.meta = meta if meta is not None else {}

    @property
    def main(self) -> Graph:
        """The main graph (the first)."""
        return self.graphs[0]

    def __repr__(self) -> str:
        return f"Model({self.format!r}, {self.path!r}, {len(self.graphs)} graphs)"
