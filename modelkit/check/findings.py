"""What a check finds: Finding (one broken rule at one node) and Report (all of them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
SEVERITIES = ("error", "warning", "info")


@dataclass
class Finding:
    """One rule broken (or one fact worth telling) at one node or tensor.

    Attributes:
        severity: "error" (the target refuses the model or computes wrong results),
            "warning" (it runs but loses accuracy or speed), "info".
        rule: stable rule id (see `modelkit.check.rules.RULES`).
        target: the target checked (`tflite`, `micro`, ...).
        graph: index into `model.graphs`.
        node: index into `graph.nodes`, None for a finding about the model or a graph.
        node_name: the node's name ("" when node is None).
        op: the node's op ("" when node is None).
        tensors: names of the tensors involved.
        numbers: the values that break the rule (scales, limits, sizes).
        message: the runtime's own message where there is one, else a one-line statement.
        explanation: why it matters and what happens at runtime.
        fix: a `modelkit fix` rule id, or a command line, or None.
    """

    severity: str
    rule: str
    target: str
    graph: int
    node: int | None
    node_name: str
    op: str
    tensors: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    explanation: str = ""
    fix: str | None = None

    def to_dict(self) -> dict:
        """Plain JSON-ready form (the README documents it)."""
        return {"severity": self.severity, "rule": self.rule, "target": self.target,
                "graph": self.graph, "node": self.node, "node_name": self.node_name,
                "op": self.op, "tensors": list(self.tensors), "numbers": dict(self.numbers),
                "message": self.message, "explanation": self.explanation, "fix": self.fix}


@dataclass
class Report:
    """Every finding of one check run, plus target facts (the Micro arena size).

    Attributes:
        target: the target checked.
        findings: sorted errors first, then warnings, then infos; by graph and node.
        facts: target facts, e.g. `arena_bytes` and `arena_head_bytes` for `micro`.
        path: the model's path, when known.
        graph_names: the name of each graph of the model, when known (renderers that
            name a node by its graph use them; not part of the JSON document).
    """

    target: str
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    graph_names: list[str] = field(default_factory=list)

    def of(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if f.severity == severity]

    @property
    def errors(self) -> list[Finding]:
        return self.of("error")

    @property
    def ok(self) -> bool:
        """True when nothing makes the target refuse the model or compute wrong results."""
        return not self.errors

    def totals(self) -> dict[str, int]:
        return {s: len(self.of(s)) for s in SEVERITIES}

    def to_dict(self) -> dict:
        """The `check --json` document: schema_version, target, findings, totals, facts."""
        out: dict = {"schema_version": SCHEMA_VERSION, "model": self.path,
                     "target": self.target,
                     "findings": [f.to_dict() for f in self.findings],
                     "totals": self.totals()}
        out.update(self.facts)
        return out
