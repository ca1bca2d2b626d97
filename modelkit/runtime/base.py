"""What every runtime backend shares: tensor specs, feeding by name or order, IO quantization.

A backend executes one model. Its `inputs` and `outputs` are `TensorSpec`s in the
model's own types (an int8 input is int8 with its QuantParams); `run` takes values in
the float domain by default and quantizes them with each input's own scale and zero
point, and dequantizes quantized outputs, so two backends of the same model (a
SavedModel and its int8 TFLite conversion) take and give the same kind of values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from modelkit.errors import UsageError
from modelkit.ir.dtypes import DType
from modelkit.ir.quant import QuantParams

# Storage types whose tensors `run` quantizes and dequantizes (the model's IO types).
QUANTIZED_IO = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a runnable model.

    Attributes:
        name: the name feeds and results are keyed by (signature key where the
            model has signatures, else the tensor name without `:0`).
        dtype: the element type the model stores (int8 for a quantized input).
        shape: dims; None for a dim the model leaves open (batch, sequence).
        quant: affine parameters when the tensor is quantized, else None.
        index: the tensor's location in the model (TFLite tensor index; the
            position among inputs/outputs for TF backends).
    """

    name: str
    dtype: np.dtype
    shape: tuple[int | None, ...]
    quant: QuantParams | None = None
    index: int = 0

    @property
    def is_quantized(self) -> bool:
        """True when `run` converts this tensor between float and its integers."""
        return self.quant is not None and np.dtype(self.dtype) in QUANTIZED_IO

    @property
    def real_dtype(self) -> np.dtype:
        """The type of the values `run` takes or returns by default (float32 when quantized)."""
        return np.dtype(np.float32) if self.is_quantized else np.dtype(self.dtype)

    @property
    def sample_shape(self) -> tuple[int | None, ...]:
        """The shape of one sample (the batch dim dropped)."""
        return self.shape[1:]

    def to_real(self, value: np.ndarray) -> np.ndarray:
        """Float values of what the model produced for this tensor (dequantized when quantized)."""
        if self.is_quantized:
            assert self.quant is not None
            return self.quant.dequantize(value)
        return np.asarray(value)

    def from_real(self, x: np.ndarray) -> np.ndarray:
        """What to store for values `x`: float values are quantized with this tensor's
        own parameters; anything else is cast to the tensor's type."""
        x = np.asarray(x)
        if self.is_quantized and x.dtype.kind == "f":
            assert self.quant is not None
            return self.quant.quantize(x, DType.from_numpy(self.dtype))
        return x.astype(self.dtype, copy=False)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        out: dict = {"name": self.name, "dtype": str(np.dtype(self.dtype)),
                     "shape": [None if d is None else int(d) for d in self.shape]}
        if self.quant is not None:
            out["quantization"] = self.quant.to_dict()
        return out


class Backend:
    """A model ready to run; subclasses say how.

    Attributes:
        format: the source format name (`tflite`, `graphdef`, `savedmodel`, ...).
        path: where the model came from ("<memory>" for bytes).
        inputs/outputs: the model's tensors in its own order.
    """

    format: str = ""
    path: str = ""
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    def run(self, feeds: Mapping[str, np.ndarray] | Sequence[np.ndarray], *,
            quantize: bool = True, dequantize: bool = True) -> dict[str, np.ndarray]:
        """Run the model once on `feeds` (batch first).

        Args:
            feeds: arrays by input name, or a list in `inputs` order.
            quantize: float feeds of quantized (int8/uint8/int16) inputs are
                quantized with the input's own scale and zero point.
            dequantize: quantized outputs come back as float32.

        Returns:
            One array per output, by output name, in `outputs` order.

        Raises:
            UsageError: a feed is missing, unknown or of the wrong shape.
        """
        arrays = self.arrange(feeds)
        stored = [spec.from_real(x) if quantize else np.asarray(x)
                  for spec, x in zip(self.inputs, arrays)]
        step = self._fixed_batch(stored)
        if step:
            # NOTE: a model with a fixed batch dim (a frozen batch-1 graph) takes the
            # samples in slices of that size; the results are joined.
            parts = [self._run([a[i:i + step] for a in stored])
                     for i in range(0, stored[0].shape[0], step)]
            raw = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        else:
            raw = self._run(stored)
        if dequantize:
            return {spec.name: spec.to_real(raw[spec.name]) for spec in self.outputs}
        return raw

    def _fixed_batch(self, feeds: list[np.ndarray]) -> int:
        """The slice size when every input has the same fixed batch dim and the feeds
        hold a multiple of it (more samples), else 0 (run as given)."""
        if not feeds or any(not s.shape or s.shape[0] is None for s in self.inputs):
            return 0
        sizes = {s.shape[0] for s in self.inputs}
        counts = {a.shape[0] if a.ndim else 0 for a in feeds}
        if len(sizes) != 1 or len(counts) != 1:
            return 0
        size, count = sizes.pop(), counts.pop()
        if size >= 1 and count != size and count % size == 0:
            return int(size)
        return 0

    def _run(self, feeds: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Run on arrays already in the inputs' own types; results in the outputs' types."""
        raise NotImplementedError

    def arrange(self, feeds: Mapping[str, np.ndarray] | Sequence[np.ndarray]) -> list[np.ndarray]:
        """Feeds as a list in `inputs` order, checked against the input shapes.

        Raises:
            UsageError: missing, unknown or extra feeds; a shape that cannot fit.
        """
        names = [s.name for s in self.inputs]
        if isinstance(feeds, Mapping):
            by_key = {match_key(k): v for k, v in feeds.items()}
            missing = [n for n in names if match_key(n) not in by_key]
            if missing:
                raise UsageError(f"no value for input(s) {', '.join(missing)}; the model "
                                 f"takes {', '.join(names)}", self.path)
            extra = set(by_key) - {match_key(n) for n in names}
            if extra:
                raise UsageError(f"unknown input(s) {', '.join(sorted(extra))}; the model "
                                 f"takes {', '.join(names)}", self.path)
            arrays = [np.asarray(by_key[match_key(n)]) for n in names]
        else:
            arrays = [np.asarray(x) for x in feeds]
            if len(arrays) != len(names):
                raise UsageError(f"{len(arrays)} arrays for {len(names)} inputs "
                                 f"({', '.join(names)})", self.path)
        for spec, x in zip(self.inputs, arrays):
            if not spec.shape:
                # NOTE: a TF placeholder of unknown rank also shows as (); TF checks it.
                continue
            if len(spec.shape) != x.ndim or any(
                    d is not None and d != g for d, g in zip(spec.shape[1:], x.shape[1:])):
                want = ",".join("?" if d is None else str(d) for d in spec.shape)
                raise UsageError(f"input {spec.name!r} takes shape [{want}], got "
                                 f"{list(x.shape)}", self.path)
        return arrays

    def close(self) -> None:
        """Release what the backend holds (sessions, interpreters)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def match_key(name: str) -> str:
    """A name to match inputs/outputs across formats: no `:0`, no `serving_default_`
    prefix, `/` as `_`, lower case."""
    name = name.split(":")[0]
    if name.startswith("serving_default_"):
        name = name[len("serving_default_"):]
    return name.replace("/", "_").lower()
