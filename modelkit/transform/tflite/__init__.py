"""Rewrites of TFLite models (IO types, buffers, names, quantization repairs)."""
