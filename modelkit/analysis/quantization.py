"""What kind of quantization a model carries, told from its tensors alone."""

from __future__ import annotations

from collections import Counter

from modelkit.ir import DType, Model

# Kinds, as reported in summaries (a contract of the JSON output).
FLOAT32 = "float32"
FLOAT16_WEIGHTS = "float16_weights"
DYNAMIC_RANGE = "dynamic_range"
FULL_INTEGER_INT8 = "full_integer_int8"
LEGACY_UINT8 = "legacy_uint8"
INT16X8 = "int16x8"
MIXED = "mixed"
TF1_LEGACY = "tf1_legacy_quantized"

DESCRIPTIONS = {
    FLOAT32: "float32 (not quantized)",
    FLOAT16_WEIGHTS: "float16 weights (dequantized to float32 at run time)",
    DYNAMIC_RANGE: "dynamic-range (hybrid): int8 weights, float activations",
    FULL_INTEGER_INT8: "full-integer int8: int8 activations and weights",
    LEGACY_UINT8: "legacy uint8: uint8 activations and weights",
    INT16X8: "int16x8: int16 activations, int8 weights",
    MIXED: "mixed: quantized and float compute side by side",
    TF1_LEGACY: "TF1 legacy quantization (QuantizeV2 / Quantized* ops)",
}

_BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE"}
_QUANT_ACT = (DType.INT8, DType.UINT8, DType.INT16)
_TF1_LEGACY_PREFIXES = ("Quantize", "Quantized", "Requantize", "RequantizationRange")


def quantization_kind(model: Model) -> dict:
    """Classify the model's quantization.

    Returns:
        {"kind": one of the constants above, "description": text,
         "activation_types": {dtype: count}, "weight_types": {dtype: count}}
    """
    act: Counter[str] = Counter()
    weights: Counter[str] = Counter()
    float_compute = 0
    legacy_tf = False
    for graph in model.graphs:
        for node in graph.nodes:
            if node.domain == "tf" and node.op.startswith(_TF1_LEGACY_PREFIXES):
                legacy_tf = True
        for v in graph.values:
            if v.dtype is None:
                continue
            if v.data is not None or v.is_variable:
                if v.dtype.is_float or v.dtype.is_integer and v.quant is not None:
                    weights[str(v.dtype)] += 1
                continue
            if v.quant is not None and v.dtype in _QUANT_ACT:
                act[str(v.dtype)] += 1
            elif v.dtype == DType.FLOAT32 and _touches_compute(v):
                float_compute += 1
    if legacy_tf:
        kind = TF1_LEGACY
    elif act:
        if float_compute:
            kind = MIXED
        elif "int16" in act:
            kind = INT16X8
        elif "uint8" in act and "int8" not in act:
            kind = LEGACY_UINT8
        else:
            kind = FULL_INTEGER_INT8
    elif weights.get("int8") or weights.get("uint8") or weights.get("int4"):
        kind = DYNAMIC_RANGE
    elif weights.get("float16") and not weights.get("float32"):
        kind = FLOAT16_WEIGHTS
    elif weights.get("float16") and model.format == "tflite":
        kind = FLOAT16_WEIGHTS
    else:
        kind = FLOAT32
    return {"kind": kind, "description": DESCRIPTIONS[kind],
            "activation_types": dict(sorted(act.items())),
            "weight_types": dict(sorted(weights.items()))}


def float_compute_ops(model: Model) -> Counter[str]:
    """Op types that compute in float32 (ops other than (de)quantize with a float32 activation).

    In a model meant to be fully quantized these are the ops the converter left in
    float, typically for lack of min/max ranges.
    """
    found: Counter[str] = Counter()
    for graph in model.graphs:
        for node in graph.nodes:
            if node.op in _BOUNDARY_OPS:
                continue
            values = [v for v in (*node.inputs, *node.outputs) if v is not None]
            if any(v.dtype == DType.FLOAT32 and v.data is None and not v.is_variable
                   for v in values):
                found[node.op] += 1
    return found


def _touches_compute(value) -> bool:
    """True when a float tensor feeds or comes from an op other than (de)quantize."""
    ops = [n.op for n, _ in value.consumers]
    if value.producer is not None:
        ops.append(value.producer.op)
    return any(op not in _BOUNDARY_OPS for op in ops)
