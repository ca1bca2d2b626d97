"""Which custom ops each TFLite runtime implements (no rules here, so the runtime
backends can read the tables without registering rules)."""

from __future__ import annotations

# Custom ops the stock BuiltinOpResolver registers (LiteRT tflite/core/kernels/register.cc).
STOCK_CUSTOM_OPS = frozenset({"NumericVerify", "Mfcc", "AudioSpectrogram",
                              "TFLite_Detection_PostProcess", "aeq.hadamard_rotation"})
# MediaPipe custom ops XNNPACK has handlers for (the builtin resolver has no kernel for
# them, so a model holding them runs only when XNNPACK takes them): xnnpack_delegate.cc
# Subgraph::VisitNode, case kTfLiteBuiltinCustom (VisitMediaPipeDeconvolutionNode,
# VisitMediaPipeMaxPoolingNode, VisitMediaPipeUnpoolingNode). Each takes float32
# tensors only; the deconvolution also needs a constant filter and bias.
XNNPACK_CUSTOM_OPS = frozenset({"Convolution2DTransposeBias", "MaxPoolingWithArgmax2D",
                                "MaxUnpooling2D"})
