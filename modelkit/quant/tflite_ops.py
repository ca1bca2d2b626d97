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

# The output (scale, zero point) the quantized kernels require of ops whose real output
# range is fixed: SOFTMAX and LOGISTIC [0, 1], LOG_SOFTMAX [-16, 0) (LiteRT
# activations.cc : SoftmaxPrepare, SigmoidPrepare, LogSoftmaxPrepare).
FIXED_OUTPUT_PARAMS: dict[str, dict[DType, tuple[float, int]]] = {
    "SOFTMAX": {DType.INT8: (1 / 256, -128), DType.INT16: (1 / 32768, 0)},
    "LOGISTIC": {DType.INT8: (1 / 256, -128), DType.UINT8: (1 / 256, 0),
                 DType.INT16: (1 / 32768, 0)},
    "LOG_SOFTMAX": {DType.INT8: (16 / 256, 127), DType.UINT8: (16 / 256, 255)},
}
