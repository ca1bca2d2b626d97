"""Writing command results to stdout: text for people, JSON for scripts."""

from __future__ import annotations

import json
import math
import sys


def _default(obj):
    """JSON for numpy scalars and arrays without importing numpy here."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def _finite(obj):
    """NaN and infinities are not JSON; write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def emit_json(data: dict) -> None:
    """Print `data` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(_finite(data), indent=2, default=_default, allow_nan=False))
    sys.stdout.write("\n")


def emit_text(text: str) -> None:
    """Print text on stdout as is."""
    sys.stdout.write(text)
