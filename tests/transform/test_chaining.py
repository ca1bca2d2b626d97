"""Passes chained in one run give what the same passes give one by one.

`modelkit transform --transforms 'a b'` must write the same bytes as `a` then `b`
with the graph saved and read back in between: what a pass builds in memory (a
folded constant, a rewired input) must be what the reader makes of the written
graph, or a later pass in the chain sees a different graph than it would after a
save (e.g. merge_duplicate_nodes missing duplicate weights).
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.transform import graphs
from tests.transform.conftest import op_histogram, tf_transform
from tests.transform.test_tf_numeric import bn_graph

PASSES = [
    "strip_unused_nodes",
    "fold_constants(ignore_errors=true)",
    "remove_nodes(op=Identity)",
    "merge_duplicate_nodes",
    "fold_batch_norms",
    "fold_old_batch_norms",
    "sort_by_execution_order",
    "quantize_weights(minimum_size=16)",
    "round_weights(num_steps=16)",
    "remove_attribute(attribute_name=_class)",
    "rename_op(old_op_name=Relu, new_op_name=Relu6)",
    "remove_control_dependencies",
    "quantize_nodes",
    "obfuscate_names",
]
KERAS_CHAIN = ("strip_unused_nodes fold_constants(ignore_errors=true) "
               "remove_nodes(op=Identity) merge_duplicate_nodes")


@pytest.fixture(scope="module")
def sources():
    """name -> (GraphDef bytes, inputs, outputs)."""
    return {"keras_like": graphs.keras_like_graph(), "batch_norms": bn_graph(),
            "patterns": graphs.patterns_graph()}


def _model(data: bytes):
    from modelkit.formats import _tfproto

    return _tfproto.model_from_graphdef(_tfproto.parse_graphdef(data, "<test graph>"),
                                        "graphdef", None)


def _bytes(model) -> bytes:
    """The GraphDef bytes `modelkit transform` writes for `model`."""
    from modelkit.formats.graphdef import to_graphdef

    return to_graphdef(model).SerializeToString(deterministic=True)


def _run(model, spec: str, inputs, outputs):
    """(written bytes, None) of `spec` on `model`, or (None, the error) when it fails."""
    from modelkit.errors import ModelkitError
    from modelkit.transform import PassContext, parse_spec, run_passes

    try:
        out, _ = run_passes(model, parse_spec(spec), PassContext(list(inputs), list(outputs)))
    except ModelkitError as e:
        return None, f"{type(e).__name__}: {e}"
    return _bytes(out), None


@pytest.mark.parametrize("graph", ["keras_like", "batch_norms", "patterns"])
@pytest.mark.parametrize("first", PASSES)
def test_chained_equals_one_by_one(sources, graph, first):
    """For every second pass: `first second` in one run writes the same bytes as
    `first`, save, load, `second`."""
    data, inputs, outputs = sources[graph]
    model = _model(data)
    saved, error = _run(model, first, inputs, outputs)
    if error is not None:
        pytest.skip(f"{first} does not apply to this graph ({error})")
    assert _bytes(_model(saved)) == saved, "the written graph does not read back the same"
    differ = []
    for second in PASSES:
        chained, chained_error = _run(model, f"{first} {second}", inputs, outputs)
        separate, separate_error = _run(_model(saved), second, inputs, outputs)
        if chained != separate or chained_error != separate_error:
            differ.append(second)
    assert differ == []


def test_keras_graph_chain_merges_folded_weight_copies(sources):
    """A Keras 3 frozen graph keeps each weight Const (a NoOp reads its variable read)
    and folding adds a copy of it; merge_duplicate_nodes in the same chain must merge
    the copies as it does after a save, and as TF's TransformGraph does."""
    data, inputs, outputs = sources["keras_like"]
    theirs = tf_transform(data, inputs, outputs, KERAS_CHAIN)
    chained, _ = _run(_model(data), KERAS_CHAIN, inputs, outputs)
    step = data
    for spec in KERAS_CHAIN.split(" "):
        step, _ = _run(_model(step), spec, inputs, outputs)
    nodes = _model(chained).main.nodes
    assert len(nodes) == len(theirs.node) == len(_model(step).main.nodes)
    assert Counter(n.op for n in nodes) == op_histogram(theirs)
    assert chained == step
    # Each weight is stored once, as in TF's result (the folded copies merged).
    weights = sum(n.attrs["value"].nbytes for n in nodes if n.op == "Const")
    assert weights == sum(len(n.attr["value"].tensor.tensor_content) for n in theirs.node
                          if n.op == "Const")
