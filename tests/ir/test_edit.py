"""IR edit helpers: copies are independent, edits keep producers and consumers right."""

from __future__ import annotations

import numpy as np

import modelkit
from modelkit.ir import ArrayData, Graph, Node, Value
from modelkit.ir.edit import add_node, clone_model, prune_values, remove_nodes, replace_uses
from tests.conftest import SAMPLES


def _chain() -> Graph:
    """x -> a -> b -> out, with a also read by c."""
    g = Graph("g")
    x = Value("x:0")
    a_out, b_out, c_out = Value("a:0"), Value("b:0"), Value("c:0")
    a = Node("a", "Identity", "tf", [x], [a_out])
    b = Node("b", "Relu", "tf", [a_out], [b_out])
    c = Node("c", "Neg", "tf", [a_out], [c_out])
    g.nodes = [a, b, c]
    g.values = [x, a_out, b_out, c_out]
    g.inputs, g.outputs = [x], [b_out, c_out]
    return g


def test_clone_writes_back_byte_for_byte():
    """A clone of a loaded GraphDef saves to the very bytes of the file."""
    from modelkit.formats.graphdef import to_graphdef

    path = SAMPLES / "digits_frozen.pb"
    model = modelkit.load(path)
    copy = clone_model(model)
    assert to_graphdef(copy).SerializeToString(deterministic=True) == path.read_bytes()


def test_clone_is_independent_and_shares_data():
    model = modelkit.load(SAMPLES / "digits_float.tflite")
    copy = clone_model(model)
    node = copy.main.nodes[0]
    node.set_input(0, None)
    node.attrs["padding"] = "changed"
    assert model.main.nodes[0].inputs[0] is not None
    assert model.main.nodes[0].attrs.get("padding") != "changed"
    consts = [(a, b) for a, b in zip(model.main.values, copy.main.values) if a.data is not None]
    assert consts and all(a.data is b.data and a is not b for a, b in consts)
    for sig_a, sig_b in zip(model.signatures, copy.signatures):
        for io_a, io_b in zip(sig_a.inputs, sig_b.inputs):
            assert io_b.value in copy.main.values and io_a.value in model.main.values


def test_replace_uses_moves_consumers_and_outputs():
    g = _chain()
    a_out, x = g.values[1], g.values[0]
    moved = replace_uses(a_out, x, graph=g)
    assert moved == 2
    assert a_out.consumers == []
    assert {n.name for n, _ in x.consumers} == {"a", "b", "c"}
    g2 = _chain()
    b_out, c_out = g2.values[2], g2.values[3]
    assert replace_uses(b_out, c_out, graph=g2) == 1
    assert g2.outputs == [c_out, c_out]


def test_remove_nodes_detaches_and_drops_unused_outputs():
    g = _chain()
    x, a_out, b_out = g.values[0], g.values[1], g.values[2]
    replace_uses(a_out, x, graph=g)
    assert remove_nodes(g, [g.nodes[0]]) == 1
    assert [n.name for n in g.nodes] == ["b", "c"]
    assert all(n.name != "a" for n, _ in x.consumers)
    assert a_out not in g.values and b_out in g.values
    assert g.value("x:0") is x


def test_remove_nodes_keeps_values_still_read():
    g = _chain()
    a_out = g.values[1]
    remove_nodes(g, [g.nodes[0]])
    assert a_out in g.values  # b and c still read it


def test_add_node_before_and_prune_values():
    g = _chain()
    extra = Value("k:0", data=ArrayData(np.zeros(3, np.float32)))
    k = Node("k", "Const", "tf", [], [extra])
    add_node(g, k, before=g.nodes[1])
    assert [n.name for n in g.nodes] == ["a", "k", "b", "c"]
    assert extra in g.values and extra.producer is k
    orphan = Value("orphan:0")
    g.values.append(orphan)
    assert prune_values(g) == 1 and orphan not in g.values
