"""Cut a TFLite model so that every op reads its own inputs from the caller.

`isolate_ops` rewires each op of the main graph: every activation input (a graph
input or another op's output) is replaced by a fresh graph input of the same type,
shape and quantization. One run of the cut model then computes every op's output
from values the caller chose: the float model's tensors, quantized with each
input's own parameters, give each quantized layer's own (local) error, separated
from the error it would inherit from the quantized layers before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelkit.ir import Model, Value

# Inputs that carry state or handles, never values to feed.
_NOT_FED = ("resource", "variant", "string")


@dataclass
class CutInput:
    """A graph input of the cut model and the original tensor it stands for."""

    name: str
    source_index: int
    position: int


def isolate_ops(model: Model) -> list[CutInput]:
    """Rewire `model`'s main graph in place; return the new inputs in graph order.

    The outputs of the cut graph become every op output; signatures are dropped
    (the cut model is run by tensor names). Constants, variables and handle-typed
    inputs stay as they are.
    """
    graph = model.graphs[0]
    graph_inputs = {id(v) for v in graph.inputs}
    fresh: list[CutInput] = []
    inputs: list[Value] = []
    outputs: list[Value] = []
    for node in graph.nodes:
        for pos, v in enumerate(node.inputs):
            if v is None or v.is_const or v.is_variable or v.index is None:
                continue
            if v.producer is None and id(v) not in graph_inputs:
                # NOTE: neither an input nor an op's output: a constant stored without
                # data (an empty shape tensor) carries no value to feed.
                continue
            if v.dtype is not None and v.dtype.value in _NOT_FED:
                continue
            if v.shape == () and v.producer is not None:
                # NOTE: a scalar (a shape computation) stays wired to its producer,
                # which computes it from its own fed inputs; feeding 0-d arrays
                # through the runtime is not supported.
                continue
            name = f"{v.name}@{node.index}:{pos}"
            cut = Value(name, v.dtype, v.shape, shape_signature=v.shape_signature,
                        quant=v.quant)
            node.set_input(pos, cut)
            inputs.append(cut)
            fresh.append(CutInput(name, v.index, len(inputs) - 1))
        outputs.extend(node.outputs)
    graph.inputs = inputs
    graph.outputs = list(dict.fromkeys(outputs))
    model.signatures = []
    return fresh
