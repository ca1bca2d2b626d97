"""Quantization math for users: what to feed a quantized model and how to read it."""

from modelkit.quant.io_report import TensorIO, describe, from_real, tensor_io, to_real

__all__ = ["TensorIO", "describe", "from_real", "tensor_io", "to_real"]
