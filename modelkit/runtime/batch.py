"""Running many samples: slicing to the models' batch sizes, normalization of float
inputs, the input normalization a model's own metadata states."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from modelkit.errors import UsageError
from modelkit.runtime.base import Backend, TensorSpec


def batch_step(*backends: Backend) -> int:
    """The sample slice every backend takes: the lcm of their fixed batch dims (1 when
    all are dynamic)."""
    step = 1
    for b in backends:
        for s in b.inputs:
            if s.shape and s.shape[0] is not None and s.shape[0] > 0:
                step = step * int(s.shape[0]) // math.gcd(step, int(s.shape[0]))
    return step


def sample_count(arrays: Sequence[np.ndarray], step: int) -> int:
    """How many of the samples can run in slices of `step`.

    Raises:
        UsageError: fewer samples than one slice.
    """
    n = int(arrays[0].shape[0]) if len(arrays) else 0
    usable = n - n % step
    if n and not usable:
        raise UsageError(f"{n} sample(s) given, but the model takes batches of {step}")
    return usable


def run_samples(backend: Backend, arrays: Sequence[np.ndarray], *, step: int | None = None,
                progress: Callable[[int], None] = lambda n: None, quantize: bool = True,
                dequantize: bool = True) -> dict[str, np.ndarray]:
    """Run every sample (arrays in `backend.inputs` order, samples first), `step` at a
    time (default: `batch_step(backend)`); outputs joined, samples first.

    Args:
        progress: called with the number of samples each slice completed.
    """
    scalar = [s.shape == () for s in backend.inputs]
    # NOTE: a scalar input (a step count, a threshold) has no batch dim: one sample
    # per run, fed as a 0-d value.
    step = 1 if any(scalar) else (step or batch_step(backend))
    n = sample_count(arrays, step)
    parts = []
    for i in range(0, n, step):
        feeds = [a[i] if flat else a[i:i + step] for a, flat in zip(arrays, scalar)]
        # NOTE: quantizing NaN has no integer value; the data loader already said so
        # in one line, numpy's RuntimeWarning would only repeat it.
        with np.errstate(invalid="ignore"):
            parts.append(backend.run(feeds, quantize=quantize, dequantize=dequantize))
        progress(step)
    if not parts:
        return {s.name: np.zeros((0,), np.float32) for s in backend.outputs}
    return {k: _join([p[k] for p in parts]) for k in parts[0]}


def _join(parts: list[np.ndarray]) -> np.ndarray:
    """Slices joined along the samples; 0-d results (a scalar output) stacked."""
    if parts[0].ndim == 0:
        return np.stack(parts)
    return np.concatenate(parts)


def normalize(x: np.ndarray, mean: Sequence[float], std: Sequence[float],
              name: str = "") -> np.ndarray:
    """`(x - mean) / std` in float32; a list of several values applies per channel (the
    last axis).

    Raises:
        UsageError: a std of 0, or a list whose length is not 1 or the channel count.
    """
    m = np.asarray(mean, dtype=np.float64).reshape(-1)
    s = np.asarray(std, dtype=np.float64).reshape(-1)
    if np.any(s == 0):
        raise UsageError("--std must not be 0")
    channels = x.shape[-1] if x.ndim else 1
    for values, what in ((m, "--mean"), (s, "--std")):
        if values.size not in (1, channels):
            raise UsageError(f"{what} has {values.size} values; input {name!r} has "
                             f"{channels} channels (give 1 value or one per channel)")
    return ((np.asarray(x, dtype=np.float64) - m) / s).astype(np.float32)


def metadata_normalization(backend: Backend) -> dict[str, tuple[list[float], list[float]]]:
    """The mean/std per input (by the backend's input name) that the model's own
    metadata says to normalize with (TFLite Support NormalizationOptions); empty when
    the model states none or is not a TFLite file."""
    from modelkit.runtime.tflite import TFLiteBackend

    if not isinstance(backend, TFLiteBackend) or backend.path == "<memory>":
        return {}
    from pathlib import Path

    from modelkit.formats.tflite import load
    from modelkit.formats.tflite.metadata import input_normalization

    by_tensor = input_normalization(load(Path(backend.path)))
    if not by_tensor:
        return {}
    names = {d["index"]: d["name"] for d in backend.tensor_details()}
    out = {}
    for spec in backend.inputs:
        stats = by_tensor.get(names.get(spec.index, spec.name))
        if stats is not None:
            out[spec.name] = (stats["mean"], stats["std"])
    return out


def real_specs(specs: Sequence[TensorSpec], raw: bool = False) -> list[TensorSpec]:
    """Specs for loading data: float32 for quantized inputs (run quantizes), the
    model's own type when `raw`."""
    from dataclasses import replace

    return [s if raw else replace(s, dtype=s.real_dtype) for s in specs]
