"""Small TF graphs built in code, each holding the patterns the passes rewrite.

Built with TensorFlow once per test session (see the fixtures in the test
modules); every builder returns (serialized GraphDef, inputs, outputs).
"""

from __future__ import annotations

import numpy as np


def _tf():
    import tensorflow as tf

    return tf


def patterns_graph() -> tuple[bytes, list[str], list[str]]:
    """A graph with Identity/CheckNumerics chains, a dead training branch,
    duplicate Consts, devices, control deps, colocation, ConcatV2 and an unused input.

    Inputs: x (float [2,4]); outputs: out.
    """
    tf = _tf()
    v1 = tf.compat.v1
    g = tf.Graph()
    rng = np.random.default_rng(0)
    with g.as_default():
        x = v1.placeholder(tf.float32, [2, 4], name="x")
        v1.placeholder(tf.float32, [3], name="unused_in")
        with g.device("/device:CPU:0"):
            w = tf.constant(rng.standard_normal((4, 3)).astype(np.float32), name="w")
        w_read = tf.identity(w, name="w/read")
        with v1.colocate_with(w):
            w_read2 = tf.identity(w_read, name="w/read2")
        h = tf.matmul(x, w_read2, name="matmul")
        h = tf.debugging.check_numerics(h, "bad", name="check")
        h = tf.identity(tf.identity(h, name="id1"), name="id2")
        b1 = tf.constant([0.5, -1.0, 2.0], name="b1")
        b2 = tf.constant([0.5, -1.0, 2.0], name="b2")
        h = tf.add(h, b1, name="add1")
        k = tf.add(h, b2, name="add2")
        k2 = tf.add(h, b2, name="add2_dup")
        noop = tf.no_op(name="barrier")
        with g.control_dependencies([noop]):
            r = tf.nn.relu(k, name="relu")
        cat = tf.concat([r, k2], axis=1, name="concat")
        out = tf.nn.softmax(cat, name="out")
        # Dead training branch: a loss and its gradients, which nothing at `out` needs.
        loss = tf.reduce_sum(tf.square(out), name="loss")
        v1.gradients(loss, [w_read2], name="gradients")
    return g.as_graph_def().SerializeToString(), ["x"], ["out"]


def function_graph() -> tuple[bytes, list[str], list[str]]:
    """A graph calling a stateless tf.function (PartitionedCall) with two outputs.

    Inputs: x (float [2,3]); outputs: out.
    """
    tf = _tf()
    v1 = tf.compat.v1

    @tf.function
    def body(a, b):
        s = tf.nn.relu(a * 2.0 + b, name="inner_relu")
        return s, tf.reduce_sum(s, axis=1, name="inner_sum")

    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [2, 3], name="x")
        y = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5, name="y")
        s, t = body(x, y)
        out = tf.add(tf.identity(s, name="s_id"), tf.expand_dims(t, 1), name="out")
    gd = g.as_graph_def()
    return gd.SerializeToString(), ["x"], [out.op.name]


def tensor_array_graph() -> tuple[bytes, list[str], list[str]]:
    """A graph with TensorArrayV3 write/read/size (the flow output is used).

    Inputs: x (float [3]); outputs: out, size.
    """
    tf = _tf()
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [3], name="x")
        ta = tf.TensorArray(tf.float32, size=2, name="ta")
        ta = ta.write(0, x).write(1, x * 2.0)
        tf.identity(ta.read(1), name="out")
        tf.identity(ta.size(), name="size")
    return g.as_graph_def().SerializeToString(), ["x"], ["out", "size"]


def keras_like_graph() -> tuple[bytes, list[str], list[str]]:
    """A frozen tf.function as Keras 3 writes one: every variable read
    (`ReadVariableOp` -> Identity of a Const after freezing) is also a control input
    of a NoOp the output depends on, so folding keeps each weight Const and adds a
    folded copy of it; batch norms are inline math (Rsqrt, Mul, Sub, AddV2).

    Inputs: x (float [1,8,8,3]); outputs: Identity.
    """
    tf = _tf()
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    rng = np.random.default_rng(7)

    def var(shape, lo=None, hi=None):
        data = rng.uniform(lo, hi, shape) if lo is not None else rng.standard_normal(shape)
        return tf.Variable(data.astype(np.float32))

    convs = [(var([3, 3, 3, 8]), [var([8], 0.5, 1.5) for _ in range(4)]),
             (var([3, 3, 8, 8]), [var([8], 0.5, 1.5) for _ in range(4)])]
    dense_w, dense_b = var([8, 4]), var([4])

    @tf.function
    def model(x):
        h = x
        for kernel, (gamma, beta, mean, variance) in convs:
            h = tf.nn.conv2d(h, kernel, 1, "SAME")
            inv = tf.math.rsqrt(variance + 0.001) * gamma
            h = tf.nn.relu(h * inv + (beta - mean * inv))
        h = tf.reduce_mean(h, axis=[1, 2])
        return tf.nn.softmax(tf.matmul(h, dense_w) + dense_b)

    fn = model.get_concrete_function(tf.TensorSpec([1, 8, 8, 3], tf.float32, name="x"))
    frozen = convert_variables_to_constants_v2(fn)
    gd = frozen.graph.as_graph_def()
    return (gd.SerializeToString(), [t.op.name for t in frozen.inputs],
            [t.op.name for t in frozen.outputs])
