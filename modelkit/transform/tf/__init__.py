"""graph_transforms passes (and dequantize_legacy) on TensorFlow graphs."""
