"""Evaluate TF ops on constant inputs: numpy for the common ops, TensorFlow for the rest.

`evaluate(node, inputs)` returns the node's output arrays. The numpy kernels
cover what constant subgraphs of frozen graphs are made of (weight reads,
shape arithmetic, casts, concatenations, slices); every other op is run by
TensorFlow itself on a one-node graph, imported only then.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from modelkit.ir import DType, FuncRef, Node

Kernel = Callable[[Node, list[np.ndarray]], list[np.ndarray]]

# Control flow and function calls are never folded (TF's IsConstantFoldable).
CONTROL_FLOW_OPS = frozenset({
    "Switch", "RefSwitch", "Merge", "RefMerge", "Enter", "RefEnter", "Exit", "RefExit",
    "NextIteration", "RefNextIteration", "LoopCond", "ControlTrigger", "If", "StatelessIf",
    "While", "StatelessWhile", "Case", "StatelessCase", "PartitionedCall",
    "SymbolicGradient", "RemoteCall",
})


def is_stateful(op: str) -> bool:
    """True for ops TF registers as stateful, and for ops TF does not know."""
    from modelkit.transform.tf._tfgraph import op_is_stateful

    return op_is_stateful(op) is not False


def calls_function(node: Node) -> bool:
    """True when the node calls a function (TF never folds those)."""
    return any(isinstance(v, FuncRef) or (isinstance(v, list) and v and
                                          isinstance(v[0], FuncRef))
               for v in node.attrs.values())


def _np_type(node: Node, attr: str, default=None):
    dt = node.attrs.get(attr)
    if isinstance(dt, DType) and dt.numpy is not None:
        return dt.numpy
    return default


def _same_type(node: Node, out: np.ndarray, attr: str = "T") -> np.ndarray:
    t = _np_type(node, attr)
    if t is not None and out.dtype != t:
        out = out.astype(t)
    return np.asarray(out)


def _unary(fn) -> Kernel:
    def k(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
        with np.errstate(all="ignore"):
            return [_same_type(node, np.asarray(fn(a[0])))]
    return k


def _binary(fn) -> Kernel:
    def k(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
        with np.errstate(all="ignore"):
            return [_same_type(node, np.asarray(fn(a[0], a[1])))]
    return k


def _compare(fn) -> Kernel:
    def k(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(fn(a[0], a[1]), dtype=np.bool_)]
    return k


def _float_only(fn) -> Callable:
    def f(x, *rest):
        if not np.issubdtype(np.asarray(x).dtype, np.floating):
            raise _NeedTF()
        return fn(x, *rest)
    return f


class _NeedTF(Exception):
    """The numpy kernel does not cover these inputs exactly; ask TensorFlow."""


def _identity(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return [a[0]]


def _identity_n(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return list(a)


def _cast(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    t = _np_type(node, "DstT")
    src = a[0]
    if t is None or src.dtype == object:
        raise _NeedTF()
    if np.issubdtype(src.dtype, np.floating) and np.issubdtype(t, np.integer):
        raise _NeedTF()  # NOTE: TF saturates/truncates float->int its own way.
    with np.errstate(all="ignore"):
        return [src.astype(t)]


def _reshape(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return [a[0].reshape([int(d) for d in np.asarray(a[1]).reshape(-1)])]


def _shape(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(a[0].shape, dtype=_np_type(node, "out_type", np.int32))]


def _shape_n(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    t = _np_type(node, "out_type", np.int32)
    return [np.asarray(x.shape, dtype=t) for x in a]


def _size(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(a[0].size, dtype=_np_type(node, "out_type", np.int32))]


def _rank(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(a[0].ndim, dtype=np.int32)]


def _concat_v2(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    axis = int(a[-1])
    return [np.concatenate(a[:-1], axis=axis)]


def _concat(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.concatenate(a[1:], axis=int(a[0]))]


def _pack(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.stack(a, axis=int(node.attrs.get("axis", 0)))]


def _unpack(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    axis = int(node.attrs.get("axis", 0))
    return [np.take(a[0], i, axis=axis) for i in range(a[0].shape[axis])]


def _transpose(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.ascontiguousarray(np.transpose(a[0], [int(p) for p in a[1].reshape(-1)]))]


def _expand_dims(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.expand_dims(a[0], int(np.asarray(a[1]).reshape(-1)[0]))]


def _squeeze(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    dims = node.attrs.get("squeeze_dims") or node.attrs.get("axis") or []
    if dims:
        return [np.squeeze(a[0], axis=tuple(int(d) for d in dims))]
    return [np.squeeze(a[0])]


def _fill(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.full([int(d) for d in a[0].reshape(-1)], a[1], dtype=a[1].dtype)]


def _range(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    t = _np_type(node, "Tidx", a[0].dtype)
    return [np.arange(a[0].item(), a[1].item(), a[2].item()).astype(t)]


def _zeros_like(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.zeros_like(a[0])]


def _ones_like(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.ones_like(a[0])]


def _tile(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.tile(a[0], [int(m) for m in a[1].reshape(-1)])]


def _slice(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    begin = [int(b) for b in a[1].reshape(-1)]
    size = [int(s) for s in a[2].reshape(-1)]
    idx = tuple(slice(b, None if s < 0 else b + s) for b, s in zip(begin, size))
    return [np.ascontiguousarray(a[0][idx])]


def _strided_slice(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    x, begin, end, strides = a[0], a[1].reshape(-1), a[2].reshape(-1), a[3].reshape(-1)
    bm = int(node.attrs.get("begin_mask", 0))
    em = int(node.attrs.get("end_mask", 0))
    el = int(node.attrs.get("ellipsis_mask", 0))
    na = int(node.attrs.get("new_axis_mask", 0))
    sh = int(node.attrs.get("shrink_axis_mask", 0))
    idx: list = []
    for i in range(len(begin)):
        bit = 1 << i
        if el & bit:
            idx.append(Ellipsis)
        elif na & bit:
            idx.append(np.newaxis)
        elif sh & bit:
            idx.append(int(begin[i]))
        else:
            idx.append(slice(None if bm & bit else int(begin[i]),
                             None if em & bit else int(end[i]), int(strides[i])))
    return [np.ascontiguousarray(x[tuple(idx)])]


def _gather(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    axis = int(a[2]) if len(a) > 2 else 0
    if int(node.attrs.get("batch_dims", 0)):
        raise _NeedTF()
    return [np.take(a[0], a[1], axis=axis)]


def _reduce(fn) -> Kernel:
    def k(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
        axes = tuple(int(d) for d in np.asarray(a[1]).reshape(-1))
        keep = bool(node.attrs.get("keep_dims", False))
        if fn is np.mean and not np.issubdtype(a[0].dtype, np.floating):
            raise _NeedTF()
        out = fn(a[0], axis=axes, keepdims=keep)
        return [np.asarray(out).astype(a[0].dtype)]
    return k


def _matmul(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    x = a[0].T if node.attrs.get("transpose_a") else a[0]
    y = a[1].T if node.attrs.get("transpose_b") else a[1]
    return [_same_type(node, np.matmul(x, y))]


def _bias_add(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    if str(node.attrs.get("data_format", "NHWC")) == "NCHW" and a[0].ndim > 2:
        shape = [1] * a[0].ndim
        shape[1] = -1
        return [_same_type(node, a[0] + a[1].reshape(shape))]
    return [_same_type(node, a[0] + a[1])]


def _select(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    cond = a[0]
    if node.op == "Select" and cond.ndim == 1 and a[1].ndim > 1:
        cond = cond.reshape([-1] + [1] * (a[1].ndim - 1))
    return [np.where(cond, a[1], a[2])]


def _add_n(node: Node, a: list[np.ndarray]) -> list[np.ndarray]:
    out = a[0]
    for x in a[1:]:
        out = out + x
    return [_same_type(node, out)]


def _floordiv(x, y):
    if np.issubdtype(np.asarray(x).dtype, np.integer):
        return np.floor_divide(x, y)
    return np.floor(x / y)


def _relu6(x):
    return np.minimum(np.maximum(x, 0), 6)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _rsqrt(x):
    return 1 / np.sqrt(x)


KERNELS: dict[str, Kernel] = {
    "NoOp": lambda n, a: [],
    "Identity": _identity, "Snapshot": _identity, "StopGradient": _identity,
    "PreventGradient": _identity, "PlaceholderWithDefault": _identity,
    "CheckNumerics": _identity, "EnsureShape": _identity, "IdentityN": _identity_n,
    "Add": _binary(np.add), "AddV2": _binary(np.add), "Sub": _binary(np.subtract),
    "Mul": _binary(np.multiply), "RealDiv": _binary(_float_only(np.divide)),
    "Div": _binary(_float_only(np.divide)), "FloorDiv": _binary(_floordiv),
    "FloorMod": _binary(np.mod), "Maximum": _binary(np.maximum),
    "Minimum": _binary(np.minimum), "Pow": _binary(_float_only(np.power)),
    "SquaredDifference": _binary(lambda x, y: np.square(x - y)),
    "Neg": _unary(np.negative), "Abs": _unary(np.abs), "Sqrt": _unary(_float_only(np.sqrt)),
    "Rsqrt": _unary(_float_only(_rsqrt)), "Square": _unary(np.square),
    "Exp": _unary(_float_only(np.exp)), "Log": _unary(_float_only(np.log)),
    "Reciprocal": _unary(_float_only(np.reciprocal)), "Inv": _unary(_float_only(np.reciprocal)),
    "Floor": _unary(np.floor), "Ceil": _unary(np.ceil), "Sign": _unary(np.sign),
    "Round": _unary(np.round), "Tanh": _unary(_float_only(np.tanh)),
    "Sigmoid": _unary(_float_only(_sigmoid)), "Relu": _unary(lambda x: np.maximum(x, 0)),
    "Relu6": _unary(_relu6),
    "Equal": _compare(np.equal), "NotEqual": _compare(np.not_equal), "Less": _compare(np.less),
    "LessEqual": _compare(np.less_equal), "Greater": _compare(np.greater),
    "GreaterEqual": _compare(np.greater_equal), "LogicalAnd": _compare(np.logical_and),
    "LogicalOr": _compare(np.logical_or),
    "LogicalNot": lambda n, a: [np.logical_not(a[0])],
    "Cast": _cast, "Reshape": _reshape, "Shape": _shape, "ShapeN": _shape_n, "Size": _size,
    "Rank": _rank, "ConcatV2": _concat_v2, "Concat": _concat, "Pack": _pack,
    "Unpack": _unpack, "Transpose": _transpose, "ExpandDims": _expand_dims,
    "Squeeze": _squeeze, "Fill": _fill, "Range": _range, "ZerosLike": _zeros_like,
    "OnesLike": _ones_like, "Tile": _tile, "Slice": _slice, "StridedSlice": _strided_slice,
    "GatherV2": _gather, "Gather": _gather, "Sum": _reduce(np.sum), "Prod": _reduce(np.prod),
    "Mean": _reduce(np.mean), "Max": _reduce(np.max), "Min": _reduce(np.min),
    "All": _reduce(np.all), "Any": _reduce(np.any), "MatMul": _matmul, "BiasAdd": _bias_add,
    "Select": _select, "SelectV2": _select, "AddN": _add_n,
}


class EvalError(Exception):
    """TensorFlow (or numpy) could not compute the node; the message says why."""


def evaluate(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """The output arrays of `node` given its input arrays.

    Raises:
        EvalError: the op failed (TF's message), e.g. an unfed Placeholder.
    """
    kernel = KERNELS.get(node.op)
    if kernel is not None:
        try:
            return kernel(node, inputs)
        except _NeedTF:
            pass
        except (ValueError, IndexError, TypeError) as e:
            # NOTE: let TF give its own verdict (and message) on inputs numpy refuses.
            tf_error = e
            try:
                return evaluate_with_tf(node, inputs)
            except EvalError:
                raise EvalError(f"{node.op} '{node.name}': {tf_error}") from None
    return evaluate_with_tf(node, inputs)


def evaluate_with_tf(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run one node in TensorFlow on constant inputs (imports TF).

    Raises:
        EvalError: TF refused the node or failed running it.
        MissingDependencyError: TensorFlow is not installed.
    """
    from modelkit.formats import _tfproto
    from modelkit.ir import ArrayData, Value
    from modelkit.runtime.tfenv import import_tf

    tf = import_tf(needed_for=f"folding {node.op} '{node.name}'")
    gd = _tfproto.pb().graph.GraphDef()
    args = []
    for i, arr in enumerate(inputs):
        name = f"fold_input_{i}"
        nd = gd.node.add()
        nd.name, nd.op = name, "Const"
        data = ArrayData(np.asarray(arr))
        _tfproto.attr_to_proto(data.dtype, "type", nd.attr["dtype"])
        _tfproto.attr_to_proto(data, "tensor", nd.attr["value"])
        args.append(Value(f"{name}:0", data.dtype))
    copy = Node(node.name, node.op, "tf", attrs=node.attrs, meta={
        "tf_attr_kinds": node.meta.get("tf_attr_kinds", {})})
    for v in args:
        copy.append_input(v)
    _tfproto.node_to_proto(copy, gd.node.add())
    tf_gd = tf.compat.v1.GraphDef.FromString(gd.SerializeToString())
    graph = tf.Graph()
    try:
        with graph.as_default():
            tf.compat.v1.import_graph_def(tf_gd, name="")
        op = graph.get_operation_by_name(node.name)
        if op.op_def.is_stateful:
            raise EvalError(f"{node.op} '{node.name}' is stateful")
        with tf.compat.v1.Session(graph=graph) as sess:
            outs = sess.run(list(op.outputs))
    except (ValueError, TypeError, tf.errors.OpError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise EvalError(f"{node.op} '{node.name}': {first}") from None
    return [np.asarray(o) for o in outs]
