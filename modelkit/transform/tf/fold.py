"""Constant folding and batch-norm folding, with graph_transforms' semantics.

- `fold_constants`: TF's ConstantFold as graph_transforms drives it
  (tools/graph_transforms/fold_constants_lib.cc, core/common_runtime/constant_folding.cc):
  only what the outputs need is kept; a node whose data inputs are all constant
  (and that is not stateful, control flow, a function call, excluded, or too big)
  is evaluated; every constant tensor that feeds a non-constant node becomes a
  Const named `<node>/_<k>__cf__<k>` (k counts replacements in name order), and
  what is left unused is dropped. The common ops are evaluated with numpy, the
  rest by TensorFlow, one node at a time.
- `fold_batch_norms`: Mul by a constant vector after Conv2D/MatMul/
  DepthwiseConv2dNative with constant weights goes into the weights.
- `fold_old_batch_norms`: BatchNormWithGlobalNormalization and FusedBatchNorm
  (V1-V3, inference) after a convolution or MatMul (also through BatchToSpaceND,
  or a ConcatV2 of two convolutions) become scaled weights plus a BiasAdd.
"""

from __future__ import annotations

import numpy as np

from modelkit.ir import DType, Graph, Model, Node, Value
from modelkit.ir.edit import clone_model, remove_nodes, replace_uses
from modelkit.transform.base import Param, Params, PassContext, PassResult, TransformError, \
    register
from modelkit.transform.tf._eval import (CONTROL_FLOW_OPS, EvalError, calls_function,
                                         evaluate, is_stateful)
from modelkit.transform.tf._graph import (const_array, execution_order, find_matches,
                                          output_names, prune_unreachable, rename, set_const,
                                          used_outside)
from modelkit.transform.tf._tfgraph import const_node, new_node, node_name

_DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_SHAPE_OPS = frozenset({"Shape", "ShapeN", "Size", "Rank"})



# ----------------------------------------------------------------------------- fold_constants

def _static_shape_value(node: Node) -> list[np.ndarray] | None:
    """Shape/ShapeN/Size/Rank of inputs whose shapes are fully known, else None."""
    t = node.attrs.get("out_type")
    np_t = t.numpy if isinstance(t, DType) and t.numpy is not None else np.int32
    shapes = []
    for v in node.inputs:
        if v is None or v.shape is None or any(d is None for d in v.shape):
            if node.op == "Rank" and v is not None and v.shape is not None:
                shapes.append(v.shape)
                continue
            return None
        shapes.append(v.shape)
    if node.op == "Shape":
        return [np.asarray(shapes[0], np_t)]
    if node.op == "ShapeN":
        return [np.asarray(s, np_t) for s in shapes]
    if node.op == "Size":
        return [np.asarray(int(np.prod(shapes[0])), np_t)]
    return [np.asarray(len(shapes[0]), np.int32)]


def fold_graph(graph: Graph, inputs: list[str], outputs: list[str], *,
               exclude_ops: set[str] = frozenset(), exclude_nodes: set[str] = frozenset(),
               max_bytes: int = _DEFAULT_MAX_BYTES, clear_output_shapes: bool = True) -> int:
    """Fold constant subgraphs of `graph` in place (see the module doc).

    Returns:
        how many tensors were replaced by Consts.

    Raises:
        TransformError: an input is not a Placeholder, an output is missing, or a
            foldable node failed to evaluate.
    """
    by_name = {n.name: n for n in graph.nodes}
    for name in outputs:
        if name not in by_name:
            raise TransformError(f"Bad graph structure, no node named '{name}' found for "
                                 f"input lookup")
    if clear_output_shapes:
        for n in graph.nodes:
            if "_output_shapes" in n.attrs:
                del n.attrs["_output_shapes"]
                n.meta.get("tf_attr_kinds", {}).pop("_output_shapes", None)
    input_set = {i for i in inputs if i in by_name}
    for name in input_set:
        node = by_name[name]
        if node.op == "PlaceholderWithDefault":
            node.op = "Placeholder"
            for i in range(len(node.inputs)):
                node.set_input(i, None)
            node._inputs = []  # NOTE: a Placeholder has no inputs at all.
            node.meta["tf_inputs"] = []
        elif node.op != "Placeholder":
            raise TransformError(f"Input '{name}' was expected to be a Placeholder or "
                                 f"PlaceholderWithDefault op, but was {node.op}")
    prune_unreachable(graph, outputs, sorted(input_set))
    _spell_feeds(graph, input_set)

    # Which nodes are constant: walk in data-flow order.
    order = execution_order(graph.nodes)
    values: dict[int, list[np.ndarray]] = {}
    constant: set[int] = set()
    control_deps: dict[int, set[str]] = {}
    shape_replaced = 0
    internal = False
    by_name = {n.name: n for n in graph.nodes}
    for node in order:
        key = id(node)
        if node.name in input_set:
            continue
        if node.op in ("Const", "HostConst"):
            if node.attrs.get("dtype") == DType.RESOURCE:
                continue
            constant.add(key)
            control_deps[key] = set(node.control_inputs)
            continue
        static = _static_shape_value(node) if node.op in _SHAPE_OPS else None
        if static is None:
            if (is_stateful(node.op) or node.op in CONTROL_FLOW_OPS or calls_function(node)
                    or node.op in exclude_ops or node.name in exclude_nodes):
                continue
            if any(v is None or v.producer is None or id(v.producer) not in constant
                   for v in node.inputs):
                continue
        deps: set[str] = set()
        for c in node.control_inputs:
            src = by_name.get(c)
            if src is not None and id(src) in constant:
                deps |= control_deps.get(id(src), set())
            else:
                deps.add(c)
        for v in node.inputs:
            if v is not None and v.producer is not None:
                if id(v.producer) in constant:
                    deps |= control_deps.get(id(v.producer), set())
                elif static is not None:
                    deps.add(v.producer.name)
        if static is not None:
            values[key] = static
            shape_replaced += len(static)
        else:
            ins = [_value_of(v, values) for v in node.inputs]
            try:
                outs = evaluate(node, ins)
            except EvalError as e:
                raise TransformError(f"constant folding failed: {e}") from None
            # NOTE: TF does not fold a node whose (statically known) output is over the
            # size limit; its consumers then stay unfolded too.
            if any(np.asarray(o).nbytes > max_bytes for o in outs):
                continue
            values[key] = outs
        constant.add(key)
        control_deps[key] = deps
        internal = True
    if not internal:
        return 0

    # Constant tensors that feed non-constant nodes (or leave as outputs), in name order.
    out_set = set(outputs)
    boundary: list[tuple[str, int, Node]] = []
    for node in graph.nodes:
        if id(node) not in constant:
            continue
        for port, v in enumerate(node.outputs):
            leaves = any(id(c) not in constant for c, _ in v.consumers) or \
                (port == 0 and node.name in out_set)
            if leaves:
                boundary.append((node.name, port, node))
    boundary.sort(key=lambda b: (b[0], b[1]))
    counter = 0
    uid = shape_replaced
    replaced = 0
    for name, port, node in boundary:
        if node.op in ("Const", "HostConst"):
            continue
        arr = np.asarray(values[id(node)][port])
        if arr.nbytes > max_bytes:
            continue
        new_name = f"{name}/_{counter}__cf__{uid}"
        counter += 1
        uid += 1
        made = const_node(graph, new_name, arr, _dtype_of(arr, node.outputs[port]),
                          control_inputs=sorted(control_deps.get(id(node), set())),
                          before=node)
        old = node.outputs[port]
        for c, pos in list(old.consumers):
            c.set_input(pos, made.outputs[0])
        replaced += 1
    prune_unreachable(graph, outputs, sorted(input_set))
    return replaced


def _spell_feeds(graph: Graph, input_set: set[str]) -> None:
    """Consumers of fed inputs read them as `name:port`, as TF's ReplaceSendRecvs writes them."""
    for node in graph.nodes:
        spelled = node.meta.get("tf_inputs")
        if spelled is None:
            continue
        data = [s for s in spelled if not s.startswith("^")]
        changed = False
        for pos, v in enumerate(node.inputs):
            if v is not None and v.producer is not None and v.producer.name in input_set \
                    and pos < len(data) and data[pos] != v.name:
                data[pos] = v.name
                changed = True
        if changed:
            node.meta["tf_inputs"] = data + [s for s in spelled if s.startswith("^")]


def _dtype_of(arr: np.ndarray, value: Value) -> DType | None:
    if arr.dtype == object:
        return DType.STRING
    if value.dtype is not None and value.dtype.numpy == arr.dtype:
        return value.dtype
    return None


def _value_of(v: Value | None, values: dict[int, list[np.ndarray]]) -> np.ndarray:
    node = v.producer  # type: ignore[union-attr]
    got = values.get(id(node))
    if got is None:
        arr = const_array(v)
        if arr is None:
            raise TransformError(f"'{node.name}' has no constant value")
        got = [arr]
        values[id(node)] = got
    return got[int(v.name.rpartition(":")[2] or 0)]  # type: ignore[union-attr]


@register("fold_constants", params=[
    Param("clear_output_shapes", "drop saved _output_shapes first", default="true"),
    Param("exclude_op", "op types never folded", repeated=True),
    Param("exclude_node", "node names never folded", repeated=True),
    Param("max_constant_size_in_bytes", "largest constant created", default="10485760"),
], doc="replace constant subgraphs by Consts, as TF's constant folding does")
def fold_constants(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Evaluate constant subgraphs (numpy for common ops, TF for rare ones)."""
    out = clone_model(model)
    graph = out.main
    # NOTE: a failure raises; with ignore_errors=true the runner keeps the graph as it
    # was, as TF's TransformGraph does.
    count = fold_graph(graph, [node_name(i) for i in ctx.inputs], output_names(graph, ctx),
                       exclude_ops=set(params.list("exclude_op")),
                       exclude_nodes=set(params.list("exclude_node")),
                       max_bytes=params.int("max_constant_size_in_bytes", _DEFAULT_MAX_BYTES),
                       clear_output_shapes=params.bool("clear_output_shapes", True))
    return PassResult(out, True, [f"{count} constant tensors folded"])


# ----------------------------------------------------------------------------- batch norms

_CONV_OPS = "Conv2D|MatMul|DepthwiseConv2dNative"
_BN_OPS = "BatchNormWithGlobalNormalization|FusedBatchNorm|FusedBatchNormV2|FusedBatchNormV3"
_CONST = ("Const",)
_MUL_PATTERN = ("Mul", [(_CONV_OPS, [("*",), _CONST]), _CONST])
_BN_CONV = (_BN_OPS, [(_CONV_OPS, [("*",), _CONST]), _CONST, _CONST, _CONST, _CONST])
_BN_B2S = (_BN_OPS, [("BatchToSpaceND", [("Conv2D", [("*",), _CONST]), _CONST, _CONST]),
                     _CONST, _CONST, _CONST, _CONST])
_BN_CONCAT = (_BN_OPS, [("ConcatV2|Concat", [("Conv2D", [("*",), _CONST]),
                                             ("Conv2D", [("*",), _CONST]), _CONST]),
                        _CONST, _CONST, _CONST, _CONST])


def _weight_cols(op: str, shape: tuple[int, ...]) -> int:
    if op == "Conv2D":
        return shape[3]
    if op == "DepthwiseConv2dNative":
        return shape[2] * shape[3]
    return shape[1]


def _scaled(weights: np.ndarray, scale: np.ndarray, cols: int) -> np.ndarray:
    flat = weights.astype(np.float32).reshape(-1, cols)
    return (flat * scale.astype(np.float32).reshape(1, cols)).reshape(weights.shape)


def _shape_text(a: np.ndarray) -> str:
    return "[" + ",".join(str(d) for d in a.shape) + "]"


def fold_mul_into_weights(graph: Graph) -> int:
    """fold_batch_norms on `graph` in place (fold_batch_norms.cc).

    Returns:
        how many Muls were folded.

    Raises:
        TransformError: a Mul's constant is not a vector of the weights' width.
    """
    matches = [(m, used_outside(graph, m)) for m in find_matches(graph, _MUL_PATTERN)]
    folded = 0
    for m, outside in matches:
        mul, conv = m.node, m.inputs[0].node
        inp, wconst, mconst = m.inputs[0].inputs[0].node, m.inputs[0].inputs[1].node, \
            m.inputs[1].node
        # NOTE: TF returns the original nodes when an inner node is used elsewhere.
        if {conv.name, wconst.name, mconst.name} & outside:
            continue
        weights = const_array(wconst.outputs[0])
        scale = const_array(mconst.outputs[0])
        if weights is None or scale is None:
            continue
        cols = _weight_cols(conv.op, weights.shape)
        if scale.ndim != 1 or scale.shape[0] != cols:
            raise TransformError(f"Mul constant input to batch norm has bad shape: "
                                 f"{_shape_text(scale)}")
        if outside - {wconst.name, inp.name, mul.name}:
            continue
        set_const(wconst, _scaled(weights, scale, cols), DType.FLOAT32)
        mul_name = mul.name
        rename(mul, f"{mul_name}__folded")
        replace_uses(mul.outputs[0], conv.outputs[0], graph=graph)
        remove_nodes(graph, [mul, mconst])
        rename(conv, mul_name)
        folded += 1
    return folded


def _bn_scale_offset(bn: Node, params: list[Node]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel scale and offset of an inference batch norm (GetScaleAndOffsetValues).

    Raises:
        TransformError: the parameters are not vectors of one length.
    """
    fused = bn.op != "BatchNormWithGlobalNormalization"
    # params are the batch norm's inputs 1..4 in order.
    order = (3, 4, 2, 1) if fused else (1, 2, 3, 4)  # mean, variance, beta, gamma
    mean, var, beta, gamma = (np.asarray(const_array(params[i - 1].outputs[0]), np.float32)
                              for i in order)
    cols = mean.shape[0] if mean.ndim else 1
    for name, a in (("Variance", var), ("Beta", beta), ("gamma", gamma)):
        if a.ndim != 1 or a.shape[0] != cols:
            raise TransformError(f"{name} input to batch norm has bad shape: "
                                 f"{_shape_text(a)}")
    eps = np.float32(bn.attrs.get("epsilon" if fused else "variance_epsilon", 0.0001))
    scale_after = fused or bool(bn.attrs.get("scale_after_normalization", False))
    scale = (np.float32(1.0) / np.sqrt(var + eps)).astype(np.float32)
    if scale_after:
        scale = (scale * gamma).astype(np.float32)
    offset = (-mean * scale + beta).astype(np.float32)
    return scale, offset


def _fuse_into_conv(graph: Graph, conv: Node, scale: np.ndarray, offset: np.ndarray,
                    out_name: str, before: Node) -> Node:
    """Scale `conv`'s weights and add `<conv>_bn_offset` with a BiasAdd named `out_name`."""
    wconst = conv.inputs[1].producer  # type: ignore[union-attr]
    weights = const_array(conv.inputs[1])
    assert wconst is not None and weights is not None
    cols = _weight_cols(conv.op, weights.shape)
    if cols != scale.shape[0]:
        raise TransformError(f"batch norm of {scale.shape[0]} channels after '{conv.name}' "
                             f"with {cols} output channels")
    set_const(wconst, _scaled(weights, scale, cols), DType.FLOAT32)
    off = const_node(graph, f"{conv.name}_bn_offset", offset.astype(np.float32),
                     DType.FLOAT32, before=before)
    attrs = {}
    if "data_format" in conv.attrs:
        attrs["data_format"] = conv.attrs["data_format"]
    attrs["T"] = conv.attrs.get("T", DType.FLOAT32)
    return new_node(graph, out_name, "BiasAdd", [conv.outputs[0], off.outputs[0]], attrs,
                    outputs=[DType.FLOAT32], before=before)


def _drop_bn(graph: Graph, bn: Node, new_out: Value, params: list[Node]) -> None:
    """Point the batch norm's users at `new_out`; drop it and its parameter Consts."""
    replace_uses(bn.outputs[0], new_out, graph=graph)
    remove_nodes(graph, [bn])
    remove_nodes(graph, [p for p in params if not any(v.consumers for v in p.outputs)])


def _fold_bn_match(graph: Graph, m, outside: set[str], kind: str) -> bool:
    """Apply one fold_old_batch_norms match; False when TF would keep the originals."""
    bn = m.node
    if bn.op != "BatchNormWithGlobalNormalization" and bn.attrs.get("is_training", False):
        return False
    if any(v.consumers for v in bn.outputs[1:]):
        return False  # NOTE: the batch statistics outputs have no folded equivalent.
    params = [mi.node for mi in m.inputs[1:]]
    scale, offset = _bn_scale_offset(bn, params)
    bn_name = bn.name
    src = m.inputs[0].node
    if kind == "conv":
        kept = {bn_name, src.name, m.inputs[0].inputs[0].node.name,
                m.inputs[0].inputs[1].node.name, f"{src.name}_bn_offset"}
        if outside - kept:
            return False
        rename(bn, f"{bn_name}__folded")
        bias = _fuse_into_conv(graph, src, scale, offset, bn_name, before=bn)
        _drop_bn(graph, bn, bias.outputs[0], params)
        return True
    if kind == "b2s":
        conv = m.inputs[0].inputs[0].node
        kept = {bn_name, conv.name, m.inputs[0].inputs[0].inputs[0].node.name,
                m.inputs[0].inputs[0].inputs[1].node.name, m.inputs[0].inputs[1].node.name,
                m.inputs[0].inputs[2].node.name}
        if outside - kept:
            return False
        rename(bn, f"{bn_name}__folded")
        bias = _fuse_into_conv(graph, conv, scale, offset, f"{conv.name}/biasadd", before=src)
        src.set_input(0, bias.outputs[0])
        rename(src, bn_name)
        _drop_bn(graph, bn, src.outputs[0], params)
        return True
    # concat of two convolutions
    c0, c1 = m.inputs[0].inputs[0].node, m.inputs[0].inputs[1].node
    axis_node = m.inputs[0].inputs[2].node
    kept = {bn_name, c0.name, c1.name, axis_node.name}
    kept |= {mi.node.name for c in m.inputs[0].inputs[:2] for mi in c.inputs}
    if outside - kept:
        return False
    axis = const_array(axis_node.outputs[0])
    s0, o0, s1, o1 = scale, offset, scale, offset
    if axis is not None and int(np.asarray(axis).reshape(-1)[0]) == 3:
        split = const_array(c0.inputs[1]).shape[3]  # type: ignore[union-attr]
        s0, o0, s1, o1 = scale[:split], offset[:split], scale[split:], offset[split:]
    rename(bn, f"{bn_name}__folded")
    b0 = _fuse_into_conv(graph, c0, s0, o0, f"{src.name}_bn_in0", before=src)
    b1 = _fuse_into_conv(graph, c1, s1, o1, f"{src.name}_bn_in1", before=src)
    src.set_input(0, b0.outputs[0])
    src.set_input(1, b1.outputs[0])
    rename(src, bn_name)
    _drop_bn(graph, bn, src.outputs[0], params)
    return True


def fold_batch_norm_ops(graph: Graph) -> int:
    """fold_old_batch_norms on `graph` in place (fold_old_batch_norms.cc): each pattern
    is applied until it no longer changes the graph.

    Returns:
        how many batch norms were folded.
    """
    folded = 0
    for pattern, kind in ((_BN_CONV, "conv"), (_BN_B2S, "b2s"), (_BN_CONCAT, "concat")):
        while True:
            matches = [(m, used_outside(graph, m)) for m in find_matches(graph, pattern)]
            changed = 0
            for m, outside in matches:
                changed += _fold_bn_match(graph, m, outside, kind)
            folded += changed
            if not changed:
                break
    return folded


@register("fold_batch_norms",
          doc="fold a Mul by a constant vector after Conv2D/MatMul into the weights")
def fold_batch_norms(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Bake per-channel Muls into the preceding convolution's weights."""
    out = clone_model(model)
    count = fold_mul_into_weights(out.main)
    if not count:
        return PassResult(model, False, [])
    return PassResult(out, True, [f"{count} Mul folded into weights"])


@register("fold_old_batch_norms",
          doc="fold inference batch norms (FusedBatchNorm V1-V3, BatchNormWithGlobal"
              "Normalization) into the preceding convolution")
def fold_old_batch_norms(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Replace batch norms after convolutions by scaled weights and a BiasAdd."""
    out = clone_model(model)
    count = fold_batch_norm_ops(out.main)
    if not count:
        return PassResult(model, False, [])
    return PassResult(out, True, [f"{count} batch norms folded"])
