"""Numeric graph_transforms passes against TF's own C++ TransformGraph.

Every case runs the same spec through modelkit and through TF's
`TransformGraphWithStringInputs` on a small graph built here with TF, then
checks: the same op histogram, the same node names, and the same outputs when
both results run in a TF session (1e-4 relative for folding passes).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.transform.conftest import (node_names, normalized_nodes, op_histogram, run_graph,
                                      tf_transform)

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
DEPLOY_CHAIN = ("strip_unused_nodes fold_constants(ignore_errors=true) fold_batch_norms "
                "fold_old_batch_norms quantize_weights quantize_nodes strip_unused_nodes "
                "sort_by_execution_order")


def _v1():
    import tensorflow as tf

    return tf, tf.compat.v1


def _const(rng, shape, name, scale=1.0):
    tf, _ = _v1()
    return tf.constant((rng.standard_normal(shape) * scale).astype(np.float32), name=name)


def bn_graph(version: str = "V3") -> tuple[bytes, list[str], list[str]]:
    """Batch norms after Conv2D, DepthwiseConv2dNative, BatchToSpaceND and a ConcatV2 of
    two convolutions, and Muls by constant vectors after Conv2D and MatMul; weights read
    through Identity. `version`: the FusedBatchNorm op written (V1, V2 or V3)."""
    tf, v1 = _v1()
    raw = tf.raw_ops
    rng = np.random.default_rng(1)
    g = tf.Graph()

    def bn_params(c, tag):
        return (tf.constant(rng.uniform(0.5, 1.5, c).astype(np.float32), name=f"{tag}/gamma"),
                tf.constant(rng.standard_normal(c).astype(np.float32), name=f"{tag}/beta"),
                tf.constant(rng.standard_normal(c).astype(np.float32), name=f"{tag}/mean"),
                tf.constant(rng.uniform(0.5, 2.0, c).astype(np.float32), name=f"{tag}/var"))

    def fused_bn(x, scale, offset, mean, variance, name):
        op = {"V1": raw.FusedBatchNorm, "V2": raw.FusedBatchNormV2,
              "V3": raw.FusedBatchNormV3}[version]
        return op(x=x, scale=scale, offset=offset, mean=mean, variance=variance,
                  epsilon=0.001, is_training=False, name=name)[0]

    with g.as_default():
        x = v1.placeholder(tf.float32, [1, 8, 8, 3], name="x")
        w1 = tf.identity(_const(rng, [3, 3, 3, 4], "w1"), name="w1/read")
        c1 = tf.nn.conv2d(x, w1, [1, 1, 1, 1], "SAME", name="conv1")
        ga, be, me, va = bn_params(4, "bn1")
        bn1 = fused_bn(c1, ga, be, me, va, "bn1")
        r1 = tf.nn.relu(bn1, name="relu1")
        dw = _const(rng, [3, 3, 4, 2], "dw")
        d = tf.nn.depthwise_conv2d(r1, dw, [1, 1, 1, 1], "SAME", name="dwconv")
        ga, be, me, va = bn_params(8, "bn2")
        bn2 = fused_bn(d, ga, be, me, va, "bn2")
        w3 = _const(rng, [1, 1, 8, 6], "w3")
        c3 = tf.nn.conv2d(bn2, w3, [1, 1, 1, 1], "SAME", name="conv3")
        m3 = tf.multiply(c3, tf.constant(rng.uniform(0.5, 2, 6).astype(np.float32),
                                         name="mul3/y"), name="mul3")
        w4 = _const(rng, [3, 3, 6, 5], "w4")
        c4 = tf.nn.conv2d(m3, w4, [1, 1, 1, 1], "SAME", name="conv4")
        ga, be, me, va = bn_params(5, "bn4")
        bn4 = fused_bn(c4, ga, be, me, va, "bn4")
        ga, be, me, va = bn_params(5, "bn4b")
        bn4b = raw.FusedBatchNorm(x=bn4, scale=ga, offset=be, mean=me, variance=va,
                                  epsilon=0.001, is_training=False, name="bn4b")[0]
        # Two convolutions concatenated on channels, then one batch norm.
        wa, wb = _const(rng, [1, 1, 5, 3], "wa"), _const(rng, [1, 1, 5, 2], "wb")
        ca = tf.nn.conv2d(bn4b, wa, [1, 1, 1, 1], "SAME", name="conva")
        # NOTE: TF writes a node read by both convolutions twice (an invalid graph).
        cb = tf.nn.conv2d(tf.nn.relu(bn4b, name="relu4"), wb, [1, 1, 1, 1], "SAME",
                          name="convb")
        cat = tf.concat([ca, cb], axis=3, name="cat")
        ga, be, me, va = bn_params(5, "bn5")
        bn5 = fused_bn(cat, ga, be, me, va, "bn5")
        # An atrous convolution as TF1 wrote it, then a batch norm.
        s2b = raw.SpaceToBatchND(input=bn5, block_shape=tf.constant([2, 2], name="s2b/block"),
                                 paddings=tf.constant([[2, 2], [2, 2]], name="s2b/pad"),
                                 name="s2b")
        w6 = _const(rng, [3, 3, 5, 4], "w6")
        c6 = tf.nn.conv2d(s2b, w6, [1, 1, 1, 1], "VALID", name="conv6")
        b2s = raw.BatchToSpaceND(input=c6, block_shape=tf.constant([2, 2], name="b2s/block"),
                                 crops=tf.constant([[0, 0], [0, 0]], name="b2s/crops"),
                                 name="b2s")
        ga, be, me, va = bn_params(4, "bn6")
        bn6 = fused_bn(b2s, ga, be, me, va, "bn6")
        flat = tf.reshape(bn6, [1, 256], name="flat")
        wm = tf.identity(_const(rng, [256, 10], "wm", 0.1), name="wm/read")
        mm = tf.matmul(flat, wm, name="dense")
        out = tf.multiply(mm, tf.constant(rng.uniform(0.5, 2, 10).astype(np.float32),
                                          name="dense_scale"), name="out")
        del out
    return g.as_graph_def().SerializeToString(), ["x"], ["out"]


def old_bn_graph() -> tuple[bytes, list[str], list[str]]:
    """Conv2D -> BatchNormWithGlobalNormalization (scale_after_normalization true and
    false), as pre-2016 graphs hold it: the op is removed from GraphDef version 9 on, so
    the graph is written with producer 8."""
    tf, v1 = _v1()
    rng = np.random.default_rng(4)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, 6, 6, 2], name="x")
        h = x
        for i, scale_after in enumerate((True, False)):
            h = tf.nn.conv2d(h, _const(rng, [3, 3, 2, 2], f"w{i}"), [1, 1, 1, 1], "SAME",
                             name=f"conv{i}")
            params = [tf.constant(rng.uniform(0.5, 1.5, 2).astype(np.float32),
                                  name=f"bn{i}/{k}") for k in ("gamma", "beta", "mean", "var")]
            h = tf.raw_ops.FusedBatchNorm(x=h, scale=params[0], offset=params[1],
                                          mean=params[2], variance=params[3], epsilon=0.01,
                                          is_training=False, name=f"bn{i}")[0]
        tf.identity(h, name="out")
    gd = g.as_graph_def()
    for n in gd.node:
        if n.op == "FusedBatchNorm":
            i = int(n.name[2])
            n.op = "BatchNormWithGlobalNormalization"
            x_in, gamma, beta, mean, var = list(n.input)
            del n.input[:]
            n.input.extend([x_in, mean, var, beta, gamma])
            eps = n.attr["epsilon"].f
            for k in list(n.attr):
                if k != "T":
                    del n.attr[k]
            n.attr["variance_epsilon"].f = eps
            n.attr["scale_after_normalization"].b = i == 0
    gd.versions.producer = 8
    return gd.SerializeToString(), ["x"], ["out"]


def fold_graph() -> tuple[bytes, list[str], list[str]]:
    """Constant subgraphs of the ops frozen graphs hold (shape arithmetic, casts, slices,
    concatenations, math), one TF-only op (Cumsum), a static Shape, and Identity chains."""
    tf, v1 = _v1()
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [2, 3], name="x")
        c = tf.constant(np.arange(6, dtype=np.float32), name="c")
        dims = tf.stack([tf.constant(2, name="two"), tf.constant(3, name="three")],
                        name="dims")
        r = tf.reshape(c, dims, name="r")
        t = tf.transpose(tf.transpose(r, name="t1"), name="t2")
        m = tf.math.rsqrt(tf.add(tf.square(t, name="sq"), 1.0, name="add1"), name="rsqrt")
        m = tf.raw_ops.RealDiv(x=m, y=tf.constant(2.0, name="two_f"), name="div")
        m = tf.math.sqrt(m, name="sqrt")
        m = tf.subtract(m, tf.cast(tf.constant([[1, 2, 3], [4, 5, 6]], name="ints"),
                                   tf.float32, name="cast"), name="sub")
        f = tf.fill(tf.constant([2, 3], name="fdims"), tf.constant(0.25, name="fval"),
                    name="fill")
        rg = tf.cast(tf.reshape(tf.range(0, 6, 1, name="range"), [2, 3], name="rr"),
                     tf.float32, name="rcast")
        cs = tf.cumsum(rg, axis=1, name="cumsum")
        sl = tf.strided_slice(tf.constant(np.arange(24, dtype=np.float32).reshape(4, 6),
                                          name="big"),
                              [1, 0], [3, 6], [1, 2], name="slice")
        e = tf.squeeze(tf.expand_dims(sl, 0, name="expand"), [0], name="squeeze")
        cat = tf.concat([m, f], axis=0, name="concat")
        part = tf.gather(cat, [0, 3], name="gather")
        shape = tf.shape(x, name="shape")
        resh = tf.reshape(x, shape, name="xr")
        y = tf.identity(tf.identity(resh, name="id1"), name="id2")
        y = y * part + cs + e
        out = tf.add(y, tf.reduce_sum(tf.constant([[1.0, 2.0]], name="rs"), name="sum"),
                     name="out")
        del out
    return g.as_graph_def().SerializeToString(), ["x"], ["out"]


def fuse_graph() -> tuple[bytes, list[str], list[str]]:
    """MirrorPad -> Conv2D, ResizeBilinear -> Conv2D, ResizeBilinear -> MirrorPad -> Conv2D,
    and atrous Conv2D and DepthwiseConv2dNative through SpaceToBatchND/BatchToSpaceND."""
    tf, v1 = _v1()
    raw = tf.raw_ops
    rng = np.random.default_rng(2)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, 6, 6, 2], name="x")
        pads = tf.constant([[0, 0], [1, 1], [1, 1], [0, 0]], name="pads")
        p = tf.pad(x, pads, mode="REFLECT", name="mirror")
        a = tf.nn.conv2d(p, _const(rng, [3, 3, 2, 3], "wa"), [1, 1, 1, 1], "VALID",
                         name="conv_pad")
        rz = v1.image.resize_bilinear(a, tf.constant([8, 8], name="size"), name="resize")
        b = tf.nn.conv2d(rz, _const(rng, [3, 3, 3, 3], "wb"), [1, 1, 1, 1], "SAME",
                         name="conv_resize")
        rz2 = v1.image.resize_bilinear(b, tf.constant([10, 10], name="size2"),
                                       name="resize2")
        p2 = tf.pad(rz2, pads, mode="SYMMETRIC", name="mirror2")
        c = tf.nn.conv2d(p2, _const(rng, [3, 3, 3, 4], "wc"), [1, 1, 1, 1], "VALID",
                         name="conv_resize_pad")
        s2b = raw.SpaceToBatchND(input=c, block_shape=tf.constant([2, 2], name="block"),
                                 paddings=tf.constant([[2, 2], [2, 2]], name="s2b_pad"),
                                 name="s2b")
        d = tf.nn.conv2d(s2b, _const(rng, [3, 3, 4, 4], "wd"), [1, 1, 1, 1], "VALID",
                         name="conv_atrous")
        b2s = raw.BatchToSpaceND(input=d, block_shape=tf.constant([2, 2], name="block2"),
                                 crops=tf.constant([[0, 0], [0, 0]], name="crops"),
                                 name="atrous")
        s2b2 = raw.SpaceToBatchND(input=b2s, block_shape=tf.constant([2, 2], name="block3"),
                                  paddings=tf.constant([[2, 2], [2, 2]], name="s2b_pad2"),
                                  name="s2b2")
        dd = tf.nn.depthwise_conv2d(s2b2, _const(rng, [3, 3, 4, 1], "wdd"), [1, 1, 1, 1],
                                    "VALID", name="dw_atrous")
        out = raw.BatchToSpaceND(input=dd, block_shape=tf.constant([2, 2], name="block4"),
                                 crops=tf.constant([[0, 0], [0, 0]], name="crops2"),
                                 name="out")
        del out
    return g.as_graph_def().SerializeToString(), ["x"], ["out"]


def quant_graph() -> tuple[bytes, list[str], list[str]]:
    """Every op quantize_nodes rewrites: Conv2D, BiasAdd, Relu, Relu6, MaxPool, AvgPool,
    ResizeBilinear, Concat (v1, as quantize_nodes matches it), Add, Mul, Reshape, MatMul."""
    tf, v1 = _v1()
    raw = tf.raw_ops
    rng = np.random.default_rng(3)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, 8, 8, 3], name="x")
        c = tf.nn.conv2d(x, _const(rng, [3, 3, 3, 8], "w1", 0.3), [1, 1, 1, 1], "SAME",
                         name="conv")
        c = tf.nn.bias_add(c, _const(rng, [8], "b1", 0.1), name="bias")
        r6 = tf.nn.relu6(c, name="relu6")
        ap = tf.nn.avg_pool2d(r6, 2, 2, "VALID", name="avgpool")
        mp = tf.nn.max_pool2d(r6, 2, 2, "VALID", name="maxpool")
        rz = raw.ResizeBilinear(images=ap, size=tf.constant([4, 4], name="size"),
                                align_corners=False, name="resize")
        cat = raw.Concat(concat_dim=tf.constant(3, name="axis"), values=[rz, mp],
                         name="concat")
        s = raw.Add(x=cat, y=cat * 0.5, name="add")
        s = raw.Mul(x=s, y=tf.nn.relu(s, name="relu"), name="mul")
        flat = tf.reshape(s, [1, 256], name="flat")
        d = tf.matmul(flat, _const(rng, [256, 10], "wm", 0.05), name="dense")
        out = tf.nn.bias_add(d, _const(rng, [10], "bm", 0.1), name="out")
        del out
    return g.as_graph_def().SerializeToString(), ["x"], ["out"]


def fake_quant_graph() -> tuple[bytes, list[str], list[str]]:
    """Trained ranges: FakeQuantWithMinMaxVars right after a BiasAdd, and after a
    Relu -> MaxPool chain (which quantize_nodes hoists the FakeQuant through)."""
    tf, v1 = _v1()
    raw = tf.raw_ops
    rng = np.random.default_rng(9)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, 8, 8, 3], name="x")
        c = tf.nn.conv2d(x, _const(rng, [3, 3, 3, 4], "w", 0.3), [1, 1, 1, 1], "SAME",
                         name="conv")
        c = tf.nn.bias_add(c, _const(rng, [4], "b", 0.1), name="bias")
        f1 = raw.FakeQuantWithMinMaxVars(inputs=c, min=tf.constant(-3.0, name="fq1/min"),
                                         max=tf.constant(5.0, name="fq1/max"), name="fq1")
        p = tf.nn.max_pool2d(tf.nn.relu(f1, name="relu"), 2, 2, "VALID", name="pool")
        c2 = tf.nn.conv2d(p, _const(rng, [1, 1, 4, 4], "w2", 0.3), [1, 1, 1, 1], "SAME",
                          name="conv2")
        p2 = tf.nn.max_pool2d(tf.nn.relu(c2, name="relu2"), 2, 2, "VALID", name="pool2")
        f2 = raw.FakeQuantWithMinMaxVars(inputs=p2, min=tf.constant(0.0, name="fq2/min"),
                                         max=tf.constant(6.0, name="fq2/max"), name="fq2")
        tf.matmul(tf.reshape(f2, [1, 16], name="flat"), _const(rng, [16, 5], "wm", 0.3),
                  name="out")
    return g.as_graph_def().SerializeToString(), ["x"], ["out"]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory) -> dict[str, tuple[Path, bytes, list[str], list[str]]]:
    out = {}
    folder = tmp_path_factory.mktemp("numeric")
    for name, build in (("bn", bn_graph), ("bn_v1", lambda: bn_graph("V1")),
                        ("bn_v2", lambda: bn_graph("V2")), ("old_bn", old_bn_graph),
                        ("fold", fold_graph), ("fuse", fuse_graph), ("quant", quant_graph),
                        ("fq", fake_quant_graph)):
        data, ins, outs = build()
        path = folder / f"{name}.pb"
        path.write_bytes(data)
        out[name] = (path, data, ins, outs)
    digits = SAMPLES / "digits_frozen.pb"
    out["digits"] = (digits, digits.read_bytes(), ["input"], ["probs"])
    return out


def ours(path: Path, ins: list[str], outs: list[str], spec: str) -> bytes:
    """modelkit's result of `spec` as deterministic GraphDef bytes."""
    import modelkit
    from modelkit.formats.graphdef import to_graphdef
    from modelkit.transform import PassContext, parse_spec, run_passes

    model = modelkit.load(path)
    new, _ = run_passes(model, parse_spec(spec), PassContext(list(ins), list(outs)))
    return to_graphdef(new).SerializeToString(deterministic=True)


def _feeds(graph: str, ins: list[str], data: bytes) -> dict[str, np.ndarray]:
    from tests.transform.conftest import as_tf_graphdef

    rng = np.random.default_rng(7)
    feeds = {}
    for n in as_tf_graphdef(data).node:
        if n.name in ins:
            shape = [d.size for d in n.attr["shape"].shape.dim]
            feeds[n.name] = rng.uniform(0, 1, shape).astype(np.float32)
    return feeds


CASES = [
    ("digits", "fold_constants(ignore_errors=true)"),
    ("fold", "fold_constants"),
    ("fold", "fold_constants(exclude_op=Rsqrt, exclude_node=cast)"),
    ("fold", "fold_constants(max_constant_size_in_bytes=20)"),
    ("fold", "fold_constants(clear_output_shapes=false)"),
    ("bn", "fold_batch_norms"),
    ("bn", "fold_old_batch_norms"),
    ("bn", "fold_constants(ignore_errors=true) fold_batch_norms fold_old_batch_norms"),
    ("bn_v1", "fold_old_batch_norms"),
    ("bn_v2", "fold_old_batch_norms"),
    ("bn_v1", "fold_constants(ignore_errors=true) fold_batch_norms fold_old_batch_norms"),
    ("old_bn", "fold_old_batch_norms"),
    ("fuse", "flatten_atrous_conv"),
    ("fuse", "fuse_pad_and_conv"),
    ("fuse", "fuse_resize_and_conv"),
    ("fuse", "fuse_resize_pad_and_conv"),
    ("bn", "flatten_atrous_conv"),
    ("digits", "round_weights(num_steps=16)"),
    ("bn", "round_weights"),
    ("digits", "quantize_weights(minimum_size=10)"),
    ("quant", "quantize_weights(minimum_size=100)"),
    ("quant", "quantize_nodes"),
    ("quant", "quantize_nodes(fallback_min=-10, fallback_max=20)"),
    ("quant", "quantize_nodes(input_min=0, input_max=1)"),
    ("quant", "quantize_nodes(ignore_op=Concat, ignore_op=Relu6)"),
    ("fq", "quantize_nodes"),
    ("digits", "fold_constants(ignore_errors=true) strip_unused_nodes(type=float, "
               "shape=\"1,8,8,1\") quantize_weights quantize_nodes"),
    ("digits", DEPLOY_CHAIN),
    ("bn", DEPLOY_CHAIN),
    ("bn_v1", DEPLOY_CHAIN),
    ("quant", DEPLOY_CHAIN),
    ("fuse", DEPLOY_CHAIN),
]


# TF 2.21's fold_old_batch_norms knows FusedBatchNorm (V1) only (measured: V2/V3 stay);
# modelkit folds V2/V3 too, so their oracle is TF on the same graph written with V1.
ORACLE_GRAPH = {"bn": "bn_v1", "bn_v2": "bn_v1"}


@pytest.mark.parametrize(("graph", "spec"), CASES, ids=[f"{g}:{s[:60]}" for g, s in CASES])
def test_same_as_tf(graphs, graph: str, spec: str) -> None:
    path, data, ins, outs = graphs[graph]
    mine = ours(path, ins, outs, spec)
    oracle_data = graphs[ORACLE_GRAPH.get(graph, graph)][1]
    ref = tf_transform(oracle_data, ins, outs, spec)
    hist = op_histogram(mine)
    if graph in ORACLE_GRAPH:
        hist = Counter([("FusedBatchNorm" if op.startswith("FusedBatchNorm") else op)
                        for op in hist.elements()])
    assert hist == op_histogram(ref)
    assert sorted(node_names(mine)) == sorted(node_names(ref))
    if "input_min" in spec:
        return  # NOTE: the quantized input is fed as quint8; the structure is the oracle.
    feeds = _feeds(graph, ins, data)
    got = run_graph(mine, feeds, outs)
    want = run_graph(ref.SerializeToString(), feeds, outs)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4 * float(np.abs(w).max() + 1e-30))


@pytest.mark.parametrize("graph", ["quant", "fq"])
def test_quantize_nodes_nodedefs_identical(graphs, graph: str) -> None:
    """quantize_nodes writes TF's NodeDefs byte for byte (names, inputs, attrs)."""
    path, data, ins, outs = graphs[graph]
    assert normalized_nodes(ours(path, ins, outs, "quantize_nodes")) == normalized_nodes(
        tf_transform(data, ins, outs, "quantize_nodes"))


def test_quantize_nodes_nodedefs_identical_to_tf(graphs) -> None:
    """On the samples' legacy chain, every NodeDef equals TF's byte for byte."""
    path, data, ins, outs = graphs["digits"]
    spec = ("fold_constants(ignore_errors=true) strip_unused_nodes(type=float, "
            "shape=\"1,8,8,1\") quantize_weights quantize_nodes")
    mine = normalized_nodes(ours(path, ins, outs, spec))
    ref = normalized_nodes(tf_transform(data, ins, outs, spec))
    assert mine == ref
    legacy = normalized_nodes((SAMPLES / "digits_legacy_quantized.pb").read_bytes())
    assert mine == legacy


def test_fold_constants_unfed_placeholder(graphs, tmp_path) -> None:
    """An input that is not declared makes TF's folding fail; ignore_errors keeps the graph."""
    path, data, ins, outs = graphs["fold"]
    import modelkit
    from modelkit.transform import PassContext, TransformError, parse_spec, run_passes

    model = modelkit.load(path)
    with pytest.raises(TransformError, match="constant folding failed"):
        run_passes(model, parse_spec("fold_constants"), PassContext([], outs))
    with pytest.raises(Exception, match="(?i)placeholder"):
        tf_transform(data, [], outs, "fold_constants")
    kept, _ = run_passes(model, parse_spec("fold_constants(ignore_errors=true)"),
                         PassContext([], outs))
    ref = tf_transform(data, [], outs, "fold_constants(ignore_errors=true)")
    assert Counter(n.op for n in kept.main.nodes) == op_histogram(ref)


def test_fold_constants_needs_no_tensorflow_for_common_ops(graphs) -> None:
    """The digits and batch-norm graphs fold with numpy alone (TF stays unimported)."""
    import subprocess
    import sys

    path = graphs["bn"][0]
    code = (
        "import sys, modelkit\n"
        "from modelkit.transform import PassContext, parse_spec, run_passes\n"
        f"m = modelkit.load({str(path)!r})\n"
        "m, r = run_passes(m, parse_spec('fold_constants fold_batch_norms "
        "fold_old_batch_norms'), PassContext(['x'], ['out']))\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
        "print(len(m.main.nodes))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
