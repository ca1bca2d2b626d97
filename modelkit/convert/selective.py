"""Selective quantization: full integer except the ops and tensors named on a denylist.

TF's supported path (the one `tf.lite.experimental.QuantizationDebugger` takes with
`QuantizationDebugOptions(denylisted_nodes=..., denylisted_ops=...)` and
`get_nondebug_quantized_model()`): convert with `_experimental_calibrate_only` to get
the float model with recorded min/max, then let the MLIR quantizer
(`tensorflow.lite.python.convert.mlir_quantize`) quantize it, leaving the denylisted
ops in float with QUANTIZE/DEQUANTIZE around them. Without a denylist this is the
quantization `TFLiteConverter.convert()` itself runs for full integer int8, so the
output is the same model.

- A node is named by its output tensor in the float TFLite model (what
  `modelkit debug` lists as `tensor_name`, e.g. `dense1/MatMul;dense1/Relu;dense1/BiasAdd`).
- An op is named in TFLite's vocabulary (`FULLY_CONNECTED`, `CONV_2D`).
- Ops that keep their input's scale (MAX_POOL_2D, RESHAPE, CONCATENATION...) follow
  their neighbours and cannot be kept in float alone; `left_quantized` names them.

TensorFlow is imported inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from modelkit.errors import ConversionError, UsageError

# Modes the MLIR quantizer can quantize selectively.
SELECTIVE_MODES = ("int8",)


@dataclass
class Denylist:
    """What stays float: node names (float model tensor names) and TFLite op names."""

    nodes: list[str] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.nodes or self.ops)

    def options(self) -> list[str]:
        """The `modelkit convert` options that give this denylist."""
        out = []
        if self.nodes:
            out += ["--denylist-nodes", ",".join(self.nodes)]
        if self.ops:
            out += ["--denylist-ops", ",".join(self.ops)]
        return out


def parse_list(text: str | None) -> list[str]:
    """`a,b, c` -> ['a', 'b', 'c'] (empty items dropped)."""
    if not text:
        return []
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_ops(text: str | None) -> list[str]:
    """Op names for --denylist-ops, upper case as TFLite spells them (`conv_2d` -> `CONV_2D`)."""
    return [op.upper() for op in parse_list(text)]


def check_mode(quantize: str, denylist: Denylist) -> None:
    """Refuse a denylist with a mode that cannot honour it.

    Raises:
        UsageError: the mode is not full integer int8.
    """
    if denylist and quantize not in SELECTIVE_MODES:
        raise UsageError(f"--denylist-nodes/--denylist-ops apply to --quantize int8 "
                         f"(the MLIR quantizer's selective mode); got --quantize {quantize}")


def check_names(denylist: Denylist, tensor_names: Iterable[str], op_names: Iterable[str],
                path: str | None = None) -> None:
    """Refuse names the float model does not have, naming the close ones.

    Args:
        denylist: the request.
        tensor_names: output tensor names of the float model's ops.
        op_names: the float model's op types.
        path: the source model, for the message.

    Raises:
        UsageError: an unknown node or op.
    """
    import difflib

    tensors = list(dict.fromkeys(tensor_names))
    ops = sorted(set(op_names))
    for name in denylist.nodes:
        if name not in tensors:
            # NOTE: fused ops carry every fused TF node's name (`a/MatMul;a/Relu`);
            # a user naming one of them means that op.
            close = [t for t in tensors if name in t.split(";")] or \
                [t for t in tensors if name in t] or \
                difflib.get_close_matches(name, tensors, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else \
                "; `modelkit debug` lists the names (tensor_name)"
            raise UsageError(f"--denylist-nodes: no op writes a tensor named {name!r} in "
                             f"the float model{hint}", path)
    for op in denylist.ops:
        if op not in ops:
            raise UsageError(f"--denylist-ops: the model has no {op} op; it has "
                             f"{', '.join(ops)}", path)


def calibrate(tf, float_model: bytes, samples: Callable[[], Iterable[list[np.ndarray]]]) -> bytes:
    """The float TFLite model with min/max recorded on `samples`, as the converter does.

    Args:
        tf: the imported tensorflow module.
        float_model: float TFLite flatbuffer.
        samples: a factory of iterables of per-input arrays (batch of one each).

    Raises:
        ConversionError: the calibrator failed.
    """
    del tf  # NOTE: taken so callers have imported (and quieted) TensorFlow first.
    from tensorflow.lite.python.optimize import calibrator

    try:
        with_intermediates = calibrator.add_intermediate_tensors(float_model)
        return bytes(calibrator.Calibrator(with_intermediates).calibrate(samples))
    except (RuntimeError, ValueError) as e:
        raise ConversionError(f"calibration failed: {str(e).strip().splitlines()[0]}") from None


def quantize_calibrated(tf, calibrated: bytes, *, io_type: str = "int8",
                        denylist: Denylist | None = None, numeric_verify: bool = False,
                        disable_per_channel: bool = False) -> bytes:
    """Full integer int8 quantization of a calibrated model, denylisted parts in float.

    Args:
        tf: the imported tensorflow module.
        calibrated: output of `calibrate` (or a converter run with calibrate-only).
        io_type: the model's input/output type (`int8`, `uint8`, `float32`).
        denylist: nodes and ops to keep in float.
        numeric_verify: the debug model: a NumericVerify op after each quantized op
            (its output is dequantized value - float value), float inputs/outputs.
        disable_per_channel: per-tensor weights.

    Raises:
        ConversionError: the quantizer failed.
    """
    from tensorflow.lite.python import convert as tf_convert

    denylist = denylist or Denylist()
    io = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}[io_type]
    kwargs = {}
    if not numeric_verify:
        kwargs = {"input_data_type": io, "output_data_type": io}
    try:
        return bytes(tf_convert.mlir_quantize(
            calibrated, disable_per_channel=disable_per_channel,
            enable_numeric_verify=numeric_verify,
            denylisted_ops=list(denylist.ops) or None,
            denylisted_nodes=list(denylist.nodes) or None, **kwargs))
    except (RuntimeError, ValueError) as e:
        raise ConversionError(f"the MLIR quantizer failed: "
                              f"{str(e).strip().splitlines()[0]}") from None


def convert_selectively(tf, converter, denylist: Denylist, io_type: str | None, *,
                        path: str | None = None,
                        warn: Callable[[str], None] | None = None) -> bytes:
    """Run a converter configured for full integer int8, keeping `denylist` in float.

    The converter is run once with calibrate-only (its float graph, calibrated on its
    representative dataset), the names are checked against that graph, then it is
    quantized by `quantize_calibrated` with the converter's per-channel setting.

    Args:
        tf: the imported tensorflow module.
        converter: a TFLiteConverter (v1 or v2) set up for --quantize int8.
        denylist: what stays float.
        io_type: the model's input/output type (default int8).
        path: the source model, for messages.
        warn: called with a warning when a denylisted op stayed integer.

    Raises:
        UsageError: a denylisted name or op is not in the model.
        ConversionError: the converter or quantizer failed.
    """
    converter._experimental_calibrate_only = True  # noqa: SLF001 (TF's own debugger path)
    try:
        calibrated = converter.convert()
    finally:
        converter._experimental_calibrate_only = False  # noqa: SLF001
    rows = op_outputs(bytes(calibrated))
    check_names(denylist, [r[1] for r in rows], [r[0] for r in rows], path)
    quantized = quantize_calibrated(
        tf, calibrated, io_type=io_type or "int8", denylist=denylist,
        disable_per_channel=bool(getattr(converter, "_experimental_disable_per_channel",
                                         False)))
    left = left_quantized(op_outputs(quantized), denylist)
    if left and warn is not None:
        warn(f"still quantized despite the denylist: {', '.join(left)} (ops that keep "
             "their input's scale, such as MAX_POOL_2D or RESHAPE, follow their neighbours)")
    return quantized


def op_outputs(model_bytes: bytes | None = None, model=None) -> list[tuple[str, str, str]]:
    """(op type, first output tensor name, its dtype) of every op of the main graph."""
    from modelkit.formats.tflite import load as load_tflite

    if model is None:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory(prefix="modelkit-selective-") as d:
            path = Path(d) / "model.tflite"
            path.write_bytes(model_bytes or b"")
            model = load_tflite(path)
            return _op_rows(model)
    return _op_rows(model)


def _op_rows(model) -> list[tuple[str, str, str]]:
    rows = []
    for node in model.graphs[0].nodes:
        if node.outputs:
            out = node.outputs[0]
            rows.append((node.op, out.name, str(out.dtype)))
    return rows


_FLOAT = ("float32", "float16")


def left_quantized(quantized: Sequence[tuple[str, str, str]], denylist: Denylist) -> list[str]:
    """Denylisted nodes and ops the quantized model still computes in integers.

    Args:
        quantized: `op_outputs` of the quantized model.
        denylist: the request.
    """
    by_name = {name: (op, dtype) for op, name, dtype in quantized}
    left = [n for n in denylist.nodes if n in by_name and by_name[n][1] not in _FLOAT]
    for op in denylist.ops:
        if any(o == op and dtype not in _FLOAT for o, _, dtype in quantized):
            left.append(op)
    return left


__all__ = ["Denylist", "SELECTIVE_MODES", "calibrate", "check_mode", "check_names",
           "convert_selectively", "left_quantized", "op_outputs", "parse_list", "parse_ops",
           "quantize_calibrated"]
