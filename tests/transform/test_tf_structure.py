"""graph_transforms' structural passes against TF's own C++ implementation.

Each case runs TF's TransformGraph and modelkit's pass on the same GraphDef with
the same spec, then compares node names, each node (inputs spelled
canonically), node order where TF's order is defined, and the outputs of both
graphs run in a TF session.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SAMPLES
from tests.transform import graphs
from tests.transform.conftest import (as_tf_graphdef, canonical_nodes, modelkit_transform,
                                      run_graph, tf_transform)


@pytest.fixture(scope="module")
def cases():
    """name -> (GraphDef bytes, inputs, outputs, feeds)."""
    rng = np.random.default_rng(1)
    pat = graphs.patterns_graph()
    fun = graphs.function_graph()
    ta = graphs.tensor_array_graph()
    digits = ((SAMPLES / "digits_frozen.pb").read_bytes(), ["input"], ["probs"])
    return {
        "patterns": (*pat, {"x": rng.standard_normal((2, 4)).astype(np.float32)}),
        "function": (*fun, {"x": rng.standard_normal((2, 3)).astype(np.float32)}),
        "tensor_array": (*ta, {"x": rng.standard_normal(3).astype(np.float32)}),
        "digits": (*digits, {"input": rng.random((1, 8, 8, 1)).astype(np.float32)}),
    }


# spec -> (graphs it runs on, node order compared)
SPECS = {
    "strip_unused_nodes": (("patterns", "function", "digits"), True),
    'strip_unused_nodes(type=int32, shape="1,2")': (("patterns",), True),
    "remove_nodes(op=Identity, op=CheckNumerics)": (("patterns", "function", "tensor_array",
                                                     "digits"), True),
    "sort_by_execution_order": (("patterns", "function", "tensor_array", "digits"), True),
    "merge_duplicate_nodes": (("patterns", "digits"), False),
    "remove_attribute(attribute_name=_class)": (("patterns", "digits"), True),
    "remove_attribute(attribute_name=T, op_name=Relu)": (("patterns",), True),
    "rename_op(old_op_name=Relu, new_op_name=Relu6)": (("patterns",), True),
    "rename_attribute(old_attribute_name=_class, new_attribute_name=_where)":
        (("patterns",), True),
    "rename_attribute(old_attribute_name=T, new_attribute_name=_T, op_name=Relu)":
        (("patterns",), True),
    "rename_node(old_node_name=matmul, new_node_name=mm)": (("patterns",), True),
    "remove_device": (("patterns",), True),
    'set_device(device="/device:CPU:0")': (("patterns",), True),
    'set_device(device="/device:CPU:0", if_default=true)': (("patterns",), True),
    "remove_control_dependencies": (("patterns",), True),
    "add_default_attributes": (("patterns", "function", "digits"), True),
    "remove_attribute(attribute_name=data_format) remove_attribute(attribute_name=dilations) "
    "remove_attribute(attribute_name=transpose_a) add_default_attributes": (("digits",), True),
    "backport_concatv2": (("patterns",), True),
    "backport_tensor_array_v3": (("tensor_array",), True),
    "inline_partitionedcall": (("function", "patterns"), True),
    "insert_logging(op=Relu, show_name=true, show_op=true, message=hi)": (("patterns",), True),
    "insert_logging(prefix=add, first_n=3)": (("patterns",), True),
    "insert_logging": (("digits", "function"), True),
    "strip_unused_nodes remove_nodes(op=Identity) sort_by_execution_order":
        (("patterns", "digits"), True),
    # NOTE: TF orders merge_duplicate_nodes' result by a hash of each node.
    "strip_unused_nodes merge_duplicate_nodes remove_nodes(op=Identity)":
        (("patterns", "digits"), False),
}
PARAMS = [(g, s) for s, (gs, _) in SPECS.items() for g in gs]


@pytest.mark.parametrize("graph,spec", PARAMS, ids=[f"{g}-{s}" for g, s in PARAMS])
def test_same_graph_as_tf(cases, graph, spec):
    data, inputs, outputs, feeds = cases[graph]
    theirs = tf_transform(data, inputs, outputs, spec)
    ours, reports = modelkit_transform(data, inputs, outputs, spec)
    assert len(reports) == len(spec.split(" ")) or "(" in spec
    t, m = canonical_nodes(theirs), canonical_nodes(ours)
    assert set(m) == set(t)
    assert {k for k in t if t[k] != m[k]} == set()
    if SPECS[spec][1]:
        assert [n.name for n in ours.node] == [n.name for n in theirs.node]
    fetch = [o for o in outputs if o in m]
    if "rename_op" in spec or "attribute_name=T" in spec:
        return  # NOTE: both results are meant to be broken or different graphs
    got = run_graph(ours, feeds, fetch)
    want = run_graph(theirs, feeds, fetch)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_remove_nodes_bypasses_chains_and_keeps_control_edges(cases):
    data, inputs, outputs, feeds = cases["patterns"]
    ours, reports = modelkit_transform(data, inputs, outputs, "remove_nodes(op=Identity)")
    by_name = {n.name: n for n in ours.node}
    assert "id1" not in by_name and "id2" not in by_name and "w/read" not in by_name
    assert list(by_name["add1"].input)[0] == "check"
    assert reports[0].op_delta == {"Identity": -4}
    before = run_graph(data, feeds, outputs)
    np.testing.assert_allclose(run_graph(ours, feeds, outputs)[0], before[0], rtol=1e-6)


def test_obfuscate_names_renames_colocations_so_the_graph_imports(cases):
    """TF's result names `_class` colocations that no longer exist and fails to
    import; ours is the same graph apart from those attrs, and runs."""
    data, inputs, outputs, feeds = cases["patterns"]
    theirs = tf_transform(data, inputs, outputs, "obfuscate_names")
    ours, _ = modelkit_transform(data, inputs, outputs, "obfuscate_names")
    assert canonical_nodes(ours, ["_class"]) == canonical_nodes(theirs, ["_class"])
    with pytest.raises(ValueError, match="colocated with unknown node"):
        run_graph(theirs, feeds, outputs)
    names = {n.name for n in ours.node}
    for n in ours.node:
        for loc in n.attr["_class"].list.s if "_class" in n.attr else []:
            assert loc.decode()[len("loc:@"):] in names
    np.testing.assert_array_equal(run_graph(ours, feeds, outputs)[0],
                                  run_graph(data, feeds, outputs)[0])


def test_insert_logging_skips_nodes_without_outputs(cases):
    """TF adds a Print for a NoOp used only as a control input, typed from an empty
    output list; that node is the only difference."""
    data, inputs, outputs, feeds = cases["patterns"]
    theirs = tf_transform(data, inputs, outputs, "insert_logging")
    ours, _ = modelkit_transform(data, inputs, outputs, "insert_logging")
    t, m = canonical_nodes(theirs), canonical_nodes(ours)
    assert set(t) - set(m) == {"barrier__print__"}
    assert all(t[k] == m[k] for k in m)
    np.testing.assert_array_equal(run_graph(ours, feeds, outputs)[0],
                                  run_graph(data, feeds, outputs)[0])


def test_strip_unused_nodes_makes_placeholders_for_inner_inputs(cases):
    data, _, outputs, feeds = cases["patterns"]
    spec = 'strip_unused_nodes(name=add1, type_for_name=float, shape_for_name="2,3")'
    theirs = tf_transform(data, ["add1"], outputs, spec)
    ours, _ = modelkit_transform(data, ["add1"], outputs, spec)
    assert canonical_nodes(ours) == canonical_nodes(theirs)
    ph = next(n for n in ours.node if n.name == "add1")
    assert ph.op == "Placeholder" and [d.size for d in ph.attr["shape"].shape.dim] == [2, 3]
    feed = {"add1": np.ones((2, 3), np.float32)}
    np.testing.assert_array_equal(run_graph(ours, feed, outputs)[0],
                                  run_graph(theirs, feed, outputs)[0])


def test_merge_duplicate_nodes_keeps_first_of_each_group(cases):
    data, inputs, outputs, _ = cases["patterns"]
    ours, reports = modelkit_transform(data, inputs, outputs, "merge_duplicate_nodes")
    names = {n.name for n in ours.node}
    # b1/b2 hold the same values; add2/add2_dup then read the same inputs.
    assert "b1" in names and "b2" not in names and "add2_dup" not in names
    assert reports[0].graph_nodes_before - reports[0].graph_nodes_after == \
        len(as_tf_graphdef(data).node) - len(ours.node)


def test_inline_partitionedcall_keeps_the_function_library(cases):
    data, inputs, outputs, feeds = cases["function"]
    ours, _ = modelkit_transform(data, inputs, outputs, "inline_partitionedcall")
    assert not any(n.op == "PartitionedCall" for n in ours.node)
    assert len(ours.library.function) == len(as_tf_graphdef(data).library.function)
    np.testing.assert_allclose(run_graph(ours, feeds, outputs)[0],
                               run_graph(data, feeds, outputs)[0], rtol=1e-6)


def test_versions_are_kept(cases):
    """TF's TransformGraph drops GraphDef.versions; the passes keep it."""
    data, inputs, outputs, _ = cases["digits"]
    ours, _ = modelkit_transform(data, inputs, outputs, "remove_nodes(op=Identity)")
    assert tf_transform(data, inputs, outputs, "remove_device").versions.producer == 0
    assert ours.versions.producer == as_tf_graphdef(data).versions.producer > 0


def test_pass_leaves_its_input_model_unchanged(cases):
    from modelkit.formats import _tfproto
    from modelkit.formats.graphdef import to_graphdef
    from modelkit.transform import PassContext, parse_spec, run_passes

    data, inputs, outputs, _ = cases["patterns"]
    model = _tfproto.model_from_graphdef(_tfproto.parse_graphdef(data, "g"), "graphdef", None)
    before = to_graphdef(model).SerializeToString(deterministic=True)
    spec = ("strip_unused_nodes remove_nodes(op=Identity) merge_duplicate_nodes "
            "obfuscate_names backport_concatv2 insert_logging remove_device")
    run_passes(model, parse_spec(spec), PassContext(inputs, outputs))
    assert to_graphdef(model).SerializeToString(deterministic=True) == before


def test_insert_logging_on_a_multi_output_node_still_runs():
    """A Split whose second output alone is used: TF types the Print's data with
    both outputs for one data input; the Print here lists the logged outputs' types."""
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [4], name="x")
        parts = tf.split(x, 2, name="split")
        tf.identity(parts[1] * 2.0, name="out")
    data = g.as_graph_def().SerializeToString()
    feeds = {"x": np.arange(4, dtype=np.float32)}
    ours, _ = modelkit_transform(data, ["x"], ["out"], "insert_logging(op=Split)")
    printer = next(n for n in ours.node if n.name == "split__print__")
    assert list(printer.input) == ["split", "split:1"]
    assert len(printer.attr["U"].list.type) == 1
    np.testing.assert_array_equal(run_graph(ours, feeds, ["out"])[0], [4.0, 6.0])
    theirs = tf_transform(data, ["x"], ["out"], "insert_logging(op=Split)")
    assert len(next(n for n in theirs.node if n.name == "split__print__")
               .attr["U"].list.type) == 2
