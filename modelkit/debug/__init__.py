"""Per-layer quantization error on top of the runtime: TF's QuantizationDebugger
statistics, error in quantization steps, accumulated and local error, ranking and
the layers to keep in float (`modelkit debug`)."""
