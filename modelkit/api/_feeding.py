"""Feeding a model: opening it quietly, and turning data, mean/std and raw into the
arrays a backend takes (said on stderr, with a warning for NaN/Inf and for values the
cast to an input's type changes). `run` and `compare` share it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelkit.convert.progress import Progress
from modelkit.runtime import Backend
from modelkit.runtime.results import format_values


def floats(value, option: str) -> list[float]:
    """Mean/std values: None, a number, a comma list ("0,255") or a sequence of either.

    Raises:
        UsageError: not numbers.
    """
    from modelkit.convert.options import parse_floats

    if value is None:
        return []
    if isinstance(value, (str, int, float, np.number)):
        value = [value]
    return parse_floats([str(v) for v in value], option)


def open_model(path: Path, fmt: str | None, **options) -> Backend:
    """`open_runtime` with TensorFlow's and the interpreter's native logs kept off stderr."""
    from modelkit.runtime import open_runtime
    from modelkit.runtime.tfenv import quiet_native_stderr

    with quiet_native_stderr(options.get("debug", False)):
        return open_runtime(path, fmt=fmt, **options)


def prepare_inputs(rt: Backend, data: Path, mean: list[float], std: list[float],
                   *, raw: bool, limit: int | None, progress: Progress,
                   metadata: bool = True) -> tuple[list[np.ndarray], list[dict], int]:
    """The samples for `rt` (its input order), per input how they are fed and what the
    values held (NaN/Inf, values the cast to the input's type changed: each warned on
    stderr), and how many samples the data holds (before --limit).

    Args:
        metadata: apply the normalization a TFLite model's metadata states when
            --mean/--std are not given.

    Raises:
        UsageError: bad --mean/--std, --raw with them, data that does not fit.
    """
    from modelkit.convert.data import InputSpec, read_data
    from modelkit.errors import UsageError
    from modelkit.runtime.batch import metadata_normalization, normalize, real_specs

    m, s = list(mean), list(std)
    if bool(m) != bool(s):
        raise UsageError("--mean and --std go together")
    if raw and m:
        raise UsageError("--raw feeds the values as they are; drop --mean/--std")
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    specs = real_specs(rt.inputs, raw)
    loaded = read_data(data, [InputSpec(x.name, np.dtype(x.dtype), x.shape) for x in specs],
                       limit=limit, allow_nonfinite=True, warn=progress.warn)
    arrays = loaded.arrays
    stated = metadata_normalization(rt) if metadata and not raw and not m else {}
    fed = []
    for i, spec in enumerate(rt.inputs):
        info: dict = {"name": spec.name, "dtype": str(np.dtype(spec.dtype)),
                      "shape": list(spec.shape), "quantized": spec.is_quantized,
                      **loaded.inputs[i].to_dict()}
        float_input = np.dtype(specs[i].dtype).kind == "f"
        if data.is_dir() and float_input and (m or spec.name in stated):
            # NOTE: normalization constants for images (TFLite metadata, --mean 127.5
            # --std 127.5) are in pixel units; the image loader gives pixel / 255.
            arrays[i] = arrays[i] * np.float32(255.0)
            info["pixels"] = "0..255"
        if m and float_input:
            arrays[i] = normalize(arrays[i], m, s, spec.name)
            info["normalization"] = {"mean": m, "std": s, "source": "--mean/--std"}
        elif spec.name in stated and float_input:
            sm, ss = stated[spec.name]
            arrays[i] = normalize(arrays[i], sm, ss, spec.name)
            info["normalization"] = {"mean": sm, "std": ss, "source": "model metadata"}
            progress.note(f"input {spec.name}: normalizing (x - {format_values(sm)}) / "
                          f"{format_values(ss)} as the model's metadata states (--mean/--std "
                          "override, --raw feeds as is)")
        if raw:
            info["feed"] = f"fed raw as {np.dtype(spec.dtype)}"
        elif spec.is_quantized:
            assert spec.quant is not None
            info["feed"] = (f"quantized with scale {float(spec.quant.scale[0]):.6g}, zero point "
                            f"{int(spec.quant.zero_point[0])}")
            info["scale"] = float(spec.quant.scale[0])
            info["zero_point"] = int(spec.quant.zero_point[0])
        else:
            info["feed"] = f"fed as {np.dtype(spec.dtype)}"
        fed.append(info)
    return arrays, fed, loaded.total
