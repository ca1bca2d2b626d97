"""Helpers for passes on TensorFlow graphs: names as graph_transforms spells them,
new nodes that write back as valid NodeDefs, op registry facts, proto round trips.

Names follow TF's transform_utils: an input string is `[^]node[:port]`; the
node name of `^a:1` is `a`; the canonical form of `a` is `a:0`.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterable
from typing import Any

from modelkit.ir import DType, Graph, Model, Node, TensorData, Value
from modelkit.transform.base import PassContext, TransformError

# TF's DataTypeFromString names -> DataType enum numbers.
TF_TYPE_NAMES = {
    "float": 1, "double": 2, "int32": 3, "uint8": 4, "int16": 5, "int8": 6, "string": 7,
    "complex64": 8, "int64": 9, "bool": 10, "qint8": 11, "quint8": 12, "qint32": 13,
    "bfloat16": 14, "qint16": 15, "quint16": 16, "uint16": 17, "complex128": 18, "half": 19,
    "resource": 20, "variant": 21, "uint32": 22, "uint64": 23,
}


def node_name(input_name: str) -> str:
    """`^a:1` -> `a` (TF's NodeNameFromInput)."""
    name = input_name[1:] if input_name.startswith("^") else input_name
    return name.split(":", 1)[0]


def canonical_input(input_name: str) -> str:
    """`a` -> `a:0`, `^a` -> `^a:0`, `a:1:x` -> `a:1` (TF's CanonicalInputName)."""
    parts = input_name.split(":")
    return parts[0] + ":" + (parts[1] if len(parts) > 1 else "0")


def required_names(ctx: PassContext) -> set[str]:
    """Input and output names as given (graph_transforms keeps these nodes as they are)."""
    return set(ctx.inputs) | set(ctx.outputs)


def tf_type(name: str, what: str) -> Any:
    """A DType (or kept enum) for a TF type name such as `float` or `quint8`.

    Raises:
        UsageError: not a TF type name.
    """
    from modelkit.errors import UsageError
    from modelkit.formats._tfproto import dtype_from_code

    code = TF_TYPE_NAMES.get(name)
    if code is None:
        raise UsageError(f"{what}: couldn't understand type argument '{name}' "
                         f"(one of: {', '.join(TF_TYPE_NAMES)})")
    return dtype_from_code(code)


def parse_shape(text: str, what: str) -> tuple[int, ...]:
    """TF's TensorShapeFromString: `1,224,224,3` -> (1, 224, 224, 3) (-1 for unknown).

    Raises:
        UsageError: empty or not integers.
    """
    from modelkit.errors import UsageError

    if not text:
        raise UsageError(f"{what}: specified shape is empty")
    try:
        return tuple(int(d) for d in text.split(","))
    except ValueError:
        raise UsageError(f"{what}: could not parse as shape: '{text}'") from None


def main_graph(model: Model) -> Graph:
    """The GraphDef body of a TF model (graph_transforms works on it alone)."""
    if not model.graphs:
        raise TransformError("the model has no graph")
    return model.graphs[0]


def new_node(graph: Graph, name: str, op: str, inputs: Iterable[Value | None] = (),
             attrs: dict[str, Any] | None = None, *, kinds: dict[str, str] | None = None,
             outputs: int | list[DType | None] = 1, device: str = "",
             control_inputs: list[str] | None = None, before: Node | None = None,
             after: Node | None = None) -> Node:
    """Add a TF node to `graph` that writes back as a valid NodeDef.

    Args:
        inputs: input Values (written as `node` or `node:port`).
        attrs: typed attrs (DType for `type`, tuple for `shape`, TensorData for
            `tensor`, str for `s`, list[DType] for `list(type)`).
        kinds: AttrValue kinds where the python value is ambiguous (e.g. `list.type`
            for an empty list); the others are guessed from the values.
        outputs: how many outputs, or their dtypes.
        before / after: place the node next to this one (default: at the end).
    """
    from modelkit.formats._tfproto import _guess_kind
    from modelkit.ir.edit import add_node

    attrs = dict(attrs or {})
    all_kinds = {k: _guess_kind(v) for k, v in attrs.items()}
    all_kinds.update(kinds or {})
    node = Node(name, op, "tf", attrs=attrs, device=device,
                control_inputs=list(control_inputs or []))
    node.meta["tf_attr_kinds"] = all_kinds
    for v in inputs:
        node.append_input(v)
    dtypes = [None] * outputs if isinstance(outputs, int) else list(outputs)
    for port, dt in enumerate(dtypes):
        node.add_output(Value(f"{name}:{port}", dt, None))
    if op == "Const" and isinstance(attrs.get("value"), TensorData):
        data = attrs["value"] = stored_tensor(attrs["value"])
        node.outputs[0].data = data
        node.outputs[0].dtype = data.dtype
        node.outputs[0].shape = data.shape
    if after is not None:
        idx = graph.nodes.index(after) + 1
        before = graph.nodes[idx] if idx < len(graph.nodes) else None
    add_node(graph, node, before=before)
    return node


def stored_tensor(data: TensorData) -> TensorData:
    """`data` in the form the GraphDef reader gives a Const's tensor.

    A constant a pass makes must be the same object a write and a re-read of the
    graph would give: later passes (merge_duplicate_nodes, quantize_weights...)
    then see the same tensor whether they run in the same chain or after a save.
    """
    from modelkit.formats._tfproto import TFTensorData, pb, tensor_from_proto, tensor_to_proto

    if isinstance(data, TFTensorData):
        return data
    tp = pb().tensor.TensorProto()
    tensor_to_proto(data, tp)
    return tensor_from_proto(tp)


def tensor_of(array, dtype: DType | None = None) -> TensorData:
    """A numpy array as a Const's tensor (see `stored_tensor`)."""
    import numpy as np

    from modelkit.ir import ArrayData

    return stored_tensor(ArrayData(np.asarray(array), dtype))


def const_node(graph: Graph, name: str, array, dtype: DType | None = None, **where) -> Node:
    """Add a Const node holding `array` (attrs `dtype` and `value`, as TF writes them)."""
    data = tensor_of(array, dtype)
    return new_node(graph, name, "Const", (), {"dtype": data.dtype, "value": data},
                    outputs=[data.dtype], **where)


def set_attr(node: Node, key: str, value: Any, kind: str | None = None) -> None:
    """Set an attr and the AttrValue kind it is written with."""
    from modelkit.formats._tfproto import _guess_kind

    node.attrs[key] = value
    node.meta.setdefault("tf_attr_kinds", {})[key] = kind or _guess_kind(value)


def del_attr(node: Node, key: str) -> bool:
    """Remove an attr; True when it was there."""
    if key not in node.attrs:
        return False
    del node.attrs[key]
    node.meta.get("tf_attr_kinds", {}).pop(key, None)
    return True


def rename_controls(graph: Graph, mapping: dict[str, str | None]) -> None:
    """Rewrite `^old` control inputs to `^new` (dropped where new is None)."""
    if not mapping:
        return
    for n in graph.nodes:
        if n.control_inputs and any(c in mapping for c in n.control_inputs):
            out = []
            for c in n.control_inputs:
                c = mapping.get(c, c) if c in mapping else c
                if c is not None:
                    out.append(c)
            n.control_inputs = out


def refresh_outputs(graph: Graph) -> None:
    """Drop graph outputs whose producer left the graph."""
    alive = {id(n) for n in graph.nodes}
    graph.outputs = [v for v in graph.outputs if v.producer is None or id(v.producer) in alive]


# ----------------------------------------------------------------------------- op registry

@functools.cache
def _ops() -> dict:
    from modelkit.transform.tf._op_registry import OPS

    return OPS


def op_known(op: str) -> bool:
    return op in _ops()


def op_is_stateful(op: str) -> bool | None:
    """TF's OpDef.is_stateful, None for an op TF does not register."""
    entry = _ops().get(op)
    return None if entry is None else entry[0]


@functools.cache
def op_defaults(op: str) -> dict[str, tuple[Any, str]]:
    """attr -> (value, AttrValue kind) of the op's registered defaults."""
    from modelkit.formats._tfproto import attr_from_proto, pb

    entry = _ops().get(op)
    if entry is None:
        return {}
    out = {}
    for name, b64 in entry[1].items():
        av = pb().attr_value.AttrValue.FromString(base64.b64decode(b64))
        out[name] = attr_from_proto(av)
    return out


def output_types(node: Node) -> list[Any] | None:
    """The dtypes of every output of `node` from its OpDef (TF's InOutTypesForNode).

    Returns None for an op TF does not register or attrs that do not say.
    """
    from modelkit.formats._tfproto import dtype_from_code

    entry = _ops().get(node.op)
    if entry is None:
        return None
    out: list[Any] = []
    for _, type_enum, type_attr, number_attr, type_list_attr in entry[2]:
        if type_list_attr:
            types = node.attrs.get(type_list_attr)
            if not isinstance(types, list):
                return None
            out.extend(types)
            continue
        if type_attr:
            t = node.attrs.get(type_attr)
            if t is None:
                t = op_defaults(node.op).get(type_attr, (None, ""))[0]
            if t is None:
                return None
        else:
            t = dtype_from_code(type_enum)
        count = 1
        if number_attr:
            n = node.attrs.get(number_attr)
            if not isinstance(n, int):
                return None
            count = n
        out.extend([t] * count)
    return out


def output_arg_ports(op: str, node: Node) -> dict[str, int] | None:
    """The first flat output port of each output arg (for `node:arg:idx` references)."""
    entry = _ops().get(op)
    if entry is None:
        return None
    ports: dict[str, int] = {}
    port = 0
    for arg, _, _, number_attr, type_list_attr in entry[2]:
        ports[arg] = port
        if type_list_attr:
            types = node.attrs.get(type_list_attr)
            port += len(types) if isinstance(types, list) else 1
        elif number_attr:
            n = node.attrs.get(number_attr)
            port += n if isinstance(n, int) else 1
        else:
            port += 1
    return ports


# ----------------------------------------------------------------------------- proto route

def rebuild(model: Model, graph_def) -> Model:
    """A new Model from an edited GraphDef message, keeping the model's other graphs' meta.

    For passes that are simplest as NodeDef rewrites (inlining functions): the
    GraphDef is read back into the IR exactly as the loader would.
    """
    from modelkit.formats._tfproto import graphdef_rest, graphs_from_graphdef

    graphs, metadata = graphs_from_graphdef(graph_def)
    new = Model(model.format, model.path, graphs, [], dict(model.metadata),
                dict(model.meta))
    new.meta["tf_graphdef_rest"] = graphdef_rest(graph_def)
    new.metadata.update(metadata)
    return new
