"""Edge TPU compiler rules: full integer, static shapes, at most 3 dims above 1, its ops.

Weakly sourced: coral.ai "TensorFlow models on the Edge TPU" (supported operations
table) and a vendor page that restates the compiler's rules; not verified by running
the compiler. Each finding says so.
"""

from __future__ import annotations

from collections.abc import Iterator

from modelkit.check.rules import Hit, rule
from modelkit.ir import DType, Node

UNVERIFIED = " (Edge TPU rule from the Coral docs; not verified by running the compiler)"
EDGETPU_OPS = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "EXPAND_DIMS",
    "FULLY_CONNECTED", "GATHER", "HARD_SWISH", "L2_NORMALIZATION", "LOGISTIC", "LSTM",
    "MAXIMUM", "MAX_POOL_2D", "MEAN", "MINIMUM", "MUL", "PACK", "PAD", "PRELU", "QUANTIZE",
    "REDUCE_MAX", "REDUCE_MIN", "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "RSQRT", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT",
    "SQUARED_DIFFERENCE", "SQUEEZE", "STRIDED_SLICE", "SUB", "SUM", "TANH", "TRANSPOSE_CONV",
    "UNPACK",
})
_INT = frozenset({DType.INT8, DType.UINT8})
# Plumbing around the integer ops that stays on the CPU without splitting the model.
_SHAPE_ONLY = frozenset({"SHAPE", "STRIDED_SLICE", "PACK"})


def _first_cpu_node(graph) -> int | None:
    for i, n in enumerate(graph.nodes):
        if n.custom or n.op not in EDGETPU_OPS or not _integer(n):
            return i
    return None


def _integer(node: Node) -> bool:
    return all(t is None or t.dtype in _INT or t.data is not None or t.dtype == DType.INT32
               for t in list(node.inputs) + list(node.outputs))


@rule("edgetpu-integer", targets=("edgetpu",), ops=("*",),
      summary="Every activation must be int8/uint8: the Edge TPU runs only fully 8-bit "
              "quantized models." + UNVERIFIED,
      source="coral.ai/docs/edgetpu/models-intro (model requirements)",
      fix="modelkit convert SRC DST --quantize int8 --data calib.npy")
def _integer_rule(ctx, node: Node) -> Iterator[Hit]:
    for t in list(node.inputs) + list(node.outputs):
        if t is None or t.data is not None:
            continue
        if t.dtype in _INT or (t.dtype in (DType.INT32, DType.BOOL) and
                               node.op in _SHAPE_ONLY | {"RESHAPE"}):
            continue
        if node.op in ("QUANTIZE", "DEQUANTIZE") and t.dtype == DType.FLOAT32 and \
                (t in ctx.graph.inputs or t in ctx.graph.outputs):
            continue  # float IO around an integer model runs on the CPU ends
        yield Hit(f"{node.op}: tensor {t.name!r} is {t.dtype}; the Edge TPU needs int8/uint8"
                  + UNVERIFIED, [t.name], {"type": str(t.dtype)})
        return


@rule("edgetpu-rank", targets=("edgetpu",), ops=("*",),
      summary="At most 3 dimensions larger than 1 per tensor (only the innermost 3 may "
              "exceed 1)." + UNVERIFIED,
      source="coral.ai/docs/edgetpu/models-intro; vendor restatement of the compiler rules")
def _rank(ctx, node: Node) -> Iterator[Hit]:
    for t in list(node.inputs) + list(node.outputs):
        if t is None or t.shape is None or t.data is not None:
            continue
        big = [d for d in t.shape if d is None or d > 1]
        if len(big) > 3:
            yield Hit(f"tensor {t.name!r} shape {list(t.shape)} has {len(big)} dims > 1"
                      + UNVERIFIED, [t.name], {"shape": list(t.shape), "dims_above_1": len(big)})
            return


@rule("edgetpu-op", targets=("edgetpu",), ops=("*",), severity="warning",
      summary="An op the Edge TPU compiler does not map: the compiler splits the model once, "
              "at the first such op; it and every op after it run on the CPU." + UNVERIFIED,
      source="coral.ai/docs/edgetpu/models-intro#supported-operations")
def _op(ctx, node: Node) -> Iterator[Hit]:
    if node.op in EDGETPU_OPS and not node.custom:
        return
    yield Hit(f"{node.op} is not an Edge TPU op; it runs on the CPU" + UNVERIFIED,
              [v.name for v in node.outputs], {})


@rule("edgetpu-partition", targets=("edgetpu",), severity="info",
      summary="Where the compiler would split the model between the TPU and the CPU." +
              UNVERIFIED,
      source="coral.ai/docs/edgetpu/compiler (one partition: first unsupported op onward)")
def _partition(ctx) -> Iterator[Hit]:
    if ctx.gi != 0:
        if ctx.graph.nodes:
            yield Hit("More than one subgraph is not supported: subgraph "
                      f"{ctx.gi} runs on the CPU" + UNVERIFIED, [], {}, severity="warning")
        return
    first = _first_cpu_node(ctx.graph)
    n = len(ctx.graph.nodes)
    if first is None:
        yield Hit(f"all {n} ops map to the Edge TPU" + UNVERIFIED, [], {"tpu_ops": n,
                                                                     "cpu_ops": 0})
        return
    yield Hit(f"ops 0..{first - 1} map to the Edge TPU; op {first} "
              f"({ctx.graph.nodes[first].op}) and the {n - first - 1} after it run on the CPU"
              + UNVERIFIED, [], {"tpu_ops": first, "cpu_ops": n - first}, node=first)


_NO_ACTIVATION = frozenset({"AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION"})


@rule("edgetpu-op-limits", targets=("edgetpu",),
      ops=("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION",
           "FULLY_CONNECTED"),
      severity="warning",
      summary="Per-op limits of the Edge TPU compiler: equal x/y dilation for convolutions; "
              "no fused activation on pooling and concatenation; a FULLY_CONNECTED output "
              "of one dimension past the batch." + UNVERIFIED,
      source="coral.ai/docs/edgetpu/models-intro#supported-operations (restated by a "
             "vendor page; not verified)")
def _limits(ctx, node: Node) -> Iterator[Hit]:
    a = node.attrs
    if node.op in ("CONV_2D", "DEPTHWISE_CONV_2D") and \
            a.get("dilation_w_factor", 1) != a.get("dilation_h_factor", 1):
        yield Hit(f"{node.op}: dilation {a.get('dilation_h_factor')}x"
                  f"{a.get('dilation_w_factor')} differs in x and y" + UNVERIFIED, [],
                  {"dilation_h": a.get("dilation_h_factor"),
                   "dilation_w": a.get("dilation_w_factor")})
    elif node.op in _NO_ACTIVATION and str(a.get("fused_activation_function", "NONE")) != "NONE":
        yield Hit(f"{node.op}: fused activation {a.get('fused_activation_function')}"
                  + UNVERIFIED, [], {})
    elif node.op == "FULLY_CONNECTED" and node.outputs and node.outputs[0].shape is not None \
            and len([d for d in node.outputs[0].shape[1:] if d != 1]) > 1:
        yield Hit(f"FULLY_CONNECTED output shape {list(node.outputs[0].shape)} is not "
                  "one-dimensional" + UNVERIFIED, [node.outputs[0].name], {})
