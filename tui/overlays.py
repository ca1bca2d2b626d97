"""What the browser lays over the graph: `check` findings, `modelkit debug` per-layer
error and the changes against another model (`browse --diff`).

Nothing here imports Textual. Findings come from `modelkit.check.check_model` (any
object with the Finding attributes will do); per-layer error comes from the JSON
that `modelkit debug --json` writes (`{"schema_version": 1, "layers": [...]}`), read and
matched to the model by `modelkit.debug.overlay`; changes come from `modelkit.diff`
(`diff_models`, laid on the nodes by `modelkit.diff.nodes`, as `export --diff` does).
Every mark has a symbol or a word beside its colour, so it reads without colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelkit.debug.overlay import (ERROR_LEVELS, error_level, match_layers, read_report,
                                    rmse_scale)
from modelkit.diff.nodes import DIFF_SYMBOL
from modelkit.errors import UsageError
from modelkit.ir import Model, Value

SEVERITY_MARK = {"error": "✖", "warning": "▲", "info": "ℹ"}


def fmt(x: Any) -> str:
    """A figure in at most 4 significant digits; `?` when missing."""
    if x is None:
        return "?"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        return f"{x:.4g}"
    return str(x)


@dataclass
class DebugOverlay:
    """Per-layer error statistics of one `modelkit debug --json` file.

    Attributes:
        path: the file read.
        layers: the layer records as written.
        model: the model the file says it measured (the quantized one), when it says.
        bound: `bind` has matched the layers to a model.
    """

    path: str
    layers: list[dict]
    model: str | None = None
    bound: bool = False
    _model_path: str | None = None
    _by_node: dict[tuple[int, int], dict] = field(default_factory=dict)
    _by_tensor: dict[tuple[int, str], dict] = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | Path) -> DebugOverlay:
        """Read and check a `modelkit debug --json` file.

        Raises:
            UsageError: missing, not readable, not JSON, or not the debug schema.
        """
        doc = read_report(path)
        return cls(str(path), doc["layers"], doc.get("quantized_model") or doc.get("model"))

    @property
    def unmatched(self) -> int:
        """Layers that `bind` matched to no node of the model (0 before `bind`)."""
        return len(self.layers) - len(self._by_node) if self.bound else 0

    @property
    def warning(self) -> bool:
        """After `bind`: some layers match no node, or there are none to show."""
        return self.bound and (self.unmatched > 0 or not self.layers)

    def bind(self, model: Model) -> int:
        """Match the layers to the model's nodes (by operator index, name and op) and to
        the tensors those nodes write (by name).

        Returns:
            How many layers matched a node.

        Raises:
            UsageError: layers were given and none matches the model (the file is about
                another model).
        """
        self._by_node = match_layers(self.layers, model)
        self._by_tensor = {}
        self.bound = True
        for (gi, ni), layer in self._by_node.items():
            tname = layer.get("tensor_name")
            if tname and any(v.name == tname for v in model.graphs[gi].nodes[ni].outputs):
                self._by_tensor[(gi, tname)] = layer
        self._model_path = model.path
        if self.layers and not self._by_node:
            other = f" ({self.model})" if self.model else ""
            raise UsageError(f"{self.path}: none of the overlay's {len(self.layers)} layers "
                             "matches a node of the model (operator index, name and op): "
                             f"it was written for another model{other}; give the "
                             "`modelkit debug --json` report of this model")
        return len(self._by_node)

    def _written_for(self) -> str:
        """`; it was written for x.tflite` when the file names another model file."""
        mine = Path(self._model_path).name if self._model_path else None
        if self.model and Path(self.model).name != mine:
            return f"; it was written for {self.model}"
        return ""

    def match_text(self) -> str:
        """What `bind` found, in one line: `7 of 7 layers of the overlay match a node of
        the model`, with the model the file names when that is another file."""
        n, total = len(self._by_node), len(self.layers)
        if not total:
            return "the overlay holds no layers: nothing to show" + self._written_for()
        text = f"{n} of {total} layer{'s' if total != 1 else ''} of the overlay " \
               f"match{'es' if total == 1 else ''} a node of the model"
        if n < total:
            text += f"; the other {total - n} (another model's?) are not shown"
        return text + self._written_for()

    def of_node(self, graph: int, node: int) -> dict | None:
        """The layer record of node `node` of graph `graph`."""
        return self._by_node.get((graph, node))

    def of_tensor(self, graph: int, value: Value) -> dict | None:
        """The layer record whose output tensor is `value`."""
        found = self._by_tensor.get((graph, value.name))
        if found is None and value.producer is not None:
            for (gi, _), layer in self._by_node.items():
                if gi == graph and layer.get("tensor_idx") == value.index \
                        and value.index is not None:
                    return layer
        return found

    @staticmethod
    def lines(layer: dict) -> list[tuple[str, str]]:
        """(label, text) lines of a layer's error statistics for the details pane."""
        rs = rmse_scale(layer)
        lvl = error_level(rs)
        mark = f"{ERROR_LEVELS[lvl][1]} " if lvl is not None else ""
        out = [("quant error", f"{mark}rmse/scale {fmt(rs)}"
                + (f"  ({ERROR_LEVELS[lvl][2]})" if lvl is not None else ""))]
        for label, key in (("  sqnr", "sqnr_db"), ("  cosine", "cosine"),
                           ("  mean error", "mean_error"), ("  max |error|", "max_abs_error"),
                           ("  mse", "mean_squared_error"), ("  stddev", "stddev"),
                           ("  accumulated rmse", "accumulated_rmse"),
                           ("  local rmse", "local_rmse"), ("  elements", "num_elements"),
                           ("  rank", "rank")):
            if key in layer and layer[key] is not None:
                text = fmt(layer[key]) + (" dB" if key == "sqnr_db" else "")
                out.append((label, text))
        if "scale" in layer:
            out.append(("  output q", f"scale {fmt(layer.get('scale'))}, "
                                      f"zero point {fmt(layer.get('zero_point'))}"))
        return out


@dataclass
class Overlays:
    """Findings and per-layer error, by node, as the views ask for them.

    Attributes:
        target: the check target asked for on the command line (None: the default).
        state: "" (nothing yet), "running", "done", "unavailable" or a failure message.
        findings: every finding of the check run.
        debug: the per-layer error overlay, when one was given.
        diff: the changes against another model, when one was given.
    """

    target: str | None = None
    state: str = ""
    findings: list = field(default_factory=list)
    debug: DebugOverlay | None = None
    diff: DiffOverlay | None = None
    checked_target: str = ""
    _by_node: dict[tuple[int, int], list] = field(default_factory=dict)

    def set_findings(self, target: str, findings: list) -> None:
        """Keep a check run's findings, indexed by (graph, node)."""
        self.checked_target = target
        self.findings = list(findings)
        self._by_node = {}
        for f in self.findings:
            if f.node is not None:
                self._by_node.setdefault((f.graph, f.node), []).append(f)
        self.state = "done"

    def counts(self) -> dict[str, int]:
        """Findings per severity."""
        out = {"error": 0, "warning": 0, "info": 0}
        for f in self.findings:
            out[f.severity] = out.get(f.severity, 0) + 1
        return out

    def header_text(self) -> str:
        """What the header says about the check: `check tflite: ✖ 2 errors ▲ 1 warning`."""
        if self.state == "running":
            return f"checking for {self.target or 'tflite'}..."
        if self.state == "unavailable":
            return "check not available in this installation" if self.target else ""
        if self.state and self.state != "done":
            return f"check failed: {self.state}"
        if self.state != "done":
            return ""
        c = self.counts()
        parts = []
        for sev, word in (("error", "error"), ("warning", "warning")):
            n = c[sev]
            parts.append(f"{SEVERITY_MARK[sev]} {n} {word}{'s' if n != 1 else ''}")
        return f"check {self.checked_target}: " + " ".join(parts)

    def node_findings(self, graph: int, node: int) -> list:
        """The findings at node `node` of graph `graph`."""
        return self._by_node.get((graph, node), [])

    def node_mark(self, graph: int, node: int) -> tuple[str, str]:
        """(text, severity) of the mark a node's box carries: `✖ 2 errors`, `▲ warning`."""
        found = self.node_findings(graph, node)
        if not found:
            return "", ""
        for sev in ("error", "warning", "info"):
            n = sum(1 for f in found if f.severity == sev)
            if n:
                word = sev if n == 1 else f"{n} {sev}s"
                return f"{SEVERITY_MARK[sev]} {word}", sev
        return "", ""

    def error_mark(self, graph: int, node: int) -> tuple[str, int | None]:
        """(text, level) of a node's per-layer error: `◑ 0.84`."""
        if self.debug is None:
            return "", None
        layer = self.debug.of_node(graph, node)
        if layer is None:
            return "", None
        rs = rmse_scale(layer)
        lvl = error_level(rs)
        if lvl is None:
            return "", None
        return f"{ERROR_LEVELS[lvl][1]} {fmt(rs)}", lvl

    def finding_lines(self, graph: int, node: int) -> list[tuple[str, str]]:
        """(label, text) lines of a node's findings for the details pane."""
        out = []
        for f in self.node_findings(graph, node):
            out.append((f"{SEVERITY_MARK.get(f.severity, '?')} {f.severity}",
                        f"[{f.rule}] {f.message}"))
            if f.explanation:
                out.append(("  why", f.explanation))
            if f.fix:
                out.append(("  fix", f.fix))
        return out


@dataclass
class DiffOverlay:
    """The change list of `modelkit diff B A` laid on the browsed model A.

    `other` (B) is the old side of every change and A the new one, as `export --diff`
    has it: added nodes are only in A, removed ones only in B.

    Attributes:
        diff: the `ModelDiff` of B -> A.
        on_nodes: its changes by node of A (`modelkit.diff.nodes.changes_on_nodes`).
        other_name: B's file name.
    """

    diff: Any
    on_nodes: Any
    other_name: str

    @classmethod
    def compute(cls, model: Model, other: Model) -> DiffOverlay:
        """Diff `other` -> `model` and lay the changes on `model`'s nodes."""
        from modelkit.diff import diff_models
        from modelkit.diff.nodes import changes_on_nodes

        d = diff_models(other, model)
        name = Path(other.path).name if other.path else "the other model"
        return cls(d, changes_on_nodes(d), name)

    @property
    def notes(self) -> list[str]:
        """The diff's own remarks (nothing matched, formats compared across domains)."""
        return list(self.diff.notes)

    def targets(self) -> list[tuple[int, int]]:
        """(graph, node) of every marked node, in graph and node order."""
        return sorted(self.on_nodes.by_node)

    def node_mark(self, graph: int, node: int) -> tuple[str, str]:
        """(text, kind) of a node's mark: `✚ added`, `✎ changed`; ("", "") when none."""
        entry = self.on_nodes.by_node.get((graph, node))
        if entry is None:
            return "", ""
        return f"{DIFF_SYMBOL[entry.kind]} {entry.kind}", entry.kind

    def counts_text(self) -> str:
        """`diff vs b.tflite: ✚ 1 added  ✎ 7 changed  ⊖ 0 removed`."""
        on = self.on_nodes
        parts = [f"{DIFF_SYMBOL[k]} {on.count(k)} {k}" for k in ("added", "changed", "removed")]
        return f"diff vs {self.other_name}: " + "  ".join(parts)

    def lines(self, graph: int, node: int) -> list[tuple[str, str]]:
        """(label, text) lines of a node's changes for the details pane: per change, B's
        side where it is, then each field as the change list gives it (B -> A)."""
        from modelkit.diff.render import field_text

        entry = self.on_nodes.by_node.get((graph, node))
        if entry is None:
            return []
        sym = DIFF_SYMBOL[entry.kind]
        out = [(f"{sym} diff", f"{entry.kind} against {self.other_name} "
                               f"(old -> new: {self.other_name} -> this model)")]
        for c in entry.changes:
            if c.what == "node" and c.kind == "added":
                out.append(("  in B", f"no such node in {self.other_name}"))
                continue
            if c.what == "node":
                a = c.a
                out.append(("  in B", f"node {a.graph}:{a.index} {a.op} {a.name}"))
            else:
                label = "added tensor" if c.kind == "added" else "tensor"
                out.append((f"  {label}", (c.b or c.a).name))
            for f in c.fields:
                name, _, rest = field_text(f, c.details.get(f)).partition(" ")
                out.append((f"    {name}", rest))
        return out

    def removed_text(self, c) -> str:
        """`#9 SOFTMAX name` of a node only B has (`g1 #9 ...` when B has more graphs)."""
        a = c.a
        where = f"g{a.graph} " if len(self.diff.model_a.graphs) > 1 else ""
        return f"{where}#{a.index} {a.op}  {a.name}"
