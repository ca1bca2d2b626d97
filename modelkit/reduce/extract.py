"""Cut a subgraph out of a model: chosen tensors become its inputs, others its outputs.

    from modelkit.reduce.extract import extract
    cut = extract(model, inputs=["conv1/Relu"], outputs=["logits/BiasAdd"])
    modelkit.save(cut.model, "part.tflite")

TFLite: every cut input becomes a graph input with its dtype, shape and quantization;
the ops between the inputs and the outputs stay, tensors (and so buffers) nothing
uses any more are dropped, and one signature names the new inputs and outputs.
GraphDef: every cut input is fed by a new Placeholder of its dtype and shape. The
cut model computes, at its outputs, exactly what the whole model computes there
when fed the whole model's values at the cut inputs.

`cut_model` (a list of ops, the values to feed and the values to read) is also what
`reduce` builds each candidate with.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field

from modelkit.errors import UsageError
from modelkit.ir import Graph, Model, Node, Signature, SignatureIO, Value
from modelkit.ir.edit import clone_graph, remove_nodes

FORMATS = ("tflite", "graphdef")
# GraphDef ops whose output is fed from outside: a graph input.
_PLACEHOLDERS = frozenset({"Placeholder", "PlaceholderV2"})
# TFLite metadata entries that describe the whole model's inputs and outputs.
_WHOLE_MODEL_METADATA = ("TFLITE_METADATA",)


@dataclass
class Cut:
    """A model cut out of another.

    Attributes:
        model: the new model (its path is the source's, so writers never replace it).
        nodes: the source's main-graph nodes kept, in order.
        inputs: the source's values that became inputs, in input order.
        outputs: the source's values that are the outputs, in output order.
        notes: what the user should know (inputs the outputs do not use).
    """

    model: Model
    nodes: list[Node]
    inputs: list[Value]
    outputs: list[Value]
    notes: list[str] = field(default_factory=list)


def check_format(model: Model, what: str) -> None:
    """Refuse formats other than TFLite and GraphDef.

    Raises:
        UsageError: the model is of another format.
    """
    if model.format not in FORMATS:
        hint = ("convert it to TFLite first (modelkit convert SRC model.tflite) or freeze it "
                "to a GraphDef (modelkit convert SRC frozen.pb)")
        raise UsageError(f"{what} works on TFLite and GraphDef models, not a {model.format} "
                         f"model; {hint}", model.path)


def check_destination(dst, fmt: str) -> None:
    """Refuse an output named like a model of another format (a cut GraphDef called
    `x.tflite`).

    Raises:
        UsageError: the extension says another format.
    """
    from pathlib import Path

    from modelkit.formats.registry import EXTENSIONS

    named = EXTENSIONS.get(Path(dst).suffix.lower())
    if named is not None and named != fmt:
        want = ".tflite" if fmt == "tflite" else ".pb or .pbtxt"
        raise UsageError(f"the result is a {fmt} model, but the name says {named}; name it "
                         f"{want}", str(dst))


# ----------------------------------------------------------------------------- names


def tensor_choices(graph: Graph) -> list[Value]:
    """The tensors a user may name: every value that is not a constant."""
    return [v for v in graph.values if not v.is_const]


def resolve_tensors(model: Model, specs: list[str], role: str) -> list[Value]:
    """The main-graph values named by `specs`: tensor names (GraphDef: `node` or
    `node:port`) or `#index` (TFLite: the tensor index; GraphDef: output 0 of the
    node at that position).

    Raises:
        UsageError: a name is unknown (the message names the closest ones) or an
            index is out of range.
    """
    graph = model.graphs[0]
    found: list[Value] = []
    unknown: list[str] = []
    for spec in specs:
        v = _lookup(model, graph, spec.strip())
        if v is None:
            unknown.append(spec)
        else:
            found.append(v)
    if unknown:
        names = [v.name for v in graph.values]
        parts = []
        for spec in unknown:
            if spec.startswith("#"):
                parts.append(f"{spec} (the graph has {_index_range(model, graph)})")
                continue
            close = difflib.get_close_matches(spec, names, n=3, cutoff=0.4)
            parts.append(f"{spec!r}" + (f" (closest: {', '.join(repr(c) for c in close)})"
                                        if close else ""))
        raise UsageError(f"no tensor {'; '.join(parts)} for {role} in the main graph",
                         model.path)
    for v in found:
        if v.is_const and role == "--inputs":
            raise UsageError(f"{role}: {v.name!r} is a constant; name a tensor an op "
                             "computes or a graph input", model.path)
    return list(dict.fromkeys(found))


def _index_range(model: Model, graph: Graph) -> str:
    if model.format == "tflite":
        return f"tensors #0..#{len(graph.values) - 1}"
    return f"nodes #0..#{len(graph.nodes) - 1}"


def _lookup(model: Model, graph: Graph, spec: str) -> Value | None:
    if spec.startswith("#") and spec[1:].isdigit():
        i = int(spec[1:])
        if model.format == "tflite":
            for v in graph.values:
                if v.index == i:
                    return v
            return None
        if i < len(graph.nodes) and graph.nodes[i].outputs:
            return graph.nodes[i].outputs[0]
        return None
    return graph.value(spec)


# ----------------------------------------------------------------------------- the cut


def nodes_between(model: Model, inputs: list[Value], outputs: list[Value]) -> list[Node]:
    """The main-graph nodes that compute `outputs` from `inputs` (and constants),
    in graph order.

    Raises:
        UsageError: an output also needs a graph input (or another tensor fed from
            outside) that is not among `inputs`; the message names it.
    """
    graph = model.graphs[0]
    fed = {id(v) for v in inputs}
    needed: dict[int, Node] = {}
    missing: dict[int, tuple[Value, Value]] = {}
    for out in outputs:
        stack = [out]
        seen: set[int] = set()
        while stack:
            v = stack.pop()
            if id(v) in seen or id(v) in fed:
                continue
            seen.add(id(v))
            node = v.producer
            if node is None:
                if not (v.is_const or v.is_variable):
                    missing.setdefault(id(v), (v, out))
                continue
            if model.format == "graphdef" and node.op in _PLACEHOLDERS:
                missing.setdefault(id(v), (v, out))
                continue
            if id(node) in needed:
                continue
            needed[id(node)] = node
            stack.extend(x for x in node.inputs if x is not None)
    if missing:
        lines = [f"output {out.name!r} also depends on {v.name!r}, which is fed from "
                 f"outside the graph" for v, out in list(missing.values())[:3]]
        names = ",".join(v.name for v, _ in missing.values())
        raise UsageError("; ".join(lines) + f": add {names} to --inputs (or cut at a "
                         "tensor between them)", model.path)
    return [n for n in graph.nodes if id(n) in needed]


def extract(model: Model, inputs: list[str] | None, outputs: list[str]) -> Cut:
    """Cut the main graph of `model` at `inputs` (default: its own inputs) and `outputs`.

    Raises:
        UsageError: unknown names, an output that needs another input, a format
            other than TFLite or GraphDef.
    """
    check_format(model, "extract")
    if not outputs:
        raise UsageError("--outputs names no tensor", model.path)
    out_values = resolve_tensors(model, outputs, "--outputs")
    in_values = (resolve_tensors(model, inputs, "--inputs") if inputs
                 else list(model.graphs[0].inputs))
    nodes = nodes_between(model, in_values, out_values)
    notes = []
    used = {id(x) for n in nodes for x in n.inputs if x is not None} | {id(v) for v in out_values}
    unused = [v.name for v in in_values if id(v) not in used]
    if unused:
        notes.append(f"the outputs do not use input(s) {', '.join(unused)}; they stay "
                     "inputs of the cut model")
    cut = cut_model(model, nodes, in_values, out_values)
    cut.notes = notes
    return cut


def cut_model(model: Model, nodes: list[Node], inputs: list[Value],
              outputs: list[Value], *, types: dict[str, tuple] | None = None) -> Cut:
    """A new model whose main graph holds `nodes` (the source's own, plus the
    constants they read), is fed at `inputs` and ends at `outputs`.

    Every value a kept node reads must be produced by a kept node, be a constant or a
    variable, or be among `inputs`; `nodes_between` gives such a list. Other graphs
    (TFLite subgraphs, TF functions) are kept as they are.

    Args:
        types: GraphDef: tensor name -> (dtype, shape) for cut inputs whose type the
            graph does not record (`tf_types`); None asks TensorFlow's shape inference.
    """
    check_format(model, "extract")
    src = model.graphs[0]
    main, vmap = clone_graph(src)
    position = {id(n): i for i, n in enumerate(src.nodes)}
    kept_ids = {id(n) for n in nodes}
    if model.format == "graphdef":
        # NOTE: a GraphDef constant is a Const node: keep those the kept nodes read.
        for n in nodes:
            for v in n.inputs:
                if v is not None and v.is_const and v.producer is not None:
                    kept_ids.add(id(v.producer))
    kept = [main.nodes[i] for i, n in enumerate(src.nodes) if id(n) in kept_ids]
    kept_set = {id(n) for n in kept}
    doomed = [n for n in main.nodes if id(n) not in kept_set]

    fresh: list[Value] = []
    fresh_of: dict[int, Value] = {}
    for x in inputs:
        old = vmap.get(id(x))
        if old is None:
            old = x
        new = Value(x.name, x.dtype, x.shape, shape_signature=x.shape_signature, quant=x.quant,
                    meta=copy.deepcopy({k: v for k, v in x.meta.items() if k != "buffer"}))
        for node, pos in list(old.consumers):
            if id(node) in kept_set:
                node.set_input(pos, new)
        fresh.append(new)
        fresh_of[id(x)] = new
    main.outputs = [fresh_of.get(id(o)) or vmap[id(o)] for o in outputs]
    remove_nodes(main, doomed)

    if model.format == "tflite":
        _finish_tflite(main, kept, fresh)
    else:
        _finish_graphdef(model, main, kept, inputs, fresh, types)
    main.inputs = fresh
    main._by_name = None

    graphs = [main]
    maps = [vmap]
    for g in model.graphs[1:]:
        ng, m = clone_graph(g)
        graphs.append(ng)
        maps.append(m)
    new = Model(model.format, model.path, graphs, [], copy.deepcopy(model.metadata),
                copy.deepcopy(model.meta))
    new.signatures = _signatures(model, maps, fresh, inputs, main.outputs, outputs)
    if model.format == "tflite":
        new.metadata.pop("associated_files", None)
        entries = new.metadata.get("metadata", {})
        for key in _WHOLE_MODEL_METADATA:
            entries.pop(key, None)
    kept_src = [src.nodes[position[id(n)]] for n in nodes]
    return Cut(new, kept_src, list(inputs), list(outputs))


def _finish_tflite(main: Graph, kept: list[Node], fresh: list[Value]) -> None:
    """Drop tensors nothing uses any more (so their buffers are not written); keep
    the tensors kept ops list as intermediates."""
    intermediates = {i for n in kept for i in n.meta.get("intermediates", ()) if i is not None}
    io = {id(v) for v in main.outputs}
    values = [v for v in main.values
              if v.producer is not None or v.consumers or id(v) in io
              or (v.index is not None and v.index in intermediates)]
    known = {id(v) for v in values}
    main.values = [v for v in fresh if id(v) not in known] + values


def _finish_graphdef(model: Model, main: Graph, kept: list[Node], inputs: list[Value],
                     fresh: list[Value], types: dict[str, tuple] | None) -> None:
    """A Placeholder node for every cut input; control inputs on dropped nodes go."""
    names = {n.name for n in kept}
    unknown = [x for x, f in zip(inputs, fresh) if f.dtype is None or f.shape is None
               or any(d is None for d in f.shape[1:])]
    kinds = tf_types(model, unknown) if types is None else types
    placeholders = []
    for x, f in zip(inputs, fresh):
        node_name, port = _split(x.name)
        owner = x.producer
        if port == 0 and (owner is None or owner.name not in names) and node_name not in names:
            name = node_name
        else:
            name = _unique(f"{node_name}_{port}", names)
        names.add(name)
        dtype, shape = kinds.get(x.name, (None, None))
        f.dtype = f.dtype or dtype
        if shape is not None and (f.shape is None or any(d is None for d in f.shape)):
            f.shape = shape
        if f.dtype is None:
            raise UsageError(f"the type of {x.name!r} is not recorded in the graph; "
                             "TensorFlow is needed to infer it", model.path)
        f.name = f"{name}:0"
        ph = Node(name, "Placeholder", "tf", attrs={"dtype": f.dtype, "shape": f.shape})
        ph.meta["tf_attr_kinds"] = {"dtype": "type", "shape": "shape"}
        ph.add_output(f)
        placeholders.append(ph)
    for n in kept:
        n.control_inputs = [c for c in n.control_inputs if c in names]
    main.nodes = placeholders + main.nodes
    known = {id(v) for v in main.values}
    main.values = [f for f in fresh if id(f) not in known] + main.values


def tf_types(model: Model, values: list[Value]) -> dict[str, tuple]:
    """dtype and static shape of GraphDef tensors the IR does not know, from
    TensorFlow's shape inference on the whole graph; empty without TensorFlow."""
    if not values:
        return {}
    from modelkit.errors import MissingDependencyError
    from modelkit.formats.graphdef import to_graphdef
    from modelkit.ir import DType
    from modelkit.runtime.tfenv import import_tf

    try:
        tf = import_tf(needed_for="inferring the shapes of the cut inputs")
    except MissingDependencyError:
        return {}
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(to_graphdef(model).SerializeToString())
    g = tf.Graph()
    out: dict[str, tuple] = {}
    try:
        with g.as_default():
            tf.compat.v1.import_graph_def(graph_def, name="")
    except (ValueError, tf.errors.OpError):
        return {}
    for v in values:
        try:
            t = g.get_tensor_by_name(v.name)
        except (KeyError, ValueError):
            continue
        shape = None if t.shape.rank is None else tuple(t.shape.as_list())
        try:
            dtype = DType.from_tf(t.dtype.as_datatype_enum)
        except ValueError:
            dtype = None
        out[v.name] = (dtype, shape)
    return out


def _split(name: str) -> tuple[str, int]:
    node, sep, port = name.rpartition(":")
    if sep and port.isdigit():
        return node, int(port)
    return name, 0


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    i = 1
    while f"{name}_{i}" in taken:
        i += 1
    return f"{name}_{i}"


def _signatures(model: Model, maps: list[dict], fresh: list[Value], inputs: list[Value],
                new_outputs: list[Value], outputs: list[Value]) -> list[Signature]:
    """The source's signatures of other graphs, and one for the cut main graph
    (TFLite): an input or output that was one of the source's keeps its key, the
    others are keyed by tensor name."""
    sigs = []
    for s in model.signatures:
        if s.graph == 0:
            continue
        m = maps[s.graph] if s.graph < len(maps) else {}

        def io(x: SignatureIO) -> SignatureIO:
            v = m.get(id(x.value)) if x.value is not None else None
            return SignatureIO(x.key, x.tensor_name, x.dtype, x.shape, v)

        sigs.append(Signature(s.key, [io(i) for i in s.inputs], [io(o) for o in s.outputs],
                              s.graph, s.method_name, copy.deepcopy(s.meta)))
    if model.format != "tflite":
        return sigs
    main_sig = next((s for s in model.signatures if s.graph == 0), None)
    keys = {}
    if main_sig is not None:
        for x in (*main_sig.inputs, *main_sig.outputs):
            if x.value is not None:
                keys[id(x.value)] = x.key
    taken: set[str] = set()

    def entries(new_values: list[Value], src_values: list[Value]) -> list[SignatureIO]:
        out = []
        for nv, sv in zip(new_values, src_values):
            key = _unique(keys.get(id(sv), sv.name), taken)
            taken.add(key)
            out.append(SignatureIO(key, nv.name, nv.dtype, nv.shape, nv))
        return out

    key = main_sig.key if main_sig is not None else "serving_default"
    sig = Signature(key, entries(fresh, inputs), entries(new_outputs, outputs), 0,
                    main_sig.method_name if main_sig is not None else "")
    return [sig, *sigs]
