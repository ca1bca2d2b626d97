"""The rule registry: every rule declared once, with its id, targets, ops and source.

A rule is data (id, targets, ops, severity, one-line summary, the runtime source
that enforces it, the fix) plus a predicate. Predicates live in one module per
target family (`tflite_kernels`, `micro`, `delegates`, `edgetpu`, `tfgraph`,
`variables`)
and register themselves with `@rule(...)`; the engine knows nothing
rule-specific.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

TARGETS: tuple[str, ...] = ("tflite", "micro", "edgetpu", "gpu", "xnnpack")


@dataclass
class Hit:
    """What a predicate reports; the engine adds the rule's metadata to make a Finding.

    Attributes:
        message: the runtime's own message, or a one-line statement.
        tensors: names of the tensors involved.
        numbers: the values that break the rule.
        explanation: overrides the rule's explanation when given.
        severity: overrides the rule's severity when given.
        fix: overrides the rule's fix when given ("" for no fix).
        node: the node index, when a graph-scope rule points at one node.
    """

    message: str
    tensors: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    explanation: str | None = None
    severity: str | None = None
    fix: str | None = None
    node: int | None = None


@dataclass(frozen=True)
class Rule:
    """One rule.

    Attributes:
        id: stable id, e.g. `fc-bias-scale`.
        targets: targets it belongs to.
        ops: ops it looks at (TFLite op names, TF op types); empty for graph scope.
        severity: default severity.
        summary: one line, for the README table and `--explain`.
        source: the runtime source that enforces it, `file : function`.
        fix: the `modelkit fix` rule id or a command, or None.
        dtypes: tensor types the rule concerns (a node none of whose tensors has one
            is skipped); empty for any.
        formats: model formats it applies to (`tflite`, or `tf` for TF graphs).
        check: the predicate; node scope `(ctx, node) -> Iterable[Hit]`,
            graph scope `(ctx) -> Iterable[Hit]`.
    """

    id: str
    targets: tuple[str, ...]
    ops: tuple[str, ...]
    severity: str
    summary: str
    source: str
    fix: str | None
    formats: tuple[str, ...]
    check: Callable[..., Iterable[Hit]]
    dtypes: tuple[str, ...] = ()

    @property
    def graph_scope(self) -> bool:
        return not self.ops


RULES: dict[str, Rule] = {}


def rule(id: str, *, targets: Iterable[str], ops: Iterable[str] = (), severity: str = "error",
         summary: str, source: str, fix: str | None = None,
         formats: Iterable[str] = ("tflite",), dtypes: Iterable[str] = ()) -> Callable:
    """Register the decorated predicate as a rule.

    Raises:
        ValueError: the id is taken or a target is unknown (a programming error).
    """
    targets = tuple(targets)
    unknown = set(targets) - set(TARGETS)
    if unknown:
        raise ValueError(f"rule {id}: unknown targets {sorted(unknown)}")

    def register(fn: Callable[..., Iterable[Hit]]) -> Callable[..., Iterable[Hit]]:
        if id in RULES:
            raise ValueError(f"rule id {id} registered twice")
        RULES[id] = Rule(id, targets, tuple(ops), severity, summary, source, fix,
                         tuple(formats), fn, tuple(dtypes))
        return fn

    return register


def rules_for(target: str, fmt: str) -> Iterator[Rule]:
    """Rules of one target that apply to one model format family."""
    _load_rule_modules()
    for r in RULES.values():
        if target in r.targets and fmt in r.formats:
            yield r


def _load_rule_modules() -> None:
    # NOTE: imported here, not at module top, so the modules can import `rule` from here.
    # The kernel rules load first: RULES keeps registration order, which is the order of
    # reports and of the README rules table.
    from modelkit.check import tflite_kernels  # noqa: F401
    from modelkit.check import delegates, edgetpu, micro, tfgraph, variables  # noqa: F401
