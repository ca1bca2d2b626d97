"""Node attributes as comparable tokens and as JSON data.

Attrs hold plain Python values, enums (`EnumValue`), dtypes, function references,
tensors (`TensorData`) and, from some readers, numpy arrays. `attr_token` turns
one into a hashable token where equal tokens mean equal attrs (a tensor by its
content digest); `attr_json` gives the value as it is reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from modelkit.ir import DType, EnumValue, FuncRef, TensorData

Digest = Callable[[TensorData], "bytes | None"]


def attr_token(value: Any, digest: Digest | None = None) -> Any:
    """A hashable token of an attr value; equal tokens for equal values.

    Args:
        value: the attr value.
        digest: content digest of tensor values; None compares tensors by type and shape.
    """
    if isinstance(value, TensorData):
        d = digest(value) if digest is not None else None
        return ("tensor", str(value.dtype), value.shape, d)
    if isinstance(value, EnumValue):
        return ("enum", str(value))
    if isinstance(value, DType):
        return ("dtype", value.value)
    if isinstance(value, FuncRef):
        return ("func", value.name)
    if isinstance(value, float):
        return ("nan",) if math.isnan(value) else value
    if isinstance(value, (list, tuple)):
        return tuple(attr_token(v, digest) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), attr_token(v, digest)) for k, v in value.items()))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ("bytes", bytes(value))
    if hasattr(value, "tolist") and hasattr(value, "dtype"):
        return ("array", str(value.dtype), attr_token(value.tolist(), digest))
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return value


def attr_json(value: Any) -> Any:
    """The attr value as JSON-ready data (tensors as type and shape)."""
    if isinstance(value, TensorData):
        return {"tensor": f"{value.dtype}{list(value.shape)}"}
    if isinstance(value, (EnumValue, DType)):
        return str(value)
    if isinstance(value, FuncRef):
        return value.name
    if isinstance(value, (list, tuple)):
        return [attr_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): attr_json(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"bytes": len(raw)}
    if hasattr(value, "tolist"):
        return value.tolist()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def attr_text(value: Any, limit: int = 60) -> str:
    """Short display form of an attr value for one line of text."""
    data = attr_json(value)
    if isinstance(data, str):
        text = data
    elif isinstance(data, dict) and "tensor" in data and len(data) == 1:
        text = f"tensor {data['tensor']}"
    else:
        import json

        text = json.dumps(data, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[:limit - 3] + "..."
