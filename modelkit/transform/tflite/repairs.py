"""TFLite repairs that keep what the model computes as its file states it.

Each pass fixes one kind of `modelkit check` finding (the finding's `fix` names
the pass) and says per node what it changed:

- `requantize_bias`: re-quantize a bias to scale input_scale * weight_scale[c]
  (the scale the kernels read it at), keeping the real bias values the file states.
- `align_quant`: give pooling/reshape outputs their input's quantization, and a
  concatenation's output its inputs' common quantization (these ops copy integers,
  so the output's real values are the input's; the new parameters state them).
- `softmax_output_params` / `logistic_output_params` / `log_softmax_output_params`:
  the output parameters the quantized kernels require (the ops' real output range is
  fixed: [0, 1], or [-16, 0) for LOG_SOFTMAX).
"""

from __future__ import annotations

import numpy as np

from modelkit.ir import ArrayData, DType, Model, Node, QuantParams, Value
from modelkit.ir.edit import clone_model
from modelkit.quant.tflite_ops import FIXED_OUTPUT_PARAMS, QUANT_TYPES, WEIGHT_OPS, WEIGHT_TYPES, quantized, weight_io
from modelkit.transform.base import Param, Params, PassContext, PassResult, register

_COPY_OPS = ("MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "SQUEEZE", "EXPAND_DIMS")
_NODE_PARAM = Param("node", "only these node indices of graph 0 (repeatable); default all",
                    repeated=True)


def _where(gi: int, node: Node) -> str:
    return f"graph {gi} node {node.index} ({node.op} {node.name!r})"


def _selected(params: Params, gi: int, node: Node) -> bool:
    wanted = params.list("node")
    return not wanted or (gi == 0 and str(node.index) in wanted)


def _copy_quant(q: QuantParams, storage: DType | None) -> QuantParams:
    return QuantParams(q.scale.copy(), q.zero_point.copy(), q.axis, storage=storage,
                       details=dict(q.details))


def _graph_output_note(graph, v: Value) -> str:
    return " (a model output: read it with the new parameters)" if v in graph.outputs else ""


@register("requantize_bias", domain="tflite", params=(_NODE_PARAM,),
          doc="Re-quantize biases to input_scale * weight_scale[c], keeping their real values.")
def requantize_bias(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Re-quantize conv/FC biases whose scale is not input_scale * weight_scale[c]."""
    model = clone_model(model)
    notes: list[str] = []
    changed = False
    for gi, graph in enumerate(model.graphs):
        for node in graph.nodes:
            if node.op not in WEIGHT_OPS or not _selected(params, gi, node):
                continue
            x, w, b, _ = weight_io(node)
            qx, qw, qb = quantized(x), quantized(w), quantized(b)
            if qx is None or qw is None or qb is None or b.data is None or \
                    x.dtype not in QUANT_TYPES or w.dtype not in WEIGHT_TYPES:
                continue
            want = (np.float32(qx.scale[0]) * qw.scale.astype(np.float32)).astype(np.float64)
            have = np.broadcast_to(qb.scale.astype(np.float32).astype(np.float64), want.shape)
            if np.allclose(have, want, rtol=1e-6, atol=0):
                continue
            where = _where(gi, node)
            if len(b.consumers) > 1:
                notes.append(f"{where}: not fixed: bias {b.name!r} is shared by "
                             f"{len(b.consumers)} nodes")
                continue
            ints = np.asarray(b.data.numpy()).reshape(-1).astype(np.float64)
            per_tensor = want.size == 1
            if per_tensor:
                want, have = np.full(ints.shape, want[0]), np.full(ints.shape, have[0])
            if ints.size != want.size:
                notes.append(f"{where}: not fixed: bias has {ints.size} values for "
                             f"{want.size} weight scales")
                continue
            zp = np.broadcast_to(qb.zero_point[:1] if qb.zero_point.size != want.size
                                 else qb.zero_point, want.shape).astype(np.float64)
            real = have * (ints - zp)
            new = np.sign(real / want) * np.floor(np.abs(real / want) + 0.5)
            dtype = b.dtype if b.dtype in (DType.INT32, DType.INT64) else DType.INT32
            lo, hi = dtype.integer_range()
            if new.min() < lo or new.max() > hi:
                notes.append(f"{where}: not fixed: the bias {b.name!r} at scale "
                             f"{want.min():.6g} overflows {dtype}")
                continue
            b.data = ArrayData(new.astype(dtype.numpy).reshape(b.data.shape), dtype)
            scales = want[:1] if per_tensor else want
            b.quant = QuantParams(scales, np.zeros(scales.shape, np.int64),
                                  None if per_tensor else (qb.axis or 0), storage=dtype,
                                  details=dict(qb.details))
            c = int(np.argmax(np.abs(have - want) / want))
            notes.append(f"{where}: bias {b.name!r} scale {have[c]:.6g} -> {want[c]:.6g}"
                         f"{'' if per_tensor else f' (channel {c} of {want.size})'}"
                         ", integers re-quantized to the same real values")
            changed = True
    return PassResult(model, changed, notes)


@register("align_quant", domain="tflite", params=(_NODE_PARAM,),
          doc="Give pooling/reshape/concatenation outputs the quantization of their inputs.")
def align_quant(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Set copy-op outputs' quantization to their inputs' (lossless: the ops copy integers)."""
    model = clone_model(model)
    notes: list[str] = []
    changed = False
    for gi, graph in enumerate(model.graphs):
        for node in graph.nodes:
            if not _selected(params, gi, node) or not node.outputs:
                continue
            y = node.outputs[0]
            qy = quantized(y)
            if qy is None or y.dtype not in QUANT_TYPES:
                continue
            if node.op in _COPY_OPS:
                sources = [node.inputs[0]]
            elif node.op == "CONCATENATION" and y.dtype in (DType.INT8, DType.INT16):
                sources = [t for t in node.inputs if t is not None]
            else:
                continue
            qs = [quantized(t) for t in sources]
            if any(q is None for q in qs):
                continue
            keys = {(float(np.float32(q.scale[0])), int(q.zero_point[0])) for q in qs}
            key_y = (float(np.float32(qy.scale[0])), int(qy.zero_point[0]))
            where = _where(gi, node)
            if len(keys) > 1:
                notes.append(f"{where}: not fixed: the inputs have {len(keys)} different "
                             "scales/zero points; aligning them needs re-quantizing an input "
                             "(lossy)")
                continue
            if keys == {key_y}:
                continue
            if node.op == "CONCATENATION" and y.dtype == DType.INT16 and keys.pop()[1] != 0:
                notes.append(f"{where}: not fixed: int16 inputs with nonzero zero point")
                continue
            old = qy
            y.quant = _copy_quant(qs[0], y.quant.storage or y.dtype)
            notes.append(f"{where}: output {y.name!r} scale {old.scale[0]:.6g} zp "
                         f"{int(old.zero_point[0])} -> {y.quant.scale[0]:.6g} zp "
                         f"{int(y.quant.zero_point[0])}{_graph_output_note(graph, y)}")
            changed = True
    return PassResult(model, changed, notes)


def _set_output(model: Model, params: Params, op: str) -> PassResult:
    wanted = FIXED_OUTPUT_PARAMS[op]
    model = clone_model(model)
    notes: list[str] = []
    changed = False
    for gi, graph in enumerate(model.graphs):
        for node in graph.nodes:
            if node.op != op or not _selected(params, gi, node):
                continue
            y = node.outputs[0]
            qy = quantized(y)
            target = wanted.get(y.dtype) if qy is not None else None
            if target is None:
                continue
            scale, zp = target
            if np.float32(qy.scale[0]) == np.float32(scale) and int(qy.zero_point[0]) == zp:
                continue
            notes.append(f"{_where(gi, node)}: output {y.name!r} scale {qy.scale[0]:.6g} zp "
                         f"{int(qy.zero_point[0])} -> {scale:.6g} zp {zp}"
                         f"{_graph_output_note(graph, y)}")
            y.quant = QuantParams([scale], [zp], None, storage=y.dtype)
            changed = True
    return PassResult(model, changed, notes)


@register("softmax_output_params", domain="tflite", params=(_NODE_PARAM,),
          doc="Set int8/int16 SOFTMAX outputs to the parameters the kernels require.")
def softmax_output_params(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """int8: scale 1/256, zero point -128; int16: 1/32768, 0."""
    return _set_output(model, params, "SOFTMAX")


@register("logistic_output_params", domain="tflite", params=(_NODE_PARAM,),
          doc="Set quantized LOGISTIC outputs to the parameters the kernels require.")
def logistic_output_params(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """int8: scale 1/256, zero point -128; uint8: 1/256, 0; int16: 1/32768, 0."""
    return _set_output(model, params, "LOGISTIC")


@register("log_softmax_output_params", domain="tflite", params=(_NODE_PARAM,),
          doc="Set quantized LOG_SOFTMAX outputs to the parameters the kernels require.")
def log_softmax_output_params(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """int8: scale 16/256, zero point 127; uint8: 16/256, 255."""
    return _set_output(model, params, "LOG_SOFTMAX")
