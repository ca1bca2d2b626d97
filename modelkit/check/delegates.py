"""Which nodes the GPU and XNNPACK delegates take, which they hand back, and why.

A node a delegate hands back still runs, on the builtin CPU kernel: that costs speed,
not correctness, so these findings are warnings. Sources: LiteRT
`tflite/delegates/xnnpack/xnnpack_delegate.cc` (Visit*Node, CheckAffineQuantization,
CheckZeroPointForPerChannelQuantization) and `tflite/delegates/gpu/common/model_builder.cc`
(NewOperationParser, GetOpsToReplace).
"""

from __future__ import annotations

from collections.abc import Iterator

from modelkit.check.custom_ops import XNNPACK_CUSTOM_OPS
from modelkit.check.rules import Hit, rule
from modelkit.ir import DType, Node, Value
from modelkit.quant.tflite_ops import WEIGHT_OPS, quantized, weight_io

XNNPACK_OPS = frozenset({
    "ABS", "ADD", "AVERAGE_POOL_2D", "BATCH_MATMUL", "CEIL", "CONCATENATION", "CONV_2D", "COS",
    "DEPTH_TO_SPACE", "DEPTHWISE_CONV_2D", "DEQUANTIZE", "DIV", "ELU", "EXP", "EXPAND_DIMS",
    "FLOOR", "FULLY_CONNECTED", "GELU", "HARD_SWISH", "LEAKY_RELU", "LOG", "LOGISTIC",
    "MAX_POOL_2D", "MAXIMUM", "MEAN", "MINIMUM", "MUL", "NEG", "PAD", "PRELU", "QUANTIZE",
    "REDUCE_MAX", "REDUCE_MIN", "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR",
    "ROUND", "RSQRT", "SIN", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SQRT", "SQUARE",
    "SQUARED_DIFFERENCE", "STRIDED_SLICE", "SUB", "SUM", "TANH", "TRANSPOSE", "TRANSPOSE_CONV",
    "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE",
})
GPU_OPS = frozenset({
    "ABS", "ADD", "ADD_N", "AVERAGE_POOL_2D", "BATCH_MATMUL", "CAST", "CONCATENATION",
    "CONV_2D", "COS", "CUMSUM", "DENSIFY", "DEPTH_TO_SPACE", "DEPTHWISE_CONV_2D", "DEQUANTIZE",
    "DIV", "ELU", "EQUAL", "EXP", "FLOOR", "FLOOR_DIV", "FLOOR_MOD", "FULLY_CONNECTED",
    "GATHER", "GELU", "GREATER", "GREATER_EQUAL", "HARD_SWISH", "LEAKY_RELU", "LESS",
    "LESS_EQUAL", "LOG", "LOGICAL_AND", "LOGISTIC", "LSTM", "MAX_POOL_2D", "MAXIMUM", "MEAN",
    "MINIMUM", "MIRROR_PAD", "MUL", "NEG", "NOT_EQUAL", "ONE_HOT", "PACK", "PAD", "PADV2",
    "POW", "PRELU", "QUANTIZE", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "RELU", "RELU_0_TO_1",
    "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "RSQRT",
    "SELECT", "SELECT_V2", "SIGN", "SIN", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT",
    "SPLIT_V", "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "STRIDED_SLICE", "SUB", "SUM", "TANH",
    "TILE", "TRANSPOSE", "TRANSPOSE_CONV", "UNPACK",
})
# Handlers that take these ops in float only (CheckTensorFloatType in VisitUnaryNode,
# VisitBinaryNode, VisitAveragePool2DNode, VisitSoftmaxNode): quantized nodes of these
# ops are handed back. ELU takes int8 too; LOGISTIC/TANH/LEAKY_RELU/ADD/MUL/SUB take
# int8 and uint8.
_XNN_FLOAT_ONLY = frozenset({
    "AVERAGE_POOL_2D", "SOFTMAX", "ABS", "CEIL", "COS", "EXP", "FLOOR", "GELU", "HARD_SWISH",
    "LOG", "NEG", "RELU_N1_TO_1", "RELU", "RELU6", "ROUND", "RSQRT", "SIN", "SQRT", "SQUARE",
    "DIV", "MAXIMUM", "MINIMUM", "PRELU", "SQUARED_DIFFERENCE",
})
_XNN_TYPES = frozenset({DType.FLOAT32, DType.INT8, DType.UINT8, DType.FLOAT16, DType.INT4})
_GPU_TYPES = frozenset({DType.FLOAT32, DType.FLOAT16})


def _unpacks_static(node: Node) -> bool:
    """A DEQUANTIZE or DENSIFY of a constant: XNNPACK unpacks it once when it prepares
    (a quasi-static tensor) instead of running it (xnnpack_delegate.cc :
    Delegate::PrepareOpsToDelegate, static_unpack_nodes_)."""
    if node.op not in ("DEQUANTIZE", "DENSIFY") or len(node.inputs) != 1 or \
            len(node.outputs) != 1 or node.inputs[0] is None or not node.inputs[0].is_const:
        return False
    if node.op == "DENSIFY":
        x, y = node.inputs[0], node.outputs[0]
        return x.dtype in (DType.FLOAT32, DType.FLOAT16, DType.INT8) and x.dtype == y.dtype
    return True


def _static(v: Value | None) -> bool:
    """A constant, or a quasi-static tensor (the output of an unpacked constant)."""
    if v is None:
        return False
    return v.is_const or (v.producer is not None and _unpacks_static(v.producer))


def xnnpack_takes_custom(node: Node) -> bool:
    """True when XNNPACK has a handler for this custom node and its checks pass:
    float32 tensors (each handler's CheckTensorFloat32Type), and for the
    deconvolution a constant filter and bias (CheckTensorStaticAllocation)."""
    if not node.custom or node.op not in XNNPACK_CUSTOM_OPS:
        return False
    if node.op == "Convolution2DTransposeBias":
        tensors = list(node.inputs[:3]) + list(node.outputs[:1])
        if len(node.inputs) != 3 or not all(_static(v) for v in node.inputs[1:3]):
            return False
    elif node.op == "MaxPoolingWithArgmax2D":
        tensors = list(node.inputs[:1]) + list(node.outputs[:1])
    else:
        tensors = list(node.inputs[:1]) + list(node.outputs[:1])
    return bool(tensors) and all(v is not None and v.dtype == DType.FLOAT32 for v in tensors)


@rule("xnnpack-op", targets=("xnnpack",), ops=("*",), severity="warning",
      summary="An op XNNPACK has no handler for: the node runs on the builtin kernel.",
      source="xnnpack_delegate.cc : Subgraph::VisitNode (builtin switch; custom: "
             "Convolution2DTransposeBias, MaxPoolingWithArgmax2D, MaxUnpooling2D); "
             "Delegate::PrepareOpsToDelegate (DENSIFY of a constant is unpacked)")
def _xnn_op(ctx, node: Node) -> Iterator[Hit]:
    if (node.op in XNNPACK_OPS and not node.custom) or xnnpack_takes_custom(node) or \
            _unpacks_static(node):
        return
    yield Hit(f"{node.op}: XNNPACK has no handler; it runs on the CPU builtin kernel "
              "(the graph is split around it)", [v.name for v in node.outputs], {})


@rule("xnnpack-quant", targets=("xnnpack",), ops=("*",), severity="warning",
      summary="Quantization XNNPACK does not take: per-channel zero points other than 0, "
              "scales that are not normal positive numbers, CONV without bias, "
              "CONCATENATION inputs with other params than the output, types it lacks.",
      source="xnnpack_delegate.cc : CheckAffineQuantization, "
             "CheckZeroPointForPerChannelQuantization, VisitConv2DNode, "
             "VisitConcatenationNode")
def _xnn_quant(ctx, node: Node) -> Iterator[Hit]:
    import math

    if node.op not in XNNPACK_OPS or node.custom:
        return
    tensors = [t for t in list(node.inputs) + list(node.outputs) if t is not None]
    if node.op in _XNN_FLOAT_ONLY:
        bad = next((t for t in tensors if t.data is None and
                    t.dtype not in (DType.FLOAT32, DType.FLOAT16)), None)
        if bad is not None:
            yield Hit(f"{node.op}: XNNPACK takes it in float only; {bad.dtype} tensor "
                      f"{bad.name!r} runs on the builtin kernel", [bad.name],
                      {"type": str(bad.dtype)})
            return
    for t in tensors:
        if t.dtype is not None and t.dtype not in _XNN_TYPES and t.data is None:
            yield Hit(f"{node.op}: XNNPACK takes no {t.dtype} tensor {t.name!r}; the node "
                      "runs on the builtin kernel", [t.name], {"type": str(t.dtype)})
            return
        q = quantized(t)
        if q is None or t.dtype not in (DType.INT8, DType.UINT8):
            continue
        bad = [float(s) for s in q.scale if not (math.isfinite(s) and s > 0 and
                                                 s >= 1.1754943508222875e-38)]
        if bad:
            yield Hit(f"unsupported scale value ({bad[0]:g}) of tensor {t.name!r} in XNNPACK "
                      "delegate", [t.name], {"scale": bad[0]})
            return
        if q.per_channel and any(int(z) != 0 for z in q.zero_point):
            z = next(int(z) for z in q.zero_point if z != 0)
            yield Hit(f"unsupported zero-point value ({z}) of {t.name!r} in XNNPACK delegate",
                      [t.name], {"zero_point": z})
            return
    if node.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        _, _, b, _ = weight_io(node)
        if b is None:
            yield Hit(f"unsupported {node.op} node without bias", [], {})
    if node.op == "CONCATENATION" and node.outputs and quantized(node.outputs[0]) is not None:
        qy = quantized(node.outputs[0])
        for i, t in enumerate(node.inputs):
            qt = quantized(t)
            if qt is not None and (qt.scale[0] != qy.scale[0] or
                                   qt.zero_point[0] != qy.zero_point[0]):
                yield Hit(f"Mismatching quantization scale across the {i}th input of "
                          "CONCATENATION in XNNPACK delegate", [t.name, node.outputs[0].name],
                          {"input": i})
                return


@rule("gpu-op", targets=("gpu",), ops=("*",), severity="warning",
      summary="An op the GPU delegate has no parser for: it runs on the CPU and the graph is "
              "split there (each split costs a GPU<->CPU copy).",
      source="delegates/gpu/common/model_builder.cc : NewOperationParser")
def _gpu_op(ctx, node: Node) -> Iterator[Hit]:
    if node.op in GPU_OPS and not node.custom:
        return
    yield Hit(f"{node.op}: the GPU delegate has no parser for it; it runs on the CPU",
              [v.name for v in node.outputs], {})


@rule("gpu-types", targets=("gpu",), ops=("*",), severity="warning",
      summary="Non-constant tensors other than float32/float16: the GPU delegate takes int8/"
              "uint8 only with allow_quant_ops (then as float with fake quantization), other "
              "types never.",
      source="delegates/gpu/common/model_builder.cc : GetOpsToReplace (node filter)")
def _gpu_types(ctx, node: Node) -> Iterator[Hit]:
    if node.op not in GPU_OPS or node.custom:
        return
    for t in list(node.inputs) + list(node.outputs):
        if t is None or t.data is not None or t.dtype in _GPU_TYPES:
            continue
        is_quant = t.dtype in (DType.INT8, DType.UINT8)
        if node.op in ("RESHAPE",) and t.dtype == DType.INT32:
            continue
        yield Hit(f"{node.op}: {t.dtype} tensor {t.name!r}: " +
                  ("delegated only with allow_quant_ops, and computed in float"
                   if is_quant else "the GPU delegate takes no such tensor; the node "
                                     "runs on the CPU"),
                  [t.name], {"type": str(t.dtype)},
                  severity="info" if is_quant else None)
        return


@rule("gpu-rank", targets=("gpu",), ops=WEIGHT_OPS + ("ADD", "MUL", "CONCATENATION",
                                                      "RESHAPE", "SOFTMAX"),
      severity="warning",
      summary="Tensors of rank above 4: the GPU delegate expects BHWC (at most 4 dims).",
      source="delegates/gpu/common/model_builder_helper.cc (\"Expected a 4D tensor of shape "
             "BxHxWxC\")")
def _gpu_rank(ctx, node: Node) -> Iterator[Hit]:
    for t in list(node.inputs) + list(node.outputs):
        if t is not None and t.shape is not None and len(t.shape) > 4:
            yield Hit(f"tensor {t.name!r} has rank {len(t.shape)}; the GPU delegate "
                      "expects at most 4", [t.name], {"rank": len(t.shape)})
            return


_HANDED_BACK = {"xnnpack": ("xnnpack-op", "xnnpack-quant", "unresolved-custom-op"),
                "gpu": ("gpu-op", "gpu-types", "gpu-rank", "unresolved-custom-op")}


def partition_facts(report, model) -> dict:
    """Nodes of graph 0 the delegate takes, and the delegate partitions they form.

    A partition is a run of taken nodes between handed-back ones in execution order
    (the delegate kernel replaces each run with one DELEGATE node).
    """
    rules = _HANDED_BACK[report.target]
    back = {f.node for f in report.findings if f.graph == 0 and f.rule in rules
            and f.severity != "info" and f.node is not None}
    taken, partitions, inside = 0, 0, False
    for i in range(len(model.graphs[0].nodes) if model.graphs else 0):
        if i in back:
            inside = False
            continue
        taken += 1
        if not inside:
            partitions, inside = partitions + 1, True
    return {"delegated_nodes": taken, "delegate_partitions": partitions}
