"""Generated GraphDefs read into the IR agree with TensorFlow's own parser, node by node.

The oracle is TensorFlow: `GraphDef.FromString` for the messages and
`tensor_util.MakeNdarray` for every constant's values. The graphs cover what the
reader treats specially: every attr kind, constants small and big, as
`tensor_content` or typed (and splat) value fields, inputs with ports, control
inputs, inputs naming missing nodes, multi-output ops, and NodeDef fields the IR
does not model.
"""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import modelkit  # noqa: E402
from modelkit.formats import graphdef  # noqa: E402
from modelkit.ir import DType, EnumValue, FuncRef, TensorData  # noqa: E402

tf = pytest.importorskip("tensorflow")
from tensorflow.core.framework import attr_value_pb2, graph_pb2  # noqa: E402
from tensorflow.python.framework import tensor_util  # noqa: E402

# dtype -> how to draw values of it.
_TENSOR_DTYPES = {
    np.float32: st.floats(-2.0**20, 2.0**20, width=32),
    np.float64: st.floats(-1e6, 1e6),
    np.float16: st.floats(-100, 100, width=16),
    np.int8: st.integers(-128, 127),
    np.uint8: st.integers(0, 255),
    np.int16: st.integers(-2**15, 2**15 - 1),
    np.int32: st.integers(-2**31, 2**31 - 1),
    np.int64: st.integers(-2**63, 2**63 - 1),
    np.bool_: st.booleans(),
    np.complex64: st.complex_numbers(max_magnitude=1e3, width=64),
    object: st.binary(max_size=6),
}
_SHAPES = st.lists(st.integers(0, 4), max_size=3).map(tuple)


@st.composite
def tensors(draw):
    """A TensorProto as TF writes it: content or typed fields, splats, big ones."""
    dtype = draw(st.sampled_from(list(_TENSOR_DTYPES)))
    if dtype is np.float32 and draw(st.booleans()):
        # Above the size the reader leaves in the parsed message until used.
        n = draw(st.integers(1025, 1100))
        arr = np.arange(n, dtype=np.float32) * draw(st.floats(-2, 2, width=32))
        return tensor_util.make_tensor_proto(arr)
    shape = draw(_SHAPES)
    if draw(st.booleans()) and int(np.prod(shape)) > 1:
        # A splat: one value stored, filling the whole shape.
        value = draw(_TENSOR_DTYPES[dtype])
        return tensor_util.make_tensor_proto(value, dtype=tf.as_dtype(dtype)
                                             if dtype is not object else tf.string,
                                             shape=list(shape))
    n = int(np.prod(shape))
    values = draw(st.lists(_TENSOR_DTYPES[dtype], min_size=n, max_size=n))
    arr = np.array(values, dtype=dtype).reshape(shape)
    return tensor_util.make_tensor_proto(arr)


def _shape_proto(draw):
    from tensorflow.core.framework import tensor_shape_pb2
    if draw(st.integers(0, 5)) == 0:
        return tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
    dims = draw(st.lists(st.integers(-1, 50), max_size=4))
    return tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims])


@st.composite
def attr_values(draw, count: bool = False):
    """An AttrValue of any kind (`count`: an output count attr, kept small when an int)."""
    kind = draw(st.sampled_from(["s", "i", "f", "b", "type", "shape", "tensor", "func",
                                 "list.i", "list.type", "list.shape", "list.s", "none"]))
    av = attr_value_pb2.AttrValue()
    if kind == "s":
        av.s = draw(st.one_of(st.text(max_size=8).map(str.encode), st.just(b"\xff\xfe")))
    elif kind == "i":
        av.i = draw(st.integers(-2, 6) if count else st.integers(-2**63, 2**63 - 1))
    elif kind == "f":
        av.f = draw(st.floats(-2.0**100, 2.0**100, width=32))
    elif kind == "b":
        av.b = draw(st.booleans())
    elif kind == "type":
        av.type = draw(st.sampled_from([1, 2, 3, 4, 6, 7, 9, 10, 19, 20]))
    elif kind == "shape":
        av.shape.CopyFrom(_shape_proto(draw))
    elif kind == "tensor":
        av.tensor.CopyFrom(draw(tensors()))
    elif kind == "func":
        av.func.name = draw(st.sampled_from(["f_a", "f_b"]))
        av.func.attr["T"].type = 1
    elif kind == "list.i":
        av.list.i.extend(draw(st.lists(st.integers(-5, 5), min_size=1, max_size=4)))
    elif kind == "list.type":
        av.list.type.extend(draw(st.lists(st.sampled_from([1, 3, 9]), min_size=1,
                                          max_size=4)))
    elif kind == "list.shape":
        for _ in range(draw(st.integers(1, 3))):
            av.list.shape.add().CopyFrom(_shape_proto(draw))
    elif kind == "list.s":
        av.list.s.extend(draw(st.lists(st.binary(max_size=4), min_size=1, max_size=3)))
    return av


_OPS = ["Const", "Placeholder", "Identity", "MatMul", "Split", "Unpack", "NoOp", "IdentityN",
        "Equal", "Cast", "Shape", "VariableV2", "Custom"]


@st.composite
def graphdefs(draw):
    gd = graph_pb2.GraphDef()
    gd.versions.producer = draw(st.integers(0, 2000))
    count = draw(st.integers(1, 14))
    names = [f"n{i}" + draw(st.sampled_from(["", "/a", "_1"])) for i in range(count)]
    for i, name in enumerate(names):
        nd = gd.node.add(name=name, op=draw(st.sampled_from(_OPS)))
        for _ in range(draw(st.integers(0, 3))):
            src = draw(st.sampled_from(names[:i] + ["missing"])) if i else "missing"
            port = draw(st.integers(0, 3))
            nd.input.append(src if port == 0 and draw(st.booleans()) else f"{src}:{port}")
        if i and draw(st.integers(0, 3)) == 0:
            nd.input.append("^" + draw(st.sampled_from(names[:i])))
        if draw(st.integers(0, 4)) == 0:
            nd.device = "/device:CPU:0"
        for key in draw(st.lists(st.sampled_from(["T", "dtype", "value", "num_split", "num",
                                                  "shape", "_output_shapes", "out_type",
                                                  "x", "y"]), unique=True, max_size=4)):
            nd.attr[key].CopyFrom(draw(attr_values(count=key in ("num_split", "num"))))
        if nd.op == "Const" and draw(st.booleans()):
            nd.attr["value"].tensor.CopyFrom(draw(tensors()))
        if draw(st.integers(0, 6)) == 0:
            nd.experimental_debug_info.original_node_names.append("orig_" + name)
    return gd


def _tf_attr(av):
    """An AttrValue as TensorFlow reads it, in the IR's terms."""
    kind = av.WhichOneof("value")
    if kind is None:
        return None
    if kind == "list":
        for sub in ("s", "i", "f", "b", "type", "shape", "tensor", "func"):
            items = getattr(av.list, sub)
            if len(items):
                return [_tf_attr(attr_value_pb2.AttrValue(**{sub: x})) for x in items]
        return []
    if kind == "type":
        return tf.as_dtype(av.type).base_dtype.name
    if kind == "shape":
        shape = tf.TensorShape(av.shape)
        return None if shape.rank is None else tuple(shape.as_list())
    if kind == "tensor":
        return tensor_util.MakeNdarray(av.tensor)
    if kind == "func":
        return ("func", av.func.name)
    if kind == "s":
        return av.s
    return getattr(av, kind)


def _ir_attr(value):
    """An IR attr value in the terms of `_tf_attr`."""
    if isinstance(value, list):
        return [_ir_attr(v) for v in value]
    if isinstance(value, FuncRef):
        return ("func", value.name)
    if isinstance(value, DType):
        return value.value
    assert not isinstance(value, EnumValue)
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def _assert_same_tensor(data: TensorData, tp) -> None:
    expected = tensor_util.MakeNdarray(tp)
    assert data.shape == expected.shape
    assert str(data.dtype) == tf.as_dtype(tp.dtype).name
    got = data.numpy()
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected, equal_nan=expected.dtype.kind in "fc")


def _port_name(s: str) -> str:
    """`a` -> `a:0`, `a:2` -> `a:2`: the tensor an input string names."""
    head, _, port = s.rpartition(":")
    return s if head and port.isdigit() else f"{s}:0"


def _assert_matches_tf(model, data: bytes) -> None:
    gd = tf.compat.v1.GraphDef.FromString(data)
    nodes = model.graphs[0].nodes
    assert [n.name for n in nodes] == [nd.name for nd in gd.node]
    for node, nd in zip(nodes, gd.node):
        assert (node.op, node.device) == (nd.op, nd.device)
        data_inputs = [s for s in nd.input if not s.startswith("^")]
        assert [v.name for v in node.inputs] == [_port_name(s) for s in data_inputs]
        assert node.control_inputs == [s[1:] for s in nd.input if s.startswith("^")]
        assert sorted(node.attrs) == sorted(nd.attr)
        for key, av in nd.attr.items():
            value = node.attrs[key]
            if av.WhichOneof("value") == "tensor":
                _assert_same_tensor(value, av.tensor)
                continue
            if av.WhichOneof("value") == "list" and len(av.list.tensor):
                for d, tp in zip(value, av.list.tensor):
                    _assert_same_tensor(d, tp)
                continue
            expected = _tf_attr(av)
            assert _ir_attr(value) == expected, key
        if nd.op == "Const" and "value" in nd.attr \
                and nd.attr["value"].WhichOneof("value") == "tensor":
            out = node.outputs[0]
            assert out.data is node.attrs["value"]
            _assert_same_tensor(out.data, nd.attr["value"].tensor)
        for i, v in enumerate(node.inputs):
            assert any(n is node and j == i for n, j in v.consumers)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphdefs())
def test_generated_graphdef_matches_tf_parser_and_writes_back(tmp_path_factory, gd):
    data = gd.SerializeToString()
    folder = tmp_path_factory.mktemp("gd")
    src = folder / "g.pb"
    src.write_bytes(data)
    model = modelkit.load(src)
    _assert_matches_tf(model, data)
    # Written back, TensorFlow reads the same message.
    dst = folder / "out.pb"
    graphdef.save(model, dst)
    assert tf.compat.v1.GraphDef.FromString(dst.read_bytes()) == \
        tf.compat.v1.GraphDef.FromString(data)


def test_big_generated_graph_matches_tf_parser(tmp_path):
    """A 2,000-node graph like the browse benchmark's: weights, matmuls, skip connections."""
    gd = graph_pb2.GraphDef()
    t = attr_value_pb2.AttrValue(type=1)
    gd.node.add(name="input", op="Placeholder").attr["dtype"].CopyFrom(t)
    cur = "input"
    for i in range(500):
        w = gd.node.add(name=f"b{i}/w", op="Const")
        w.attr["dtype"].CopyFrom(t)
        w.attr["value"].tensor.CopyFrom(
            tensor_util.make_tensor_proto(np.full((4, 4), i / 7, np.float32)))
        gd.node.add(name=f"b{i}/mm", op="MatMul", input=[cur, f"b{i}/w"]).attr["T"].CopyFrom(t)
        gd.node.add(name=f"b{i}/relu", op="Relu", input=[f"b{i}/mm"]).attr["T"].CopyFrom(t)
        gd.node.add(name=f"b{i}/add", op="AddV2", input=[f"b{i}/relu", cur]).attr["T"].CopyFrom(t)
        cur = f"b{i}/add"
    data = gd.SerializeToString()
    src = tmp_path / "big.pb"
    src.write_bytes(data)
    model = modelkit.load(src)
    _assert_matches_tf(model, data)
    graph = model.graphs[0]
    assert [v.name for v in graph.inputs] == ["input:0"]
    assert [v.name for v in graph.outputs] == [f"{cur}:0"]
    dst = tmp_path / "out.pb"
    graphdef.save(model, dst)
    assert dst.read_bytes() == gd.SerializeToString(deterministic=True)


def test_binary_graphdef_starting_like_text_is_read_as_binary(tmp_path):
    """A first node of 35 bytes starts the file with bytes 0x0A 0x23 ("\\n#"): a comment
    line, were it text."""
    gd = graph_pb2.GraphDef()
    gd.node.add(name="n0/a", op="Split", input=["missing:1", "missing:1"])
    gd.versions.SetInParent()
    data = gd.SerializeToString()
    assert data[:2] == b"\n#"
    src = tmp_path / "g.pb"
    src.write_bytes(data)
    model = modelkit.load(src)
    _assert_matches_tf(model, data)
    assert modelkit.detect_format(src) == "graphdef"


def test_output_shapes_of_another_list_kind_give_no_shapes(tmp_path):
    """`_output_shapes` holding ints (a writer's mistake) is not taken for shapes."""
    gd = graph_pb2.GraphDef()
    nd = gd.node.add(name="p", op="Placeholder")
    nd.attr["dtype"].type = 1
    nd.attr["_output_shapes"].list.i.extend([3, 4])
    src = tmp_path / "g.pb"
    src.write_bytes(gd.SerializeToString())
    model = modelkit.load(src)
    _assert_matches_tf(model, src.read_bytes())
    assert [(v.name, v.shape) for v in model.graphs[0].nodes[0].outputs] == \
        [("p:0", None), ("p:1", None)]
