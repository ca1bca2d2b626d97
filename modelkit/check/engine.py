"""Walk a Model and run every rule of one target on every node of every graph."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelkit.check.findings import Finding, Report
from modelkit.check.rules import TARGETS, Hit, Rule, rules_for
from modelkit.errors import UsageError
from modelkit.ir import Graph, Model, Node

_ORDER = {"error": 0, "warning": 1, "info": 2}
_TF_FORMATS = frozenset({"graphdef", "savedmodel", "checkpoint"})


@dataclass
class Ctx:
    """What a predicate may look at besides the node: the model, its graph, the target,
    and `shared`, one dict per check run for model-wide facts a rule computes once."""

    model: Model
    graph: Graph
    gi: int
    target: str
    shared: dict = field(default_factory=dict)

    def refusal(self, node: Node, text: str) -> str:
        """The runtime's failure text for `node`: the check's own line, then the node line.

        LiteRT appends `Node number N (OP) failed to prepare.` with no space;
        TFLite Micro prints `Node OP (number N) failed to prepare with status 1` on
        the next line.
        """
        index = node.index if node.index is not None else self.graph.nodes.index(node)
        if self.target == "micro":
            return f"{text}\nNode {node.op} (number {index}) failed to prepare with status 1"
        return f"{text}Node number {index} ({node.op}) failed to prepare."


def format_family(model: Model) -> str:
    """`tflite` for TFLite models, `tf` for TF graphs, else the model's own format."""
    if model.format == "tflite":
        return "tflite"
    if model.format in _TF_FORMATS:
        return "tf"
    return model.format


def check_model(model: Model, target: str = "tflite") -> Report:
    """Run every rule of `target` on `model`, without TensorFlow and without running it.

    Args:
        model: any loaded model; TFLite models get the kernel and delegate rules,
            TF graphs the converter rules.
        target: one of TARGETS.

    Returns:
        The report: findings errors first, then by graph and node; target facts.

    Raises:
        UsageError: unknown target.
    """
    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    fmt = format_family(model)
    rules = list(rules_for(target, fmt))
    by_op: dict[str, list[Rule]] = {}
    graph_rules = []
    for r in rules:
        if r.graph_scope:
            graph_rules.append(r)
        for op in r.ops:
            by_op.setdefault(op, []).append(r)
    any_op = by_op.get("*", [])
    report = Report(target=target, path=model.path)
    shared: dict = {}
    for gi, graph in enumerate(model.graphs):
        ctx = Ctx(model, graph, gi, target, shared)
        for ni, node in enumerate(graph.nodes):
            types = None
            for r in by_op.get(node.op, []) + any_op:
                if r.dtypes:
                    if types is None:
                        types = {str(v.dtype) for v in list(node.inputs) + node.outputs
                                 if v is not None}
                    if not types.intersection(r.dtypes):
                        continue
                for hit in r.check(ctx, node):
                    report.findings.append(_finding(r, hit, ctx, ni))
        for r in graph_rules:
            for hit in r.check(ctx):
                report.findings.append(_finding(r, hit, ctx, hit.node))
    report.findings.sort(key=lambda f: (_ORDER[f.severity], f.graph,
                                        -1 if f.node is None else f.node))
    if target == "micro" and fmt == "tflite":
        from modelkit.check.arena import plan_arena

        report.facts.update(plan_arena(model).to_dict())
    if target in ("xnnpack", "gpu") and fmt == "tflite":
        from modelkit.check.delegates import partition_facts

        report.facts.update(partition_facts(report, model))
    return report


def _finding(r: Rule, hit: Hit, ctx: Ctx, ni: int | None) -> Finding:
    node = ctx.graph.nodes[ni] if ni is not None else None
    return Finding(
        severity=hit.severity or r.severity, rule=r.id, target=ctx.target, graph=ctx.gi,
        node=ni, node_name=node.name if node is not None else "",
        op=node.op if node is not None else "", tensors=list(hit.tensors),
        numbers=dict(hit.numbers), message=hit.message,
        explanation=hit.explanation if hit.explanation is not None else r.summary,
        fix=(hit.fix or None) if hit.fix is not None else r.fix)
