"""Per-layer error statistics, aggregated over samples the way TF's QuantizationDebugger does.

TF's debugger (tensorflow/lite/tools/optimize/debugging/python/debugger.py) computes,
for every sample, metrics of `diffs` = dequantized value - float value (the output of
the NumericVerify op after each quantized op), and reports the `np.nanmean` of each
metric over the samples. `LayerAccumulator` does the same for those five metrics and
adds:

- `rmse_scale`: the per-sample RMSE divided by the tensor's scale (the error in
  quantization steps, the metric TF's debugger guide uses to find bad layers; a
  well-quantized layer sits near 1/sqrt(12) = 0.29).
- `accumulated_rmse`: float model's tensor vs the quantized model's tensor (what the
  layer inherited plus its own error), sqrt of the mean over samples of the MSE.
- `local_rmse`: the quantized op fed the float model's inputs (quantized) vs the
  float model's output: the layer's own error.
- `sqnr_db` and `cosine` of the accumulated pair, pooled over all samples;
  `local_sqnr_db` the same SQNR of the local pair.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

# The metrics TF's debugger computes on each sample's diffs, in its CSV column order.
TF_METRICS: dict[str, Callable[[np.ndarray], float]] = {
    "num_elements": lambda d: float(d.size),
    "stddev": lambda d: float(np.std(d)),
    "mean_error": lambda d: float(np.average(d)),
    "max_abs_error": lambda d: float(np.max(np.abs(d))),
    "mean_squared_error": lambda d: float(np.average(d ** 2)),
}


def nanmean(values: list[float]) -> float | None:
    """Mean ignoring NaN; None when there is nothing to average."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0 or np.all(np.isnan(arr)):
        return None
    return float(np.nanmean(arr))


class LayerAccumulator:
    """Collects one layer's errors sample by sample.

    Args:
        scale: the quantized tensor's (first) scale, for `rmse_scale`.
    """

    def __init__(self, scale: float) -> None:
        self.scale = float(scale)
        self.tf: dict[str, list[float]] = {k: [] for k in TF_METRICS}
        self.step_rmse: list[float] = []
        self.acc_mse: list[float] = []
        self.local_mse: list[float] = []
        self._signal = 0.0  # sum of float^2
        self._noise = 0.0  # sum of (quant - float)^2
        self._dot = 0.0
        self._norm_q = 0.0
        self._local_signal = 0.0
        self._local_noise = 0.0

    def add_diffs(self, diffs: np.ndarray) -> None:
        """One sample's dequantized - float values of the layer's own error."""
        d = np.asarray(diffs, dtype=np.float32)
        for name, fn in TF_METRICS.items():
            self.tf[name].append(fn(d))
        rmse = float(np.sqrt(np.average(d.astype(np.float64) ** 2))) if d.size else math.nan
        self.step_rmse.append(rmse / self.scale if self.scale > 0 else math.nan)

    def add_accumulated(self, float_value: np.ndarray, quant_value: np.ndarray) -> None:
        """One sample's float model tensor and the quantized model's (dequantized) tensor."""
        f = np.asarray(float_value, dtype=np.float64).ravel()
        q = np.asarray(quant_value, dtype=np.float64).ravel()
        e = q - f
        self.acc_mse.append(float(np.mean(e ** 2)) if e.size else math.nan)
        self._signal += float(np.dot(f, f))
        self._noise += float(np.dot(e, e))
        self._dot += float(np.dot(f, q))
        self._norm_q += float(np.dot(q, q))

    def add_local(self, float_value: np.ndarray, local_value: np.ndarray) -> None:
        """One sample's float model tensor and the quantized op's output fed float inputs."""
        f = np.asarray(float_value, dtype=np.float64).ravel()
        e = np.asarray(local_value, dtype=np.float64).ravel() - f
        self.local_mse.append(float(np.mean(e ** 2)) if e.size else math.nan)
        self._local_signal += float(np.dot(f, f))
        self._local_noise += float(np.dot(e, e))

    def result(self) -> dict[str, float | None]:
        """The aggregated statistics (None where nothing was measured)."""
        out: dict[str, float | None] = {k: nanmean(v) for k, v in self.tf.items()}
        out["rmse_scale"] = nanmean(self.step_rmse)
        acc = nanmean(self.acc_mse)
        local = nanmean(self.local_mse)
        out["accumulated_rmse"] = None if acc is None else math.sqrt(acc)
        out["local_rmse"] = None if local is None else math.sqrt(local)
        out["sqnr_db"] = sqnr_db(self._signal, self._noise) if self.acc_mse else None
        denom = math.sqrt(self._signal * self._norm_q)
        out["cosine"] = (self._dot / denom if denom > 0 else None) if self.acc_mse else None
        out["local_sqnr_db"] = (sqnr_db(self._local_signal, self._local_noise)
                                if self.local_mse else None)
        return out


def sqnr_db(signal: float, noise: float) -> float:
    """10*log10(signal power / noise power); +inf for no noise, -inf for no signal."""
    if noise <= 0:
        return math.inf
    if signal <= 0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def tf_tensor_name(numeric_verify_output_name: str) -> str:
    """The `tensor_name` TF's debugger reports for a NumericVerify output.

    NumericVerify outputs are named `NumericVerify/{quantized tensor name}:{index}`;
    the debugger drops the prefix and the index, then one trailing digit (the
    suffix the quantizer added to the float tensor's name).
    """
    name = numeric_verify_output_name.rsplit(":", 1)[0]
    name = name[len("NumericVerify") + 1:]
    if name and name[-1].isdigit():
        name = name[:-1]
    return name
