"""`check` and `fix` results, and `fix`: the repair passes that the check findings
of a TFLite model name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from modelkit.api import _html as h
from modelkit.api._results import _fields, _frame
from modelkit.check.findings import Finding, Report
from modelkit.errors import UsageError

if TYPE_CHECKING:
    import pandas

    from modelkit.ir import Model

FIX_SCHEMA_VERSION = 1

# Why a rule has no lossless repair (the fallback says so generally).
UNFIXABLE = {
    "filter-zero-point": "moving the filter to zero point 0 re-quantizes every weight "
                         "(lossy); re-quantize the model from float",
    "quant-param-count": "the file does not say which scale belongs to which channel",
    "conv-scale-count": "the scales are along another axis than the output channels; "
                        "per-output-channel scales must be recomputed from float weights",
    "fc-per-channel-axis": "per-column weight scales cannot be expressed per output unit "
                           "without re-quantizing the weights",
    "int16-zero-point": "int16x8 kernels are symmetric; shifting the zero point to 0 loses "
                        "range (re-quantize the model)",
    "bias-dtype": "narrowing an int64 bias to int32 may overflow; re-quantize the bias",
    "unresolved-custom-op": "the op needs a kernel in the app (or the Flex delegate)",
    "micro-hybrid": "Micro has no hybrid kernels: convert to full integer",
    "micro-unsupported-op": "TFLite Micro has no kernel for the op",
    "l2-pool-quantized": "L2_POOL_2D has float kernels only",
    "add-multiplier": "the output scale would have to change, which changes the outputs",
}
DEFAULT_REASON = "no repair keeps what the model computes"


def fix_model(model: Model, *, target: str = "tflite",
              rules: list[str] | None = None) -> FixResult:
    """Run the repair passes the check findings of `model` name.

    Args:
        model: a TFLite model (left untouched; the result holds a repaired copy).
        target: whose rules to check.
        rules: only findings whose rule id or fix pass is in this list.

    Raises:
        UsageError: not a TFLite model, or an unknown rule.
    """
    from modelkit.check import RULES, check_model
    from modelkit.transform.base import PassContext, Params, all_passes

    if model.format != "tflite":
        raise UsageError("fix repairs TFLite models; for TF graphs run the commands "
                         "`modelkit check` names", model.path)
    passes = {n: p for n, p in all_passes().items() if p.domain == "tflite"}
    before = check_model(model, target)
    if rules:
        known = set(RULES) | set(passes)
        bad = [r for r in rules if r not in known]
        if bad:
            raise UsageError(f"unknown rule {bad[0]!r}; rules with a repair: "
                             + ", ".join(sorted({r.fix for r in RULES.values()
                                                 if r.fix in passes})))
    chosen = [f for f in before.findings if f.severity != "info" and
              (not rules or f.rule in rules or f.fix in rules)]
    todo = []
    for f in chosen:
        if f.fix in passes and f.fix not in todo:
            todo.append(f.fix)
    unfixable = [f for f in chosen if f.severity == "error" and f.fix not in passes]
    notes: list[tuple[str, str]] = []
    changed = False
    for name in todo:
        mine = [f for f in chosen if f.fix == name]
        raw: dict[str, list[str]] = {}
        if all(f.graph == 0 and f.node is not None for f in mine):
            # NOTE: repair only the nodes the findings name (the passes take graph-0 node
            # indices); findings in other subgraphs let the pass repair every graph.
            raw["node"] = sorted({str(f.node) for f in mine}, key=int)
        result = passes[name].fn(model, Params(name, raw), PassContext())
        notes += [(name, n) for n in result.notes]
        if result.changed:
            model, changed = result.model, True
    after = check_model(model, target) if changed else None
    return FixResult(model=model, changed=changed, target=target, notes=notes,
                     before=CheckReport.from_report(before),
                     after=CheckReport.from_report(after) if after is not None else None,
                     unfixable=unfixable)


# ----------------------------------------------------------------------------- check


def _finding_rows(findings: list[Finding]) -> tuple[list[list], list[str]]:
    from modelkit.check.render import fix_command, where

    rows = [[f.severity, f.rule, where(f), f.message.splitlines()[0] if f.message else "",
             fix_command(f.fix) if f.fix else ""] for f in findings]
    return rows, [f.severity for f in findings]


@dataclass
class CheckReport(Report):
    """What `check` found for one target (`modelkit check`); a `modelkit.check.Report`.

    `ok` is False when the target refuses the model or computes wrong results.
    """

    @classmethod
    def from_report(cls, report: Report) -> CheckReport:
        """The API's view of a library report."""
        return cls(**_fields(report))

    def text(self) -> str:
        """The text `modelkit check` prints."""
        from modelkit.check.render import render_report

        return render_report(self)

    def to_pandas(self) -> pandas.DataFrame:
        """One row per finding."""
        return _frame([f.to_dict() for f in self.findings],
                      ["severity", "rule", "target", "graph", "node", "node_name", "op",
                       "tensors", "numbers", "message", "explanation", "fix"])

    def _repr_html_(self) -> str:
        t = self.totals()
        verdict = (f"<p class=\"{'ok' if self.ok else 'error'}\">{h.text(self.path)} on "
                   f"{h.text(self.target)}: {t['error']} errors, {t['warning']} warnings, "
                   f"{t['info']} infos</p>")
        rows, classes = _finding_rows(self.findings)
        facts = h.pairs(self.facts.items()) if self.facts else ""
        return h.block(verdict, h.table(["severity", "rule", "where", "message", "fix"], rows,
                                        row_classes=classes) if rows else "", facts)


# ----------------------------------------------------------------------------- fix


@dataclass
class FixResult:
    """What `fix` did (`modelkit fix`).

    Attributes:
        model: the repaired model (a copy; the input is untouched).
        changed: something was rewritten.
        target: whose rules were checked.
        notes: (repair pass, what it changed or why it could not), per node.
        before: the check report of the input.
        after: the check report of the repaired model (None when nothing changed).
        unfixable: error findings no pass repairs.
        source: the input, as given.
        output: where the repaired model was asked to go (None: not written).
        written: the repaired model was written to `output`.
    """

    model: Model
    changed: bool
    target: str = "tflite"
    notes: list[tuple[str, str]] = field(default_factory=list)
    before: CheckReport | None = None
    after: CheckReport | None = None
    unfixable: list[Finding] = field(default_factory=list)
    source: str | None = None
    output: str | None = None
    written: bool = False

    @property
    def errors_before(self) -> int:
        """Errors the input had for the target."""
        return len(self.before.errors) if self.before is not None else 0

    @property
    def ok(self) -> bool:
        """No error is left: the repaired model, or the input when nothing changed."""
        report = self.after if self.after is not None else self.before
        return report is None or report.ok

    @staticmethod
    def reason(finding: Finding) -> str:
        """Why no pass repairs `finding`."""
        return UNFIXABLE.get(finding.rule, DEFAULT_REASON)

    def lines(self) -> list[str]:
        """What changed per node, then what is left and why (what `modelkit fix` prints)."""
        out = [f"{name}: {note}" for name, note in self.notes]
        for f in self.unfixable:
            where = f"graph {f.graph} node {f.node} ({f.op})" if f.node is not None \
                else f"graph {f.graph}"
            how = f"; try: {f.fix}" if f.fix else ""
            out.append(f"cannot fix [{f.rule}] {where}: {self.reason(f)}{how}")
        if self.after is not None:
            t = self.after.totals()
            out.append(f"after fixing: {t['error']} errors, {t['warning']} warnings")
            for f in self.after.errors:
                out.append(f"  still [{f.rule}] graph {f.graph} node {f.node} ({f.op})")
        return out

    def to_dict(self) -> dict:
        """The `fix --json` document."""
        return {"schema_version": FIX_SCHEMA_VERSION, "source": self.source,
                "output": self.output, "written": self.written, "target": self.target,
                "changed": self.changed,
                "repairs": [{"pass": name, "note": note} for name, note in self.notes],
                "unfixable": [{**f.to_dict(), "reason": self.reason(f)}
                              for f in self.unfixable],
                "before": self.before.to_dict() if self.before is not None else None,
                "after": self.after.to_dict() if self.after is not None else None}

    def to_pandas(self) -> pandas.DataFrame:
        """One row per repair note and per finding left unrepaired."""
        rows = [{"status": "repaired", "pass": name, "rule": None, "note": note}
                for name, note in self.notes]
        rows += [{"status": "cannot fix", "pass": None, "rule": f.rule, "note": self.reason(f)}
                 for f in self.unfixable]
        return _frame(rows, ["status", "pass", "rule", "note"])

    def _repr_html_(self) -> str:
        parts = []
        if self.notes:
            parts += [h.heading("repaired"),
                      h.table(["pass", "what changed"], self.notes)]
        if self.unfixable:
            rows, classes = _finding_rows(self.unfixable)
            parts += [h.heading("cannot fix"),
                      h.table(["severity", "rule", "where", "message", "suggested"],
                              [r[:4] + [self.reason(f) + (f"; try: {r[4]}" if r[4] else "")]
                               for r, f in zip(rows, self.unfixable)], row_classes=classes)]
        if self.after is not None:
            t = self.after.totals()
            parts.append(f"<p class=\"{'ok' if self.after.ok else 'error'}\">after fixing: "
                         f"{t['error']} errors, {t['warning']} warnings</p>")
        elif not self.changed:
            parts.append("<p>nothing changed</p>")
        if self.written:
            parts.append(f"<p>wrote {h.text(self.output)}</p>")
        return h.block(*parts)
