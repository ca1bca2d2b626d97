"""The LiteRT interpreter driven by hand: the oracle the runtime tests compare with."""

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
