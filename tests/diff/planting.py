"""Planted edits: one change made to a sample with modelkit's own IR edits and writers,
with the change list it must produce.

Each edit takes a freshly loaded model, edits it in place and returns the expected
changes as `(kind, what, name, fields)` keys, where `name` is A's name (B's for an
added item) and `fields` the sorted fields. The edited model is written with the
format's writer and read back, so a test diffs two real files.
"""

from __future__ import annotations

import numpy as np

from modelkit.ir import ArrayData, EnumValue, Model, Node, QuantParams, Value
from modelkit.ir.edit import add_node, remove_nodes, replace_uses

Key = tuple[str, str, str, tuple[str, ...]]


def change_key(c) -> Key:
    """The key of a reported Change, comparable with a planted edit's keys."""
    ref = c.a if c.a is not None else c.b
    return (c.kind, c.what, ref.name, tuple(sorted(c.fields)))


def _node(model: Model, op: str, nth: int = 0) -> Node:
    return [n for n in model.main.nodes if n.op == op][nth]


# -- TFLite -------------------------------------------------------------------------

def tflite_attribute(model: Model) -> set[Key]:
    """SOFTMAX beta 1.0 -> 2.0."""
    n = _node(model, "SOFTMAX")
    n.attrs["beta"] = 2.0
    return {("changed", "node", n.name, ("attrs.beta",))}


def tflite_fused_activation(model: Model) -> set[Key]:
    """The first CONV_2D's fused RELU becomes RELU6."""
    n = _node(model, "CONV_2D")
    n.attrs["fused_activation_function"] = EnumValue("RELU6", 3)
    return {("changed", "node", n.name, ("attrs.fused_activation_function",))}


def tflite_weight_element(model: Model) -> set[Key]:
    """One element of the second CONV_2D's filter: +0.125 (float) or +1 step (int8)."""
    w = _node(model, "CONV_2D", 1).inputs[1]
    arr = np.array(w.data.numpy())
    if arr.dtype == np.float32:
        arr[3, 1, 2, 4] += np.float32(0.125)
    else:
        arr[3, 1, 2, 4] = arr[3, 1, 2, 4] + 1 if arr[3, 1, 2, 4] < 127 else 126
    w.data = ArrayData(arr, w.data.dtype)
    return {("changed", "tensor", w.name, ("weights",))}


def tflite_activation_scale(model: Model) -> set[Key]:
    """The MAX_POOL_2D output's scale doubled (int8 models)."""
    v = _node(model, "MAX_POOL_2D").outputs[0]
    q = v.quant
    v.quant = QuantParams(q.scale * 2, q.zero_point, q.axis, storage=q.storage)
    return {("changed", "tensor", v.name, ("quantization",))}


def tflite_rename_weight(model: Model) -> set[Key]:
    """The first FULLY_CONNECTED's weights tensor renamed."""
    w = _node(model, "FULLY_CONNECTED").inputs[1]
    old = w.name
    w.name = "renamed/dense1_weights"
    return {("changed", "tensor", old, ("name",))}


def tflite_rename_activation(model: Model) -> set[Key]:
    """The MAX_POOL_2D output renamed (the op's name follows its first output)."""
    n = _node(model, "MAX_POOL_2D")
    v = n.outputs[0]
    old = v.name
    v.name = "renamed/pool_out"
    n.name = v.name
    return {("changed", "tensor", old, ("name",))}


def tflite_insert_node(model: Model) -> set[Key]:
    """A RELU inserted after MAX_POOL_2D; its readers read the RELU instead."""
    g = model.main
    pool = _node(model, "MAX_POOL_2D")
    src = pool.outputs[0]
    out = Value("inserted/relu", src.dtype, src.shape, shape_signature=src.shape_signature,
                quant=src.quant)
    users = list(src.consumers)
    relu = Node("inserted/relu", "RELU", "tflite", inputs=[src], outputs=[out], version=1)
    add_node(g, relu, before=g.nodes[g.nodes.index(pool) + 1])
    for n, pos in users:
        n.set_input(pos, out)
    return {("added", "node", "inserted/relu", ())}


def tflite_remove_softmax(model: Model) -> set[Key]:
    """The final SOFTMAX removed: the logits become the output (signature too)."""
    g = model.main
    sm = _node(model, "SOFTMAX")
    logits = sm.inputs[0]
    old_out = sm.outputs[0]
    g.outputs = [logits if v is old_out else v for v in g.outputs]
    for s in model.signatures:
        for io in s.outputs:
            if io.value is old_out:
                io.value, io.tensor_name = logits, logits.name
    remove_nodes(g, [sm])
    return {("removed", "node", sm.name, ())}


TFLITE_EDITS = {
    "attribute": tflite_attribute,
    "fused_activation": tflite_fused_activation,
    "weight_element": tflite_weight_element,
    "rename_weight": tflite_rename_weight,
    "rename_activation": tflite_rename_activation,
    "insert_node": tflite_insert_node,
    "remove_node": tflite_remove_softmax,
}


# -- GraphDef -----------------------------------------------------------------------

def graphdef_attribute(model: Model) -> set[Key]:
    """conv2/Conv2D padding VALID -> SAME."""
    n = model.main.node("conv2/Conv2D")
    n.attrs["padding"] = "SAME"
    return {("changed", "node", n.name, ("attrs.padding",))}


def graphdef_weight_element(model: Model) -> set[Key]:
    """One element of conv1/kernel: -0.25 (the Const's value attr and its tensor)."""
    n = model.main.node("conv1/kernel")
    v = n.outputs[0]
    arr = np.array(v.data.numpy())
    arr[1, 2, 0, 5] -= np.float32(0.25)
    data = ArrayData(arr)
    v.data = data
    n.attrs["value"] = data
    return {("changed", "tensor", v.name, ("weights",))}


def graphdef_rename_node(model: Model) -> set[Key]:
    """pool/MaxPool renamed (its output tensor's name follows)."""
    n = model.main.node("pool/MaxPool")
    old = n.name
    n.name = "pool/renamed"
    for i, v in enumerate(n.outputs):
        v.name = f"{n.name}:{i}"
    model.main._by_name = None
    return {("changed", "node", old, ("name",))}


def graphdef_remove_node(model: Model) -> set[Key]:
    """conv1/kernel/read (Identity) bypassed and removed."""
    g = model.main
    n = g.node("conv1/kernel/read")
    replace_uses(n.outputs[0], n.inputs[0], graph=g)
    remove_nodes(g, [n])
    return {("removed", "node", "conv1/kernel/read", ())}


def graphdef_insert_node(model: Model) -> set[Key]:
    """An Identity inserted between pool/MaxPool and flatten/Reshape."""
    g = model.main
    pool = g.node("pool/MaxPool")
    src = pool.outputs[0]
    out = Value("pool/inserted:0", src.dtype, src.shape)
    users = list(src.consumers)
    node = Node("pool/inserted", "Identity", "tf", inputs=[src], outputs=[out],
                attrs={"T": src.dtype}, meta={"tf_attr_kinds": {"T": "type"}})
    add_node(g, node, before=g.nodes[g.nodes.index(pool) + 1])
    for n, pos in users:
        n.set_input(pos, out)
    return {("added", "node", "pool/inserted", ())}


GRAPHDEF_EDITS = {
    "attribute": graphdef_attribute,
    "weight_element": graphdef_weight_element,
    "rename_node": graphdef_rename_node,
    "remove_node": graphdef_remove_node,
    "insert_node": graphdef_insert_node,
}
