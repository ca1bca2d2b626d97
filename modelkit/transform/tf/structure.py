"""graph_transforms' structural passes: what TF's tools/graph_transforms/*.cc do to
node names, edges, attrs and devices, on the IR.

Each pass follows the C++ of TF 2.21 (named beside it) and is checked against it
in tests/transform. Where TF leaves a graph that does not import (obfuscate_names
keeps `_class` colocation names it renamed) or loses data (every transform drops
the GraphDef `versions`), these passes keep the graph valid; each such place has
a NOTE.
"""

from __future__ import annotations

import copy
from collections import defaultdict

from modelkit.errors import UnsupportedError, UsageError
from modelkit.ir import Graph, Model, Node, Value
from modelkit.ir.edit import clone_model, remove_nodes as drop_nodes, replace_uses
from modelkit.transform.base import (Param, Params, PassContext, PassResult, TransformError,
                                     register)
from modelkit.transform.tf._graph import execution_order, merge_duplicates_tf
from modelkit.transform.tf._tfgraph import (canonical_input, del_attr, main_graph, new_node,
                                            node_name, op_defaults, op_is_stateful,
                                            output_types, parse_shape, refresh_outputs,
                                            rename_controls, required_names, set_attr, tf_type)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ------------------------------------------------------------------------------ strip_unused_nodes

@register("strip_unused_nodes", params=[
    Param("type", "dtype of Placeholders made for inputs that are not Placeholders", "float"),
    Param("shape", "shape of those Placeholders, e.g. \"1,224,224,3\"", "scalar"),
    Param("name", "an input to give its own type/shape (pairs with type_for_name/"
          "shape_for_name)", repeated=True),
    Param("type_for_name", "type for the matching 'name'", repeated=True),
    Param("shape_for_name", "shape for the matching 'name'", repeated=True),
], doc="keep only the nodes the outputs need, stopping at the inputs; inputs that are "
       "not Placeholders become Placeholders")
def strip_unused_nodes(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF strip_unused_nodes.cc: walk back from the outputs (data and control
    edges), stop at the inputs, drop the rest; replace non-Placeholder inputs."""
    names = params.list("name")
    for pname, example in (("type_for_name", "float"), ("shape_for_name", '"2,2,1"')):
        if (names or params.has(pname)) and len(params.list(pname)) != len(names):
            raise UsageError(f"strip_unused_nodes: you must pass a '{pname}' arg for every "
                             f"'name', e.g. strip_unused_nodes(name=foo, {pname}={example})")

    def ph_type(name: str):
        t = tf_type(params.str("type") or "float", "strip_unused_nodes")
        for n, tn in zip(names, params.list("type_for_name")):
            if n == name:
                t = tf_type(tn, "strip_unused_nodes")
        return t

    def ph_shape(name: str) -> tuple[int, ...]:
        s = params.str("shape")
        shape = parse_shape(s, "strip_unused_nodes") if s is not None else ()
        for n, sn in zip(names, params.list("shape_for_name")):
            if n == name:
                shape = parse_shape(sn, "strip_unused_nodes")
        return shape

    out = clone_model(model)
    g = main_graph(out)
    by_name = {n.name: n for n in g.nodes}
    input_nodes = {node_name(i) for i in ctx.inputs}
    required = set(input_nodes) | set(ctx.outputs)
    current = [node_name(o) for o in ctx.outputs]
    while current:
        nxt: set[str] = set()
        for name in current:
            required.add(name)
            if name in input_nodes:
                continue
            node = by_name.get(name)
            if node is None:
                raise TransformError(f"strip_unused_nodes: input node {name} not found in graph")
            for v in node.inputs:
                if v is not None:
                    src = v.producer.name if v.producer is not None else node_name(v.name)
                    if src not in required:
                        nxt.add(src)
            for c in node.control_inputs:
                if c not in required:
                    nxt.add(c)
        current = sorted(nxt)
    doomed = [n for n in g.nodes if n.name not in required]
    drop_nodes(g, doomed)
    replaced = 0
    for node in list(g.nodes):
        if node.name in input_nodes and node.op != "Placeholder":
            _to_placeholder(g, node, ph_type(node.name), ph_shape(node.name))
            replaced += 1
    refresh_outputs(g)
    g.inputs = [n.outputs[0] for n in g.nodes if n.op == "Placeholder" and n.outputs]
    notes = [f"removed {_plural(len(doomed), 'node')}"] if doomed else []
    if replaced:
        notes.append(f"{_plural(replaced, 'input')} made Placeholders")
    return PassResult(out, bool(doomed or replaced), notes)


def _to_placeholder(g: Graph, node: Node, dtype, shape: tuple[int, ...]) -> Node:
    """Replace `node` with a Placeholder of the same name (and output Values)."""
    idx = g.nodes.index(node)
    ph = Node(node.name, "Placeholder", "tf", attrs={"dtype": dtype, "shape": tuple(shape)})
    ph.meta["tf_attr_kinds"] = {"dtype": "type", "shape": "shape"}
    for i in range(len(node.inputs)):
        node.set_input(i, None)
    for v in node.outputs:
        v.data = None
        ph.add_output(v)
    ph.outputs[0].dtype = dtype if not isinstance(dtype, str) else None
    ph.outputs[0].shape = tuple(shape)
    g.nodes[idx] = ph
    g._by_name = None
    return ph


# ------------------------------------------------------------------------------------ remove_nodes

@register("remove_nodes", example="remove_nodes(op=Identity)", params=[
    Param("op", "op type to remove (repeat for several)", required=True, repeated=True),
], doc="remove nodes of the given ops that have one input, wiring their users to that input")
def remove_nodes(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF remove_nodes.cc: a node of a listed op with exactly one data input is
    bypassed (its port-0 users and control users move to the input); nodes named
    as inputs or outputs stay. Repeats until nothing changes."""
    ops = params.list("op")
    if not ops:
        raise UsageError("remove_nodes expects at least one 'op' argument, "
                         "e.g. remove_nodes(op=Identity)")
    out = clone_model(model)
    g = main_graph(out)
    keep = required_names(ctx)
    removed: dict[str, int] = defaultdict(int)
    for op in ops:
        while True:
            n = _remove_sweep(g, op, keep)
            removed[op] += n
            if not n:
                break
    refresh_outputs(g)
    total = sum(removed.values())
    notes = [f"removed {_plural(n, op + ' node')}" for op, n in removed.items() if n]
    return PassResult(out, total > 0, notes)


def _remove_sweep(g: Graph, op: str, keep: set[str]) -> int:
    """One round of TF's ReplaceMatchingOpTypes({op, {{"*"}}}) as remove_nodes runs it.

    Matches are found in execution order, a node taking part in one match (as the
    removed node or as its input) is in no other, and each replacement takes the
    place of the removed node in the node list, so names and node order come out
    as TF's do.
    """
    matched: set[str] = set()
    heads: dict[str, Node] = {}
    for node in execution_order(g.nodes):
        if node.name in matched or node.op != op:
            continue
        data = [v for v in node.inputs if v is not None]
        if len(data) != 1 or data[0].producer is None:
            continue
        src = data[0].producer
        if src.name in matched:
            continue
        matched.update((node.name, src.name))
        heads[node.name] = src
    if not heads:
        return 0
    order: list[Node] = []
    doomed: list[Node] = []
    controls: dict[str, str] = {}
    for node in g.nodes:
        src = heads.get(node.name)
        if src is None:
            if node.name not in matched:
                order.append(node)
            continue
        if node.name in keep:
            order.extend((node, src))
            continue
        order.append(src)
        value = next(v for v in node.inputs if v is not None)
        if node.outputs:
            replace_uses(node.outputs[0], value, graph=g)
        controls[node.name] = src.name
        doomed.append(node)
    g.nodes = order
    rename_controls(g, controls)
    drop_nodes(g, doomed)
    return len(doomed)


# ------------------------------------------------------------------------- sort_by_execution_order

@register("sort_by_execution_order", doc="order nodes so every node comes after its inputs")
def sort_by_execution_order(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF sort_by_execution_order.cc."""
    out = clone_model(model)
    g = main_graph(out)
    before = [n.name for n in g.nodes]
    g.nodes = execution_order(g.nodes)
    moved = sum(a != b.name for a, b in zip(before, g.nodes))
    return PassResult(out, moved > 0, [f"moved {_plural(moved, 'node')}"] if moved else [])


# --------------------------------------------------------------------------- merge_duplicate_nodes

@register("merge_duplicate_nodes", doc="merge stateless nodes that have the same op, inputs "
          "and attrs (duplicate Consts first)")
def merge_duplicate_nodes(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF merge_duplicate_nodes (quantize_nodes.cc)."""
    out = clone_model(model)
    g = main_graph(out)
    n = merge_duplicates_tf(g, required_names(ctx))
    refresh_outputs(g)
    return PassResult(out, n > 0, [f"merged {_plural(n, 'node')}"] if n else [])


# ------------------------------------------------------------------------------- attrs, ops, names

@register("remove_attribute", example="remove_attribute(op_name=Mul, attribute_name=foo)", params=[
    Param("attribute_name", "the attr to delete", required=True),
    Param("op_name", "only on nodes of this op (default: every node)", "*"),
], doc="delete an attribute from every node, or from the nodes of one op")
def remove_attribute(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF remove_attribute.cc."""
    attr = params.str("attribute_name")
    op = params.str("op_name", "*")
    out = clone_model(model)
    n = sum(del_attr(node, attr) for node in main_graph(out).nodes
            if op == "*" or node.op == op)
    return PassResult(out, n > 0, [f"removed '{attr}' from {_plural(n, 'node')}"] if n else [])


@register("rename_attribute",
          example="rename_attribute(old_attribute_name=foo, new_attribute_name=bar)",
          params=[
    Param("old_attribute_name", "the attr to rename", required=True),
    Param("new_attribute_name", "its new name", required=True),
    Param("op_name", "only on nodes of this op (default: every node)", "*"),
], doc="rename an attribute on every node, or on the nodes of one op")
def rename_attribute(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF rename_attribute.cc."""
    old, new = params.str("old_attribute_name"), params.str("new_attribute_name")
    op = params.str("op_name", "*")
    out = clone_model(model)
    n = 0
    for node in main_graph(out).nodes:
        if (op == "*" or node.op == op) and old in node.attrs:
            kind = node.meta.get("tf_attr_kinds", {}).get(old)
            value = node.attrs[old]
            del_attr(node, old)
            set_attr(node, new, value, kind)
            n += 1
    return PassResult(out, n > 0, [f"renamed on {_plural(n, 'node')}"] if n else [])


@register("rename_op", example="rename_op(old_op_name=Mul, new_op_name=Multiply)", params=[
    Param("old_op_name", "the op type to rename", required=True),
    Param("new_op_name", "its new name", required=True),
], doc="change the op type of every node of one op")
def rename_op(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF rename_op.cc."""
    old, new = params.str("old_op_name"), params.str("new_op_name")
    out = clone_model(model)
    n = 0
    for node in main_graph(out).nodes:
        if node.op == old:
            node.op = new
            n += 1
    return PassResult(out, n > 0, [f"renamed {_plural(n, 'node')}"] if n else [])


def _rename_node(node: Node, new_name: str) -> None:
    """Rename a node and its output Values (`new:port`); users see the new name."""
    old = node.name
    node.name = new_name
    for port, v in enumerate(node.outputs):
        if v.name == f"{old}:{port}" or v.name == old:
            v.name = f"{new_name}:{port}"


@register("rename_node",
          example="rename_node(old_node_name=super/deep/output, new_node_name=output)",
          params=[
    Param("old_node_name", "the node to rename", required=True),
    Param("new_node_name", "its new name (must be free)", required=True),
], doc="rename one node and every reference to it")
def rename_node(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF rename_node.cc (also renames `_class` colocation references)."""
    old, new = params.str("old_node_name"), params.str("new_node_name")
    out = clone_model(model)
    g = main_graph(out)
    if any(n.name == new for n in g.nodes):
        raise TransformError(f"rename_node: a node is already using {new} as name")
    target = next((n for n in g.nodes if n.name == old), None)
    if target is None:
        return PassResult(out, False, [f"no node named {old}"])
    _rename_node(target, new)
    rename_controls(g, {old: new})
    _rename_colocations(g, {old: new})
    g._by_name = None
    return PassResult(out, True, [f"{old} -> {new}"])


def _rename_colocations(g: Graph, mapping: dict[str, str]) -> int:
    """Rewrite `_class` = [`loc:@name`] attrs after renames; returns how many changed."""
    n = 0
    for node in g.nodes:
        cls = node.attrs.get("_class")
        if not isinstance(cls, list):
            continue
        new = []
        for item in cls:
            s = item.decode() if isinstance(item, bytes) else item
            if isinstance(s, str) and s.startswith("loc:@") and s[5:] in mapping:
                s = "loc:@" + mapping[s[5:]]
                n += 1
            new.append(s)
        node.attrs["_class"] = new
    return n


@register("obfuscate_names", doc="rename every node but the inputs and outputs to short "
          "ids (colocation references follow)")
def obfuscate_names(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF obfuscate_names.cc: names 0..9a..zA..Z, 10, 11... in node order, skipping
    the input/output names.

    NOTE: TF leaves `_class` = `loc:@old_name` attrs pointing at names that no
    longer exist, so its result fails to import; they are renamed here too.
    """
    digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    keep = required_names(ctx)
    out = clone_model(model)
    g = main_graph(out)
    mapping: dict[str, str] = {}
    index = 0
    for node in g.nodes:
        if node.name in keep:
            mapping[node.name] = node.name
            continue
        while True:
            rest, name = index, ""
            while True:
                name = digits[rest % len(digits)] + name
                rest //= len(digits)
                if rest <= 0:
                    break
            index += 1
            if name not in keep:
                break
        mapping[node.name] = name
    for node in g.nodes:
        for v in node.inputs:
            if v is not None and v.producer is None and node_name(v.name) not in mapping:
                raise TransformError(f"obfuscate_names: no node named {node_name(v.name)} "
                                     f"for input to {node.name}")
    for node in g.nodes:
        _rename_node(node, mapping[node.name])
    rename_controls(g, mapping)  # type: ignore[arg-type]
    fixed = _rename_colocations(g, mapping)
    g._by_name = None
    renamed = sum(a != b for a, b in mapping.items())
    notes = [f"renamed {_plural(renamed, 'node')}"]
    if fixed:
        notes.append(f"{_plural(fixed, 'colocation reference')} renamed too")
    return PassResult(out, renamed > 0, notes)


# --------------------------------------------------------------------------- devices, control deps

@register("remove_device", doc="clear every node's device")
def remove_device(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF remove_device.cc."""
    out = clone_model(model)
    n = 0
    for node in main_graph(out).nodes:
        if node.device:
            node.device = ""
            n += 1
    return PassResult(out, n > 0, [f"cleared {_plural(n, 'device')}"] if n else [])


@register("set_device", params=[
    Param("device", "the device string, e.g. /device:CPU:0", ""),
    Param("if_default", "only nodes without a device", "false"),
], doc="set every node's device (or only the unset ones with if_default=true)")
def set_device(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF set_device.cc."""
    device = params.str("device", "") or ""
    if_default = params.bool("if_default", False)
    out = clone_model(model)
    n = 0
    for node in main_graph(out).nodes:
        if not if_default or not node.device:
            if node.device != device:
                n += 1
            node.device = device
    return PassResult(out, n > 0, [f"set {_plural(n, 'device')}"] if n else [])


@register("remove_control_dependencies", doc="drop every control (^name) input")
def remove_control_dependencies(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF remove_control_dependencies.cc."""
    out = clone_model(model)
    n = 0
    for node in main_graph(out).nodes:
        n += len(node.control_inputs)
        node.control_inputs = []
    return PassResult(out, n > 0, [f"removed {_plural(n, 'control input')}"] if n else [])


# -------------------------------------------------------------------------- add_default_attributes

@register("add_default_attributes", doc="add the op registry's default value of every "
          "attr a node leaves out")
def add_default_attributes(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF add_default_attributes.cc (AddDefaultAttrsToGraphDef), from the op registry
    table generated from TF (`_op_registry.py`).

    NOTE: TF fails on an op it does not register; such nodes (custom ops, function
    calls by name) are left as they are and named in a note.
    """
    out = clone_model(model)
    g = main_graph(out)
    functions = {gr.name for gr in out.graphs[1:]}
    added = 0
    unknown: set[str] = set()
    for node in g.nodes:
        if op_is_stateful(node.op) is None:
            if node.op not in functions:
                unknown.add(node.op)
            continue
        for key, (value, kind) in op_defaults(node.op).items():
            if key not in node.attrs:
                set_attr(node, key, copy.deepcopy(value) if isinstance(value, list) else value,
                         kind)
                added += 1
    notes = [f"added {_plural(added, 'attr')}"] if added else []
    if unknown:
        notes.append(f"ops TensorFlow does not register, left alone: {', '.join(sorted(unknown))}")
    return PassResult(out, added > 0, notes)


# --------------------------------------------------------------------------------------- backports

@register("backport_concatv2", doc="rewrite ConcatV2 as the older Concat (axis first)")
def backport_concatv2(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF backports.cc BackportConcatV2Transform: op Concat, the axis input moved
    to the front, the Tidx attr dropped."""
    out = clone_model(model)
    n = 0
    for node in main_graph(out).nodes:
        if node.op != "ConcatV2" or not node.inputs:
            continue
        values = list(node.inputs)
        order = [values[-1]] + values[:-1]
        spelled = [s for s in node.meta.get("tf_inputs", []) if not s.startswith("^")]
        for i, v in enumerate(order):
            node.set_input(i, v)
        if len(spelled) == len(values):
            node.meta["tf_inputs"] = [spelled[-1]] + spelled[:-1]
        node.op = "Concat"
        del_attr(node, "Tidx")
        n += 1
    return PassResult(out, n > 0, [f"rewrote {_plural(n, 'ConcatV2 node')}"] if n else [])


_TA_V3 = {"TensorArrayWriteV3", "TensorArrayReadV3", "TensorArrayGatherV3",
          "TensorArrayScatterV3", "TensorArrayConcatV3", "TensorArraySplitV3",
          "TensorArraySizeV3", "TensorArrayCloseV3"}


@register("backport_tensor_array_v3", doc="rewrite TensorArray*V3 ops as their V2 forms "
          "(the flow output becomes a constant)")
def backport_tensor_array_v3(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF backports.cc BackportTensorArrayV3Transform: TensorArrayV3 and
    TensorArrayGradV3 become V2 ops; users of their flow output (port 1) read a
    new scalar Const 1.0 `<name>/replacement_flow_node`; the other V3 ops are
    renamed to V2."""
    import numpy as np

    from modelkit.transform.tf._tfgraph import const_node

    out = clone_model(model)
    g = main_graph(out)
    n = 0
    for node in list(g.nodes):
        if node.op in ("TensorArrayV3", "TensorArrayGradV3"):
            node.op = node.op[:-2] + "V2"
            flow = const_node(g, f"{node.name}/replacement_flow_node",
                              np.array(1.0, np.float32), after=node)
            if len(node.outputs) > 1:
                replace_uses(node.outputs[1], flow.outputs[0], graph=g)
            n += 1
    for node in g.nodes:
        if node.op in _TA_V3:
            node.op = node.op[:-1] + "2"
            n += 1
    return PassResult(out, n > 0, [f"rewrote {_plural(n, 'node')}"] if n else [])


# ---------------------------------------------------------------------------------- insert_logging

@register("insert_logging", params=[
    Param("op", "log nodes of this op (repeatable; default every op)", repeated=True),
    Param("prefix", "log nodes whose name starts with this (repeatable)", repeated=True),
    Param("show_name", "put the node name in the message", "false"),
    Param("show_op", "put the op type in the message", "false"),
    Param("message", "text printed before the values", ""),
    Param("first_n", "print only the first N runs (-1: always)", "-1"),
    Param("summarize", "how many values to print", "1024"),
], doc="insert Print ops after matching nodes, so their outputs are logged when run")
def insert_logging(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF insert_logging.cc: for each used node that matches, a Print node
    `<name>__print__` reads `<name>:0` and every used output, and the users of
    `<name>:0` read the Print instead."""
    ops = set(params.list("op"))
    prefixes = params.list("prefix")
    message = params.str("message", "") or ""
    show_name = params.bool("show_name", False)
    show_op = params.bool("show_op", False)
    first_n = params.int("first_n", -1)
    summarize = params.int("summarize", 1024)
    out = clone_model(model)
    g = main_graph(out)
    used: dict[str, set[int]] = defaultdict(set)
    for node in g.nodes:
        for v in node.inputs:
            if v is not None and v.producer is not None:
                used[v.producer.name].add(v.producer.outputs.index(v))
        for c in node.control_inputs:
            used[c].add(0)
    added = 0
    for node in list(g.nodes):
        if not used.get(node.name) or not node.outputs:
            continue
        if ops and node.op not in ops:
            continue
        if prefixes and not any(node.name.startswith(p) for p in prefixes):
            continue
        types = output_types(node)
        if types is None:
            raise TransformError(f"insert_logging: cannot tell the output types of "
                                 f"{node.name} (op {node.op} is not registered in TF)")
        if not types:
            continue  # NOTE: a node without outputs (NoOp) that is only a control input
        name = f"{node.name}__print__"
        text = (f";{node.op};" if show_op else "") + (f";{name};" if show_name else "") + message
        users = list(node.outputs[0].consumers)
        graph_out = node.outputs[0] in g.outputs
        ports = [i for i in sorted(used[node.name]) if i < len(node.outputs)]
        inputs = [node.outputs[0]] + [node.outputs[i] for i in ports]
        # NOTE: TF sets U to every output's type, which only fits the data inputs
        # when every output is used; the types of the logged outputs always fit.
        pr = new_node(g, name, "Print", inputs,
                      {"message": text, "first_n": first_n, "summarize": summarize,
                       "T": types[0], "U": [types[i] for i in ports if i < len(types)]},
                      kinds={"U": "list.type"}, outputs=[types[0]], after=node)
        for user, pos in users:
            user.set_input(pos, pr.outputs[0])
        if graph_out:
            g.outputs = [pr.outputs[0] if v is node.outputs[0] else v for v in g.outputs]
        added += 1
    return PassResult(out, added > 0, [f"added {_plural(added, 'Print node')}"] if added else [])


# -------------------------------------------------------------------------- inline_partitionedcall

@register("inline_partitionedcall", doc="replace PartitionedCall nodes by the body of the "
          "function they call")
def inline_partitionedcall(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """TF inline_partitionedcall.cc: the body's nodes are copied in as
    `<call>/<node>`, argument references become the call's inputs, users of
    `<call>:k` read the k-th return value.

    NOTE: TF turns a body's control input `^a` into the broken `<call>/^a` and
    maps `node:out_arg:i` to port i of any output arg; here control inputs are
    renamed properly and ports come from the op's output args. Users of `^<call>`
    wait for the nodes producing the return values; the call's own control
    inputs go to the inlined nodes that have no inputs.
    """
    from modelkit.formats.graphdef import to_graphdef
    from modelkit.transform.tf._tfgraph import rebuild

    g0 = main_graph(model)
    if not any(n.op == "PartitionedCall" for n in g0.nodes):
        return PassResult(model, False, [])
    gd = to_graphdef(model)
    functions = {f.signature.name: f for f in gd.library.function}
    from modelkit.formats._tfproto import pb

    new_nodes = []
    remap: dict[str, str] = {}
    control_remap: dict[str, list[str]] = {}
    count = 0
    for nd in gd.node:
        if nd.op != "PartitionedCall":
            new_nodes.append(nd)
            continue
        if "f" not in nd.attr or not nd.attr["f"].HasField("func"):
            raise TransformError(f"inline_partitionedcall: node {nd.name} has no function "
                                 f"attribute 'f'")
        fname = nd.attr["f"].func.name
        fdef = functions.get(fname)
        if fdef is None:
            raise TransformError(f"inline_partitionedcall: function {fname} not found")
        data_inputs = [s for s in nd.input if not s.startswith("^")]
        call_controls = [s for s in nd.input if s.startswith("^")]
        args = [a.name for a in fdef.signature.input_arg]
        if len(data_inputs) != len(args):
            raise TransformError(f"inline_partitionedcall: called function {fname} has "
                                 f"invalid input signature")
        prefix = nd.name
        body_ops = {b.name: b for b in fdef.node_def}
        arg_map = {a: s for a, s in zip(args, data_inputs)}

        def local(ref: str) -> str:
            """A body reference (`arg`, `node:out_arg:i`, `^node`) in graph terms."""
            if ref.startswith("^"):
                target = ref[1:]
                if target in arg_map:
                    return "^" + node_name(arg_map[target])
                return f"^{prefix}/{target}"
            parts = ref.split(":")
            if parts[0] in arg_map and len(parts) == 1:
                return arg_map[parts[0]]
            if len(parts) == 3:
                body = body_ops.get(parts[0])
                port = int(parts[2])
                if body is not None:
                    from modelkit.formats._tfproto import _node_from_proto
                    ports = _arg_ports(body.op, _node_from_proto(body, 0))
                    if ports is not None and parts[1] in ports:
                        port += ports[parts[1]]
                return f"{prefix}/{parts[0]}:{port}"
            if len(parts) == 2 and parts[0] in arg_map:
                return arg_map[parts[0]]
            return f"{prefix}/{ref}"

        ret_refs = [fdef.ret[a.name] for a in fdef.signature.output_arg]
        for k, ref in enumerate(ret_refs):
            remap[f"{nd.name}:{k}"] = local(ref)
        control_remap[nd.name] = sorted({node_name(local(r)) for r in ret_refs})
        for body in fdef.node_def:
            copy_nd = pb().node_def.NodeDef()
            copy_nd.CopyFrom(body)
            copy_nd.name = f"{prefix}/{body.name}"
            del copy_nd.input[:]
            for s in body.input:
                copy_nd.input.append(local(s))
            if call_controls and not body.input:
                copy_nd.input.extend(call_controls)
            new_nodes.append(copy_nd)
        count += 1
    del gd.node[:]
    for nd in new_nodes:
        fixed = []
        for s in nd.input:
            if s.startswith("^") and s[1:] in control_remap:
                fixed.extend("^" + t for t in control_remap[s[1:]])
            else:
                fixed.append(remap.get(canonical_input(s), s))
        del nd.input[:]
        nd.input.extend(fixed)
        gd.node.add().CopyFrom(nd)
    return PassResult(rebuild(model, gd), True,
                      [f"inlined {_plural(count, 'PartitionedCall')}"])


def _arg_ports(op: str, node: Node) -> dict[str, int] | None:
    from modelkit.transform.tf._tfgraph import output_arg_ports

    return output_arg_ports(op, node)


# --------------------------------------------------------------------------------- sparsify_gather

@register("sparsify_gather", params=[
    Param("input_checkpoint", "checkpoint prefix holding the embedding tables"),
    Param("group_embedding_by", "(TF parameter)"),
], doc="not supported: TF rewrites Gather on checkpoint-backed embedding tables into "
       "HashTable lookups", open_params=True)
def sparsify_gather(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Refused with the reason (exit 4)."""
    raise UnsupportedError(
        "sparsify_gather is not supported: TF's pass reads variables from a TF1 checkpoint "
        "(input_checkpoint) and emits HashTable lookups that TFLite cannot run; freeze the "
        "graph first (modelkit convert SRC frozen.pb) and keep the Gather, or run TF's "
        "transform_graph for this pass")
