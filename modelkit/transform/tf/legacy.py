"""dequantize_legacy: turn a TF1 eight-bit graph back into a float graph.

TF1's `quantize_weights` and `quantize_nodes` leave graphs of QuantizeV2,
Quantized* ops, Requantize/RequantizationRange and Dequantize that no current
converter takes (the TFLite converter fails on `qint32`). This pass undoes them:

- every eight-bit tensor (value, min, max) is traced to a float source:
  QuantizeV2 -> its float input; Requantize -> the source of its input;
  a quantized Const with constant min/max -> a float Const computed with the
  Dequantize formula of its mode (`modelkit.quant.legacy`); a quantized
  Placeholder (quantize_nodes' input_min/input_max) -> the same Placeholder in
  float; `Quantized<Op>` -> the float op, named as the op it came from;
- every Dequantize is replaced by the float source of its input;
- the glue that nothing needs any more (QuantizeV2, Min/Max/Reshape range
  measurement, RequantizationRange, Requantize, fixed-range Consts) is pruned.

Fixed ranges (fallback_min/max, freeze_requantization_ranges) and dynamic ones
are handled alike: ranges only clip and round, so dropping them brings the
outputs back toward the float graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modelkit.ir import DType, Graph, Model, Node, Value
from modelkit.ir.edit import clone_model, replace_uses
from modelkit.quant.legacy import dequantize
from modelkit.transform.base import Param, Params, PassContext, PassResult, TransformError, \
    register
from modelkit.transform.tf._graph import (const_array, copy_attrs, execution_order,
                                          output_names, prune_unreachable)
from modelkit.transform.tf._tfgraph import const_node, new_node


@dataclass(frozen=True)
class _FloatOp:
    """How a Quantized* op maps back to its float op.

    Attributes:
        op: the float op type.
        plain: input positions passed through unchanged (shapes, axes).
        quantized: number of eight-bit data inputs (each with a min and a max).
        leading_plain: the plain inputs come first (QuantizedConcat's axis).
        attrs: attrs copied from the quantized op.
        type_attrs: float type attrs to set (name -> DType.FLOAT32).
        concat: the op takes a variable number of quantized inputs (attr N).
    """

    op: str
    plain: tuple[int, ...] = ()
    quantized: int = 1
    attrs: tuple[str, ...] = ()
    type_attrs: tuple[str, ...] = ("T",)
    concat: bool = False


# Every op quantize_nodes emits (tools/graph_transforms/quantize_nodes.cc), plus the
# Quantized ops other TF1 tools wrote with the same (value, min, max) convention.
FLOAT_OPS: dict[str, _FloatOp] = {
    "QuantizedConv2D": _FloatOp("Conv2D", quantized=2,
                                attrs=("strides", "padding", "dilations")),
    "QuantizedDepthwiseConv2D": _FloatOp("DepthwiseConv2dNative", quantized=2,
                                         attrs=("strides", "padding", "dilations")),
    "QuantizedConv2DTranspose": _FloatOp("Conv2DBackpropInput", plain=(0,), quantized=2,
                                         attrs=("strides", "padding", "dilations")),
    "QuantizedMatMul": _FloatOp("MatMul", quantized=2, attrs=("transpose_a", "transpose_b")),
    "QuantizedBiasAdd": _FloatOp("BiasAdd", quantized=2),
    "QuantizedAdd": _FloatOp("Add", quantized=2),
    "QuantizedMul": _FloatOp("Mul", quantized=2),
    "QuantizedRelu": _FloatOp("Relu"),
    "QuantizedRelu6": _FloatOp("Relu6"),
    "QuantizedReluX": _FloatOp("Relu"),
    "QuantizedMaxPool": _FloatOp("MaxPool", attrs=("ksize", "strides", "padding")),
    "QuantizedAvgPool": _FloatOp("AvgPool", attrs=("ksize", "strides", "padding")),
    "QuantizedReshape": _FloatOp("Reshape", plain=(1,), attrs=("Tshape",)),
    "QuantizedResizeBilinear": _FloatOp("ResizeBilinear", plain=(1,),
                                        attrs=("align_corners", "half_pixel_centers")),
    "QuantizedConcat": _FloatOp("Concat", plain=(0,), quantized=0, attrs=("N",), concat=True),
}

# Ops that only move eight-bit tensors around; they vanish.
GLUE_OPS = frozenset({"QuantizeV2", "Requantize", "RequantizationRange", "Dequantize",
                      "QuantizeDownAndShrinkRange"})


def _split_inputs(node: Node, spec: _FloatOp) -> tuple[list[Value | None], list[int]]:
    """The float op's inputs in order, and which of them are eight-bit (by position)."""
    ins = list(node.inputs)
    if spec.concat:
        n = node.attrs.get("N")
        if not isinstance(n, int):
            n = (len(ins) - 1) // 3
        data = [ins[0]] + ins[1:1 + n]
        return data, list(range(1, 1 + n))
    total = len(spec.plain) + spec.quantized
    data = ins[:total]
    return data, [i for i in range(total) if i not in spec.plain]


class _Reverser:
    """Maps eight-bit tensors to float Values in one graph, creating float nodes once."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.memo: dict[int, Value] = {}
        self.names = {n.name for n in graph.nodes}
        self.doomed_names: set[str] = set()
        self.created: list[Node] = []
        self.const_mode: dict[int, tuple[str, str, bool, int]] = {}
        self.placeholders: list[Node] = []
        for n in graph.nodes:
            if n.op == "Dequantize" and n.inputs and n.inputs[0] is not None:
                src = n.inputs[0].producer
                if src is not None and src.op == "Const":
                    self.const_mode[id(n.inputs[0])] = (
                        str(n.attrs.get("mode", "MIN_COMBINED")), n.name,
                        bool(n.attrs.get("narrow_range", False)), int(n.attrs.get("axis", -1)))

    def _name(self, base: str) -> str:
        # NOTE: the Dequantize that carries the original float name is removed, so its
        # name is free for the float op that replaces it.
        name = base
        i = 0
        while name in self.names and name not in self.doomed_names:
            i += 1
            name = f"{base}_float" if i == 1 else f"{base}_float_{i}"
        self.names.add(name)
        self.doomed_names.discard(name)
        return name

    def float_of(self, value: Value, rng: tuple[Value | None, Value | None]) -> Value:
        """The float Value for eight-bit `value` whose range is `rng` (min, max Values).

        Raises:
            TransformError: the tensor comes from something this pass cannot reverse.
        """
        got = self.memo.get(id(value))
        if got is not None:
            return got
        node = value.producer
        if node is None:
            raise TransformError(f"eight-bit tensor '{value.name}' has no producer")
        if node.op in ("QuantizeV2", "QuantizeAndDequantizeV2"):
            out = node.inputs[0]
        elif node.op in ("Requantize", "QuantizeDownAndShrinkRange"):
            out = self.float_of(node.inputs[0], (node.inputs[1], node.inputs[2]))
        elif node.op == "Const":
            out = self._float_const(value, rng)
        elif node.op in ("Placeholder", "PlaceholderWithDefault"):
            node.attrs["dtype"] = DType.FLOAT32
            value.dtype = DType.FLOAT32
            self.placeholders.append(node)
            out = value
        elif node.op in FLOAT_OPS:
            out = self._float_op(node)
        else:
            raise TransformError(
                f"cannot reverse eight-bit tensor '{value.name}' made by {node.op} "
                f"'{node.name}'; dequantize_legacy knows {', '.join(sorted(FLOAT_OPS))}")
        if out is None:
            raise TransformError(f"'{node.name}' ({node.op}) has no float input")
        self.memo[id(value)] = out
        return out

    def _float_const(self, value: Value, rng) -> Value:
        node = value.producer
        assert node is not None
        codes = const_array(value)
        lo, hi = const_array(rng[0]), const_array(rng[1])
        if codes is None or lo is None or hi is None:
            raise TransformError(f"quantized Const '{node.name}' has no constant min/max")
        dtype = value.dtype or node.attrs.get("dtype")
        if not isinstance(dtype, DType) or not (dtype.is_quantized_legacy or dtype.is_integer):
            raise TransformError(f"Const '{node.name}' of type {dtype} is not eight-bit")
        # NOTE: quantized ops read their inputs with the MIN_FIRST formula; a Dequantize
        # that reads this Const says which mode the writer meant.
        mode, deq_name, narrow, axis = self.const_mode.get(
            id(value), ("MIN_FIRST", "", False, -1))
        real = dequantize(codes, lo, hi, dtype, mode, narrow_range=narrow, axis=axis)
        base = deq_name or node.name.removesuffix("_quantized_const")
        made = const_node(self.graph, self._name(base), real.astype(np.float32),
                          DType.FLOAT32)
        self.created.append(made)
        return made.outputs[0]

    def _float_op(self, node: Node) -> Value:
        spec = FLOAT_OPS[node.op]
        data, qpos = _split_inputs(node, spec)
        ranges = self._ranges(node, spec, len(qpos))
        inputs: list[Value | None] = []
        k = 0
        for i, v in enumerate(data):
            if i in qpos:
                if v is None:
                    raise TransformError(f"'{node.name}' ({node.op}) misses input {i}")
                inputs.append(self.float_of(v, ranges[k]))
                k += 1
            else:
                inputs.append(v)
        base = node.name.removesuffix("/eightbit")
        attrs = {t: DType.FLOAT32 for t in spec.type_attrs}
        if spec.op == "Reshape":
            shape = data[1]
            attrs["Tshape"] = shape.dtype if shape is not None and shape.dtype else DType.INT32
        made = new_node(self.graph, self._name(base), spec.op, inputs, attrs,
                        outputs=[DType.FLOAT32], device=node.device)
        copy_attrs(node, made, [a for a in spec.attrs if a != "Tshape"])
        if spec.op == "Concat":
            made.attrs["N"] = len(qpos)
        self.created.append(made)
        return made.outputs[0]

    @staticmethod
    def _ranges(node: Node, spec: _FloatOp, count: int) -> list[tuple]:
        """(min, max) Values of each eight-bit input, in the op's min/max layout."""
        ins = list(node.inputs)
        if spec.concat:
            n = count
            mins = ins[1 + n:1 + 2 * n]
            maxs = ins[1 + 2 * n:1 + 3 * n]
            return list(zip(mins, maxs))
        start = len(spec.plain) + spec.quantized
        rest = ins[start:]
        return [(rest[2 * i] if 2 * i < len(rest) else None,
                 rest[2 * i + 1] if 2 * i + 1 < len(rest) else None) for i in range(count)]


def float_outputs(graph: Graph, outputs: list[str]) -> list[str]:
    """The outputs that are not eight-bit glue.

    quantize_nodes leaves dead QuantizeV2 branches, which output detection sees
    as sinks; they are no outputs of the float model.

    Raises:
        TransformError: nothing but glue is left.
    """
    by_name = {n.name: n for n in graph.nodes}
    kept = [o for o in outputs
            if o not in by_name or not (by_name[o].op in GLUE_OPS - {"Dequantize"}
                                        or by_name[o].op.startswith("Quantized"))]
    if outputs and not kept:
        raise TransformError(f"the outputs ({', '.join(outputs[:5])}) are all eight-bit "
                             f"glue; name the float outputs with --outputs")
    return kept


def reverse_graph(graph: Graph, outputs: list[str], inputs: list[str]) -> tuple[int, int]:
    """Dequantize `graph` in place.

    Returns:
        (Dequantize nodes replaced, float nodes created).

    Raises:
        TransformError: an eight-bit tensor cannot be traced to a float source.
    """
    rev = _Reverser(graph)
    deqs = [n for n in graph.nodes if n.op == "Dequantize"]
    if not deqs and not any(n.op in FLOAT_OPS for n in graph.nodes):
        return 0, 0
    rev.doomed_names = {n.name for n in deqs}
    replaced = 0
    renamed_outputs: list[tuple[str, Value]] = []
    for d in deqs:
        q = d.inputs[0] if d.inputs else None
        if q is None:
            continue
        rng = (d.inputs[1] if len(d.inputs) > 1 else None,
               d.inputs[2] if len(d.inputs) > 2 else None)
        f = rev.float_of(q, rng)
        if d.name in outputs and (f.producer is None or f.producer.name != d.name):
            renamed_outputs.append((d.name, f))
        replace_uses(d.outputs[0], f, graph=graph)
        replaced += 1
    # NOTE: the replaced Dequantize nodes are pruned below; rename them now so their
    # names (reused by the float ops) stay unique meanwhile.
    for d in deqs:
        d.name = f"{d.name}__dequantized_legacy"
        for v in d.outputs:
            v.name = f"{d.name}:{v.name.rpartition(':')[2]}"
    # An output that was a Dequantize keeps its name through an Identity.
    for name, f in renamed_outputs:
        ident = new_node(graph, name, "Identity", [f], {"T": DType.FLOAT32},
                         outputs=[DType.FLOAT32])
        graph.outputs = [ident.outputs[0] if v is f else v for v in graph.outputs]
        rev.created.append(ident)
    graph._by_name = None
    prune_unreachable(graph, outputs, inputs)
    left = sorted({n.op for n in graph.nodes
                   if n.op in FLOAT_OPS or n.op in GLUE_OPS or n.op.startswith("Quantized")})
    if left:
        raise TransformError(f"eight-bit ops remain after reversing: {', '.join(left)} "
                             f"(they feed an output without a Dequantize)")
    graph.nodes = execution_order(graph.nodes)
    return replaced, len(rev.created)


@register("dequantize_legacy", params=[
    Param("outputs", "output node names (default: the graph's outputs)", repeated=True)],
    doc="turn a TF1 eight-bit graph (quantize_weights/quantize_nodes) back into float")
def dequantize_legacy(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Reverse TF1 legacy quantization: quantized weights, Quantized* ops and their glue."""
    out = clone_model(model)
    graph = out.main
    outputs = float_outputs(graph, params.list("outputs") or output_names(graph, ctx))
    inputs = [i.split(":")[0] for i in ctx.inputs]
    replaced, created = reverse_graph(graph, outputs, inputs)
    if not replaced and not created:
        return PassResult(model, False, ["no legacy quantized ops"])
    return PassResult(out, True, [f"{replaced} Dequantize replaced, {created} float nodes "
                                  f"and constants made"])
