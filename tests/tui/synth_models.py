"""Models built in code with the IR classes, for browser tests and benchmarks (no files, no TF)."""

from __future__ import annotations

import numpy as np

from modelkit.ir import (ArrayData, DType, EnumValue, Graph, Model, Node, QuantParams, Signature,
                         SignatureIO, Value)


def _per_channel(scales, storage: DType) -> QuantParams:
    scales = np.asarray(scales, dtype=np.float64)
    return QuantParams(scales, np.zeros(scales.size, dtype=np.int64), axis=0, storage=storage)


def small_int8_model() -> Model:
    """A 4-op int8 model: CONV_2D (per-channel weights) -> RESHAPE -> FULLY_CONNECTED -> SOFTMAX."""
    rng = np.random.default_rng(0)
    values: list[Value] = []

    def add(name, dtype, shape, quant=None, data=None) -> Value:
        v = Value(name, dtype, shape, shape_signature=tuple(shape), quant=quant,
                  data=None if data is None else ArrayData(data, dtype),
                  index=len(values), meta={"buffer": len(values) + 1})
        values.append(v)
        return v

    x = add("input", DType.INT8, (1, 4, 4, 1), QuantParams(1 / 255, -128, storage=DType.INT8))
    w_scales = [0.0021, 0.0034, 0.0019]
    w = add("conv/weights", DType.INT8, (3, 3, 3, 1), _per_channel(w_scales, DType.INT8),
            rng.integers(-127, 128, size=(3, 3, 3, 1), dtype=np.int8))
    b = add("conv/bias", DType.INT32, (3,), _per_channel(np.array(w_scales) / 255, DType.INT32),
            np.array([12, -40, 7], dtype=np.int32))
    c = add("conv/out", DType.INT8, (1, 4, 4, 3), QuantParams(0.0125, -128, storage=DType.INT8))
    shape = add("reshape/shape", DType.INT32, (2,), None, np.array([1, 48], dtype=np.int32))
    r = add("reshape/out", DType.INT8, (1, 48), QuantParams(0.0125, -128, storage=DType.INT8))
    fw = add("fc/weights", DType.INT8, (10, 48), _per_channel(np.linspace(0.001, 0.002, 10),
                                                                DType.INT8),
             rng.integers(-127, 128, size=(10, 48), dtype=np.int8))
    f = add("fc/out", DType.INT8, (1, 10), QuantParams(0.2, 20, storage=DType.INT8))
    y = add("output", DType.INT8, (1, 10), QuantParams(1 / 256, -128, storage=DType.INT8))
    nodes = [
        Node("conv/out", "CONV_2D", "tflite", [x, w, b], [c], index=0, version=3, attrs={
            "padding": EnumValue("SAME", 0), "stride_w": 1, "stride_h": 1,
            "fused_activation_function": EnumValue("RELU", 1),
            "dilation_w_factor": 1, "dilation_h_factor": 1}),
        Node("reshape/out", "RESHAPE", "tflite", [c, shape], [r], index=1, version=1),
        Node("fc/out", "FULLY_CONNECTED", "tflite", [r, fw, None], [f], index=2, version=4,
             attrs={"fused_activation_function": EnumValue("NONE", 0),
                    "weights_format": EnumValue("DEFAULT", 0), "keep_num_dims": False}),
        Node("output", "SOFTMAX", "tflite", [f], [y], index=3, version=2, attrs={"beta": 1.0}),
    ]
    g = Graph("main", nodes, values, [x], [y])
    sig = Signature("serving_default",
                    [SignatureIO("x", x.name, x.dtype, x.shape, x)],
                    [SignatureIO("probs", y.name, y.dtype, y.shape, y)], graph=0)
    return Model("tflite", None, [g], [sig])


def chain_model(num_ops: int = 1200, seed: int = 0) -> Model:
    """A long int8 chain of CONV_2D / ADD / FULLY_CONNECTED ops, each with its own constants.

    Args:
        num_ops: number of ops (the benchmark uses 1,000 or more).
        seed: random seed of the constant data.
    """
    rng = np.random.default_rng(seed)
    values: list[Value] = []

    def add(name, dtype, shape, quant=None, data=None) -> Value:
        v = Value(name, dtype, shape, quant=quant,
                  data=None if data is None else ArrayData(data, dtype), index=len(values),
                  meta={"buffer": len(values) + 1})
        values.append(v)
        return v

    act_q = QuantParams(0.05, -3, storage=DType.INT8)
    cur = add("input", DType.INT8, (1, 16, 16, 8), act_q)
    first = cur
    nodes = []
    ops = ("CONV_2D", "ADD", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    for i in range(num_ops):
        op = ops[i % len(ops)]
        block = f"model/block_{i // 4}/{op.lower()}_{i}"
        if op == "ADD":
            other = add(f"{block}/other", DType.INT8, (1, 16, 16, 8), act_q,
                        rng.integers(-128, 128, size=(1, 16, 16, 8), dtype=np.int8))
            inputs = [cur, other]
        else:
            w = add(f"{block}/weights", DType.INT8, (8, 3, 3, 8),
                    _per_channel(rng.uniform(0.001, 0.01, 8), DType.INT8),
                    rng.integers(-127, 128, size=(8, 3, 3, 8), dtype=np.int8))
            b = add(f"{block}/bias", DType.INT32, (8,),
                    _per_channel(rng.uniform(1e-5, 1e-4, 8), DType.INT32),
                    rng.integers(-1000, 1000, size=8, dtype=np.int32))
            inputs = [cur, w, b]
        out = add(f"{block}/out", DType.INT8, (1, 16, 16, 8), act_q)
        nodes.append(Node(out.name, op, "tflite", inputs, [out], index=i, version=1,
                          attrs={"fused_activation_function": EnumValue("RELU", 1)}))
        cur = out
    g = Graph("main", nodes, values, [first], [cur])
    sig = Signature("serving_default", [SignatureIO("x", first.name, first.dtype, first.shape,
                                                    first)],
                    [SignatureIO("y", cur.name, cur.dtype, cur.shape, cur)], graph=0)
    return Model("tflite", None, [g], [sig])


def branching_model() -> Model:
    """A residual block and a concat between a QUANTIZE/DEQUANTIZE pair, as the TFLite
    converter lays out an int8 model with float input and output:

    input -> QUANTIZE -> CONV_2D a -> CONV_2D b -> ADD(b, a) ---------> CONCATENATION
                                  \\-> DEPTHWISE_CONV_2D ------------/     -> DEQUANTIZE -> output
    """
    rng = np.random.default_rng(1)
    values: list[Value] = []

    def add(name, dtype, shape, quant=None, data=None) -> Value:
        v = Value(name, dtype, shape, quant=quant,
                  data=None if data is None else ArrayData(data, dtype), index=len(values),
                  meta={"buffer": len(values) + 1})
        values.append(v)
        return v

    def q(scale, zp=0):
        return QuantParams(scale, zp, storage=DType.INT8)

    def conv_consts(name, shape):
        w = add(f"{name}/filter", DType.INT8, shape, _per_channel(
            rng.uniform(0.002, 0.01, shape[0 if len(shape) == 4 and name != "dw" else 3]),
            DType.INT8), rng.integers(-127, 128, size=shape, dtype=np.int8))
        n = shape[0] if name != "dw" else shape[3]
        b = add(f"{name}/bias", DType.INT32, (n,), _per_channel(rng.uniform(1e-5, 1e-4, n),
                                                                  DType.INT32),
                rng.integers(-500, 500, size=n, dtype=np.int32))
        return w, b

    x = add("input", DType.FLOAT32, (1, 8, 8, 4))
    xq = add("input_int8", DType.INT8, (1, 8, 8, 4), q(0.02, -3))
    wa, ba = conv_consts("conv_a", (8, 3, 3, 4))
    a = add("block/conv_a/Relu", DType.INT8, (1, 8, 8, 8), q(0.03, -128))
    wb, bb = conv_consts("conv_b", (8, 3, 3, 8))
    b = add("block/conv_b/BiasAdd", DType.INT8, (1, 8, 8, 8), q(0.04, 2))
    s = add("block/add", DType.INT8, (1, 8, 8, 8), q(0.05, -1))
    wd, bd = conv_consts("dw", (1, 3, 3, 8))
    d = add("block/dw/Relu6", DType.INT8, (1, 8, 8, 8), q(0.024, -128))
    c = add("block/concat", DType.INT8, (1, 8, 8, 16), q(0.05, -1))
    y = add("output", DType.FLOAT32, (1, 8, 8, 16))
    relu = {"fused_activation_function": EnumValue("RELU", 1)}
    none = {"fused_activation_function": EnumValue("NONE", 0)}
    nodes = [
        Node(xq.name, "QUANTIZE", "tflite", [x], [xq], index=0, version=1),
        Node(a.name, "CONV_2D", "tflite", [xq, wa, ba], [a], index=1, version=3, attrs=relu),
        Node(b.name, "CONV_2D", "tflite", [a, wb, bb], [b], index=2, version=3, attrs=none),
        Node(s.name, "ADD", "tflite", [b, a], [s], index=3, version=2, attrs=none),
        Node(d.name, "DEPTHWISE_CONV_2D", "tflite", [a, wd, bd], [d], index=4, version=3,
             attrs={"fused_activation_function": EnumValue("RELU6", 3)}),
        Node(c.name, "CONCATENATION", "tflite", [s, d], [c], index=5, version=2,
             attrs={"axis": 3, **none}),
        Node(y.name, "DEQUANTIZE", "tflite", [c], [y], index=6, version=2),
    ]
    g = Graph("main", nodes, values, [x], [y])
    sig = Signature("serving_default", [SignatureIO("x", x.name, x.dtype, x.shape, x)],
                    [SignatureIO("y", y.name, y.dtype, y.shape, y)], graph=0)
    return Model("tflite", None, [g], [sig])


def cyclic_model() -> Model:
    """A TF1-style loop: Enter -> Merge -> Add -> NextIteration -> back into Merge."""
    x = Value("x:0", DType.FLOAT32, (1,))
    one = Value("one:0", DType.FLOAT32, (), data=ArrayData(np.ones((), np.float32)))
    entered = Value("enter:0", DType.FLOAT32, (1,))
    merged = Value("merge:0", DType.FLOAT32, (1,))
    added = Value("add:0", DType.FLOAT32, (1,))
    nxt = Value("next:0", DType.FLOAT32, (1,))
    merge = Node("merge", "Merge", "tf", [entered], [merged], index=3)
    nodes = [
        Node("x", "Placeholder", "tf", [], [x], index=0),
        Node("one", "Const", "tf", [], [one], index=1),
        Node("enter", "Enter", "tf", [x], [entered], index=2),
        merge,
        Node("add", "AddV2", "tf", [merged, one], [added], index=4),
        Node("next", "NextIteration", "tf", [added], [nxt], index=5),
    ]
    merge.append_input(nxt)
    values = [x, one, entered, merged, added, nxt]
    return Model("graphdef", None, [Graph("", nodes, values, [], [added])])
