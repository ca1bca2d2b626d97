"""SARIF 2.1.0 rendering of check reports, in the form GitHub code scanning ingests.

One run per target, whose `tool.driver.rules` holds every rule of that target; one
result per finding, located at the model file (physical location, relative to a
root folder when inside it) and at the node (logical location). Each result carries
a fingerprint made of the rule, the graph and the node's name, never its index, so
an alert stays the same alert when ops are added or removed before it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

from modelkit.check.findings import Finding, Report
from modelkit.check.render import fix_command, where

VERSION = "2.1.0"
SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
          "sarif-schema-2.1.0.json")
SRCROOT = "%SRCROOT%"
FINGERPRINT = "modelkitFinding/v1"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def render_sarif(reports: Sequence[Report], targets: Iterable[str] | None = None,
                 failures: Sequence[tuple[str, str]] = (),
                 root: str | os.PathLike | None = None) -> dict:
    """The SARIF log of one check call.

    Args:
        reports: one report per model and target, `path` set to the model's path.
        targets: the targets checked, one run each, in this order (default: those of
            the reports).
        failures: (model path, error line) for each model that could not be read; a
            tool execution notification in every run.
        root: the folder artifact URIs are relative to (`%SRCROOT%`); default the
            current folder. A model outside it gets an absolute `file:` URI.

    Returns:
        The SARIF document as plain JSON-ready data.
    """
    base = Path(os.path.abspath(root if root is not None else os.getcwd()))
    order = list(targets) if targets is not None else list(dict.fromkeys(
        r.target for r in reports))
    runs = [_run(t, [r for r in reports if r.target == t], failures, base) for t in order]
    return {"$schema": SCHEMA, "version": VERSION, "runs": runs}


def _run(target: str, reports: Sequence[Report], failures: Sequence[tuple[str, str]],
         base: Path) -> dict:
    from modelkit import __version__
    from modelkit.check.rules import RULES, _load_rule_modules

    _load_rule_modules()
    rules = [r for r in RULES.values() if target in r.targets]
    index = {r.id: i for i, r in enumerate(rules)}
    results = []
    for report in reports:
        artifact = _artifact(report.path or "", base)
        seen: dict[str, int] = {}
        for f in report.findings:
            results.append(_result(f, report, index.get(f.rule), artifact, seen))
    invocation: dict = {"executionSuccessful": not failures}
    if failures:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": text},
             "locations": [{"physicalLocation": {"artifactLocation": _artifact(path, base)}}]}
            for path, text in failures]
    return {
        "tool": {"driver": {"name": "modelkit", "version": __version__,
                            "semanticVersion": __version__,
                            "fullName": f"modelkit check --target {target}",
                            "rules": [_descriptor(r) for r in rules]}},
        # NOTE: GitHub keeps one analysis per tool and category and refuses a file with
        # two runs of one; a category per target lets one file carry every target.
        "automationDetails": {"id": f"modelkit-check/{target}/"},
        "originalUriBaseIds": {SRCROOT: {"uri": base.as_uri().rstrip("/") + "/"}},
        "invocations": [invocation],
        "results": results,
    }


def _descriptor(rule) -> dict:
    if rule.fix:
        fix = fix_command(rule.fix)
        help_text, help_md = f"Fix: {fix}", f"Fix: `{fix}`"
    else:
        help_text = help_md = ("modelkit has no automatic fix for this rule; the message "
                               "names what the runtime expects.")
    source = f"Enforced by {rule.source}."
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.summary} {source}"},
        "help": {"text": f"{help_text}\n{source}", "markdown": f"{help_md}\n\n{source}"},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": list(rule.targets)},
    }


def graph_label(report: Report, gi: int) -> str:
    """A graph's name, or `graph<i>` when it has none."""
    names = report.graph_names
    return (names[gi] if gi < len(names) else "") or f"graph{gi}"


def fingerprint(f: Finding, graph: str) -> str:
    """A hash of the rule, the graph and the node's name (a graph finding: its tensors)."""
    what = f.node_name if f.node is not None else ",".join(f.tensors)
    return hashlib.sha256("\0".join((f.rule, graph, what)).encode()).hexdigest()[:32]


def _result(f: Finding, report: Report, rule_index: int | None, artifact: dict,
            seen: dict[str, int]) -> dict:
    graph = graph_label(report, f.graph)
    if f.node is not None:
        name = f.node_name or f.op
        logical = {"name": name, "fullyQualifiedName": f"{graph}/{f.node}/{name}",
                   "kind": "member"}
    else:
        logical = {"name": graph, "fullyQualifiedName": graph, "kind": "function"}
    key = fingerprint(f, graph)
    # NOTE: the same rule twice at one node (two tensors) gets `:1`, `:2`, as GitHub
    # numbers equal line hashes.
    seen[key] = seen.get(key, 0) + 1
    result: dict = {"ruleId": f.rule}
    if rule_index is not None:
        result["ruleIndex"] = rule_index
    result.update({
        "level": LEVELS[f.severity],
        "message": {"text": f"{f.message or f.explanation or f.rule}\nat {where(f)}"},
        "locations": [{"physicalLocation": {"artifactLocation": artifact},
                       "logicalLocations": [logical]}],
        "partialFingerprints": {FINGERPRINT: f"{key}:{seen[key]}"},
        "properties": {"target": f.target, "graph": f.graph, "node": f.node, "op": f.op,
                       "tensors": list(f.tensors), "numbers": dict(f.numbers),
                       "fix": fix_command(f.fix) if f.fix else None},
    })
    return result


def _model_file(path: Path) -> Path:
    """The file that holds a model's graph: a SavedModel's saved_model.pb, a checkpoint's
    .meta (else .index); any other model is its own file."""
    if path.is_dir():
        for name in ("saved_model.pb", "saved_model.pbtxt"):
            if (path / name).is_file():
                return path / name
        from modelkit.formats.checkpoint import resolve_prefix

        path = resolve_prefix(path) or path
    if not path.exists():
        for suffix in (".meta", ".index"):
            if Path(f"{path}{suffix}").is_file():
                return Path(f"{path}{suffix}")
    return path


def _artifact(path: str, base: Path) -> dict:
    """artifactLocation: relative to `base` with uriBaseId %SRCROOT% when inside it, else
    an absolute file URI."""
    absolute = Path(os.path.abspath(_model_file(Path(path))))
    try:
        relative = absolute.relative_to(base)
    except ValueError:
        return {"uri": absolute.as_uri()}
    return {"uri": quote(relative.as_posix()), "uriBaseId": SRCROOT}
