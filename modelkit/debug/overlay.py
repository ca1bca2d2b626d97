"""Per-layer error laid over a graph: `modelkit debug --json` read back, and written
as Model Explorer node data.

`read_report` reads the JSON `modelkit debug --json` wrote (the overlay of `modelkit
browse --overlay`) and checks its structure; `match_layers` finds the node of a model
each layer was measured on.

Model Explorer (google-ai-edge/model-explorer) overlays a `GraphNodeData` JSON on a
graph: `results` maps a key (a node id, or any output tensor name of a node) to
`{"value": number}`, and an optional `gradient` colours nodes from the minimum (stop 0)
to the maximum value (stop 1). Keys here are the quantized TFLite model's output tensor
names, which its TFLite adapter matches to the nodes that write them.

Reading an overlay imports neither numpy nor the runtime.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelkit.errors import UsageError

if TYPE_CHECKING:
    from modelkit.debug.analyze import Layer
    from modelkit.ir import Model

# The `schema_version` of the `modelkit debug --json` report this module reads.
REPORT_SCHEMA = 1

# Layer keys and their types (`Layer.to_dict`): required ones, then optional ones,
# which may also be null.
_REQUIRED = {"node": int, "node_name": str, "tensor_name": str}
_OPTIONAL = {"graph": int, "op_name": str, "tensor_idx": int, "zero_point": int, "rank": int,
             "float_tensor_name": str, "match": str, "dtype": str,
             "num_elements": float, "stddev": float, "mean_error": float,
             "max_abs_error": float, "mean_squared_error": float, "scale": float,
             "rmse_scale": float, "accumulated_rmse": float, "local_rmse": float,
             "sqnr_db": float, "cosine": float, "local_sqnr_db": float}
_TYPE_WORD = {int: "an integer", str: "a string", float: "a number"}
_AGAIN = "give the file `modelkit debug --json` wrote"


def _fits(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, (int, float))
    if kind is int:
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return isinstance(value, kind)


def _layer_problem(layer: Any) -> str | None:
    """What is wrong with one layer record, or None."""
    if not isinstance(layer, dict):
        return f"is {json.dumps(layer)[:40]}, not an object"
    for key, kind in _REQUIRED.items():
        if key not in layer:
            return f"has no \"{key}\""
        if not _fits(layer[key], kind):
            return f"\"{key}\" is {json.dumps(layer[key])[:40]}, not {_TYPE_WORD[kind]}"
    for key, kind in _OPTIONAL.items():
        value = layer.get(key)
        if value is not None and not _fits(value, kind):
            return f"\"{key}\" is {json.dumps(value)[:40]}, not {_TYPE_WORD[kind]}"
    for key in ("node", "graph"):
        if isinstance(layer.get(key), (int, float)) and layer[key] < 0:
            return f"\"{key}\" is negative"
    return None


def read_report(path: str | Path) -> dict:
    """Read the JSON `modelkit debug --json` wrote and check its structure.

    Integral floats in integer fields (`"node": 3.0`) are made integers.

    Raises:
        UsageError: missing, unreadable, not JSON, another schema, or a layer record
            of the wrong shape (one line naming the first problem).
    """
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError("no such overlay file", str(p)) from None
    except IsADirectoryError:
        raise UsageError(f"the overlay is a folder; {_AGAIN}", str(p)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"overlay not readable ({e.__class__.__name__}); {_AGAIN}",
                         str(p)) from None
    except json.JSONDecodeError as e:
        raise UsageError(f"overlay is not JSON ({e.msg}, line {e.lineno}); {_AGAIN}",
                         str(p)) from None
    except RecursionError:
        raise UsageError(f"overlay is nested too deeply to be a debug report; {_AGAIN}",
                         str(p)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
        raise UsageError(f"overlay has no \"layers\" list; {_AGAIN}", str(p))
    version = doc.get("schema_version")
    if version is None:
        raise UsageError(f"overlay has no \"schema_version\"; {_AGAIN}", str(p))
    if version != REPORT_SCHEMA:
        raise UsageError(f"overlay schema_version {version!r} is not {REPORT_SCHEMA}; "
                         "write it again with this modelkit's `debug --json`", str(p))
    for i, layer in enumerate(doc["layers"]):
        problem = _layer_problem(layer)
        if problem is not None:
            raise UsageError(f"overlay layer {i} {problem}; {_AGAIN}", str(p))
        for key, kind in (*_REQUIRED.items(), *_OPTIONAL.items()):
            if kind is int and isinstance(layer.get(key), float):
                layer[key] = int(layer[key])
    return doc


def match_layers(layers: list[dict], model: Model) -> dict[tuple[int, int], dict]:
    """The layers measured on `model`'s nodes, by (graph, position in `Graph.nodes`).

    A layer belongs to a node when its graph has an operator at the layer's `node`
    index with the same name (and op, when the layer names one). Layers of another
    model (other names, other op order) match nothing.
    """
    positions: list[dict[int, int]] = [
        {(n.index if n.index is not None else i): i for i, n in enumerate(g.nodes)}
        for g in model.graphs]
    found: dict[tuple[int, int], dict] = {}
    for layer in layers:
        gi = layer.get("graph") or 0
        if not 0 <= gi < len(model.graphs):
            continue
        ni = positions[gi].get(layer["node"])
        if ni is None:
            continue
        node = model.graphs[gi].nodes[ni]
        op = layer.get("op_name")
        if node.name == layer["node_name"] and (not op or op == node.op):
            found[(gi, ni)] = layer
    return found

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


# rmse/scale levels (upper bounds) with their symbol and name, shared by the browser and
# export. A layer whose error is pure rounding has rmse/scale = 1/sqrt(12) ~ 0.29
# (uniform error over one step); several steps of error mean the quantization of that
# layer loses real accuracy.
ERROR_LEVELS: tuple[tuple[float, str, str], ...] = (
    (0.35, "○", "rounding only"),
    (0.7, "◔", "up to 2x rounding"),
    (1.5, "◑", "up to 1.5 steps"),
    (math.inf, "●", "over 1.5 steps"),
)


def error_level(value: float | None) -> int | None:
    """The level (0 best .. 3 worst) of an rmse/scale figure; None when unknown."""
    if value is None or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return next(i for i, (hi, _, _) in enumerate(ERROR_LEVELS) if value <= hi)


def rmse_scale(layer: dict) -> float | None:
    """rmse/scale of a layer record (`rmse_scale`, else sqrt(mse) / scale)."""
    x = layer.get("rmse_scale")
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    mse, scale = layer.get("mean_squared_error"), layer.get("scale")
    if isinstance(mse, (int, float)) and isinstance(scale, (int, float)) and scale > 0:
        return math.sqrt(mse) / scale
    return None
