"""Rules of the stock TFLite builtin kernels (LiteRT `tflite/kernels`), shared with Micro.

Each rule cites the runtime source that enforces it (see shared TFLITE_RULES notes).
Messages are the runtime's own, as printed by ai-edge-litert 2.3.0 and tflite-micro
(file:line where measured; the line is left out where it was not).
"""

from __future__ import annotations

from collections.abc import Iterator

from modelkit.check.custom_ops import STOCK_CUSTOM_OPS
from modelkit.check.rules import Hit, rule
from modelkit.ir import DType, Node, Value
from modelkit.quant.tflite_ops import (FIXED_OUTPUT_PARAMS, QUANT_TYPES, WEIGHT_OPS, WEIGHT_TYPES,
                                      quantized, weight_io)

ALL = ("tflite", "micro", "edgetpu", "gpu", "xnnpack")
# The bias tolerance of GetQuantizedConvolutionMultipler (relative to the output scale).
BIAS_TOLERANCE = 0.02


def f32(x: float) -> float:
    """x as the float32 the runtime holds."""
    import numpy as np

    return float(np.float32(x))


def out_channels(node: Node, w: Value) -> int | None:
    """The number of output channels of a conv-like node (the per-channel scale count)."""
    if w.shape is None or not w.shape:
        return None
    return w.shape[-1] if node.op == "DEPTHWISE_CONV_2D" else w.shape[0]


def _bias_numbers(node: Node):
    """Bias facts of a quantized conv-like node, or None when there is nothing to check.

    Returns (x, w, b, y, expected per-channel scales, stated scales, refused by the
    runtime's 0.02 check, the worst channel, its scale_diff / output_scale).
    """
    x, w, b, y = weight_io(node)
    qx, qw, qy = quantized(x), quantized(w), quantized(y)
    if qx is None or qw is None or qy is None or b is None:
        return None
    import numpy as np

    if x.dtype not in QUANT_TYPES or w.dtype not in WEIGHT_TYPES:
        return None  # hybrid and float nodes have float bias
    qb = quantized(b)
    n = qw.scale.size
    expected = f32(qx.scale[0]) * qw.scale.astype(np.float32).astype(np.float64)
    stated = (qb.scale if qb is not None else np.zeros(1)).astype(np.float32).astype(np.float64)
    if stated.size not in (1, n):
        return None  # the scale-count rule reports it
    stated = np.broadcast_to(stated, expected.shape)
    out_scale = f32(qy.scale[0])
    ratio = np.abs(expected - stated) / out_scale
    worst = int(np.argmax(ratio))
    # NOTE: the runtime checks the bias scale only where it calls the bias overload of
    # GetQuantizedConvolutionMultipler: per-tensor FULLY_CONNECTED, and uint8 convolutions.
    checked = (node.op == "FULLY_CONNECTED" and n == 1) or \
        (node.op != "FULLY_CONNECTED" and x.dtype == DType.UINT8)
    refused = bool(checked and ratio[0] > BIAS_TOLERANCE)
    return x, w, b, y, expected, stated, refused, worst, float(ratio[worst])


@rule("bias-scale", dtypes=("int8", "uint8", "int16"),
      targets=("tflite", "micro"), ops=WEIGHT_OPS,
      summary="A per-tensor FULLY_CONNECTED (or a uint8 convolution) whose bias scale differs "
              "from input_scale * weight_scale by more than 2% of the output scale: the "
              "runtime refuses it.",
      source="kernel_util.cc : GetQuantizedConvolutionMultipler (from fully_connected.cc : "
             "PrepareImpl, kernel_util.cc : PopulateConvolutionQuantizationParams)",
      fix="requantize_bias")
def _bias_scale(ctx, node: Node) -> Iterator[Hit]:
    facts = _bias_numbers(node)
    if facts is None:
        return
    x, w, b, y, expected, stated, refused, worst, ratio = facts
    if not refused or (ctx.target == "micro" and node.op != "FULLY_CONNECTED"):
        return
    where = ("tensorflow/lite/micro/kernels/kernel_util.cc:478" if ctx.target == "micro"
             else "tflite/kernels/kernel_util.cc:322")
    yield Hit(ctx.refusal(node, f"{where} scale_diff / output_scale <= 0.02 was not true."),
              [x.name, w.name, b.name, y.name],
              {"bias_scale": float(stated[0]), "input_scale_x_weight_scale": float(expected[0]),
               "output_scale": f32(y.quant.scale[0]), "scale_diff_over_output_scale": ratio,
               "allowed": BIAS_TOLERANCE})


@rule("bias-scale-silent", dtypes=("int8", "uint8", "int16"),
      targets=ALL, ops=WEIGHT_OPS,
      summary="The bias' stated scale differs from input_scale * weight_scale[c] on a kernel "
              "that never checks it: the kernel reads the bias integers at scale "
              "input_scale * weight_scale[c]; an error when outputs move by half an output "
              "step or more, else a warning.",
      source="kernel_util.cc : PopulateConvolutionQuantizationParams (no bias check for "
             "int8/int16); fully_connected.cc : PrepareImpl (per-channel branch)",
      fix="requantize_bias")
def _bias_scale_silent(ctx, node: Node) -> Iterator[Hit]:
    facts = _bias_numbers(node)
    if facts is None:
        return
    import numpy as np

    x, w, b, y, expected, stated, refused, worst, ratio = facts
    if refused and (ctx.target != "micro" or node.op == "FULLY_CONNECTED"):
        return
    if b.data is None or np.allclose(stated, expected, rtol=1e-5, atol=0):
        return
    ints = np.asarray(b.data.numpy(), dtype=np.float64).reshape(-1)
    if expected.size == 1:
        expected, stated = (np.full(ints.shape, expected[0]), np.full(ints.shape, stated[0]))
    if ints.size != expected.size:
        return
    out_scale = f32(y.quant.scale[0])
    steps = np.abs(ints) * np.abs(stated - expected) / out_scale
    c = int(np.argmax(steps))
    relative = float(np.max(np.abs(stated - expected) / expected))
    if steps[c] < 0.5 and relative < 1e-3:
        return
    # NOTE: below half an output step the outputs barely move: a warning, not an error.
    severity = None if steps[c] >= 0.5 else "warning"
    yield Hit(f"bias {b.name!r}: stated scale {stated[c]:.6g} != input_scale * "
              f"weight_scale = {expected[c]:.6g} (channel {c}); the kernel reads the bias "
              f"at {expected[c]:.6g}, so outputs are off by up to {steps[c]:.3g} output steps",
              [x.name, w.name, b.name, y.name],
              {"channel": c, "bias_scale": float(stated[c]),
               "input_scale_x_weight_scale": float(expected[c]), "output_scale": out_scale,
               "max_error_output_steps": float(steps[c])}, severity=severity)


@rule("filter-zero-point", dtypes=("int8", "int16"),
      targets=("tflite", "micro"), ops=("CONV_2D",),
      summary="An int8/int16 CONV_2D filter with a nonzero zero point: LiteRT refuses it; "
              "TFLite Micro does not check and its int8 kernels ignore filter zero points "
              "(wrong results).",
      source="conv.cc : Prepare (\"Filter must have zero zero-points in per-channel "
             "quantization\")")
def _filter_zero_point(ctx, node: Node) -> Iterator[Hit]:
    x, w, _, _ = weight_io(node)
    qw = quantized(w)
    if qw is None or x is None or x.dtype not in (DType.INT8, DType.INT16):
        return
    nonzero = [int(z) for z in qw.zero_point if z != 0]
    if not nonzero:
        return
    zp = nonzero[0]
    text = f"tflite/kernels/conv.cc:390 affine_quantization->zero_point->data[i] != 0 ({zp} != 0)"
    if ctx.target == "micro":
        yield Hit(f"filter {w.name!r} zero point {zp} != 0: TFLite Micro accepts it but its "
                  "int8 convolution ignores filter zero points, so the outputs are wrong",
                  [w.name], {"zero_point": zp, "nonzero_channels": len(nonzero)})
        return
    yield Hit(ctx.refusal(node, text), [w.name], {"zero_point": zp,
                                                  "nonzero_channels": len(nonzero)})


@rule("quant-param-count", targets=ALL,
      summary="A tensor with several scales whose count is not the size of its quantized "
              "dimension (or whose quantized dimension is out of range): the interpreter "
              "refuses the file.",
      source="interpreter_builder.cc : InterpreterBuilder::ParseQuantization; Micro: "
             "conv_common.cc : ConvPrepare")
def _quant_param_count(ctx) -> Iterator[Hit]:
    for v in ctx.graph.values:
        q = quantized(v)
        if q is None or v.shape is None or not v.shape:
            continue
        axis = q.axis if q.axis is not None else q.details.get("quantized_dimension", 0)
        n = q.scale.size
        users = [n_ for n_, _ in v.consumers]
        node = users[0] if users else v.producer
        ni = ctx.graph.nodes.index(node) if node is not None else None
        if axis < 0 or axis >= len(v.shape):
            text = f"quantized_dimension must be in range [0, {len(v.shape)}). Was {axis}."
        elif n != 1 and n != v.shape[axis]:
            if ctx.target == "micro" and node is not None and node.op == "CONV_2D":
                text = ctx.refusal(node, "tensorflow/lite/micro/kernels/conv_common.cc:191 "
                                   "affine_quantization->scale->size == 1 || "
                                   "affine_quantization->scale->size == "
                                   "filter->dims->data[kConvQuantizedDimension] was not true.")
            else:
                text = (f"num_scales must be 1 for per-layer quantization, or {v.shape[axis]} "
                        f"for per-axis quantization, but got {n}.Tensor {v.index} has invalid "
                        "quantization parameters.")
        else:
            continue
        yield Hit(text, [v.name], {"scales": n, "quantized_dimension": axis,
                                   "shape": list(v.shape)}, node=ni)


@rule("softmax-output-params", dtypes=("int8", "int16"),
      targets=("tflite", "micro"), ops=("SOFTMAX",),
      summary="An int8 SOFTMAX output must have zero point -128 and scale 1/256 (int16: 0 "
              "and 1/32768).",
      source="activations.cc : SoftmaxPrepare; Micro: softmax_common.cc : "
             "CalculateSoftmaxParams",
      fix="softmax_output_params")
def _softmax_output(ctx, node: Node) -> Iterator[Hit]:
    x, y = node.inputs[0], node.outputs[0]
    qy = quantized(y)
    if qy is None or x is None or x.dtype != y.dtype or y.dtype not in (DType.INT8,
                                                                          DType.INT16):
        return
    scale_want, zp_want = FIXED_OUTPUT_PARAMS["SOFTMAX"][y.dtype]
    zp, scale = int(qy.zero_point[0]), f32(qy.scale[0])
    micro = ctx.target == "micro"
    if zp != zp_want:
        where = ("tensorflow/lite/micro/kernels/softmax_common.cc:103" if micro
                 else "tflite/kernels/activations.cc:558")
        text = f"{where} output->params.zero_point != {zp_want} ({zp} != {zp_want})"
    elif abs(scale - scale_want) > 0.001 * scale_want:
        int16 = y.dtype == DType.INT16
        where = (f"tensorflow/lite/micro/kernels/softmax_common.cc{':93' if int16 else ''}"
                 if micro else f"tflite/kernels/activations.cc:{564 if int16 else 560}")
        text = (f"{where} output->params.scale not near 1.f / {round(1 / scale_want)} "
                f"({scale:f} != {scale_want:f})")
    else:
        return
    yield Hit(ctx.refusal(node, text), [y.name],
              {"zero_point": zp, "scale": scale, "required_zero_point": zp_want,
               "required_scale": scale_want})


@rule("logistic-output-params", dtypes=("int8", "uint8", "int16"),
      targets=("tflite",), ops=("LOGISTIC",),
      summary="An int8/uint8 LOGISTIC output must have scale exactly 1/256 (int16: 1/32768 "
              "and zero point 0) in the default (generic optimized) kernel.",
      source="activations.cc : SigmoidPrepare<kGenericOptimized>",
      fix="logistic_output_params")
def _logistic_output(ctx, node: Node) -> Iterator[Hit]:
    y = node.outputs[0]
    qy = quantized(y)
    if qy is None or y.dtype not in QUANT_TYPES:
        return
    scale, zp = f32(qy.scale[0]), int(qy.zero_point[0])
    want, zp_want = FIXED_OUTPUT_PARAMS["LOGISTIC"][y.dtype]
    if y.dtype == DType.INT16:
        if scale == want and zp == zp_want:
            return
        text = ("tflite/kernels/activations.cc output->params.scale == 1. / 32768 was not true."
                if scale != want else
                f"tflite/kernels/activations.cc output->params.zero_point != 0 ({zp} != 0)")
    else:
        # NOTE: the generic kernel checks only the int8/uint8 scale, not the zero point.
        if scale == want:
            return
        text = "tflite/kernels/activations.cc:486 output->params.scale == 1. / 256 was not true."
    yield Hit(ctx.refusal(node, text), [y.name],
              {"scale": scale, "zero_point": zp, "required_scale": want})


@rule("concat-quant-mismatch", dtypes=("int8", "int16"),
      targets=("tflite", "micro"), ops=("CONCATENATION",),
      summary="An int8 CONCATENATION copies integers, so every input needs the output's "
              "scale and zero point exactly (int16: zero points 0).",
      source="concatenation.cc : Prepare; Micro: concatenation.cc : Prepare",
      fix="align_quant")
def _concat(ctx, node: Node) -> Iterator[Hit]:
    y = node.outputs[0]
    qy = quantized(y)
    if qy is None or y.dtype not in (DType.INT8, DType.INT16):
        return
    for i, t in enumerate(node.inputs):
        qt = quantized(t)
        if qt is None:
            continue
        a, b = f32(qt.scale[0]), f32(qy.scale[0])
        za, zb = int(qt.zero_point[0]), int(qy.zero_point[0])
        if y.dtype == DType.INT16:
            if za == 0 and zb == 0:
                continue
            text = f"tflite/kernels/concatenation.cc t->params.zero_point != 0 ({za} != 0)"
        elif a != b:
            text = ("tensorflow/lite/micro/kernels/concatenation.cc:181 static_cast<double>"
                    "(input->params.scale) != static_cast<double>(output_tensor->params.scale) "
                    f"({a:g} != {b:g})" if ctx.target == "micro" else
                    f"tflite/kernels/concatenation.cc:235 t->params.scale != "
                    f"output->params.scale ({a:g} != {b:g})")
        elif za != zb:
            text = ("tflite/kernels/concatenation.cc t->params.zero_point != "
                    f"output->params.zero_point ({za} != {zb})")
        else:
            continue
        yield Hit(ctx.refusal(node, text), [t.name, y.name],
                  {"input": i, "input_scale": a, "output_scale": b, "input_zero_point": za,
                   "output_zero_point": zb})
        return


def _same_quant(a, b) -> bool:
    return f32(a.scale[0]) == f32(b.scale[0]) and int(a.zero_point[0]) == int(b.zero_point[0])


@rule("pool-quant-mismatch", dtypes=("int8", "uint8", "int16"),
      targets=ALL, ops=("MAX_POOL_2D", "AVERAGE_POOL_2D"),
      summary="A quantized pooling whose output scale or zero point differs from its input's: "
              "LiteRT does not rescale (a DCHECK only), so outputs are wrong; TFLite Micro "
              "refuses it.",
      source="pooling.cc : GenericPrepare (TFLITE_DCHECK); Micro: pooling_common.cc : "
             "PoolingPrepare",
      fix="align_quant")
def _pool(ctx, node: Node) -> Iterator[Hit]:
    x, y = node.inputs[0], node.outputs[0]
    qx, qy = quantized(x), quantized(y)
    if qx is None or qy is None or y.dtype not in QUANT_TYPES or _same_quant(qx, qy):
        return
    a, b = f32(qx.scale[0]), f32(qy.scale[0])
    nums = {"input_scale": a, "output_scale": b, "input_zero_point": int(qx.zero_point[0]),
            "output_zero_point": int(qy.zero_point[0])}
    if ctx.target == "micro":
        text = ctx.refusal(node, "tensorflow/lite/micro/kernels/pooling_common.cc:73 "
                           "scale_diff <= 1.0e-6 was not true.") if abs(a - b) > 1e-6 else \
            ctx.refusal(node, "tensorflow/lite/micro/kernels/pooling_common.cc:74 "
                        "input->params.zero_point == output->params.zero_point was not true.")
        yield Hit(text, [x.name, y.name], nums)
        return
    yield Hit(f"{node.op} input {a:g}, zp {nums['input_zero_point']} vs output {b:g}, zp "
              f"{nums['output_zero_point']}: the kernel copies integers without rescaling, "
              "so the output's stated values are wrong", [x.name, y.name], nums)


@rule("reshape-quant-mismatch", dtypes=("int8", "uint8", "int16"),
      targets=ALL, ops=("RESHAPE", "SQUEEZE", "EXPAND_DIMS"),
      summary="A quantized RESHAPE/SQUEEZE/EXPAND_DIMS whose output scale or zero point "
              "differs from its input's: the bytes are copied, so the values are "
              "reinterpreted (wrong).",
      source="reshape.cc : Prepare/Eval (bytewise copy, no quantization check)",
      fix="align_quant")
def _reshape(ctx, node: Node) -> Iterator[Hit]:
    x, y = node.inputs[0], node.outputs[0]
    qx, qy = quantized(x), quantized(y)
    if qx is None or qy is None or y.dtype not in QUANT_TYPES or _same_quant(qx, qy):
        return
    a, b = f32(qx.scale[0]), f32(qy.scale[0])
    yield Hit(f"{node.op} input {a:g}, zp {int(qx.zero_point[0])} vs output {b:g}, zp "
              f"{int(qy.zero_point[0])}: the bytes are copied, so the output's stated values "
              "are wrong", [x.name, y.name],
              {"input_scale": a, "output_scale": b, "input_zero_point": int(qx.zero_point[0]),
               "output_zero_point": int(qy.zero_point[0])})


_INT16_ZP_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "ADD",
                 "SUB", "SOFTMAX")


@rule("int16-zero-point", dtypes=("int16",),
      targets=("tflite",), ops=_INT16_ZP_OPS,
      summary="int16 activations of FULLY_CONNECTED, the convolutions, ADD, SUB and SOFTMAX "
              "must have zero point 0 (symmetric int16x8 quantization).",
      source="fully_connected.cc : PrepareImpl; conv.cc : Prepare; depthwise_conv.cc : "
             "Prepare; transpose_conv.cc : Prepare; add.cc : Prepare; sub.cc; "
             "activations.cc : SoftmaxPrepare")
def _int16_zp(ctx, node: Node) -> Iterator[Hit]:
    file = {"FULLY_CONNECTED": "fully_connected.cc", "CONV_2D": "conv.cc",
            "DEPTHWISE_CONV_2D": "depthwise_conv.cc", "TRANSPOSE_CONV": "transpose_conv.cc",
            "ADD": "add.cc", "SUB": "sub.cc", "SOFTMAX": "activations.cc"}[node.op]
    if node.op in WEIGHT_OPS:
        x, _, _, y = weight_io(node)
        tensors = [("input", x), ("output", y)]
    else:
        tensors = [(f"input{i + 1}" if node.op in ("ADD", "SUB") else "input", t)
                   for i, t in enumerate(node.inputs[:2])] + [("output", node.outputs[0])]
    if node.outputs[0].dtype != DType.INT16:
        return
    # NOTE: FULLY_CONNECTED checks its output's zero point before its input's (measured).
    if node.op == "FULLY_CONNECTED":
        tensors.reverse()
    for role, t in tensors:
        q = quantized(t)
        if q is None or t.dtype != DType.INT16 or int(q.zero_point[0]) == 0:
            continue
        zp = int(q.zero_point[0])
        line = ":585" if node.op == "FULLY_CONNECTED" and role == "output" else ""
        yield Hit(ctx.refusal(node, f"tflite/kernels/{file}{line} {role}->params.zero_point "
                              f"!= 0 ({zp} != 0)"), [t.name], {"zero_point": zp})
        return


@rule("add-multiplier", dtypes=("int8", "uint8"),
      targets=("tflite",), ops=("ADD", "SUB"),
      summary="An int8/uint8 ADD/SUB whose output scale is below 2*max(input scales)/2^20: "
              "the output multiplier reaches 1 and the interpreter aborts with no message.",
      source="add.cc : Prepare -> quantization_util.cc : QuantizeMultiplierSmallerThanOneExp "
             "(TFLITE_CHECK_LT)")
def _add_multiplier(ctx, node: Node) -> Iterator[Hit]:
    y = node.outputs[0]
    qs = [quantized(t) for t in node.inputs[:2]] + [quantized(y)]
    if any(q is None for q in qs) or y.dtype not in (DType.INT8, DType.UINT8):
        return
    s1, s2, so = (f32(q.scale[0]) for q in qs)
    mult = 2 * max(s1, s2) / ((1 << 20) * so) if so > 0 else float("inf")
    if mult < 1 and s1 > 0 and s2 > 0:
        return
    yield Hit("the process aborts in QuantizeMultiplierSmallerThanOneExp "
              "(TFLITE_CHECK_LT(double_multiplier, 1.)) with no message",
              [t.name for t in node.inputs[:2] if t is not None] + [y.name],
              {"input1_scale": s1, "input2_scale": s2, "output_scale": so,
               "output_multiplier": mult, "limit": 1.0})


# The real bounds each fused activation quantizes with the output's parameters.
_ACTIVATION_BOUNDS = {"RELU": (0.0,), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


@rule("activation-range-overflow", dtypes=("int8", "uint8", "int16"),
      targets=("tflite", "micro"),
      ops=WEIGHT_OPS + ("ADD", "SUB", "MUL", "AVERAGE_POOL_2D", "MAX_POOL_2D"),
      summary="A quantized op with a fused RELU/RELU6/RELU_N1_TO_1 whose output scale is so "
              "small (or zero) that a clamp bound (0, 6, -1 or 1) divided by it does not fit "
              "int32: the kernel refuses it. Calibration that saw an almost constant tensor "
              "gives such scales.",
      source="kernel_util.cc : CalculateActivationRangeQuantizedImpl -> Quantize; Micro: "
             "kernel_util.cc : the same")
def _activation_range(ctx, node: Node) -> Iterator[Hit]:
    import numpy as np

    y = node.outputs[0] if node.outputs else None
    qy = quantized(y) if y is not None else None
    bounds = _ACTIVATION_BOUNDS.get(str(node.attrs.get("fused_activation_function", "NONE")))
    if qy is None or bounds is None or y.dtype not in QUANT_TYPES:
        return
    # NOTE: the kernel computes round(bound / scale) in float32 and compares it with
    # float(INT32_MIN/MAX), i.e. +-2^31; a zero scale gives NaN or inf, which fails too.
    scale = np.float32(qy.scale[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        q = [np.round(np.float32(b) / scale) if scale != 0 else np.float32(np.nan)
             for b in bounds]
    limit = np.float32(2.0 ** 31)
    bad = [b for b, v in zip(bounds, q) if not (-limit <= v <= limit)]
    if not bad:
        return
    where = ("tensorflow/lite/micro/kernels/kernel_util.cc:55" if ctx.target == "micro"
             else "tflite/kernels/kernel_util.cc:349")
    yield Hit(ctx.refusal(node, f"{where} no_integer_overflow_from_quantization was not "
                                "true."), [y.name],
              {"output_scale": float(scale), "activation": str(
                  node.attrs["fused_activation_function"]), "bound": bad[0],
               "limit": float(limit)},
              explanation=f"{bad[0]:g} / {float(scale):.3g} does not fit int32: the output "
                          "was calibrated on an almost constant (dead) range; calibrate "
                          "with representative data, or keep this layer in float "
                          "(convert --denylist-nodes)")


def _unresolved_text(ctx, node: Node) -> str:
    return ctx.refusal(node, f"Encountered unresolved custom op: {node.op}.\nSee "
                             "instructions: https://www.tensorflow.org/lite/guide/ops_custom ")


@rule("unresolved-custom-op", targets=("tflite", "xnnpack", "gpu"), ops=("*",),
      summary="A custom op the stock runtime does not register (Select TF ops need the Flex "
              "delegate): the interpreter fails to prepare it.",
      source="interpreter_builder.cc / subgraph.cc : unresolved custom op; "
             "core/kernels/register.cc : BuiltinOpResolver (custom ops it adds)")
def _custom(ctx, node: Node) -> Iterator[Hit]:
    from modelkit.check.delegates import xnnpack_takes_custom

    if not (node.custom or node.op.startswith("BuiltinOperator ")) or \
            node.op in STOCK_CUSTOM_OPS:
        return
    if ctx.target in ("tflite", "xnnpack") and xnnpack_takes_custom(node):
        return  # XNNPACK runs it; the tflite target tells so (default-delegate-custom-op)
    flex = node.op.startswith("Flex")
    expl = ("a Select TF op: link the Flex delegate (tensorflow/lite/delegates/flex) into "
            "the app, or convert without SELECT_TF_OPS" if flex else
            "register a kernel for it with the op resolver (see the TFLite custom ops guide)")
    yield Hit(_unresolved_text(ctx, node), [v.name for v in node.outputs], {},
              explanation=expl)


@rule("default-delegate-custom-op", targets=("tflite",), ops=("*",), severity="warning",
      summary="A MediaPipe custom op (Convolution2DTransposeBias, MaxPoolingWithArgmax2D, "
              "MaxUnpooling2D) that only the default XNNPACK delegate implements: the "
              "model runs under the default delegates, and the builtin resolver without "
              "them refuses it.",
      source="xnnpack_delegate.cc : Subgraph::VisitNode (case kTfLiteBuiltinCustom); "
             "core/kernels/register.cc : BuiltinOpResolver (no kernel for it)",
      fix="run it with the default delegates (`modelkit run --delegates`), or register "
          "MediaPipe's kernel with the op resolver")
def _delegate_only_custom(ctx, node: Node) -> Iterator[Hit]:
    from modelkit.check.delegates import xnnpack_takes_custom

    if not xnnpack_takes_custom(node):
        return
    yield Hit(_unresolved_text(ctx, node), [v.name for v in node.outputs], {},
              explanation=f"{node.op} has no builtin kernel; the default XNNPACK delegate "
                          "implements it, so tf.lite.Interpreter(model) and apps with the "
                          "default delegates run the model, while the builtin resolver "
                          "without default delegates (BUILTIN_WITHOUT_DEFAULT_DELEGATES, "
                          "`modelkit run` without --delegates) refuses it")


@rule("log-softmax-output-params", dtypes=("int8", "uint8"),
      targets=("tflite", "micro"), ops=("LOG_SOFTMAX",),
      summary="A quantized LOG_SOFTMAX output must have scale 16/256 and zero point 127 "
              "(int8) or 255 (uint8).",
      source="activations.cc : LogSoftmaxPrepare; Micro: log_softmax.cc : "
             "CalculateLogSoftmaxParams",
      fix="log_softmax_output_params")
def _log_softmax(ctx, node: Node) -> Iterator[Hit]:
    y = node.outputs[0]
    qy = quantized(y)
    if qy is None or y.dtype not in (DType.INT8, DType.UINT8):
        return
    scale_want, zp_want = FIXED_OUTPUT_PARAMS["LOG_SOFTMAX"][y.dtype]
    scale, zp = f32(qy.scale[0]), int(qy.zero_point[0])
    if scale == scale_want and zp == zp_want:
        return
    if ctx.target == "micro":
        text = ("tensorflow/lite/micro/kernels/log_softmax.cc:72 output->params.scale == "
                "kOutputScale was not true." if scale != scale_want else
                "tensorflow/lite/micro/kernels/log_softmax.cc output->params.zero_point == "
                "kOutputZeroPoint was not true.")
    elif scale != scale_want:
        text = f"tflite/kernels/activations.cc:669 output->params.scale != 16.0 / 256 ({scale:g} != 0.0625)"
    else:
        text = (f"tflite/kernels/activations.cc output->params.zero_point != {zp_want} "
                f"({zp} != {zp_want})")
    yield Hit(ctx.refusal(node, text), [y.name],
              {"scale": scale, "zero_point": zp, "required_scale": scale_want,
               "required_zero_point": zp_want})


@rule("bias-dtype", dtypes=("int8", "uint8"),
      targets=("tflite",), ops=("CONV_2D", "DEPTHWISE_CONV_2D"),
      summary="A uint8/int8 convolution's bias must be int32.",
      source="conv.cc : Prepare; depthwise_conv.cc : Prepare")
def _bias_dtype(ctx, node: Node) -> Iterator[Hit]:
    x, _, b, _ = weight_io(node)
    if x is None or b is None or x.dtype not in (DType.INT8, DType.UINT8) or \
            b.dtype in (DType.INT32, None):
        return
    file = "conv.cc:416" if node.op == "CONV_2D" else "depthwise_conv.cc"
    got = str(b.dtype).upper()
    yield Hit(ctx.refusal(node, f"tflite/kernels/{file} bias->type != kTfLiteInt32 "
                          f"({got} != INT32)"), [b.name], {"bias_type": str(b.dtype)})


@rule("conv-scale-count", targets=("tflite", "micro"),
      ops=("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"),
      summary="A convolution filter's scale count must be 1 or its number of output "
              "channels (scales along another axis are refused).",
      source="conv.cc : Prepare; depthwise_conv.cc : Prepare; transpose_conv.cc : Prepare; "
             "Micro: conv_common.cc : ConvPrepare")
def _conv_scale_count(ctx, node: Node) -> Iterator[Hit]:
    _, w, _, _ = weight_io(node)
    qw = quantized(w)
    if qw is None or w.shape is None:
        return
    n, channels = qw.scale.size, out_channels(node, w)
    axis = qw.axis if qw.axis is not None else qw.details.get("quantized_dimension", 0)
    if n == 1 or n == channels or not (0 <= axis < len(w.shape)) or n != w.shape[axis]:
        return  # fine, or the interpreter builder refuses it first (quant-param-count)
    if ctx.target == "micro":
        if node.op != "CONV_2D":
            return
        text = ("tensorflow/lite/micro/kernels/conv_common.cc:191 affine_quantization->scale->"
                "size == 1 || affine_quantization->scale->size == filter->dims->data"
                "[kConvQuantizedDimension] was not true.")
    elif node.op == "CONV_2D":
        text = ("tflite/kernels/conv.cc:573 (affine_quantization->scale->size == 1 || "
                "affine_quantization->scale->size == channels_out) was not true.")
    else:
        file = "depthwise_conv.cc" if node.op == "DEPTHWISE_CONV_2D" else "transpose_conv.cc"
        name = "output_channels" if node.op == "DEPTHWISE_CONV_2D" else "channels_out"
        text = (f"tflite/kernels/{file} (affine_quantization->scale->size == 1 || "
                f"affine_quantization->scale->size == {name}) was not true.")
    yield Hit(ctx.refusal(node, text), [w.name],
              {"scales": n, "output_channels": channels, "quantized_dimension": axis})


@rule("fc-per-channel-axis", targets=("tflite",), ops=("FULLY_CONNECTED",),
      summary="Per-channel FULLY_CONNECTED weights must be quantized along dimension 0 "
              "(one scale per output unit).",
      source="fully_connected.cc : PrepareImpl")
def _fc_axis(ctx, node: Node) -> Iterator[Hit]:
    _, w, _, _ = weight_io(node)
    qw = quantized(w)
    if qw is None or qw.scale.size == 1:
        return
    axis = qw.axis if qw.axis is not None else qw.details.get("quantized_dimension", 0)
    if axis == 0:
        return
    yield Hit(ctx.refusal(node, "tflite/kernels/fully_connected.cc:539 affine_quantization->"
                          f"quantized_dimension != 0 ({axis} != 0)"), [w.name],
              {"quantized_dimension": axis})


@rule("l2-pool-quantized", dtypes=("int8", "uint8", "int16"),
      targets=("tflite", "micro"), ops=("L2_POOL_2D",),
      summary="L2_POOL_2D has float kernels only.",
      source="pooling.cc : GenericPrepare; Micro: l2_pool_2d.cc : L2Prepare")
def _l2_pool(ctx, node: Node) -> Iterator[Hit]:
    x = node.inputs[0]
    if x is None or x.dtype in (DType.FLOAT32, None):
        return
    where = ("tensorflow/lite/micro/kernels/l2_pool_2d.cc:71" if ctx.target == "micro"
             else "tflite/kernels/pooling.cc:108")
    got = str(x.dtype).upper()
    yield Hit(ctx.refusal(node, f"{where} input->type != kTfLiteFloat32 ({got} != FLOAT32)"),
              [x.name], {"input_type": str(x.dtype)})
