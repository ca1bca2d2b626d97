"""The LiteRT interpreter driven by hand: the oracles the runtime, advisor, debug and
transform tests compare with."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def by_hand(path: Path, x: np.ndarray, delegates: bool = False) -> np.ndarray:
    """Quantize each sample with the input's scale/zero point, invoke, dequantize; the
    builtin kernels (the runtime's default) or the default delegates (XNNPACK,
    `--delegates`). Returns one output row per sample, as float64."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = (OpResolverType.AUTO if delegates
                else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    (i,), (o,) = it.get_input_details(), it.get_output_details()
    rows = []
    for sample in x:
        v = sample[None]
        if np.issubdtype(i["dtype"], np.integer):
            scale, zp = i["quantization"]
            info = np.iinfo(i["dtype"])
            v = np.clip(np.round(v / scale + zp), info.min, info.max)
        it.set_tensor(i["index"], v.astype(i["dtype"]))
        it.invoke()
        y = it.get_tensor(o["index"])
        if np.issubdtype(o["dtype"], np.integer):
            scale, zp = o["quantization"]
            y = (y.astype(np.float64) - zp) * scale
        rows.append(y[0])
    return np.array(rows)


def litert_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of a TFLite file in the LiteRT interpreter, the input quantized
    by hand with its own scale and zero point."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    right = 0
    for i in range(len(x)):
        xi = x[i:i + 1]
        if np.dtype(inp["dtype"]).kind == "i":
            s, z = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            xi = np.clip(np.round(xi / s) + z, info.min, info.max).astype(inp["dtype"])
        it.set_tensor(inp["index"], xi)
        it.invoke()
        right += int(np.argmax(it.get_tensor(out["index"])) == y[i])
    return right / len(x)


def int8_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    """Outputs of a model with int8 input and output: each sample quantized by hand
    (round, then add the zero point), run alone, the output dequantized in float32;
    samples first."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    (s_in, z_in), (s_out, z_out) = inp["quantization"], out["quantization"]
    got = []
    for i in range(len(x)):
        q = np.clip(np.round(x[i:i + 1] / s_in) + z_in, -128, 127).astype(np.int8)
        it.set_tensor(inp["index"], q)
        it.invoke()
        got.append((it.get_tensor(out["index"]).astype(np.float32) - z_out) * s_out)
    return np.concatenate(got)
