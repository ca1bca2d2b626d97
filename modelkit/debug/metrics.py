"""Custom metrics of `debug`, with the semantics of TF's QuantizationDebugOptions.

TF's QuantizationDebugger (tensorflow/lite/tools/optimize/debugging/python/debugger.py)
takes three kinds of user functions, each by name:

- `layer_debug_metrics`: `fn(diffs) -> float`, where `diffs` is one sample's
  dequantized quantized value minus the float value of a layer (the NumericVerify
  output); aggregated per layer with `np.nanmean` over the samples.
- `layer_direct_compare_metrics`: `fn(float_values, quantized_values, scale,
  zero_point) -> float`, the float tensor and the quantized tensor as stored (int8),
  with the quantized tensor's first scale and zero point; the function dequantizes
  (cast to int32 first); aggregated per layer with `np.nanmean`.
- `model_debug_metrics`: `fn(float_outputs, quantized_outputs) -> float`, the lists
  of the float model's and the quantized model's outputs for one sample (quantized
  outputs dequantized); aggregated with `np.mean`.

Names must be unique across the three kinds (as TF requires) and must not hide a
built-in statistic of the layer table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from modelkit.errors import UsageError

LayerMetric = Callable[[np.ndarray], float]
DirectMetric = Callable[[np.ndarray, np.ndarray, float, int], float]
ModelMetric = Callable[[Sequence[np.ndarray], Sequence[np.ndarray]], float]

# Keys of a layer row (`Layer.to_dict`) and of the report a metric may not take.
RESERVED = frozenset({
    "graph", "node", "node_name", "op_name", "tensor_idx", "tensor_name", "num_elements",
    "stddev", "mean_error", "max_abs_error", "mean_squared_error", "scale", "zero_point",
    "rmse_scale", "accumulated_rmse", "local_rmse", "sqnr_db", "cosine", "rank",
    "local_sqnr_db", "float_tensor_name", "match", "dtype", "metrics"})


class MetricError(UsageError):
    """A custom metric is malformed, failed, or returned something that is not a number."""


@dataclass
class CustomMetrics:
    """The user's metric functions, by name, of the three kinds TF's debugger takes.

    Raises:
        MetricError: a name repeats across kinds, hides a built-in statistic, or a
            value is not callable.
    """

    layer: Mapping[str, LayerMetric] = field(default_factory=dict)
    direct: Mapping[str, DirectMetric] = field(default_factory=dict)
    model: Mapping[str, ModelMetric] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.layer = dict(self.layer or {})
        self.direct = dict(self.direct or {})
        self.model = dict(self.model or {})
        seen: set[str] = set()
        for kind, metrics in (("layer_debug_metrics", self.layer),
                              ("layer_direct_compare_metrics", self.direct),
                              ("model_debug_metrics", self.model)):
            for name, fn in metrics.items():
                if not isinstance(name, str) or not name:
                    raise MetricError(f"{kind}: metric names are non-empty strings, got "
                                      f"{name!r}")
                if name in seen:
                    raise MetricError(f"metric {name!r} is given twice; names must be unique "
                                      "across layer_debug_metrics, "
                                      "layer_direct_compare_metrics and model_debug_metrics")
                if name in RESERVED:
                    raise MetricError(f"{kind}: {name!r} is a built-in statistic of the layer "
                                      "table; give the metric another name")
                if not callable(fn):
                    raise MetricError(f"{kind}: metric {name!r} is not a function")
                seen.add(name)

    def __bool__(self) -> bool:
        return bool(self.layer or self.direct or self.model)

    @property
    def layer_names(self) -> list[str]:
        """Per-layer metric names in TF's CSV order: layer metrics, then direct ones."""
        return list(self.layer) + list(self.direct)


def _number(name: str, value: object, where: str) -> float:
    try:
        return float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise MetricError(f"metric {name!r} returned {type(value).__name__} "
                          f"{np.shape(value)} on {where}; a metric returns one number") from None


def _call(name: str, fn: Callable, args: tuple, where: str) -> float:
    try:
        value = fn(*args)
    except Exception as e:  # noqa: BLE001 - the user's code: said with its place, chained
        raise MetricError(f"metric {name!r} failed on {where}: {type(e).__name__}: {e}") from e
    return _number(name, value, where)


class MetricCollector:
    """Calls the metrics sample by sample and aggregates them as TF's debugger does."""

    def __init__(self, metrics: CustomMetrics) -> None:
        self.metrics = metrics
        self._layers: dict[int, dict[str, list[float]]] = {}
        self._model: dict[str, list[float]] = {name: [] for name in metrics.model}

    def _put(self, key: int, name: str, value: float) -> None:
        self._layers.setdefault(key, {}).setdefault(name, []).append(value)

    def add_diffs(self, key: int, diffs: np.ndarray, where: str) -> None:
        """One sample's dequantized - float values of layer `key`."""
        for name, fn in self.metrics.layer.items():
            self._put(key, name, _call(name, fn, (diffs,), where))

    def add_direct(self, key: int, float_values: np.ndarray, quant_values: np.ndarray,
                   scale: float, zero_point: int, where: str) -> None:
        """One sample's float tensor and stored quantized tensor of layer `key`."""
        for name, fn in self.metrics.direct.items():
            self._put(key, name, _call(name, fn, (float_values, quant_values, scale,
                                                  zero_point), where))

    def add_outputs(self, float_outputs: list[np.ndarray], quant_outputs: list[np.ndarray],
                    where: str) -> None:
        """One sample's outputs of both models."""
        for name, fn in self.metrics.model.items():
            self._model[name].append(_call(name, fn, (float_outputs, quant_outputs), where))

    def layer_result(self, key: int) -> dict[str, float | None]:
        """Per-layer metric -> nanmean over the samples (None: nothing measured)."""
        got = self._layers.get(key, {})
        out: dict[str, float | None] = {}
        for name in self.metrics.layer_names:
            values = np.asarray(got.get(name, []), dtype=np.float64)
            ok = values[~np.isnan(values)]
            out[name] = float(ok.mean()) if ok.size else None
        return out

    def model_result(self) -> dict[str, float]:
        """Model metric -> mean over the samples (NaN when a sample gave NaN)."""
        return {name: float(np.mean(values)) if values else math.nan
                for name, values in self._model.items()}
