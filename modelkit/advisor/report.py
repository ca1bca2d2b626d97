"""What `convert --max-drop` reports: the float model, every candidate tried (layers
kept out of int8, precision, measure, size, latency), the one chosen, the files
written, the command that reproduces it and what the search cost."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from modelkit.advisor.evaluate import Budget, Measurement
from modelkit.advisor.search import Candidate

SCHEMA_VERSION = 1


def short(name: str) -> str:
    """A layer's display name: the first fused name of its first output."""
    return name.split(";")[0]


@dataclass
class AdviceReport:
    """The search, as data; `lines()` is the text report, `to_dict()` the JSON one."""

    model: str
    output: str
    budget: Budget
    samples: int
    eval_data: str
    float_measure: Measurement | None = None
    candidates: list[Candidate] = field(default_factory=list)
    chosen: Candidate | None = None
    written: bool = False
    recipe: str | None = None
    command: str | None = None
    target: str | None = None
    check: dict | None = None
    ranking: list[tuple[str, str, float | None]] = field(default_factory=list)
    runtime: str = ""
    conversions: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    # -- text

    def _measure(self, m: Measurement | None) -> str:
        if m is None:
            return "-"
        parts = []
        if self.budget.labels and m.accuracy is not None:
            parts.append(f"{100 * m.accuracy:.2f}%")
        elif m.agreement is not None:
            parts.append(f"{100 * m.agreement:.2f}% agree")
        if self.budget.min_sqnr is not None and m.sqnr_db is not None:
            parts.append("inf dB" if math.isinf(m.sqnr_db) and m.sqnr_db > 0
                         else f"{m.sqnr_db:.1f} dB")
        return ", ".join(parts) or "-"

    def _layers(self, c: Candidate) -> str:
        if c.origin == "converter":
            return "(TF converter, full int8)"
        if not c.assignment:
            return "(all int8)"
        return ", ".join(f"{self.display(k)}={v}" for k, v in c.assignment.items())

    def display(self, name: str) -> str:
        """A layer's name in the text report: its first fused name, without the scope
        every layer shares (`model_1/dense1_1/MatMul` -> `dense1_1/MatMul`)."""
        names = [short(n) for n, _, _ in self.ranking] + \
            [short(k) for c in self.candidates for k in c.assignment]
        first = short(name)
        scoped = sorted({n for n in names if "/" in n})
        if len(scoped) < 2:
            return first
        prefix = os.path.commonprefix(scoped)
        prefix = prefix[:prefix.rfind("/") + 1]
        return first[len(prefix):] if first.startswith(prefix) and len(first) > len(prefix) \
            else first

    def table(self) -> list[str]:
        """One row per candidate tried."""
        rows = [("#", "layers outside int8", self.budget.metric if self.budget.max_drop
                 is not None else "SQNR", "drop", "bytes", "latency", "ops f/i16", "result")]
        for c in self.candidates:
            m = c.data.get("measure")
            drop = "-" if m is None or m.drop is None or not math.isfinite(m.drop) \
                else f"{m.drop:.2f}"
            size = c.data.get("size")
            lat = c.data.get("latency_us")
            counts = c.data.get("counts") or {}
            result = "REJECTED: " + c.rejected if c.rejected else \
                ("meets" if c.meets else "over budget")
            if self.chosen is not None and c is self.chosen:
                result += " <- chosen"
            rows.append((str(c.index), self._layers(c), self._measure(m), drop,
                         "-" if size is None else f"{size}",
                         "-" if lat is None else f"{lat:.0f} us",
                         f"{counts.get('float', 0)}/{counts.get('int16x8', 0)}", result))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        out = []
        for r in rows:
            cells = [r[i].rjust(widths[i]) if i in (0, 3, 4, 5, 6) else r[i].ljust(widths[i])
                     for i in range(len(r))]
            out.append("  ".join(cells).rstrip())
        return out

    def lines(self) -> list[str]:
        out = [f"{self.model}: budget {self.budget.describe()} on {self.samples} samples "
               f"of {self.eval_data}" + (f", target {self.target}" if self.target else "")
               + (f"; candidates run in {self.runtime}" if self.runtime else "")]
        if self.float_measure is not None and self.float_measure.accuracy is not None:
            out.append("float model (TensorFlow): accuracy "
                       f"{100 * self.float_measure.accuracy:.2f}%")
        if self.ranking:
            out.append("ranking (modelkit debug, own error first): " + ", ".join(
                f"{self.display(n)} ({'-' if db is None else f'{db:.1f} dB'})"
                for n, _, db in self.ranking))
        out.extend(self.table())
        c = self.chosen
        if c is not None:
            m = c.data.get("measure")
            counts = c.data.get("counts") or {}
            out.append(f"chosen: #{c.index} {self._layers(c)}: {self._measure(m)}"
                       + ("" if m is None or m.drop is None else f" (drop {m.drop:.2f} points)")
                       + f", {counts.get('float', 0)} float and {counts.get('int16x8', 0)} "
                       f"int16 op(s), {c.data.get('size')} bytes")
        if self.check is not None:
            out.append(f"check --target {self.target}: {self.check['errors']} errors, "
                       f"{self.check['warnings']} warnings")
        if self.written:
            out.append(f"wrote {self.output} ({c.data.get('size') if c else '?'} bytes)"
                       + (f" and {self.recipe} (ai-edge-quantizer recipe)" if self.recipe
                          else ""))
        else:
            out.append(f"not written: {self.output}")
        if self.command:
            out.append(f"reproduce with: {self.command}")
        out.append(f"search: {len(self.candidates)} candidates, {self.conversions} "
                   f"conversions, {self.seconds:.1f} s")
        out.extend(f"note: {n}" for n in self.notes)
        return out

    def to_dict(self) -> dict:
        def cand(c: Candidate) -> dict:
            m = c.data.get("measure")
            return {"index": c.index, "origin": c.origin, "layers": dict(c.assignment),
                    "meets": c.meets, "rejected": c.rejected or None,
                    "measure": m.to_dict() if m is not None else None,
                    "size_bytes": c.data.get("size"), "latency_us": c.data.get("latency_us"),
                    "ops": c.data.get("counts"), "notes": c.data.get("notes", [])}
        return {"schema_version": SCHEMA_VERSION, "model": self.model, "output": self.output,
                "written": self.written, "recipe": self.recipe, "command": self.command,
                "budget": self.budget.to_dict(), "eval_data": self.eval_data,
                "samples": self.samples, "target": self.target, "runtime": self.runtime,
                "float": self.float_measure.to_dict() if self.float_measure else None,
                "ranking": [{"layer": n, "op": op, "local_sqnr_db": db}
                            for n, op, db in self.ranking],
                "candidates": [cand(c) for c in self.candidates],
                "chosen": self.chosen.index if self.chosen is not None else None,
                "check": self.check, "conversions": self.conversions,
                "seconds": round(self.seconds, 3), "notes": self.notes}
