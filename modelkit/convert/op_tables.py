"""Which TensorFlow ops the TFLite converter can take: re-exported from
`modelkit.analysis.tf_ops`, where the tables live (check uses them too)."""

from __future__ import annotations

from modelkit.analysis.tf_ops import (LEGACY_QUANTIZED_DTYPES, LEGACY_QUANTIZED_TF_OPS,
                                      SELECT_TF_OPS, TFLITE_BUILTIN_TF_OPS)

__all__ = ["LEGACY_QUANTIZED_DTYPES", "LEGACY_QUANTIZED_TF_OPS", "SELECT_TF_OPS",
           "TFLITE_BUILTIN_TF_OPS"]
