"""TF1 eight-bit passes of graph_transforms, on the IR.

- `round_weights` (round_weights.cc): float Consts of 16+ elements rounded to
  `num_steps` evenly spaced values (bucket centres).
- `quantize_weights` (quantize_weights.cc): float Consts of `minimum_size`+
  elements become quint8 Consts (MIN_FIRST codes, range widened to hold 0) with
  `_quantized_min`/`_quantized_max` and a Dequantize carrying the old name.
- `quantize_nodes` (quantize_nodes.cc): every float op with an eight-bit kernel
  becomes `Quantized<Op>` fed by QuantizeV2 of each float input (range measured
  by Reshape/Min/Max), qint32 results narrowed by Requantize (range from
  RequantizationRange, or fixed by fallback_min/fallback_max), and a Dequantize
  that takes the float op's name. FakeQuantWithMinMaxVars with constant ranges
  become QuantizeV2/Requantize/Dequantize (their trained ranges), `input_min`/
  `input_max` make float Placeholders quint8. Then duplicates are merged and
  Dequantize -> QuantizeV2 pairs between eight-bit ops are bypassed.
- `freeze_requantization_ranges` (freeze_requantization_ranges.cc):
  RequantizationRange nodes become Consts from an insert_logging log.

`dequantize_legacy` (legacy.py) undoes what these leave.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelkit.errors import UsageError
from modelkit.ir import DType, Graph, Model, Node, Value
from modelkit.ir.edit import clone_model, remove_nodes, replace_uses
from modelkit.quant.legacy import quantize_min_first
from modelkit.transform.base import Param, Params, PassContext, PassResult, TransformError, \
    register
from modelkit.transform.tf._graph import (const_array, copy_attrs, find_matches,
                                          merge_duplicates_tf, rename, set_const, set_spelling,
                                          spelled_inputs, used_outside)
from modelkit.transform.tf._tfgraph import const_node, new_node, node_name, required_names

_FLT_MAX = float(np.finfo(np.float32).max)
_FLT_MIN = float(np.finfo(np.float32).tiny)


def _float_consts(graph: Graph, minimum: int) -> list[tuple[Node, np.ndarray]]:
    out = []
    for n in graph.nodes:
        if n.op != "Const" or n.attrs.get("dtype") != DType.FLOAT32:
            continue
        arr = const_array(n.outputs[0]) if n.outputs else None
        if arr is None or arr.size < minimum:
            continue
        out.append((n, np.asarray(arr, np.float32)))
    return out


def _range_of(values: np.ndarray) -> tuple[float, float]:
    """min/max as TF's loops find them (max starts at FLT_MIN, a positive number)."""
    lo = min(_FLT_MAX, float(values.min())) if values.size else _FLT_MAX
    hi = max(_FLT_MIN, float(values.max())) if values.size else _FLT_MIN
    return float(np.float32(lo)), float(np.float32(hi))


# ----------------------------------------------------------------------------- round_weights

@register("round_weights", params=[Param("num_steps", "levels to round to", default="256")],
          doc="round float Consts (16+ elements) to num_steps evenly spaced values")
def round_weights(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Round large float constants to a few levels (compresses well, stays float)."""
    steps = params.int("num_steps", 256)
    out = clone_model(model)
    count = 0
    for node, arr in _float_consts(out.main, 16):
        lo, hi = _range_of(arr)
        if lo == hi:
            if abs(lo) < 0.000001:
                hi = lo + 1.0
            elif lo > 0:
                hi = 2.0 * lo
            else:
                lo = 2.0 * hi
        width = np.float32(np.float32(hi) - np.float32(lo)) / np.float32(steps)
        bucket = np.floor((arr - np.float32(lo)) / width).astype(np.int32)
        rounded = (np.float32(lo) + width * (bucket.astype(np.float32) + np.float32(0.5)))
        set_const(node, rounded.astype(np.float32), DType.FLOAT32)
        count += 1
    if not count:
        return PassResult(model, False, [])
    return PassResult(out, True, [f"{count} constants rounded to {steps} levels"])


# ----------------------------------------------------------------------------- quantize_weights


def quantize_weight_consts(graph: Graph, minimum: int) -> int:
    """quantize_weights on `graph` in place; returns how many Consts were quantized."""
    count = 0
    for node, arr in _float_consts(graph, minimum):
        lo, hi = _range_of(arr)
        lo, hi = min(lo, 0.0), max(0.0, hi)
        if lo == hi:
            if abs(lo) < 0.000001:
                hi = lo + 1.0
            elif lo > 0:
                hi = 2.0 * lo
            else:
                hi = lo / 2.0
        lo, hi = float(np.float32(lo)), float(np.float32(hi))
        codes = quantize_min_first(arr, lo, hi, DType.QUINT8)
        name = node.name
        rename(node, f"{name}_quantized_const")
        set_const(node, codes, DType.QUINT8)
        qmin = const_node(graph, f"{name}_quantized_min", np.float32(lo), DType.FLOAT32,
                          after=node)
        qmax = const_node(graph, f"{name}_quantized_max", np.float32(hi), DType.FLOAT32,
                          after=qmin)
        deq = new_node(graph, name, "Dequantize",
                       [node.outputs[0], qmin.outputs[0], qmax.outputs[0]],
                       {"T": DType.QUINT8, "mode": "MIN_FIRST"}, outputs=[DType.FLOAT32],
                       after=qmax)
        for c, pos in list(node.outputs[0].consumers):
            if c is not deq:
                c.set_input(pos, deq.outputs[0])
        graph.outputs = [deq.outputs[0] if v is node.outputs[0] else v for v in graph.outputs]
        count += 1
    graph._by_name = None
    return count


@register("quantize_weights", params=[
    Param("minimum_size", "quantize float Consts with at least this many elements",
          default="1024")],
    doc="store large float Consts as quint8 with a Dequantize (MIN_FIRST)")
def quantize_weights(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Replace large float constants by eight-bit ones plus a Dequantize."""
    out = clone_model(model)
    count = quantize_weight_consts(out.main, params.int("minimum_size", 1024))
    if not count:
        return PassResult(model, False, [])
    return PassResult(out, True, [f"{count} constants quantized to quint8"])


# ----------------------------------------------------------------------------- quantize_nodes

@dataclass(frozen=True)
class _OpInfo:
    """How quantize_nodes turns a float op into its eight-bit kernel."""

    target: str
    attrs: tuple[str, ...]
    dtypes: tuple[tuple[str, DType], ...]
    out_qint32: bool
    unquantized: frozenset[int] = field(default_factory=frozenset)
    separate_min_max: bool = False


_Q8, _Q32 = DType.QUINT8, DType.QINT32
# quantize_nodes.cc GetQuantizedOpList, in its order.
OP_LIST: dict[str, _OpInfo] = {
    "Add": _OpInfo("QuantizedAdd", (), (("T1", _Q8), ("T2", _Q8), ("Toutput", _Q32)), True),
    "AvgPool": _OpInfo("QuantizedAvgPool", ("ksize", "strides", "padding"), (("T", _Q8),),
                       False),
    "BiasAdd": _OpInfo("QuantizedBiasAdd", (), (("T1", _Q8), ("T2", _Q8), ("out_type", _Q32)),
                       True),
    "Concat": _OpInfo("QuantizedConcat", ("N",), (("T", _Q8),), False, frozenset({0}), True),
    "Conv2D": _OpInfo("QuantizedConv2D", ("strides", "padding"),
                      (("Tinput", _Q8), ("Tfilter", _Q8), ("out_type", _Q32)), True),
    "Conv2DBackpropInput": _OpInfo("QuantizedConv2DTranspose", ("strides", "padding"),
                                   (("Tinput", _Q8), ("Tfilter", _Q8), ("out_type", _Q32)),
                                   True, frozenset({0})),
    "MatMul": _OpInfo("QuantizedMatMul", ("transpose_a", "transpose_b"),
                      (("T1", _Q8), ("T2", _Q8), ("Toutput", _Q32)), True),
    "MaxPool": _OpInfo("QuantizedMaxPool", ("ksize", "strides", "padding"), (("T", _Q8),),
                       False),
    "Mul": _OpInfo("QuantizedMul", (), (("T1", _Q8), ("T2", _Q8), ("Toutput", _Q32)), True),
    "Relu": _OpInfo("QuantizedRelu", (), (("Tinput", _Q8),), False),
    "ResizeBilinear": _OpInfo("QuantizedResizeBilinear", ("align_corners",), (("T", _Q8),),
                              False, frozenset({1})),
    "Relu6": _OpInfo("QuantizedRelu6", (), (("Tinput", _Q8),), False),
    "Reshape": _OpInfo("QuantizedReshape", (), (("T", _Q8),), False, frozenset({1})),
}


def _input_string(node: Node, i: int) -> str:
    """The NodeDef input string of input `i` as TF would see it (original spelling kept)."""
    return spelled_inputs(node)[i]


def _spell(node: Node, texts: dict[int, str] | list[str]) -> None:
    """Record how TF spells some data inputs of `node` (`x:0` rather than `x`)."""
    set_spelling(node, dict(enumerate(texts)) if isinstance(texts, list) else texts)


def _unique_from_input(text: str) -> str:
    """TF's UniqueNodeNameFromInput: `^a:1` -> `__hat__a__port__1`."""
    prefix = "__hat__" if text.startswith("^") else ""
    text = text.lstrip("^")
    head, sep, port = text.rpartition(":")
    if sep and port.isdigit():
        return f"{prefix}{head}__port__{port}"
    return prefix + text


def _scalar(graph: Graph, name: str, value: float, before: Node | None = None) -> Node:
    return const_node(graph, name, np.float32(value), DType.FLOAT32, before=before)


def _range_params(params: Params, lo: str, hi: str) -> tuple[float, float] | None:
    if not params.has(lo) and not params.has(hi):
        return None
    if not (params.has(lo) and params.has(hi)):
        raise UsageError(f"You must pass both {lo} and {hi} into quantize_nodes")
    return params.float(lo, 0.0), params.float(hi, 0.0)


def _quantize_placeholders(graph: Graph, rng: tuple[float, float]) -> None:
    for ph in [n for n in graph.nodes if n.op == "Placeholder"]:
        prefix = f"{ph.name}_eightbit"
        users = list(ph.outputs[0].consumers)
        ph.attrs["dtype"] = DType.QUINT8
        ph.outputs[0].dtype = DType.QUINT8
        lo = _scalar(graph, f"{prefix}/min", rng[0])
        hi = _scalar(graph, f"{prefix}/max", rng[1])
        deq = new_node(graph, f"{prefix}/dequantize", "Dequantize",
                       [ph.outputs[0], lo.outputs[0], hi.outputs[0]],
                       {"T": DType.QUINT8, "mode": "MIN_FIRST"}, outputs=[DType.FLOAT32])
        for c, pos in users:
            c.set_input(pos, deq.outputs[0])
        graph.outputs = [deq.outputs[0] if v is ph.outputs[0] else v for v in graph.outputs]


_CONST = ("Const",)
_FAKE_QUANT = ("FakeQuantWithMinMaxVars", [("*",), _CONST, _CONST])
_ADJACENT_REQUANTIZES = (
    "Requantize", [
        ("QuantizeV2", [
            ("Dequantize", [
                ("Requantize", [("*",), ("*",), ("*",), ("RequantizationRange",),
                                ("RequantizationRange",)]),
                ("Requantize",), ("Requantize",)]),
            _CONST, _CONST]),
        ("QuantizeV2",), ("QuantizeV2",), _CONST, _CONST])


def _hoist_fake_quants(graph: Graph) -> int:
    """Move FakeQuantWithMinMaxVars up through chains of single-input ops (3, then 2,
    then 1 deep), next to the op with the 32-bit result (TF's HoistFakeQuants)."""
    count = 0
    for depth in (3, 2, 1):
        chain: tuple = ("*",)
        for _ in range(depth):
            chain = ("*", [chain])
        pattern = ("FakeQuantWithMinMaxVars", [chain, _CONST, _CONST])
        for m, outside in [(m, used_outside(graph, m)) for m in find_matches(graph, pattern)]:
            fq = m.node
            linear: list[Node] = []
            cur = m
            for _ in range(depth + 1):
                cur = cur.inputs[0]
                linear.append(cur.node)
            kept = {f"{fq.name}_hoisted", m.inputs[1].node.name, m.inputs[2].node.name,
                    fq.name} | {n.name for n in linear[1:]}
            if outside - kept:
                continue
            name = fq.name
            top = linear[-2]
            hoisted = new_node(graph, f"{name}_hoisted", fq.op,
                               [top.inputs[0], fq.inputs[1], fq.inputs[2]], outputs=1,
                               before=top)
            hoisted.outputs[0].dtype = DType.FLOAT32
            copy_attrs(fq, hoisted, list(fq.attrs))
            top.set_input(0, hoisted.outputs[0])
            rename(fq, f"{name}__moved")
            replace_uses(fq.outputs[0], linear[0].outputs[0], graph=graph)
            remove_nodes(graph, [fq])
            rename(linear[0], name)
            count += 1
    return count


def _convert_fake_quants(graph: Graph) -> int:
    """FakeQuantWithMinMaxVars(x, Const, Const) -> QuantizeV2(qint32) -> Requantize with
    the trained range -> Dequantize (TF's ConvertFakeQuantsToRequantize)."""
    count = 0
    for m, outside in [(m, used_outside(graph, m)) for m in find_matches(graph, _FAKE_QUANT)]:
        fq = m.node
        if outside - {fq.name, m.inputs[0].node.name, m.inputs[1].node.name,
                      m.inputs[2].node.name}:
            continue
        prefix = f"{fq.name}_eightbit"
        x, lo, hi = fq.inputs
        q = new_node(graph, f"{prefix}/quantize", "QuantizeV2", [x, lo, hi],
                     {"T": DType.QINT32, "mode": "MIN_FIRST"},
                     outputs=[DType.QINT32, DType.FLOAT32, DType.FLOAT32], before=fq)
        rq = new_node(graph, f"{prefix}/requantize", "Requantize",
                      [*q.outputs, lo, hi], {"Tinput": DType.QINT32, "out_type": DType.QUINT8},
                      outputs=[DType.QUINT8, DType.FLOAT32, DType.FLOAT32], before=fq)
        _spell(rq, {0: q.outputs[0].name, 1: q.outputs[1].name, 2: q.outputs[2].name})
        _replace_by_dequantize(graph, fq, rq, "__fake_quant")
        count += 1
    return count


def _merge_adjacent_requantizes(graph: Graph) -> int:
    """A Requantize with a trained range after a dynamic one: the 32-bit result goes
    straight into the trained one (TF's MergeAdjacentRequantizes)."""
    count = 0
    matches = [(m, used_outside(graph, m)) for m in find_matches(graph, _ADJACENT_REQUANTIZES)]
    for m, outside in matches:
        root = m.node
        original = m.inputs[0].inputs[0].inputs[0].inputs[0].node
        lo, hi = m.inputs[3].node, m.inputs[4].node
        if outside - {original.name, lo.name, hi.name, root.name}:
            continue
        inner = m.inputs[0].inputs[0].inputs[0].node
        sources = list(inner.inputs[:3])
        for pos, v in enumerate(sources):
            root.set_input(pos, v)
        _spell(root, {0: f"{original.name}:0", 1: f"{original.name}:1",
                      2: f"{original.name}:2"})
        dead = [n for n in m.nodes() if n not in (root, original, lo, hi)]
        for n in dead:
            for k in range(len(n.inputs)):
                n.set_input(k, None)
        remove_nodes(graph, [n for n in dead if not any(v.consumers for v in n.outputs)])
        count += 1
    return count


def _is_float_op(node: Node, info: _OpInfo) -> bool:
    return node.attrs.get("T") == DType.FLOAT32


def _quantize_op(graph: Graph, node: Node, info: _OpInfo,
                 fallback: tuple[float, float] | None) -> None:
    """Replace float `node` by its eight-bit island (see the module doc)."""
    prefix = f"{node.name}_eightbit"
    made: dict[str, Node] = {}
    quantized: list[Node] = []
    for i, v in enumerate(node.inputs):
        if i in info.unquantized:
            continue
        text = _input_string(node, i)
        base = f"{prefix}/{_unique_from_input(text)}"
        if base in made:
            quantized.append(made[base])
            continue
        src = node_name(text)
        dims = const_node(graph, f"{base}/reshape_dims", np.array([-1], np.int32),
                          DType.INT32, control_inputs=[src], before=node)
        red = const_node(graph, f"{base}/reduction_dims", np.array([0], np.int32),
                         DType.INT32, control_inputs=[src], before=node)
        reshape = new_node(graph, f"{base}/reshape", "Reshape", [v, dims.outputs[0]],
                           {"T": DType.FLOAT32}, outputs=[DType.FLOAT32], before=node)
        _spell(reshape, [text, dims.name])
        mn = new_node(graph, f"{base}/min", "Min", [reshape.outputs[0], red.outputs[0]],
                      {"T": DType.FLOAT32, "keep_dims": False}, outputs=[DType.FLOAT32],
                      before=node)
        mx = new_node(graph, f"{base}/max", "Max", [reshape.outputs[0], red.outputs[0]],
                      {"T": DType.FLOAT32, "keep_dims": False}, outputs=[DType.FLOAT32],
                      before=node)
        q = new_node(graph, f"{base}/quantize", "QuantizeV2", [v, mn.outputs[0], mx.outputs[0]],
                     {"T": DType.QUINT8, "mode": "MIN_FIRST"},
                     outputs=[DType.QUINT8, DType.FLOAT32, DType.FLOAT32], before=node)
        _spell(q, [text, mn.name, mx.name])
        made[base] = q
        quantized.append(q)
    main_inputs: list[Value | None] = []
    k = 0
    for i, v in enumerate(node.inputs):
        if i in info.unquantized:
            main_inputs.append(v)
        else:
            main_inputs.append(quantized[k].outputs[0])
            k += 1
    if info.separate_min_max:
        main_inputs += [q.outputs[1] for q in quantized] + [q.outputs[2] for q in quantized]
    else:
        for q in quantized:
            main_inputs += [q.outputs[1], q.outputs[2]]
    out_type = DType.QINT32 if info.out_qint32 else DType.QUINT8
    main = new_node(graph, f"{node.name}/eightbit", info.target, main_inputs,
                    outputs=[out_type, DType.FLOAT32, DType.FLOAT32],
                    control_inputs=node.control_inputs, before=node)
    _spell(main, [_input_string(node, i) if i in info.unquantized else v.name
                  for i, v in enumerate(main_inputs)])
    copy_attrs(node, main, info.attrs)
    for name, dt in info.dtypes:
        main.attrs[name] = dt
        main.meta["tf_attr_kinds"][name] = "type"
    eight = main
    if info.out_qint32:
        if fallback is not None:
            lo = _scalar(graph, f"{main.name}/fallback_min", fallback[0], before=node)
            hi = _scalar(graph, f"{main.name}/fallback_max", fallback[1], before=node)
            rmin, rmax = lo.outputs[0], hi.outputs[0]
        else:
            rr = new_node(graph, f"{main.name}/requant_range", "RequantizationRange",
                          list(main.outputs), {"Tinput": DType.QINT32},
                          outputs=[DType.FLOAT32, DType.FLOAT32], before=node)
            _spell(rr, [v.name for v in main.outputs])
            rmin, rmax = rr.outputs[0], rr.outputs[1]
        eight = new_node(graph, f"{main.name}/requantize", "Requantize",
                         [*main.outputs, rmin, rmax],
                         {"Tinput": DType.QINT32, "out_type": DType.QUINT8},
                         outputs=[DType.QUINT8, DType.FLOAT32, DType.FLOAT32], before=node)
        _spell(eight, {0: main.outputs[0].name, 1: main.outputs[1].name,
                       2: main.outputs[2].name,
                       3: rmin.name if fallback is None else rmin.producer.name,
                       4: rmax.name if fallback is None else rmax.producer.name})
    _replace_by_dequantize(graph, node, eight, "__float")


def _replace_by_dequantize(graph: Graph, node: Node, eight: Node, suffix: str) -> None:
    """Put a MIN_FIRST Dequantize of `eight`'s (value, min, max) in `node`'s place.

    The Dequantize takes `node`'s name, so consumers and fetches keep working, as
    TF's quantize_nodes does; `node` is renamed with `suffix` and removed.
    """
    name = node.name
    rename(node, f"{name}{suffix}")
    deq = new_node(graph, name, "Dequantize", list(eight.outputs),
                   {"T": DType.QUINT8, "mode": "MIN_FIRST"}, outputs=[DType.FLOAT32],
                   before=node)
    _spell(deq, [v.name for v in eight.outputs])
    replace_uses(node.outputs[0], deq.outputs[0], graph=graph)
    remove_nodes(graph, [node])


def _remove_redundant_quantizations(graph: Graph, outputs: set[str]) -> int:
    """Bypass Dequantize -> QuantizeV2 pairs (TF's RemoveRedundantQuantizations)."""
    matched: set[int] = set()
    count = 0
    doomed: list[Node] = []
    for q in list(graph.nodes):
        if q.op != "QuantizeV2" or len(q.inputs) != 3 or id(q) in matched:
            continue
        srcs = [v.producer if v is not None else None for v in q.inputs]
        if any(s is None for s in srcs) or [s.op for s in srcs] != ["Dequantize", "Min", "Max"]:
            continue
        if any(id(s) in matched for s in srcs):
            continue
        deq = srcs[0]
        group = [q, *srcs]
        matched |= {id(n) for n in group}
        for port in range(3):
            if port < len(q.outputs) and port < len(deq.inputs):
                text = _input_string(deq, port)
                for c, pos in list(q.outputs[port].consumers):
                    c.set_input(pos, deq.inputs[port])
                    _spell(c, {pos: text})
                graph.outputs = [deq.inputs[port] if v is q.outputs[port] else v
                                 for v in graph.outputs]
        ids = {id(n) for n in group}
        used_outside = any(id(c) not in ids for v in deq.outputs for c, _ in v.consumers)
        if not used_outside and deq.name not in outputs:
            doomed.extend(group)
        count += 1
    if doomed:
        remove_nodes(graph, doomed)
    return count


def quantize_graph(graph: Graph, ctx: PassContext, *, ignore_ops: set[str],
                   input_range: tuple[float, float] | None,
                   fallback: tuple[float, float] | None) -> int:
    """quantize_nodes on `graph` in place; returns how many ops became eight-bit."""
    if input_range is not None:
        _quantize_placeholders(graph, input_range)
    _hoist_fake_quants(graph)
    _convert_fake_quants(graph)
    ops = {k: v for k, v in OP_LIST.items() if k not in ignore_ops}
    count = 0
    for node in list(graph.nodes):
        info = ops.get(node.op)
        if info is None or not _is_float_op(node, info):
            continue
        if any(v is None for v in node.inputs):
            continue
        _quantize_op(graph, node, info, fallback)
        count += 1
    _merge_adjacent_requantizes(graph)
    keep = required_names(ctx)
    merge_duplicates_tf(graph, {node_name(k) for k in keep})
    outputs = {node_name(o) for o in ctx.outputs}
    _remove_redundant_quantizations(graph, outputs)
    graph._by_name = None
    return count


@register("quantize_nodes", params=[
    Param("input_min", "range of quantized float Placeholders (with input_max)"),
    Param("input_max", "range of quantized float Placeholders (with input_min)"),
    Param("fallback_min", "fixed requantization range (with fallback_max)"),
    Param("fallback_max", "fixed requantization range (with fallback_min)"),
    Param("ignore_op", "float op types to leave alone", repeated=True),
], doc="replace float ops by TF1 eight-bit Quantized* ops with QuantizeV2/Requantize glue")
def quantize_nodes(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF1 legacy eight-bit quantization of a float graph."""
    input_range = _range_params(params, "input_min", "input_max")
    fallback = _range_params(params, "fallback_min", "fallback_max")
    out = clone_model(model)
    count = quantize_graph(out.main, ctx, ignore_ops=set(params.list("ignore_op")),
                           input_range=input_range, fallback=fallback)
    if not count and input_range is None:
        return PassResult(model, False, [])
    return PassResult(out, True, [f"{count} ops quantized"])


# ----------------------------------------------------------------------------- freeze ranges

_PRINT_SUFFIX = "__print__"
_REQUANT_PREFIX = "__requant_min_max:"


def parse_min_max_log(text: str) -> list[tuple[str, float, float]]:
    """(node name, min, max) records from insert_logging output, as TF parses them."""
    records = []
    for line in text.split("\n"):
        if f"{_PRINT_SUFFIX};{_REQUANT_PREFIX}" not in line:
            continue
        parts = line.split(";")
        if len(parts) < 2:
            continue
        idx = None
        for i in range(1, len(parts)):
            if parts[i].startswith(_REQUANT_PREFIX):
                idx = i
        if idx is None:
            continue
        pieces = parts[idx].split("[")
        if len(pieces) != 3 or pieces[0] != _REQUANT_PREFIX:
            continue
        lo_parts, hi_parts = pieces[1].split("]"), pieces[2].split("]")
        if len(lo_parts) != 2 or len(hi_parts) != 2:
            continue
        try:
            lo, hi = float(lo_parts[0]), float(hi_parts[0])
        except ValueError:
            continue
        name = parts[idx - 1]
        if not name.endswith(_PRINT_SUFFIX):
            continue
        records.append((name[:-len(_PRINT_SUFFIX)], lo, hi))
    return records


def _c_round(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


@register("freeze_requantization_ranges", params=[
    Param("min_max_log_file", "insert_logging output with the observed ranges"),
    Param("min_percentile", "percentile of the observed minimums to use", default="5"),
    Param("max_percentile", "percentile of the observed maximums to use", default="5"),
], doc="replace RequantizationRange ops by Consts of ranges seen in a log")
def freeze_requantization_ranges(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Fix requantization ranges from a calibration log (insert_logging output)."""
    path = params.str("min_max_log_file", "") or ""
    if not path:
        raise UsageError("freeze_requantization_ranges: You must pass a file name to "
                         "min_max_log_file")
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise UsageError(f"{path}: cannot read the min/max log ({e.strerror})") from None
    records = parse_min_max_log(text)
    if not records:
        raise TransformError("No min/max range logs were found in the log file")
    lo_pct = params.float("min_percentile", 5.0)
    hi_pct = params.float("max_percentile", 5.0)
    out = clone_model(model)
    graph = out.main
    by_name = {n.name: n for n in graph.nodes}
    per_node: dict[str, tuple[list[float], list[float]]] = {}
    for name, lo, hi in records:
        per_node.setdefault(name, ([], []))
        per_node[name][0].append(lo)
        per_node[name][1].append(hi)
    missing = sorted(n for n in per_node if n not in by_name)
    if missing:
        raise TransformError(f"Nodes were found in the log file that aren't present in the "
                             f"graph: {', '.join(missing[:5])}")
    for name in sorted(per_node):
        node = by_name[name]
        if node.op != "RequantizationRange":
            raise TransformError(f"Node is expected to be a RequantizationRange op: {name}, "
                                 f"but is: {node.op}")
        mins, maxs = sorted(per_node[name][0]), sorted(per_node[name][1])
        lo_i = max(0, _c_round(len(mins) * float(np.float32(lo_pct / 100.0))))
        hi_i = min(len(maxs) - 1,
                   _c_round(len(maxs) * float(np.float32(1.0 - hi_pct / 100.0))))
        lo_i = min(lo_i, len(mins) - 1)
        lo_c = _scalar(graph, f"{name}/frozen_min", mins[lo_i], before=node)
        hi_c = _scalar(graph, f"{name}/frozen_max", maxs[hi_i], before=node)
        replace_uses(node.outputs[0], lo_c.outputs[0], graph=graph)
        replace_uses(node.outputs[1], hi_c.outputs[0], graph=graph)
        remove_nodes(graph, [node])
    return PassResult(out, True, [f"{len(per_node)} requantization ranges frozen"])
