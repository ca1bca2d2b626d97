"""Facts about TF-family models (GraphDef, checkpoint, SavedModel, Keras H5).

`summarize_tf(model)` returns JSON-ready plain data: what TF's summarize_graph
tool prints for graphs and checkpoints, what `saved_model_cli show --all`
prints for SavedModels, and the layer table of a Keras model.
`possible_inputs` / `possible_outputs` guess a graph's inputs and outputs the
way summarize_graph does (used to suggest and run conversions).
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from math import prod

from modelkit.analysis.tf_ops import is_training_op
from modelkit.analysis.units import human_count
from modelkit.ir import Graph, Model, Node, Value

_INPUT_OPS = frozenset({"Placeholder"})
PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2"})
_NOT_OUTPUT_OPS = frozenset({
    "Const", "Assign", "NoOp", "Placeholder", "PlaceholderWithDefault", "VariableV2",
    "Variable", "VarHandleOp", "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
    "AssignAdd", "AssignSub", "VarIsInitializedOp", "IsVariableInitialized", "SaveV2", "Save",
    "SaveSlices", "RestoreV2", "Restore", "RestoreSlice", "MergeV2Checkpoints",
})
# Ops that only size or type other tensors are never a model's output.
_SHAPE_OPS = frozenset({"Shape", "ShapeN", "Size", "Rank"})
# First name-scope components (a `_N` suffix dropped) of training, saving and
# optimizer code, as tf.compat.v1 optimizers, savers and Keras 2 name them.
_TRAINING_SCOPES = frozenset({
    "gradients", "save", "train", "training", "train_op", "optimizer", "global_step",
    "Adam", "SGD", "GradientDescent", "Momentum", "RMSProp", "Adagrad", "Adadelta", "Ftrl",
    "Nadam", "Adamax",
})
_SCOPE_RE = re.compile(r"^([A-Za-z_]+?)(?:_\d+)?(?:/|$)")
_GRAD_RE = re.compile(r"^gradients(?:_\d+)?/(.+?)_grad/")
_VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp"})


def _shape_list(shape) -> list | None:
    return None if shape is None else [None if d is None else int(d) for d in shape]


def _dtype_str(dtype) -> str | None:
    return None if dtype is None else str(dtype)


# ----------------------------------------------------------------------------- graph guesses

def possible_inputs(graph: Graph) -> list[Value]:
    """The outputs of Placeholder nodes (what summarize_graph lists as inputs)."""
    return [n.outputs[0] for n in graph.nodes if n.op in _INPUT_OPS and n.outputs]


def is_training_node(node: Node) -> bool:
    """True for a node of training, saving or summary code: optimizer updates
    (Apply*), gradients (…Grad, …Backprop…), assignments, save/restore, variable
    initialization checks and summaries, or a node in a training name scope
    (`gradients/`, `save/`, `Adam/`, `global_step`...)."""
    op = node.op
    return (is_training_op(op) or _is_gradient_op(op)
            or _scope(node.name) in _TRAINING_SCOPES)


# NOTE: these "Backprop" ops are the transposed convolutions inference graphs use.
_INFERENCE_BACKPROP_OPS = frozenset({"Conv2DBackpropInput", "Conv2DBackpropInputV2",
                                     "Conv3DBackpropInputV2",
                                     "DepthwiseConv2dNativeBackpropInput"})


def _is_gradient_op(op: str) -> bool:
    """A gradient kernel: `ReluGrad`, `FusedBatchNormGradV3`, `Conv2DBackpropFilter`..."""
    if op in _INFERENCE_BACKPROP_OPS:
        return False
    return op.endswith(("Grad", "GradV2", "GradV3")) or "Backprop" in op


def _scope(name: str) -> str:
    m = _SCOPE_RE.match(name)
    return m.group(1) if m else ""


def possible_outputs(graph: Graph, exclude_training: bool = True) -> list[Node]:
    """Nodes nothing consumes (by data or control), as summarize_graph finds outputs.

    Const, Assign, NoOp, Placeholder, variable and save/restore nodes are never
    outputs. With `exclude_training` (the default), nodes that only serve
    training are dropped too (`is_training_node`), and so are the loss (a node
    the gradients differentiate), shape-only ops and pure reads of variables
    (e.g. `…/Adam/read`).
    """
    controlled = {c for n in graph.nodes for c in n.control_inputs}
    sinks = [n for n in graph.nodes
             if n.op not in _NOT_OUTPUT_OPS and n.name not in controlled
             and not any(v.consumers for v in n.outputs)]
    if not exclude_training:
        return sinks
    differentiated = set()
    for n in graph.nodes:
        m = _GRAD_RE.match(n.name)
        if m:
            differentiated.add(m.group(1))
    out = []
    for n in sinks:
        if is_training_node(n) or n.op in _SHAPE_OPS or n.name in differentiated:
            continue
        producers = [v.producer for v in n.inputs if v is not None]
        if producers and all(p is not None and (p.op in _VARIABLE_OPS or p.op == "Const")
                             for p in producers):
            continue
        out.append(n)
    return out


def inference_io(graph: Graph) -> tuple[list[Value], list[Node]]:
    """The inference inputs and outputs of a TF graph (what a conversion should cut).

    Outputs are the `possible_outputs` whose subgraph holds no training code and
    needs at least one placeholder; of those, the ones whose placeholders are not
    a strict superset of another's (a `loss` that also needs `labels` loses to
    `probs`). Inputs are the placeholders those outputs need, in graph order.
    """
    placeholders = {n.name for n in graph.nodes if n.op in PLACEHOLDER_OPS}
    stop = sorted(placeholders)
    candidates = []
    for node in possible_outputs(graph):
        needed = needed_nodes(graph, [node.name], stop)
        if any(is_training_node(n) for n in needed):
            continue
        feeds = frozenset(n.name for n in needed if n.name in placeholders)
        if feeds:
            candidates.append((node, feeds))
    chosen = [(n, f) for n, f in candidates if not any(g < f for _, g in candidates)]
    used = set().union(*[f for _, f in chosen]) if chosen else set()
    inputs = [n.outputs[0] for n in graph.nodes if n.name in used and n.outputs]
    return inputs, [n for n, _ in chosen]


def _const_params(model: Model) -> int:
    """Elements of numeric constants in every graph (strings are no parameters: the
    saver's tensor names, file names), counted as the summary's parameter total is."""
    total = 0
    for g in model.graphs:
        for n in g.nodes:
            if n.op != "Const" or not n.outputs:
                continue
            v = n.outputs[0]
            if v.data is not None and (v.dtype is None or v.dtype.bits is not None):
                total += v.data.size
    return total


def _variable_nodes(graph: Graph) -> list[dict]:
    out = []
    for n in graph.nodes:
        if n.op in _VARIABLE_OPS:
            shape = n.attrs.get("shape")
            dtype = n.attrs.get("dtype")
            out.append({"name": n.name, "op": n.op, "dtype": _dtype_str(dtype),
                        "shape": _shape_list(shape) if isinstance(shape, tuple) else None,
                        "params": _count(shape)})
    return out


def _count(shape) -> int:
    if not isinstance(shape, tuple) or any(d is None or d < 0 for d in shape):
        return 0
    return int(prod(shape))


def _op_types(model: Model) -> dict[str, int]:
    counts: Counter = Counter()
    for g in model.graphs:
        counts.update(n.op for n in g.nodes)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def node_name(name: str) -> str:
    """`input:0` -> `input`; `^dep` -> `dep`."""
    name = name.lstrip("^")
    base, _, port = name.rpartition(":")
    return base if base and port.isdigit() else name


def needed_nodes(graph: Graph, outputs: list[str], inputs: list[str]) -> list[Node]:
    """Nodes the outputs depend on (data and control edges), stopping at the inputs,
    in graph order."""
    by_name = {n.name: n for n in graph.nodes}
    stop = {node_name(i) for i in inputs}
    seen: set[str] = set()
    todo = [node_name(o) for o in outputs]
    while todo:
        name = todo.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        if name in stop:
            continue
        node = by_name[name]
        todo.extend(v.producer.name for v in node.inputs if v is not None and v.producer)
        todo.extend(node_name(c) for c in node.control_inputs)
    return [n for n in graph.nodes if n.name in seen]


def convert_command(model: Model, inputs: list[Value], outputs: list[Node]) -> str:
    """The `modelkit convert` line for the guessed inputs/outputs (unknown dims as 1).

    Only the inputs the outputs need are named.
    """
    if outputs:
        # NOTE: only the inputs the outputs need (a loss's labels are not).
        needed = {n.name for n in needed_nodes(model.main, [n.name for n in outputs], [])}
        inputs = [v for v in inputs if v.producer is not None and v.producer.name in needed]
    shapes = []
    for v in inputs:
        if v.shape is None:
            shapes = []
            break
        shapes.append(",".join("1" if d is None else str(d) for d in v.shape))
    parts = ["modelkit", "convert", shlex.quote(str(model.path or "MODEL")), "out.tflite"]
    if inputs:
        parts += ["--inputs", ",".join(_node_name(v) for v in inputs)]
    if outputs:
        parts += ["--outputs", ",".join(n.name for n in outputs)]
    if shapes:
        parts += ["--input-shapes", ":".join(shapes)]
    return " ".join(parts)


def _node_name(v: Value) -> str:
    return v.producer.name if v.producer is not None else v.name.rsplit(":", 1)[0]


def _bundle_variables(graph: Graph) -> list[dict]:
    out = []
    for v in graph.values:
        key = v.meta.get("checkpoint_key")
        if key is None or not v.is_variable:
            continue
        item = {"name": key, "dtype": _dtype_str(v.dtype), "shape": _shape_list(v.shape),
                "params": v.data.size if v.data is not None else _count(v.shape)}
        if "full_name" in v.meta:
            item["full_name"] = v.meta["full_name"]
        out.append(item)
    return sorted(out, key=lambda d: d["name"])


def _graph_facts(model: Model) -> dict:
    """summarize_graph's facts for the main graph (plus the library's op types)."""
    g = model.main
    training = model.format == "checkpoint"
    inputs = possible_inputs(g)
    outputs = possible_outputs(g, exclude_training=True)
    all_sinks = possible_outputs(g, exclude_training=False)
    devices = Counter(n.device or "" for n in g.nodes)
    const_params = _const_params(model)
    if model.format == "checkpoint" and model.metadata.get("bundle"):
        variables = _bundle_variables(g)
    else:
        variables = _variable_nodes(g)
    var_params = sum(v["params"] for v in variables)
    facts = {
        "nodes": len(g.nodes),
        "functions": sum(1 for x in model.graphs[1:] if x.meta.get("tf_kind") == "function"),
        "producer": model.metadata.get("producer"),
        "min_consumer": model.metadata.get("min_consumer"),
        "inputs": [{"name": _node_name(v), "op": v.producer.op if v.producer else None,
                    "dtype": _dtype_str(v.dtype), "shape": _shape_list(v.shape)}
                   for v in inputs],
        "outputs": [{"name": n.name, "op": n.op} for n in outputs],
        "variables": variables,
        "const_params": const_params,
        "const_params_human": human_count(const_params),
        "variable_params": var_params,
        "variable_params_human": human_count(var_params),
        "control_edges": sum(len(n.control_inputs) for n in g.nodes),
        "devices": dict(sorted(devices.items())),
        "op_types": _op_types(model),
        "convert_command": convert_command(model, inputs, outputs),
    }
    if training:
        facts["training_only_sinks"] = [n.name for n in all_sinks if n not in outputs]
        mg = model.metadata.get("meta_graph") or {}
        facts["train_ops"] = mg.get("train_ops", [])
        facts["has_meta_graph"] = "meta_graph" in model.metadata
    return facts


def _savedmodel_facts(model: Model) -> dict:
    """saved_model_cli show --all's facts: tag-sets, signatures, variables."""
    sigs = []
    for s in model.signatures:
        sigs.append({
            "key": s.key, "method_name": s.method_name, "tags": s.meta.get("tags", []),
            "inputs": [_sig_io(io) for io in s.inputs],
            "outputs": [_sig_io(io) for io in s.outputs]})
    variables = _bundle_variables(model.main)
    unique: dict[str, int] = {}
    for v in variables:
        unique.setdefault(v.get("full_name", v["name"]), v["params"])
    mgs = model.metadata.get("meta_graphs", [])
    return {
        "saved_model_schema_version": model.metadata.get("saved_model_schema_version"),
        "tag_sets": [mg.get("tags", []) for mg in mgs],
        "tensorflow_version": mgs[0].get("tensorflow_version") if mgs else None,
        "producer": model.metadata.get("producer"),
        "signatures": sigs,
        "variables": variables,
        "variable_count": len(unique),
        "variable_params": sum(unique.values()),
        "variable_params_human": human_count(sum(unique.values())),
        "object_graph": [mg.get("object_graph") for mg in mgs],
        "functions": sum(1 for g in model.graphs if g.meta.get("tf_kind") == "function"),
        "op_types": _op_types(model),
    }


def _sig_io(io) -> dict:
    return {"key": io.key, "dtype": _dtype_str(io.dtype), "shape": _shape_list(io.shape),
            "tensor_name": io.tensor_name}


def _keras_facts(model: Model) -> dict:
    """Layers with types and output shapes, parameter counts, version, optimizer."""
    g = model.main
    md = model.metadata
    trainable = non_trainable = 0
    layers = []
    for n in g.nodes:
        weights = [v for v in n.inputs if v is not None and v.data is not None]
        params = sum(w.data.size for w in weights)
        t = sum(w.data.size for w in weights if w.meta.get("trainable", True))
        trainable += t
        non_trainable += params - t
        layers.append({"name": n.name, "class_name": n.op,
                       "output_shapes": [_shape_list(v.shape) for v in n.outputs],
                       "params": params, "trainable": bool(n.attrs.get("trainable", True))})
    if not g.nodes:  # weights only
        for v in g.values:
            if v.data is not None:
                trainable += v.data.size if v.meta.get("trainable", True) else 0
                non_trainable += 0 if v.meta.get("trainable", True) else v.data.size
    training = md.get("training_config") or {}
    opt_cfg = training.get("optimizer_config") if isinstance(training, dict) else None
    optimizer = None
    if isinstance(opt_cfg, dict):
        optimizer = opt_cfg.get("class_name")
        if isinstance(optimizer, str) and optimizer.startswith("Custom>"):
            # NOTE: Keras 2.11+ writes its built-in optimizers as "Custom>Adam".
            optimizer = optimizer[len("Custom>"):]
    return {
        "name": g.name,
        "model_class": md.get("model_class"),
        "keras_version": md.get("keras_version"),
        "backend": md.get("backend"),
        "weights_only": bool(md.get("weights_only")),
        "inputs": [{"name": v.name, "dtype": _dtype_str(v.dtype), "shape": _shape_list(v.shape)}
                   for v in g.inputs],
        "outputs": [{"name": v.name, "dtype": _dtype_str(v.dtype),
                     "shape": _shape_list(v.shape)} for v in g.outputs],
        "layers": layers,
        "params": trainable + non_trainable,
        "trainable_params": trainable,
        "non_trainable_params": non_trainable,
        "params_human": human_count(trainable + non_trainable),
        "has_training_config": bool(training),
        "optimizer": optimizer,
        "loss": training.get("loss") if isinstance(training, dict) else None,
        "optimizer_weights": len(md.get("optimizer_weights") or []),
        "warnings": list(md.get("warnings") or []),
        "weights": [{"name": v.name, "layer": v.meta.get("layer"), "dtype": _dtype_str(v.dtype),
                     "shape": _shape_list(v.shape), "trainable": v.meta.get("trainable", True)}
                    for v in g.values if v.data is not None],
    }


def summarize_tf(model: Model) -> dict:
    """JSON-ready facts about a graphdef, checkpoint, savedmodel or keras_h5 Model.

    Raises:
        ValueError: the model is of another format.
    """
    base = {"format": model.format, "path": model.path}
    if model.format in ("graphdef", "checkpoint"):
        base.update(_graph_facts(model))
    elif model.format == "savedmodel":
        base.update(_savedmodel_facts(model))
    elif model.format in ("keras_h5", "keras_zip"):
        base.update(_keras_facts(model))
    else:
        raise ValueError(f"summarize_tf does not handle {model.format} models")
    return base


# ----------------------------------------------------------------------------- rendering
