"""TFLite Micro rules: the ops its Python op resolver registers, hybrid kernels, dtypes.

Source: tflite-micro `python/tflite_micro/python_ops_resolver.cc` (the resolver the
`tflite_micro` Python runtime uses) and the kernels' Prepare functions.
"""

from __future__ import annotations

from collections.abc import Iterator

from modelkit.check.rules import Hit, rule
from modelkit.ir import DType, Node
from modelkit.quant.tflite_ops import quantized, weight_io

# Builtin ops of TFLM's PythonOpsResolver (micro_mutable_op_resolver.h Add* methods).
MICRO_OPS = frozenset({
    "ABS", "ADD", "ADD_N", "ARG_MAX", "ARG_MIN", "ASSIGN_VARIABLE", "AVERAGE_POOL_2D",
    "BATCH_MATMUL", "BATCH_TO_SPACE_ND", "BROADCAST_ARGS", "BROADCAST_TO", "CALL_ONCE", "CAST",
    "CEIL", "CONCATENATION", "CONV_2D", "COS", "CUMSUM", "DEPTH_TO_SPACE", "DEPTHWISE_CONV_2D",
    "DEQUANTIZE", "DIV", "DYNAMIC_UPDATE_SLICE", "ELU", "EMBEDDING_LOOKUP", "EQUAL", "EXP",
    "EXPAND_DIMS", "FILL", "FLOOR", "FLOOR_DIV", "FLOOR_MOD", "FULLY_CONNECTED", "GATHER",
    "GATHER_ND", "GREATER", "GREATER_EQUAL", "HARD_SWISH", "IF", "L2_NORMALIZATION",
    "L2_POOL_2D", "LEAKY_RELU", "LESS", "LESS_EQUAL", "LOG", "LOG_SOFTMAX", "LOGICAL_AND",
    "LOGICAL_NOT", "LOGICAL_OR", "LOGISTIC", "MAX_POOL_2D", "MAXIMUM", "MEAN", "MINIMUM",
    "MIRROR_PAD", "MUL", "NEG", "NOT_EQUAL", "PACK", "PAD", "PADV2", "PRELU", "QUANTIZE",
    "READ_VARIABLE", "REDUCE_ALL", "REDUCE_MAX", "REDUCE_MIN", "RELU", "RELU6", "RESHAPE",
    "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "REVERSE_V2", "ROUND", "RSQRT",
    "SELECT_V2", "SHAPE", "SIN", "SLICE", "SOFTMAX", "SPACE_TO_BATCH_ND", "SPACE_TO_DEPTH",
    "SPLIT", "SPLIT_V", "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "SQUEEZE", "STRIDED_SLICE",
    "SUB", "SUM", "SVDF", "TANH", "TRANSPOSE", "TRANSPOSE_CONV", "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "UNPACK", "VAR_HANDLE", "WHILE", "ZEROS_LIKE",
})
# Custom ops it registers (detection post-processing, the audio front end's signal ops).
MICRO_CUSTOM_OPS = frozenset({
    "TFLite_Detection_PostProcess", "ETHOSU", "SignalDelay", "SignalEnergy",
    "SignalFftAutoScale", "SignalFilterBank", "SignalFilterBankLog",
    "SignalFilterBankSpectralSubtraction", "SignalFilterBankSquareRoot", "SignalFramer",
    "SignalIrfft", "SignalOverlapAdd", "SignalPCAN", "SignalRfft", "SignalStacker",
    "SignalWindow", "CIRCULAR_BUFFER",
})

_HYBRID_FILES = {"CONV_2D": "conv_common.cc", "DEPTHWISE_CONV_2D": "depthwise_conv_common.cc",
                 "TRANSPOSE_CONV": "transpose_conv.cc"}
_KERNEL_TYPE = {DType.FLOAT32: "FLOAT32", DType.INT8: "INT8", DType.UINT8: "UINT8",
                DType.INT16: "INT16", DType.INT4: "INT4", DType.FLOAT16: "FLOAT16"}


@rule("micro-unsupported-op", targets=("micro",), ops=("*",),
      summary="An op TFLite Micro's op resolver does not register: the interpreter fails to "
              "allocate tensors.",
      source="micro_mutable_op_resolver.h; python/tflite_micro/python_ops_resolver.cc")
def _unsupported(ctx, node: Node) -> Iterator[Hit]:
    if node.custom:
        if node.op in MICRO_CUSTOM_OPS:
            return
        yield Hit("Failed to get registration from op code CUSTOM",
                  [v.name for v in node.outputs], {},
                  explanation=f"custom op {node.op!r} is not registered in TFLite Micro; add "
                              "a kernel with MicroMutableOpResolver::AddCustom")
        return
    if node.op in MICRO_OPS:
        return
    yield Hit(f"Didn't find op for builtin opcode '{node.op}'\nFailed to get registration "
              f"from op code {node.op}", [v.name for v in node.outputs], {})


def _conv_types_ok(op: str, x: DType | None, w: DType | None) -> bool:
    if (x, w) in ((DType.FLOAT32, DType.FLOAT32), (DType.INT16, DType.INT8),
                  (DType.INT8, DType.INT8), (DType.INT8, DType.INT4)):
        return True
    return op == "DEPTHWISE_CONV_2D" and x == w and x in (DType.FLOAT32, DType.INT8)


@rule("micro-hybrid", targets=("micro",),
      ops=("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED"),
      summary="Input and weight types Micro has no kernel for: hybrid (float input, int8 "
              "weights), uint8, float16 weights. Micro has no hybrid kernels.",
      source="conv_common.cc : ConvPrepare; depthwise_conv_common.cc : DepthwiseConvPrepare; "
             "transpose_conv.cc : Prepare; fully_connected.cc : Prepare",
      fix="modelkit convert SRC DST --quantize int8 --data calib.npy (full integer)")
def _hybrid(ctx, node: Node) -> Iterator[Hit]:
    x, w, _, _ = weight_io(node)
    if x is None or w is None or _conv_types_ok(node.op, x.dtype, w.dtype):
        return
    if node.op == "FULLY_CONNECTED":
        text = (f"Input type: {_KERNEL_TYPE.get(x.dtype, x.dtype)} with filter type: "
                f"{_KERNEL_TYPE.get(w.dtype, w.dtype)} not supported.")
    else:
        text = (f"tensorflow/lite/micro/kernels/{_HYBRID_FILES[node.op]} Hybrid models are not "
                "supported on TFLite Micro.")
    yield Hit(ctx.refusal(node, text), [x.name, w.name],
              {"input_type": str(x.dtype), "weight_type": str(w.dtype)})


@rule("micro-dtype", targets=("micro",), ops=("*",),
      summary="A tensor type Micro's kernels take nowhere: float16 (a DEQUANTIZE of float16 "
              "weights), uint8 outside QUANTIZE/DEQUANTIZE, 64-bit floats.",
      source="dequantize_common.cc : DequantizePrepare; the kernels' type switches")
def _dtype(ctx, node: Node) -> Iterator[Hit]:
    if node.op in _HYBRID_FILES or node.op == "FULLY_CONNECTED" or node.custom:
        return
    ins = [t for t in node.inputs if t is not None]
    if node.op == "DEQUANTIZE":
        x = ins[0] if ins else None
        if x is not None and x.dtype not in (DType.INT8, DType.INT16, DType.UINT8):
            yield Hit(ctx.refusal(node, "tensorflow/lite/micro/kernels/dequantize_common.cc:42 "
                                  "input->type == kTfLiteInt8 || input->type == kTfLiteInt16 "
                                  "|| input->type == kTfLiteUInt8 was not true."),
                      [x.name], {"input_type": str(x.dtype)})
        return
    bad = {DType.FLOAT16, DType.FLOAT64}
    if node.op != "QUANTIZE":
        bad.add(DType.UINT8)
    for t in ins + list(node.outputs):
        if t.dtype in bad:
            yield Hit(f"{node.op}: TFLite Micro has no {t.dtype} kernel for it "
                      f"(tensor {t.name!r})", [t.name], {"type": str(t.dtype)})
            return


@rule("micro-dynamic-shape", targets=("micro", "edgetpu"), ops=(), severity="error",
      summary="A tensor with a dynamic dimension (shape_signature -1) outside the batch: "
              "TFLite Micro and the Edge TPU compiler need static shapes.",
      source="micro_allocator.cc (static arena plan); Edge TPU: 'Tensor sizes must be "
             "constant at compile time' (docs, unverified by running)")
def _dynamic(ctx) -> Iterator[Hit]:
    for v in ctx.graph.inputs:
        sig = v.shape_signature
        if sig is None or not any(d == -1 for d in sig[1:]):
            continue
        yield Hit(f"input {v.name!r} has dynamic shape {list(sig)}", [v.name],
                  {"shape_signature": list(sig)},
                  fix="modelkit convert --input-shapes (static shapes) or resize the input "
                      "before converting")


@rule("micro-softmax-input-scale", targets=("micro",), ops=("SOFTMAX",), dtypes=("int8",),
      summary="An int8 SOFTMAX whose beta * input_scale * 2^26 is not above 1 (input scale "
              "under about 1.5e-8, as untrained models with tiny logits get): TFLite Micro "
              "aborts the process with no message.",
      source="softmax_common.cc : CalculateSoftmaxParams -> quantization_util.cc : "
             "PreprocessSoftmaxScaling -> QuantizeMultiplierGreaterThanOne "
             "(TFLITE_CHECK_GT)")
def _softmax_input_scale(ctx, node: Node) -> Iterator[Hit]:
    from modelkit.check.tflite_kernels import f32

    x = node.inputs[0] if node.inputs else None
    qx = quantized(x)
    if qx is None or x.dtype != DType.INT8:
        return
    beta = float(node.attrs.get("beta", 1.0))
    multiplier = beta * f32(qx.scale[0]) * (1 << 26)
    if multiplier > 1:
        return
    yield Hit("the process aborts in QuantizeMultiplierGreaterThanOne "
              "(TFLITE_CHECK_GT(double_multiplier, 1.)) with no message", [x.name],
              {"input_scale": f32(qx.scale[0]), "beta": beta,
               "beta_x_input_scale_x_2^26": multiplier, "limit": 1.0},
              explanation="LiteRT's default kernels take it (they use a lookup table); "
                          "re-quantize the model so the logits get a larger scale")
