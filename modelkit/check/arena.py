"""The tensor arena a TFLite Micro interpreter needs, planned as Micro plans it.

The activation plan (the arena "head") follows TFLM's GreedyMemoryPlanner
(`tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc`): every
non-constant, non-variable tensor lives from the op that first writes it (graph
inputs: from the start) to the op that last reads it (graph outputs: to the end);
buffers are 16-byte aligned, placed largest first, each at the lowest offset where
it overlaps no placed buffer that is alive at the same time.

The tail (persistent allocations: TfLiteEvalTensor per tensor, NodeAndRegistration
per node, TfLiteTensor for inputs and outputs, kernels' op data such as per-channel
multipliers) is estimated from counts; the sizes are those TFLM's
RecordingMicroAllocator reports (`print_allocations()`) on 64-bit hosts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelkit.ir import DType, Graph, Model, Node, Value

ALIGN = 16
EVAL_TENSOR_BYTES = 24          # sizeof(TfLiteEvalTensor)
PERSISTENT_TENSOR_BYTES = 64    # sizeof(TfLiteTensor), for each input and output
QUANT_IO_BYTES = 32             # TfLiteAffineQuantization + arrays, per quantized IO tensor
NODE_BYTES = 64                 # sizeof(NodeAndRegistration)
OP_DATA_BYTES = 48              # typical OpData of a kernel
PER_CHANNEL_BYTES = 8           # int32 multiplier + int32 shift per output channel
FIXED_BYTES = 720               # interpreter, subgraph and allocator bookkeeping
PER_SUBGRAPH_BYTES = 64
INT16_SOFTMAX_LUT_BYTES = 2 * 513 * 2  # softmax.cc: exp and 1/(1+x) lookup tables, int16
_WEIGHT_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"})


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


def _lifetimes(model: Model) -> dict[int, tuple[Value, _Life]]:
    """Lifetime of each planned tensor on one timeline over every executed subgraph."""
    lives: dict[int, tuple[Value, _Life]] = {}
    clock = [0]

    def touch(v: Value | None, t: int, writes: bool) -> None:
        if not _planned(v):
            return
        entry = lives.get(id(v))
        if entry is None:
            entry = lives[id(v)] = (v, _Life(_align(v.nbytes or 0), t, t))
        life = entry[1]
        if writes:
            life.first = min(life.first, t)
        life.last = max(life.last, t)

    def walk(gi: int, depth: int) -> None:
        graph = model.graphs[gi]
        start = clock[0]
        for v in graph.inputs:
            touch(v, start, True)
        for node in graph.nodes:
            t = clock[0]
            for v in node.inputs:
                touch(v, t, False)
            for v in node.outputs:
                touch(v, t, True)
            for sub in _called(node):
                if depth < 8 and 0 <= sub < len(model.graphs):
                    walk(sub, depth + 1)
                    for v in node.inputs:
                        touch(v, clock[0], False)
            clock[0] += 1
        end = max(clock[0] - 1, start)
        for v in graph.outputs:
            touch(v, end, False)

    walk(0, 0)
    return lives


def _called(node: Node) -> list[int]:
    subs = [s for s in node.subgraphs if isinstance(s, int)]
    for key in ("then_subgraph_index", "else_subgraph_index", "cond_subgraph_index",
                "body_subgraph_index", "init_subgraph_index"):
        value = node.attrs.get(key)
        if isinstance(value, int) and value not in subs:
            subs.append(value)
    return subs


def greedy_plan(buffers: list[tuple[str, int, int, int]]) -> tuple[int, dict]:
    """Place (name, size, first, last) buffers as TFLM's GreedyMemoryPlanner does.

    Returns:
        (the high-water mark, name -> (offset, size)).
    """
    order = sorted(range(len(buffers)), key=lambda i: -buffers[i][1])
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
        for n in g.nodes:
            total += OP_DATA_BYTES
            if n.op == "SOFTMAX" and n.outputs and n.outputs[0].dtype == DType.INT16:
                total += INT16_SOFTMAX_LUT_BYTES
            if n.op in _WEIGHT_OPS and n.outputs and n.outputs[0].shape:
                total += PER_CHANNEL_BYTES * int(n.outputs[0].shape[-1] or 0)
    return _align(total)


def plan_arena(model: Model) -> ArenaPlan:
    """The arena TFLite Micro would allocate for `model` (head planned, tail estimated)."""
    lives = _lifetimes(model)
    buffers = [(v.name if v.name else f"#{k}", life.size, life.first, life.last)
               for k, (v, life) in lives.items()]
    # NOTE: names can repeat across subgraphs; key by position to keep every buffer.
    keyed = [(f"{i}:{b[0]}", *b[1:]) for i, b in enumerate(buffers)]
    head, offsets = greedy_plan(keyed)
    return ArenaPlan(head, _tail(model), {k.split(":", 1)[1]: o for k, o in offsets.items()})
