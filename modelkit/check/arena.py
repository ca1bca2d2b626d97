"""The tensor arena a TFLite Micro interpreter needs, planned as Micro plans it.

The activation plan (the arena "head") follows TFLM's GreedyMemoryPlanner
(`tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc`): every
non-constant, non-variable tensor lives from the op that first writes it (graph
inputs: from the start) to the op that last reads it (graph outputs: to the end);
buffers are 16-byte aligned, placed largest first, each at the lowest offset where
it overlaps no placed buffer that is alive at the same time.

Scratch buffers the reference kernels request in Prepare (transpose convolution
accumulators, reduction accumulators, unpacked int4 filters) live during their op.

The tail (persistent allocations: TfLiteEvalTensor per tensor, NodeAndRegistration
per node, TfLiteTensor for inputs and outputs, kernels' op data such as per-channel
multipliers) is estimated from counts; the sizes are those TFLM's
RecordingMicroAllocator reports (`print_allocations()`) on 64-bit hosts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelkit.ir import DType, Graph, Model, Node, Value
from modelkit.quant.tflite_ops import WEIGHT_OPS

ALIGN = 16
EVAL_TENSOR_BYTES = 24          # sizeof(TfLiteEvalTensor)
PERSISTENT_TENSOR_BYTES = 64    # sizeof(TfLiteTensor), for each input and output
QUANT_IO_BYTES = 32             # TfLiteAffineQuantization + arrays, per quantized IO tensor
NODE_BYTES = 64                 # sizeof(NodeAndRegistration)
OP_DATA_BYTES = 48              # typical OpData of a kernel
PER_CHANNEL_BYTES = 8           # int32 multiplier + int32 shift per output channel
FIXED_BYTES = 720               # interpreter, subgraph and allocator bookkeeping
PER_SUBGRAPH_BYTES = 16            # sizeof(SubgraphAllocations): two pointers
INT16_SOFTMAX_LUT_BYTES = 2 * 513 * 2  # softmax.cc: exp and 1/(1+x) lookup tables, int16


@dataclass
class ArenaPlan:
    """The planned arena.

    Attributes:
        head_bytes: the activation plan (what `print_allocations()` calls the head).
        tail_bytes: estimated persistent allocations.
        offsets: tensor name -> (offset, size) in the head.
    """

    head_bytes: int
    tail_bytes: int
    offsets: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return self.head_bytes + self.tail_bytes

    def to_dict(self) -> dict:
        return {"arena_bytes": self.total_bytes, "arena_head_bytes": self.head_bytes}


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _planned(v: Value | None) -> bool:
    return v is not None and v.data is None and not v.is_variable and v.nbytes is not None


@dataclass
class _Life:
    size: int
    first: int
    last: int
    order: int  # the tensor's place in Micro's allocation-info array


def _lifetimes(model: Model, op_scopes: dict[tuple[int, int], tuple[int, int]] | None = None
               ) -> dict[int, tuple[Value, _Life]]:
    """Lifetimes as TFLM's AllocationInfoBuilder::MarkAllocationLifetimes marks them.

    One scope counter over the whole run: a subgraph's inputs are created at entry;
    each op opens a new scope, its outputs are created there; the subgraphs a control
    flow op calls (IF, WHILE, CALL_ONCE) are marked next, each in a new scope; then
    the op's inputs and outputs are used until the current scope; a subgraph's outputs
    live to its end.
    """
    base, offset = {}, 0
    for gi, g in enumerate(model.graphs):
        base[gi] = offset
        offset += len(g.values)
    positions = {id(v): base[gi] + i for gi, g in enumerate(model.graphs)
                 for i, v in enumerate(g.values)}
    lives: dict[int, tuple[Value, _Life]] = {}
    scope = [0]

    def created(v: Value | None) -> None:
        if not _planned(v):
            return
        if id(v) not in lives:
            lives[id(v)] = (v, _Life(_align(v.nbytes or 0), scope[0], scope[0],
                                     positions.get(id(v), offset)))

    def used(v: Value | None) -> None:
        if not _planned(v):
            return
        if id(v) not in lives:
            created(v)
        life = lives[id(v)][1]
        life.last = max(life.last, scope[0])

    def mark(gi: int, depth: int) -> None:
        graph = model.graphs[gi]
        for v in graph.inputs:
            created(v)
            used(v)
        for ni, node in enumerate(graph.nodes):
            scope[0] += 1
            start = scope[0]
            for v in node.outputs:
                created(v)
            for sub in _called(node):
                if depth < 16 and 0 <= sub < len(model.graphs):
                    scope[0] += 1
                    mark(sub, depth + 1)
            if op_scopes is not None:
                first, last = op_scopes.get((gi, ni), (start, scope[0]))
                op_scopes[(gi, ni)] = (min(first, start), max(last, scope[0]))
            for v in node.inputs:
                used(v)
            for v in node.outputs:
                used(v)
        for v in graph.outputs:
            created(v)
            used(v)

    mark(0, 0)
    return lives


def _elements(v: Value | None) -> int:
    if v is None or v.shape is None or any(d is None for d in v.shape):
        return 0
    n = 1
    for d in v.shape:
        n *= int(d)  # type: ignore[arg-type]
    return n


def scratch_requests(node: Node) -> list[int]:
    """Bytes of each scratch buffer the reference kernel requests in Prepare, in order.

    From tflite-micro kernels: transpose_conv.cc (int32/int64 accumulators per output
    element), conv_common.cc / depthwise_conv_common.cc / fully_connected.cc (int4
    filters unpacked), reduce_common.cc (MEAN/SUM accumulators; iterator and axis
    arrays for every reduction).
    """
    ins, op = node.inputs, node.op
    out = node.outputs[0] if node.outputs else None
    x = ins[0] if ins else None
    if op == "TRANSPOSE_CONV":
        x = ins[2] if len(ins) > 2 else None
        width = {DType.INT8: 4, DType.INT16: 8}.get(x.dtype if x is not None else None)
        return [width * _elements(out)] if width else []
    if op in WEIGHT_OPS:
        w = ins[1] if len(ins) > 1 else None
        return [_elements(w)] if w is not None and w.dtype == DType.INT4 else []
    if op in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_ALL"):
        axis = ins[1] if len(ins) > 1 else None
        rank = len(x.shape) if x is not None and x.shape is not None else 0
        out_list = []
        if op in ("MEAN", "SUM") and x is not None and x.dtype in (DType.INT8, DType.INT16):
            out_list.append(4 * _elements(out))
        return out_list + [4 * rank, 4 * _elements(axis)]
    return []


def _called(node: Node) -> list[int]:
    """Subgraphs a control flow op runs, in the order Micro plans them."""
    keys = {"IF": ("then_subgraph_index", "else_subgraph_index"),
            "WHILE": ("cond_subgraph_index", "body_subgraph_index"),
            "CALL_ONCE": ("init_subgraph_index",)}.get(node.op, ())
    return [node.attrs[k] for k in keys if isinstance(node.attrs.get(k), int)]


def greedy_plan(buffers: list[tuple[str, int, int, int]]) -> tuple[int, dict]:
    """Place (name, size, first, last) buffers as TFLM's GreedyMemoryPlanner does.

    Buffers come in Micro's allocation order; the planner takes them largest first,
    equal sizes last-added first (its bubble sort over the reversed list).

    Returns:
        (the high-water mark, name -> (offset, size)).
    """
    order = sorted(range(len(buffers)), key=lambda i: (-buffers[i][1], -i))
    placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last (by offset)
    offsets = {}
    high = 0
    for i in order:
        name, size, first, last = buffers[i]
        candidate = 0
        for off, sz, f, la in placed:
            if la < first or f > last:
                continue
            if off - candidate >= size:
                break
            candidate = max(candidate, off + sz)
        placed.append((candidate, size, first, last))
        placed.sort()
        offsets[name] = (candidate, size)
        high = max(high, candidate + size)
    return high, offsets


def _tail(model: Model) -> int:
    main: Graph = model.graphs[0]
    tensors = sum(len(g.values) for g in model.graphs)
    nodes = sum(len(g.nodes) for g in model.graphs)
    io = list(main.inputs) + list(main.outputs)
    total = FIXED_BYTES + PER_SUBGRAPH_BYTES * (len(model.graphs) - 1)
    total += EVAL_TENSOR_BYTES * tensors + NODE_BYTES * nodes
    total += PERSISTENT_TENSOR_BYTES * len(io)
    total += QUANT_IO_BYTES * sum(1 for v in io if v.quant is not None)
    for g in model.graphs:
        # NOTE: variable tensors (LSTM/SVDF state) live in the persistent tail.
        total += sum(_align(v.nbytes or 0) for v in g.values if v.is_variable)
        for n in g.nodes:
            total += OP_DATA_BYTES
            if n.op == "SOFTMAX" and n.outputs and n.outputs[0].dtype == DType.INT16:
                total += INT16_SOFTMAX_LUT_BYTES
            if n.op in WEIGHT_OPS and n.outputs and n.outputs[0].shape:
                total += PER_CHANNEL_BYTES * int(n.outputs[0].shape[-1] or 0)
    return _align(total)


def plan_arena(model: Model) -> ArenaPlan:
    """The arena TFLite Micro would allocate for `model` (head planned, tail estimated).

    Tensors of subgraphs no control flow op of subgraph 0 reaches keep Micro's
    "uninitialized" lifetime (-1, -1): they overlap one another and nothing else
    (measured: a model with a second entry subgraph).
    """
    op_scopes: dict[tuple[int, int], tuple[int, int]] = {}
    lives = _lifetimes(model, op_scopes)
    buffers = []
    order = 0
    for g in model.graphs:
        for v in g.values:
            entry = lives.get(id(v))
            if entry is not None:
                life = entry[1]
                buffers.append((f"{order}:{v.name}", life.size, life.first, life.last))
            elif _planned(v) and v.nbytes:
                buffers.append((f"{order}:{v.name}", _align(v.nbytes), -1, -1))
            order += 1
    # Scratch buffers follow the tensors, in the order the kernels' Prepare asks for them.
    for gi, g in enumerate(model.graphs):
        for ni, node in enumerate(g.nodes):
            first, last = op_scopes.get((gi, ni), (-1, -1))
            for k, size in enumerate(scratch_requests(node)):
                buffers.append((f"{order}:scratch {gi}/{ni}/{k}", _align(size), first, last))
                order += 1
    buffers = [b for b in buffers if b[1]]
    head, offsets = greedy_plan(buffers)
    return ArenaPlan(head, _tail(model), {k.split(":", 1)[1]: o for k, o in offsets.items()})
