"""Text rendering of a check report: grouped by severity, one block per finding."""

from __future__ import annotations

from modelkit.check.findings import SEVERITIES, Finding, Report

_TITLES = {"error": "Errors (the target refuses the model or computes wrong results)",
           "warning": "Warnings (runs, but loses accuracy or speed)", "info": "Info"}


def _num(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def fix_command(fix: str) -> str:
    """The command line a finding's `fix` stands for: a `modelkit fix` rule id, or a command."""
    return fix if " " in fix else f"modelkit fix SRC DST --rule {fix}"


def where(f: Finding) -> str:
    """Where a finding is: `graph G`, plus `node N OP 'name'` for a node."""
    return f"graph {f.graph}" + (f" node {f.node} {f.op} {f.node_name!r}"
                                 if f.node is not None else "")


def finding_lines(f: Finding) -> list[str]:
    """One finding as the text report shows it: rule and place, message, numbers,
    why, fix."""
    lines = [f"  [{f.rule}] {where(f)}"]
    for i, part in enumerate(f.message.splitlines() or [""]):
        lines.append(f"    {'message: ' if i == 0 else '         '}{part}")
    if f.numbers:
        lines.append("    numbers: " + ", ".join(f"{k}={_num(v)}" for k, v in f.numbers.items()))
    if f.explanation:
        lines.append(f"    why: {f.explanation}")
    if f.fix:
        lines.append(f"    fix: {fix_command(f.fix)}")
    return lines


def summary_line(report: Report) -> str:
    """One line for a report: model, target, totals, and the rules that found errors."""
    t = report.totals()
    rules = list(dict.fromkeys(f.rule for f in report.errors))
    errors = f"{t['error']} errors" + (f" ({', '.join(rules)})" if rules else "")
    return (f"{report.path or '-'} [{report.target}]: {errors}, {t['warning']} warnings, "
            f"{t['info']} infos")


def render_report(report: Report) -> str:
    """Readable text: a header, then errors, warnings, infos, then totals."""
    lines = [f"check {report.path or ''} --target {report.target}".replace("  ", " ")]
    if "arena_bytes" in report.facts:
        lines.append(f"tensor arena: about {report.facts['arena_bytes']} bytes "
                     f"(activations {report.facts['arena_head_bytes']} bytes, planned as "
                     "TFLite Micro's greedy planner does)")
    for sev in SEVERITIES:
        items = report.of(sev)
        if not items:
            continue
        lines += ["", f"{_TITLES[sev]}: {len(items)}"]
        for f in items:
            lines += finding_lines(f)
    t = report.totals()
    lines += ["", f"{t['error']} errors, {t['warning']} warnings, {t['info']} infos"]
    return "\n".join(lines) + "\n"


def rules_table() -> str:
    """The README's rules table (markdown), one row per registered rule."""
    from modelkit.check.rules import RULES, _load_rule_modules

    _load_rule_modules()
    rows = ["| rule | targets | ops | dtypes | severity | source | fix |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in RULES.values():
        ops = ", ".join(r.ops) if r.ops else "(graph)"
        rows.append(f"| `{r.id}` | {', '.join(r.targets)} | {ops} | "
                    f"{', '.join(r.dtypes) or 'any'} | {r.severity} | "
                    f"{r.source} | {r.fix or ''} |")
    return "\n".join(rows)
