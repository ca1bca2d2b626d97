"""Checks on the IR before the TFLite converter runs; needs no TensorFlow.

The preflight names, in one report, what would make the converter fail or
produce something the user did not want:

- TF1 legacy quantized ops (graph_transforms quantize_nodes/quantize_weights);
- ops that are neither TFLite builtins nor (with --allow-select-tf-ops) Select TF ops;
- placeholders with unknown dims other than the batch dim when no --input-shapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from modelkit.analysis.graph_io import PLACEHOLDER_OPS as _PLACEHOLDER_OPS
from modelkit.analysis.tf_ops import (SELECT_TF_OPS, TFLITE_BUILTIN_TF_OPS, VARIABLE_TF_OPS,
                                      is_legacy_quantized)
from modelkit.analysis.tf_summary import needed_nodes, node_name
from modelkit.errors import UnsupportedError
from modelkit.ir import Graph, Model, Node


@dataclass
class Finding:
    """One preflight result: a kind, the op type, and the nodes with it."""

    kind: str  # "legacy_quantized", "select_tf_op", "unsupported_op", "unknown_shape"
    op: str
    nodes: list[str]
    severity: str  # "error" or "warning"
    hint: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "op": self.op, "nodes": self.nodes,
                "severity": self.severity, "hint": self.hint}


@dataclass
class PreflightReport:
    """Every finding of a preflight run."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def lines(self, severity: str) -> list[str]:
        """Human lines for the findings of one severity: each hint once, then its ops."""
        out: list[str] = []
        groups: dict[str, list[Finding]] = {}
        for f in self.findings:
            if f.severity == severity:
                groups.setdefault(f.hint, []).append(f)
        for hint, group in groups.items():
            out.append(hint)
            for f in group:
                shown = ", ".join(f.nodes[:5]) + (f" and {len(f.nodes) - 5} more"
                                                 if len(f.nodes) > 5 else "")
                out.append(f"  {f.op} ({len(f.nodes)}): {shown}")
        return out

    def to_dict(self) -> dict:
        return {"errors": [f.to_dict() for f in self.errors],
                "warnings": [f.to_dict() for f in self.warnings]}


def _dtype_name(value) -> str:
    return str(value) if value is not None else ""


def _is_legacy(node: Node) -> bool:
    src = node.inputs[0] if node.inputs else None
    names = {_dtype_name(node.attrs.get("T")), _dtype_name(src.dtype if src is not None else None)}
    return is_legacy_quantized(node.op, names)


def _placeholder_shape(node: Node) -> tuple | None:
    """The declared shape of a placeholder, None when the rank is unknown."""
    if node.outputs and node.outputs[0].shape is not None:
        return node.outputs[0].shape
    shape = node.attrs.get("shape")
    if shape is None:
        return None
    dims = getattr(shape, "dims", shape)
    if dims is None:
        return None
    return tuple(None if d is None or (isinstance(d, int) and d < 0) else d for d in dims)


# Variables of a checkpoint graph become constants when it is frozen.
_FROZEN_AWAY = VARIABLE_TF_OPS


# Per kind of op TFLite lacks: the hint without and with the flag that keeps it.
_OP_HINTS = {
    "select_tf_op": {
        False: "not a TFLite builtin; `--allow-select-tf-ops` keeps it as a Select TF op "
               "(the app must link the Flex delegate)",
        True: "runs as a Select TF op: the app must link the Flex delegate",
    },
    "unsupported_op": {
        False: "neither a TFLite builtin nor a Select TF op; `--allow-custom-ops` keeps it "
               "as a custom op you must implement",
        True: "kept as a custom op: the app must register a kernel",
    },
    "unlisted_op": {
        True: "not in the Select TF op list modelkit knows; the converter decides whether "
              "it becomes a Select TF op (if it refuses, `--allow-custom-ops` keeps it as "
              "a custom op you must implement)",
    },
}


def check_ops(nodes: Iterable[Node], *, allow_select_tf_ops: bool,
              allow_custom_ops: bool, freezing: bool = False) -> list[Finding]:
    """Findings for legacy quantized ops and ops TFLite cannot take.

    Args:
        freezing: the graph is frozen before conversion (a checkpoint), so its
            variable ops become constants.
    """
    legacy: dict[str, list[str]] = {}
    flex: dict[str, list[str]] = {}
    unknown: dict[str, list[str]] = {}
    for n in nodes:
        if n.domain not in ("tf", ""):
            continue
        if _is_legacy(n):
            legacy.setdefault(n.op, []).append(n.name)
        elif n.op in TFLITE_BUILTIN_TF_OPS or (freezing and n.op in _FROZEN_AWAY):
            continue
        elif n.op in SELECT_TF_OPS:
            flex.setdefault(n.op, []).append(n.name)
        else:
            unknown.setdefault(n.op, []).append(n.name)
    findings = []
    for op, names in legacy.items():
        findings.append(Finding(
            "legacy_quantized", op, names, "error",
            "TF1 legacy quantization (graph_transforms quantize_nodes/quantize_weights); "
            "TFLite cannot take it: add --dequantize-legacy to reverse it to float first"))
    # NOTE: the converter's Flex list grows with TF releases (TF 2.21 makes
    # MatrixDeterminant a Select TF op although allowlisted_flex_ops.cc omits it), so
    # with --allow-select-tf-ops an op in neither table is left to the converter.
    unknown_kind = "unlisted_op" if allow_select_tf_ops and not allow_custom_ops \
        else "unsupported_op"
    for kind, groups, allowed in (("select_tf_op", flex, allow_select_tf_ops),
                                  (unknown_kind, unknown,
                                   allow_custom_ops or allow_select_tf_ops)):
        hint = _OP_HINTS[kind][allowed]
        for op, names in groups.items():
            findings.append(Finding(kind, op, names, "warning" if allowed else "error", hint))
    return findings


def check_shapes(graph: Graph, inputs: list[str], given: bool) -> list[Finding]:
    """Findings for inputs whose shape is unknown beyond the batch dim."""
    if given:
        return []
    findings = []
    for name in inputs:
        node = graph.node(node_name(name))
        if node is None or node.op not in _PLACEHOLDER_OPS:
            continue
        shape = _placeholder_shape(node)
        if shape is None:
            findings.append(Finding("unknown_shape", node.op, [node.name], "error",
                                    "the input has no known rank; give --input-shapes, "
                                    "e.g. --input-shapes 1,224,224,3"))
        elif any(d is None for d in shape[1:]):
            dims = ",".join("?" if d is None else str(d) for d in shape)
            findings.append(Finding("unknown_shape", node.op, [node.name], "error",
                                    f"the input shape [{dims}] has unknown dims past the "
                                    "batch dim; give --input-shapes with every dim"))
    return findings


def preflight_graph(graph: Graph, inputs: list[str], outputs: list[str], *,
                    shapes_given: bool, allow_select_tf_ops: bool,
                    allow_custom_ops: bool, freezing: bool = False) -> PreflightReport:
    """Preflight of a TF graph (GraphDef, checkpoint meta graph) between inputs and outputs."""
    nodes = needed_nodes(graph, outputs, inputs) if outputs else graph.nodes
    report = PreflightReport()
    report.findings += check_ops(nodes, allow_select_tf_ops=allow_select_tf_ops,
                                 allow_custom_ops=allow_custom_ops, freezing=freezing)
    report.findings += check_shapes(graph, inputs, shapes_given)
    return report


def preflight_model(model: Model) -> PreflightReport:
    """Preflight of a SavedModel or other model whose graphs are functions.

    Only the legacy quantized family is an error here; function libraries also
    hold saving and restoring code the converter never sees.
    """
    report = PreflightReport()
    legacy: dict[str, list[str]] = {}
    for graph in model.graphs:
        for n in graph.nodes:
            if n.domain in ("tf", "") and _is_legacy(n):
                legacy.setdefault(n.op, []).append(n.name)
    for op, names in legacy.items():
        report.findings.append(Finding(
            "legacy_quantized", op, names, "error",
            "TF1 legacy quantization; TFLite cannot take it: freeze the model to a .pb, "
            "then convert it with --dequantize-legacy"))
    return report


def _reachable(model: Model, graph: Graph, outputs: list[str],
               inputs: list[str]) -> list[Node]:
    """The nodes `outputs` need in `graph`, and every node of the functions they call
    (transitively): what the converter sees of one signature."""
    by_name = {g.name: g for g in model.graphs}
    nodes = list(needed_nodes(graph, outputs, inputs))
    seen: set[str] = set()
    todo = [f for n in nodes for f in (n.subgraphs or [])]
    while todo:
        name = todo.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        body = by_name[name].nodes
        nodes.extend(body)
        todo.extend(f for n in body for f in (n.subgraphs or []))
    return nodes


def preflight_savedmodel(model: Model, signature: str | None, *, allow_select_tf_ops: bool,
                         allow_custom_ops: bool) -> PreflightReport:
    """Preflight of a SavedModel signature: the ops of the functions it calls.

    Variables become constants on conversion (frozen), so variable ops pass. Models
    that are not TF graphs (Keras H5: layers) get the legacy check only.
    """
    report = preflight_model(model)
    sig = next((s for s in model.signatures if s.key == signature), None)
    if sig is None or model.format != "savedmodel":
        return report
    graph = model.graphs[sig.graph] if isinstance(sig.graph, int) else model.graphs[0]
    outputs = [node_name(o.tensor_name) for o in sig.outputs if o.tensor_name]
    inputs = [node_name(i.tensor_name) for i in sig.inputs if i.tensor_name]
    nodes = _reachable(model, graph, outputs, inputs)
    legacy_ops = {f.op for f in report.findings}
    report.findings += [f for f in check_ops(nodes, allow_select_tf_ops=allow_select_tf_ops,
                                             allow_custom_ops=allow_custom_ops, freezing=True)
                        if f.op not in legacy_ops]
    return report


def raise_if_errors(report: PreflightReport, path: str, *,
                    legacy_fix: str | None = None) -> None:
    """Stop with exit 4 when the report holds errors.

    Args:
        legacy_fix: the exact command that gets past legacy quantized ops, if any.

    Raises:
        UnsupportedError: one line summary; the details are in `report.lines()`.
    """
    errors = report.errors
    if not errors:
        return
    if any(f.kind == "legacy_quantized" for f in errors):
        ops = sorted({f.op for f in errors if f.kind == "legacy_quantized"})
        fix = (f"reverse them to float and convert: {legacy_fix}" if legacy_fix else
               "reverse them with `modelkit transform SRC float.pb -t dequantize_legacy` and "
               "convert float.pb")
        msg = (f"the graph holds TF1 legacy quantized ops ({', '.join(ops)}) from "
               f"graph_transforms quantize_nodes/quantize_weights, which TFLite cannot take; "
               f"{fix}")
    else:
        parts = []
        for f in errors:
            parts.append(f"{f.op} ({f.nodes[0]}{', ...' if len(f.nodes) > 1 else ''})")
        msg = "preflight failed: " + "; ".join(
            f"{p}: {f.hint}" for p, f in zip(parts, errors))
    raise UnsupportedError(msg, path)
