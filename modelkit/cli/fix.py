"""`modelkit fix SRC DST [--rule ID ...] [--dry-run]`: apply the repairs check names."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from modelkit.cli.main import app, reporting_errors

if TYPE_CHECKING:
    from modelkit.check import Finding, Report
    from modelkit.ir import Model


# Why a rule has no lossless repair (the fallback says so generally).
_UNFIXABLE = {
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


@dataclass
class FixResult:
    """What `fix_model` did.

    Attributes:
        model: the repaired model (a copy; the input model is untouched).
        changed: something was rewritten.
        notes: per pass, per node: what changed or why it could not.
        before: the check report of the input.
        after: the check report of the repaired model (None when nothing changed).
        unfixable: error findings no pass repairs.
    """

    model: Model
    changed: bool
    notes: list[tuple[str, str]] = field(default_factory=list)
    before: Report | None = None
    after: Report | None = None
    unfixable: list[Finding] = field(default_factory=list)

    @property
    def errors_before(self) -> int:
        return len(self.before.errors) if self.before is not None else 0

    def lines(self) -> list[str]:
        """What changed per node, then what is left and why."""
        out = [f"{name}: {note}" for name, note in self.notes]
        for f in self.unfixable:
            where = f"graph {f.graph} node {f.node} ({f.op})" if f.node is not None \
                else f"graph {f.graph}"
            why = _UNFIXABLE.get(f.rule, "no repair keeps what the model computes")
            how = f"; try: {f.fix}" if f.fix else ""
            out.append(f"cannot fix [{f.rule}] {where}: {why}{how}")
        if self.after is not None:
            t = self.after.totals()
            out.append(f"after fixing: {t['error']} errors, {t['warning']} warnings")
            for f in self.after.errors:
                out.append(f"  still [{f.rule}] graph {f.graph} node {f.node} ({f.op})")
        return out


def fix_model(model: Model, *, target: str = "tflite",
              rules: list[str] | None = None) -> FixResult:
    """Run the repair passes the check findings of `model` name.

    Args:
        model: a TFLite model.
        target: whose rules to check.
        rules: only findings whose rule id or fix pass is in this list.

    Raises:
        UsageError: not a TFLite model, or an unknown rule.
    """
    from modelkit.check import RULES, check_model
    from modelkit.errors import UsageError
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
    return FixResult(model, changed, notes, before, after, unfixable)


@app.command()
def fix(
    src: Path = typer.Argument(..., help="TFLite model to repair (never modified)."),
    dst: Path = typer.Argument(..., help="Repaired .tflite to write."),
    rule: list[str] = typer.Option(None, "--rule", "-r",
                                   help="Only findings of this check rule or repair pass "
                                        "(repeatable)."),
    target: str = typer.Option("tflite", "--target", "-t", help="Target whose findings to fix."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would change; write nothing."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing output."),
) -> None:
    """Repair what can be repaired without changing what the model computes.

    Prints what changed per node, then what could not be fixed and why. Exit 1 when
    there were errors and nothing could be fixed; 4 when errors remain after fixing.
    """
    with reporting_errors():
        from modelkit.errors import ExitCode
        from modelkit.fileio import check_output
        from modelkit.formats.registry import load, save

        if not dry_run:
            check_output(dst, force=force, sources=(src,))
        result = fix_model(load(src), target=target, rules=rule or None)
        for line in result.lines():
            print(line)
        if result.changed and not dry_run:
            save(result.model, dst, force=force)
            print(f"wrote {dst}")
        elif not result.changed:
            print("nothing changed; no file written", file=sys.stderr)
        else:
            print("dry run: nothing written", file=sys.stderr)
        sys.stdout.flush()
        if result.errors_before and not result.changed:
            raise typer.Exit(int(ExitCode.FAILURE))
        if result.after is not None and not result.after.ok:
            raise typer.Exit(int(ExitCode.UNSUPPORTED))
