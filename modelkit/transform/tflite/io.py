"""TFLite interface rewrites: the type of the model's inputs/outputs, tensor names.

`set_io_type` does what TF's modify_model_interface
(tensorflow/lite/tools/optimize/modify_model_interface.cc) does, and more: it
removes the QUANTIZE/DEQUANTIZE at the model's edges for int8/int16 IO, makes
uint8 IO (zero point + 128, same scale) with a requantizing QUANTIZE, and also
goes back (float32 IO on a model with integer IO, uint8 <-> int8), which TF's
tool cannot. The IO tensors keep their names and signatures follow them (TF's
tool leaves signatures pointing at the removed tensors).
"""

from __future__ import annotations

from modelkit.errors import UsageError
from modelkit.ir import DType, Graph, Model, Node, QuantParams, Value
from modelkit.ir.edit import clone_model, prune_values, remove_nodes
from modelkit.quant.tflite_ops import QUANT_TYPES
from modelkit.transform.base import Param, Params, PassContext, PassResult, TransformError, register

_TYPES = {"float32": DType.FLOAT32, "int8": DType.INT8, "uint8": DType.UINT8,
          "int16": DType.INT16}
# Op versions the converter writes for these types.
_QUANTIZE_VERSION = {DType.UINT8: 1, DType.INT8: 2, DType.INT16: 3}
_DEQUANTIZE_VERSION = {DType.UINT8: 1, DType.INT8: 2, DType.INT16: 3}


def _type(params: Params, name: str, default: str | None) -> DType | None:
    text = params.str(name, default)
    if text is None:
        return None
    t = _TYPES.get(text.lower())
    if t is None:
        raise UsageError(f"set_io_type: {name} must be one of {', '.join(_TYPES)}, "
                         f"found {text}")
    return t


def _entry_graphs(model: Model) -> list[int]:
    """The graphs callers feed: those of the signatures, else the first."""
    found = sorted({s.graph for s in model.signatures})
    return found or [0]


def _requant(q: QuantParams, to: DType) -> QuantParams:
    """The same real grid stored as `to` (uint8 <-> int8: zero point +/- 128)."""
    shift = 0
    if q.storage == DType.INT8 and to == DType.UINT8:
        shift = 128
    elif q.storage == DType.UINT8 and to == DType.INT8:
        shift = -128
    elif q.storage != to:
        raise TransformError(f"cannot store {q.storage} quantization as {to}")
    return QuantParams(scale=q.scale.copy(), zero_point=q.zero_point + shift, axis=q.axis,
                       storage=to)


def _new_value(graph: Graph, like: Value, name: str, dtype: DType,
               quant: QuantParams | None) -> Value:
    v = Value(name, dtype, like.shape, shape_signature=like.shape_signature, quant=quant,
              meta={"has_rank": like.meta.get("has_rank", 1)})
    graph.values.append(v)
    return v


def _op(name: str, op: str, inputs: list[Value], outputs: list[Value], io_type: DType) -> Node:
    table = _QUANTIZE_VERSION if op == "QUANTIZE" else _DEQUANTIZE_VERSION
    return Node(name, op, "tflite", inputs, outputs, version=table.get(io_type, 1))


def _inner_input(graph: Graph, v: Value) -> tuple[Value, Node | None]:
    """The quantized tensor the model computes on for input `v`, and the edge op.

    An input read only by one QUANTIZE (float->int, or uint8->int8 requantize)
    has that QUANTIZE's output as its inner tensor.
    """
    users = v.consumers
    if len(users) == 1 and users[0][0].op == "QUANTIZE" and len(users[0][0].outputs) == 1:
        node = users[0][0]
        out = node.outputs[0]
        if out.quant is not None and out.dtype in QUANT_TYPES and \
                (v.dtype == DType.FLOAT32 or v.dtype in QUANT_TYPES) and v not in graph.outputs:
            return out, node
    return v, None


def _inner_output(graph: Graph, v: Value) -> tuple[Value, Node | None]:
    """The quantized tensor the model computes for output `v`, and the edge op
    (a DEQUANTIZE to float, or a requantizing QUANTIZE)."""
    node = v.producer
    if node is not None and node.op in ("DEQUANTIZE", "QUANTIZE") and len(node.inputs) == 1:
        src = node.inputs[0]
        if src is not None and src.quant is not None and src.dtype in QUANT_TYPES and \
                src not in graph.inputs:
            return src, node
    return v, None


def _only_used_by(v: Value, node: Node) -> bool:
    return all(n is node for n, _ in v.consumers)


def _retarget_signatures(model: Model, gi: int, old: Value, new: Value) -> None:
    for sig in model.signatures:
        if sig.graph != gi:
            continue
        for io in list(sig.inputs) + list(sig.outputs):
            if io.value is old:
                io.value = new
                io.tensor_name = new.name
                io.dtype = new.dtype


def _needs_change(kind: str, v: Value, inner: Value, edge: Node | None, want: DType) -> bool:
    """Whether giving the graph input or output `v` type `want` changes the model.

    Args:
        kind: "input" or "output".
        inner: the quantized tensor behind `v` (`v` itself when there is no edge op).
        edge: the QUANTIZE/DEQUANTIZE between `v` and `inner`, or None.

    Raises:
        TransformError: `v` is float inside and a quantized type is asked for.
    """
    if v.dtype == want and (want != DType.FLOAT32 or edge is not None or inner.quant is None):
        return False
    if inner.quant is None or inner.dtype not in QUANT_TYPES:
        if want == DType.FLOAT32 and v.dtype == DType.FLOAT32:
            return False
        ops = "feeds float ops" if kind == "input" else "comes from float ops"
        raise TransformError(f"{kind} {v.name} {ops}; quantize the model first "
                             f"(modelkit convert --quantize int8) to give it {want} {kind}")
    return True


def _edge_quant(kind: str, name: str, inner: Value, want: DType) -> QuantParams | None:
    """The quantization of a `want`-typed graph input or output at the quantized `inner`.

    Raises:
        TransformError: the model computes in a type `want` cannot stand for.
    """
    if want == DType.FLOAT32:
        return None
    if {want, inner.dtype} == {DType.INT8, DType.UINT8}:
        return _requant(inner.quant, want)
    takes = [inner.dtype, DType.FLOAT32]
    if inner.dtype in (DType.INT8, DType.UINT8):
        takes.insert(1, DType.UINT8 if inner.dtype == DType.INT8 else DType.INT8)
    raise TransformError(f"{kind} {name}: the model computes in {inner.dtype}; {want} {kind} "
                         f"is not possible ({inner.dtype} models take "
                         f"{', '.join(str(t) for t in takes)})")


def _set_input(model: Model, gi: int, pos: int, want: DType) -> str | None:
    """Make input `pos` of graph `gi` of type `want`; returns a note, None if unchanged."""
    graph = model.graphs[gi]
    v = graph.inputs[pos]
    inner, edge = _inner_input(graph, v)
    if not _needs_change("input", v, inner, edge, want):
        return None
    name = v.name
    if want == inner.dtype:
        # Remove the edge op: the inner tensor becomes the input, under the old name.
        if edge is not None:
            remove_nodes(graph, [edge])
            graph.values = [x for x in graph.values if x is not v]
            inner.producer = None
            inner.name = name
        graph.inputs[pos] = inner
        _retarget_signatures(model, gi, v, inner)
        return f"input {name}: {v.dtype} -> {inner.dtype}"
    q = _edge_quant("input", name, inner, want)
    if edge is not None:
        # Keep the edge op; only the outer tensor's type changes (as TF does for uint8).
        v.dtype, v.quant = want, q
        v.meta.pop("tflite_type", None)
        return f"input {name}: {inner.dtype} inside, input now {want}"
    if inner.producer is not None:
        raise TransformError(f"input {name} is produced by an op")
    new = _new_value(graph, inner, name, want, q)
    inner.name = f"{name}_{inner.dtype}"
    op = _op(new.name, "QUANTIZE", [new], [], inner.dtype)
    # NOTE: the inner tensor keeps its users; the new QUANTIZE writes it.
    op.add_output(inner)
    graph.nodes.insert(0, op)
    graph.inputs[pos] = new
    _retarget_signatures(model, gi, inner, new)
    return f"input {name}: {inner.dtype} -> {want} (QUANTIZE added)"


def _set_output(model: Model, gi: int, pos: int, want: DType) -> str | None:
    graph = model.graphs[gi]
    v = graph.outputs[pos]
    inner, edge = _inner_output(graph, v)
    if not _needs_change("output", v, inner, edge, want):
        return None
    name = v.name
    if want == inner.dtype:
        if edge is not None:
            if v.consumers:
                raise TransformError(f"output {name} is also read inside the model")
            remove_nodes(graph, [edge])
            graph.values = [x for x in graph.values if x is not v]
            if inner not in graph.outputs:
                inner.name = name
        graph.outputs[pos] = inner
        _retarget_signatures(model, gi, v, inner)
        return f"output {name}: {v.dtype} -> {inner.dtype}"
    q = _edge_quant("output", name, inner, want)
    op_name = "DEQUANTIZE" if want == DType.FLOAT32 else "QUANTIZE"
    if edge is not None:
        v.dtype, v.quant = want, q
        v.meta.pop("tflite_type", None)
        edge.op = op_name
        edge.version = (_QUANTIZE_VERSION if op_name == "QUANTIZE"
                        else _DEQUANTIZE_VERSION).get(inner.dtype, 1)
        return f"output {name}: {inner.dtype} inside, output now {want}"
    new = _new_value(graph, inner, name, want, q)
    if inner not in graph.outputs[:pos] + graph.outputs[pos + 1:]:
        inner.name = f"{name}_{inner.dtype}"
    graph.nodes.append(_op(new.name, op_name, [inner], [new], inner.dtype))
    graph.outputs[pos] = new
    _retarget_signatures(model, gi, inner, new)
    return f"output {name}: {inner.dtype} -> {want} ({op_name} added)"


@register("set_io_type", domain="tflite", example="set_io_type(type=int8)", params=[
    Param("type", "input and output type: int8, uint8, int16 or float32"),
    Param("input_type", "input type only (overrides type)"),
    Param("output_type", "output type only (overrides type)"),
], doc="set the model's input/output type, removing or adding QUANTIZE/DEQUANTIZE at "
       "its edges (TF's modify_model_interface)")
def set_io_type(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Give the entry graphs' inputs/outputs the requested types.

    uint8 IO keeps the quantized model's scale with zero point + 128; the result
    computes the same values as before (within one quantization step of the IO).
    """
    base = _type(params, "type", None)
    want_in = _type(params, "input_type", None) or base
    want_out = _type(params, "output_type", None) or base
    if want_in is None and want_out is None:
        raise UsageError("set_io_type expects a 'type' (or input_type/output_type) argument, "
                         "e.g. set_io_type(type=int8)")
    out = clone_model(model)
    notes = []
    for gi in _entry_graphs(out):
        graph = out.graphs[gi]
        if want_out is not None:
            for pos in range(len(graph.outputs)):
                note = _set_output(out, gi, pos, want_out)
                if note:
                    notes.append(note)
        if want_in is not None:
            for pos in range(len(graph.inputs)):
                note = _set_input(out, gi, pos, want_in)
                if note:
                    notes.append(note)
        prune_values(graph)
    return PassResult(out, bool(notes), notes)


@register("rename_tensor", domain="tflite", example="rename_tensor(old=x, new=y)", params=[
    Param("old", "the tensor's current name", required=True),
    Param("new", "its new name", required=True),
], doc="rename a tensor (and the signature entries that name it)")
def rename_tensor(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Rename every tensor called `old` (in every subgraph) to `new`.

    Raises:
        UsageError: no tensor has that name, or `new` is taken in the same subgraph
            (a bad parameter, exit 2).
    """
    old, new = params.str("old"), params.str("new")
    out = clone_model(model)
    n = 0
    for gi, graph in enumerate(out.graphs):
        hits = [v for v in graph.values if v.name == old]
        if not hits:
            continue
        if any(v.name == new for v in graph.values):
            raise UsageError(f"rename_tensor: subgraph {gi} already has a tensor named "
                             f"{new}")
        for v in hits:
            v.name = new
            if v.producer is not None and v.producer.name == old:
                v.producer.name = new
            n += 1
        graph._by_name = None
        for sig in out.signatures:
            if sig.graph == gi:
                for io in list(sig.inputs) + list(sig.outputs):
                    if io.tensor_name == old:
                        io.tensor_name = new
    if not n:
        names = sorted({v.name for g in out.graphs for v in g.inputs + g.outputs})
        raise UsageError(f"rename_tensor: no tensor named {old} (inputs/outputs: "
                         f"{', '.join(names)})")
    return PassResult(out, True, [f"{old} -> {new}"])
