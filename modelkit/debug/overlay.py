"""Per-layer error as Model Explorer node data (google-ai-edge/model-explorer).

Model Explorer overlays a `GraphNodeData` JSON on a graph: `results` maps a key
(a node id, or any output tensor name of a node) to `{"value": number}`, and an
optional `gradient` colours nodes from the minimum (stop 0) to the maximum value
(stop 1). Keys here are the quantized TFLite model's output tensor names, which its
TFLite adapter matches to the nodes that write them.
"""

from __future__ import annotations

import math

from modelkit.debug.analyze import Layer

METRICS = ("rmse_scale", "local_rmse", "accumulated_rmse", "mean_squared_error",
           "max_abs_error")


def node_data(layers: list[Layer], metric: str = "rmse_scale") -> dict:
    """The GraphNodeData dict for `metric` (layers without a finite value are left out)."""
    results = {}
    for layer in layers:
        value = layer.stats.get(metric)
        if value is not None and math.isfinite(value):
            results[layer.tensor_name] = {"value": float(value)}
    return {
        "results": results,
        "gradient": [{"stop": 0, "bgColor": "#d9f0d3"}, {"stop": 0.5, "bgColor": "#fee08b"},
                     {"stop": 1, "bgColor": "#d73027"}],
    }
