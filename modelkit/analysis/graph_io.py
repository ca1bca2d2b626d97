"""Inputs and outputs of a TF graph, as tensor names: detection and user-given names.

Shared by the runtime (running a GraphDef or checkpoint) and the convert preflight.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from modelkit.analysis.tf_summary import inference_io as tf_inference_io
from modelkit.analysis.tf_summary import PLACEHOLDER_OPS, needed_nodes, node_name
from modelkit.errors import UsageError
from modelkit.ir import Graph


def tensor_name(name: str) -> str:
    """`input` -> `input:0`; `x:1` stays."""
    return name if ":" in name else f"{name}:0"


def _suggest(name: str, candidates: Iterable[str]) -> str:
    cands = sorted(set(candidates))
    match = difflib.get_close_matches(name, cands, n=1, cutoff=0.5)
    if not match:
        match = difflib.get_close_matches(node_name(name), [node_name(c) for c in cands],
                                          n=1, cutoff=0.5)
    return match[0] if match else ""


def resolve_names(graph: Graph, names: list[str], role: str) -> list[str]:
    """Check user-given tensor names against the graph; return node names (no `:0`).

    Raises:
        UsageError: a name is not in the graph; the message lists what is and the
            closest match.
    """
    nodes = {n.name for n in graph.nodes}
    out = []
    for raw in names:
        base = node_name(raw)
        if base in nodes:
            out.append(base if raw.endswith(":0") or ":" not in raw else raw)
            continue
        suggestion = _suggest(base, nodes)
        if role == "Input":
            pool = sorted(n.name for n in graph.nodes if n.op in PLACEHOLDER_OPS)
        else:
            pool = sorted(n.name for n in graph.nodes
                          if not any(v.consumers for v in n.outputs) and n.op != "Const")
        hint = f" Did you mean '{suggestion}'?" if suggestion else ""
        listed = ", ".join(pool[:20]) + (" ..." if len(pool) > 20 else "")
        raise UsageError(f"{role} array not found: {raw}.{hint} "
                         f"(candidate {role.lower()}s: {listed or 'none'})")
    return out


def inference_io(graph: Graph) -> tuple[list[str], list[str]]:
    """Inference inputs and outputs of a TF graph, as tensor names
    (`modelkit.analysis.tf_summary.inference_io` finds them)."""
    inputs, outputs = tf_inference_io(graph)
    return ([tensor_name(v.producer.name if v.producer else v.name) for v in inputs],
            [tensor_name(n.outputs[0].name if n.outputs else n.name) for n in outputs])


def graph_io(graph: Graph, inputs: list[str] | None, outputs: list[str] | None,
             path: str) -> tuple[list[str], list[str]]:
    """The inputs and outputs to use as tensor names: given ones checked, else detected.

    Raises:
        UsageError: a name is not in the graph; nothing to detect.
    """
    found_inputs, found_outputs = ([], []) if inputs and outputs else inference_io(graph)
    if outputs:
        outs = [tensor_name(n) for n in resolve_names(graph, outputs, "Output")]
    else:
        outs = found_outputs
        if not outs:
            raise UsageError("found no output; name the outputs with --outputs", path)
    if inputs:
        ins = [tensor_name(n) for n in resolve_names(graph, inputs, "Input")]
    else:
        if outputs:
            placeholders = [n.name for n in graph.nodes if n.op in PLACEHOLDER_OPS]
            used = {n.name for n in needed_nodes(graph, outs, placeholders)}
            ins = [tensor_name(p) for p in placeholders if p in used]
        else:
            ins = found_inputs
        if not ins:
            raise UsageError("found no input placeholder; name the inputs with --inputs", path)
    return ins, outs
