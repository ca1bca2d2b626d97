"""Resource variables a TFLite model reads before anything assigns them.

A VAR_HANDLE names a variable by (container, shared_name); the variable exists once an
ASSIGN_VARIABLE of that name has run (the converter's initializer subgraph, called by
CALL_ONCE, assigns every variable first). A READ_VARIABLE of a name nothing has
assigned yet fails at invoke in LiteRT's builtin kernel; XNNPACK and TFLite Micro run
it without an error and read memory nothing wrote.

The reads are found by walking each entry (every signature's subgraph, else subgraph 0;
TFLite Micro runs subgraph 0 only) in execution order, into the subgraphs CALL_ONCE,
WHILE, IF and CALL run, tracking which names are assigned by then. An assignment in any branch or loop body counts
(the check never refuses a model that may run).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from modelkit.check.rules import Hit, rule
from modelkit.ir import DType, Model, Node, Value

ALL = ("tflite", "micro", "edgetpu", "gpu", "xnnpack")
# Subgraph-index attributes of the control-flow ops, in the order the runtime runs them.
_CALLS = {"CALL_ONCE": ("init_subgraph_index",),
          "WHILE": ("cond_subgraph_index", "body_subgraph_index"),
          "IF": ("then_subgraph_index", "else_subgraph_index"),
          "CALL": ("subgraph",)}
_VARIABLE_OPS = ("VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE")


@dataclass
class UnassignedRead:
    """One READ_VARIABLE that runs before its variable is assigned.

    Attributes:
        graph, node: where the read is (graph index, node position).
        variable: the variable's shared_name (container/shared_name when it has one).
        callers: the control-flow nodes that lead to it, innermost first, as
            (graph, node position, op).
        entries: the entry points (signature keys, or "main") whose run reaches it.
        assigned_by: entry points that run cleanly and assign the variable (run one
            of them first).
    """

    graph: int
    node: int
    variable: str
    callers: list[tuple[int, int, str]]
    entries: list[str] = field(default_factory=list)
    assigned_by: list[str] = field(default_factory=list)


def _entries(model: Model) -> list[tuple[str, int]]:
    if model.signatures:
        return [(s.key, s.graph) for s in model.signatures if 0 <= s.graph < len(model.graphs)]
    return [("main", 0)] if model.graphs else []


def _called(node: Node) -> list[int]:
    names = _CALLS.get(node.op)
    if names is not None:
        found = [node.attrs.get(n) for n in names]
        if all(isinstance(i, int) for i in found):
            return list(found)  # type: ignore[arg-type]
    return [int(i) for i in node.subgraphs if isinstance(i, int)]


def _callee_args(node: Node) -> list[Value | None]:
    """The values a called subgraph's inputs stand for (IF's first input is its condition)."""
    ins = list(node.inputs)
    return ins[1:] if node.op == "IF" else ins


# Node visits one walk may make (a file whose subgraphs call each other in a deep
# tree would otherwise take exponential time).
_VISIT_BUDGET = 200_000


class _Walk:
    """One entry point's run: which variables are assigned when each read runs."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.assigned: set[str] = set()
        self.reads: list[tuple[int, int, str, list[tuple[int, int, str]]]] = []
        self._seen: set[tuple[int, tuple[str | None, ...]]] = set()
        self._budget = _VISIT_BUDGET

    def graph(self, gi: int, args: list[str | None], callers: list[tuple[int, int, str]],
              stack: tuple[int, ...]) -> None:
        if gi in stack or not 0 <= gi < len(self.model.graphs) or len(stack) > 32:
            return  # a recursive or broken call: the runtime refuses it elsewhere
        # NOTE: assignments only accumulate, so a second run of a subgraph with the same
        # handles finds no read the first run did not.
        key = (gi, tuple(args))
        if key in self._seen or self._budget <= 0:
            return
        self._seen.add(key)
        g = self.model.graphs[gi]
        self._budget -= len(g.nodes)
        names: dict[int, str | None] = {id(v): a for v, a in zip(g.inputs, args)}

        def name_of(v: Value | None) -> str | None:
            return None if v is None else names.get(id(v))

        for ni, node in enumerate(g.nodes):
            if node.op == "VAR_HANDLE":
                container = str(node.attrs.get("container") or "")
                shared = str(node.attrs.get("shared_name") or "")
                for v in node.outputs:
                    names[id(v)] = f"{container}/{shared}" if container else shared
            elif node.op == "READ_VARIABLE":
                var = name_of(node.inputs[0] if node.inputs else None)
                if var is not None and var not in self.assigned:
                    self.reads.append((gi, ni, var, callers))
            elif node.op == "ASSIGN_VARIABLE":
                var = name_of(node.inputs[0] if node.inputs else None)
                if var is not None:
                    self.assigned.add(var)
            called = _called(node) if node.op not in _VARIABLE_OPS else []
            if called:
                inner = [name_of(v) for v in _callee_args(node)]
                for sub in called:
                    self.graph(sub, inner, [(gi, ni, node.op)] + callers, stack + (gi,))


def unassigned_reads(model: Model, main_only: bool = False) -> list[UnassignedRead]:
    """Every READ_VARIABLE some entry point runs before its variable is assigned.

    Args:
        main_only: the only entry is subgraph 0 (TFLite Micro runs no signatures).
    """
    if not any(n.op == "READ_VARIABLE" for g in model.graphs for n in g.nodes):
        return []
    walks = []
    for key, gi in ([("main", 0)] if main_only and model.graphs else _entries(model)):
        walk = _Walk(model)
        walk.graph(gi, [], [], ())
        walks.append((key, walk))
    found: dict[tuple[int, int], UnassignedRead] = {}
    for key, walk in walks:
        for gi, ni, var, callers in walk.reads:
            read = found.setdefault((gi, ni), UnassignedRead(gi, ni, var, callers))
            read.entries.append(key)
    # NOTE: the interpreter keeps variables between calls: an entry that runs without
    # an unassigned read and assigns the variable makes the read work when run first.
    for read in found.values():
        read.assigned_by = [key for key, walk in walks
                            if not walk.reads and read.variable in walk.assigned]
    return sorted(found.values(), key=lambda r: (r.graph, r.node))


def _xnnpack_takes(read: Node) -> bool:
    """XNNPACK delegates a READ_VARIABLE of a handle its own subgraph makes, with a ranked
    float32 or 8-bit output (VisitReadVariableNode); a handle passed into a loop body is
    not (measured: such reads fail in the builtin kernel under the default delegates)."""
    handle = read.inputs[0] if read.inputs else None
    out = read.outputs[0] if read.outputs else None
    return handle is not None and handle.producer is not None and \
        handle.producer.op == "VAR_HANDLE" and out is not None and bool(out.shape) and \
        out.dtype in (DType.FLOAT32, DType.UINT8, DType.INT8)


def _invoke_failure(read: UnassignedRead) -> str:
    """LiteRT's text: the kernel's check, then one line per node, innermost first."""
    text = "tflite/kernels/read_variable.cc:67 variable != nullptr was not true."
    text += f"Node number {read.node} (READ_VARIABLE) failed to invoke."
    for _, ni, op in read.callers:
        text += f"Node number {ni} ({op}) failed to invoke."
    return text


@rule("unassigned-variable", targets=ALL,
      summary="A READ_VARIABLE of a resource variable that nothing has assigned when it "
              "runs (no initializer subgraph, no ASSIGN_VARIABLE before it): LiteRT fails "
              "at invoke; XNNPACK and TFLite Micro read memory nothing wrote.",
      source="read_variable.cc : Eval (TF_LITE_ENSURE variable != nullptr); "
             "assign_variable.cc : Eval creates the variable; Micro: "
             "micro_resource_variable.cc : MicroResourceVariables::Read (DCHECK only)",
      fix="re-convert with the variables frozen (a frozen concrete function; `modelkit "
          "convert --input-shapes` for Keras), or run the signature that assigns them first")
def _unassigned_variable(ctx) -> Iterator[Hit]:
    # NOTE: the walk covers the whole model once; each graph reports its own reads.
    if "unassigned_reads" not in ctx.shared:
        ctx.shared["unassigned_reads"] = unassigned_reads(ctx.model,
                                                          main_only=ctx.target == "micro")
    for read in ctx.shared["unassigned_reads"]:
        if read.graph != ctx.gi:
            continue
        node = ctx.graph.nodes[read.node]
        where = ", ".join(repr(e) for e in read.entries)
        numbers = {"variable": read.variable, "entries": list(read.entries)}
        tensors = [v.name for v in node.outputs]
        if read.assigned_by:
            numbers["assigned_by"] = list(read.assigned_by)
            first = ", ".join(repr(e) for e in read.assigned_by)
            yield Hit(f"variable {read.variable!r} is assigned only by signature {first}: "
                      f"running {where} first fails with {_invoke_failure(read)}", tensors,
                      numbers, severity="info", node=read.node,
                      explanation=f"the interpreter keeps variables between calls: run {first} "
                                  "once before the other signatures")
            continue
        if ctx.target == "micro":
            message = (f"READ_VARIABLE of {read.variable!r}, which nothing assigned: TFLite "
                       "Micro gives no error and reads zeros (no resource buffer)")
        elif ctx.target == "xnnpack" and _xnnpack_takes(node):
            message = (f"READ_VARIABLE of {read.variable!r}, which nothing assigned: the "
                       "XNNPACK delegate takes the read and gives memory nothing wrote, "
                       f"with no error (the builtin kernel fails: {_invoke_failure(read)})")
        # NOTE: a read XNNPACK leaves to the builtin kernel fails as in LiteRT.
        else:
            message = _invoke_failure(read)
        yield Hit(message, tensors, numbers, node=read.node,
                  explanation=f"variable {read.variable!r} is read by {where} before any "
                              "ASSIGN_VARIABLE of it ran (no initializer subgraph assigns it)")
