"""Where a quantized TFLite op keeps its quantization: the facts check/ and transform/ share.

The conv-like builtins (FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV)
read their bias at scale input_scale * weight_scale[c]; the rules that find a wrong
bias and the repair that re-quantizes it must agree on which input is which.
"""

from __future__ import annotations

from modelkit.ir import DType, Node, QuantParams, Value

# Activation types of the quantized kernels (int8, uint8, int16x8).
QUANT_TYPES = frozenset({DType.INT8, DType.UINT8, DType.INT16})
# Weight types of the quantized conv-like kernels (int4 weights unpack to int8).
WEIGHT_TYPES = frozenset({DType.INT8, DType.UINT8, DType.INT4, DType.INT16})
WEIGHT_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV")


def quantized(v: Value | None) -> QuantParams | None:
    """The tensor's QuantParams when it is quantized with at least one scale, else None."""
    if v is None or v.quant is None or v.quant.scale.size == 0:
        return None
    return v.quant


def weight_io(node: Node) -> tuple[Value | None, Value | None, Value | None, Value | None]:
    """(input, weights, bias, output) of a conv-like node, in every op's own input order.

    TRANSPOSE_CONV takes (output_shape, weights, input, bias); the others take
    (input, weights, bias). A missing input (an optional bias) is None.
    """
    ins = node.inputs

    def at(i: int) -> Value | None:
        return ins[i] if len(ins) > i else None

    x, w, b = (at(2), at(1), at(3)) if node.op == "TRANSPOSE_CONV" else (at(0), at(1), at(2))
    return x, w, b, (node.outputs[0] if node.outputs else None)
