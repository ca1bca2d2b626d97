"""What the API functions return: dataclasses whose `to_dict()` is the command's
`--json` document, with `_repr_html_` for Jupyter and `to_pandas()` where pandas is
installed. This module holds the results of the commands that run nothing; the
others are beside the library reports they extend (`_check`, `_reports`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelkit.api import _html as h
from modelkit.errors import MissingDependencyError

if TYPE_CHECKING:
    import numpy as np
    import pandas

    from modelkit.diff.changes import ModelDiff
    from modelkit.ir import Model, Node
    from modelkit.runtime.compare import OutputComparison
    from modelkit.transform.base import PassReport

TRANSFORM_SCHEMA_VERSION = 1
COMPARE_SCHEMA_VERSION = 1
EXTRACT_SCHEMA_VERSION = 1
EXPORT_SCHEMA_VERSION = 1


def _frame(rows: list[dict], columns: list[str] | None = None) -> pandas.DataFrame:
    """A pandas DataFrame of `rows`.

    Raises:
        MissingDependencyError: pandas is not installed.
    """
    try:
        import pandas as pd
    except ImportError:
        raise MissingDependencyError("to_pandas() needs pandas: pip install pandas") from None
    return pd.DataFrame(rows, columns=columns)


def _fields(obj: Any) -> dict:
    """The dataclass fields of `obj` by name (shallow), to build a subclass from it."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _quant_text(q: dict | None) -> str:
    if not q:
        return ""
    return "; ".join(q.get("describe") or [])


# ----------------------------------------------------------------------------- summarize


@dataclass
class Summary:
    """The facts of one model (`modelkit summarize`).

    Attributes:
        facts: the `summarize --json` document.
        warnings: what loading the model warned about (opaque Keras layers...).
    """

    facts: dict
    warnings: list[str] = field(default_factory=list)

    @property
    def format(self) -> str:
        """The model's format name (`tflite`, `graphdef`, ...)."""
        return self.facts["format"]

    @property
    def inputs(self) -> list[dict]:
        """Inputs of the first listed graph: name, dtype, shape, quantization."""
        return self.facts.get("inputs", [])

    @property
    def outputs(self) -> list[dict]:
        """Outputs of the first listed graph."""
        return self.facts.get("outputs", [])

    def to_dict(self) -> dict:
        """The `summarize --json` document."""
        return self.facts

    def text(self) -> str:
        """The text `modelkit summarize` prints."""
        from modelkit.analysis.render import render_summary

        return render_summary(self.facts)

    def to_pandas(self) -> pandas.DataFrame:
        """One row per tensor when summarized with `tensors=True`, else one row per
        input and output."""
        if self.facts.get("tensors") is not None:
            return _frame([{**{k: v for k, v in t.items() if k != "quantization"}}
                           for t in self.facts["tensors"]])
        return _frame([{"role": role, "name": io["name"], "dtype": io["dtype"],
                        "shape": io["shape"],
                        "scale": (io["quantization"] or {}).get("scale"),
                        "zero_point": (io["quantization"] or {}).get("zero_point")}
                       for role in ("input", "output") for io in self.facts[role + "s"]])

    def _repr_html_(self) -> str:
        f = self.facts
        q = f.get("quantization") or {}
        params = f.get("parameters") or {}
        head = h.pairs([("model", f.get("path")), ("format", f.get("format_name")),
                        ("file size", f.get("file_size")), ("graphs", f.get("graph_count")),
                        ("ops", f.get("op_count")), ("parameters", params.get("human")),
                        ("quantization", q.get("kind"))])
        io_rows = [[role, io["name"], io.get("type") or io["dtype"],
                    _quant_text(io.get("quantization"))]
                   for role in ("input", "output") for io in f.get(role + "s", [])]
        ops = list((f.get("ops") or {}).items())
        return h.block(head, h.heading("inputs and outputs"),
                       h.table(["", "name", "type", "quantization"], io_rows),
                       h.heading("ops"), h.table(["op", "count"], ops, numeric=[1]),
                       h.lines(self.warnings, "warning"))


# ----------------------------------------------------------------------------- transform


@dataclass
class TransformResult:
    """What `transform` did (`modelkit transform`).

    Attributes:
        model: the transformed model.
        source: the input, as given.
        output: the file written (None: kept in memory only).
        inputs/outputs: the graph's input and output node names the passes used
            (TF graphs; what was given for TFLite models).
        nodes_before/nodes_after: node counts over every graph.
        passes: per pass, what it changed.
    """

    model: Model
    source: str
    output: str | None
    inputs: list[str]
    outputs: list[str]
    nodes_before: int
    nodes_after: int
    passes: list[PassReport] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The `transform --json` document."""
        return {"schema_version": TRANSFORM_SCHEMA_VERSION, "source": self.source,
                "output": self.output, "inputs": self.inputs, "outputs": self.outputs,
                "nodes_before": self.nodes_before, "nodes_after": self.nodes_after,
                "passes": [p.to_dict() for p in self.passes]}

    def lines(self) -> list[str]:
        """One line per pass, as `modelkit transform` says them on stderr."""
        return [p.line() for p in self.passes]

    def to_pandas(self) -> pandas.DataFrame:
        """One row per pass."""
        return _frame([p.to_dict() for p in self.passes])

    def _repr_html_(self) -> str:
        rows = [[p.name, p.graph_nodes_before, p.graph_nodes_after,
                 ", ".join(f"{op} {d:+d}" for op, d in sorted(p.op_delta.items())),
                 "; ".join(p.notes)] for p in self.passes]
        return h.block(f"<p>{h.text(self.source)}: {self.nodes_before} -> {self.nodes_after}"
                       f" nodes{'; wrote ' + h.text(self.output) if self.output else ''}</p>",
                       h.table(["pass", "nodes before", "nodes after", "ops", "notes"], rows,
                               numeric=[1, 2]))


# ----------------------------------------------------------------------------- compare


@dataclass
class CompareResult:
    """Two models run on the same inputs (`modelkit compare`).

    Attributes:
        a/b: `{"path", "format"}` of the model under test and of the reference.
        data: where the inputs came from.
        samples: samples compared.
        atol/rtol: the tolerances (Polygraphy's semantics).
        inputs: per input of A, how it was fed.
        outputs: per output pair, the error statistics.
        values_a/values_b: each model's outputs, samples first, by output name.
    """

    a: dict
    b: dict
    data: str
    samples: int
    atol: float
    rtol: float
    inputs: list[dict] = field(default_factory=list)
    outputs: list[OutputComparison] = field(default_factory=list)
    values_a: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    values_b: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def passed(self) -> bool:
        """Every output within the tolerances."""
        return all(r.passed for r in self.outputs)

    def to_dict(self) -> dict:
        """The `compare --json` document."""
        return {"schema_version": COMPARE_SCHEMA_VERSION, "a": self.a, "b": self.b,
                "data": self.data, "samples": self.samples, "atol": self.atol,
                "rtol": self.rtol, "passed": self.passed, "inputs": self.inputs,
                "outputs": [r.to_dict() for r in self.outputs]}

    def lines(self) -> list[str]:
        """The text `modelkit compare` prints."""
        from modelkit.runtime.compare import REL_EPS

        out = [f"A: {self.a['path']} ({self.a['format']})",
               f"B: {self.b['path']} ({self.b['format']}, reference)",
               f"compared on {self.samples} samples from {self.data}; tolerance "
               f"atol={self.atol:g}, rtol={self.rtol:g}"]
        for r in self.outputs:
            name = r.name if r.name == r.other_name else f"{r.name} <-> {r.other_name}"
            verdict = "PASSED" if r.passed else (f"FAILED: {r.mismatches} of {r.elements} "
                                                "elements exceed both tolerances")
            out.append(f"output {name}: {verdict}")
            out.append(f"  max abs error {r.max_abs_error:.6g}, mean abs error "
                       f"{r.mean_abs_error:.6g}, rmse {r.rmse:.6g}")
            zero = f" (B is 0 there: |A - B| / {REL_EPS:.3g})" if r.max_rel_error_at_zero else ""
            line = (f"  max rel error {r.max_rel_error:.6g}{zero}, cosine similarity "
                    f"{r.cosine_similarity:.6f}")
            if r.top1_agreement is not None:
                line += f", top-1 agreement {100 * r.top1_agreement:.2f}%"
            out.append(line)
            if math.isinf(r.required_atol) and math.isinf(r.required_rtol):
                out.append("  no tolerance passes: NaN in the differences")
            else:
                out.append(f"  passes with --atol {r.required_atol:.6g} (at rtol {self.rtol:g}) "
                           f"or --rtol {r.required_rtol:.6g} (at atol {self.atol:g})")
            if r.nan_or_inf:
                out.append(f"  NaN or Inf in the outputs: {r.nonfinite_a} values of A, "
                           f"{r.nonfinite_b} of B")
        return out

    def to_pandas(self) -> pandas.DataFrame:
        """One row per output pair."""
        return _frame([r.to_dict() for r in self.outputs])

    def _repr_html_(self) -> str:
        rows = [[r.name, "PASSED" if r.passed else "FAILED", r.max_abs_error,
                 r.mean_abs_error, r.max_rel_error, r.cosine_similarity,
                 None if r.top1_agreement is None else f"{100 * r.top1_agreement:.2f}%",
                 r.required_atol, r.required_rtol] for r in self.outputs]
        return h.block(f"<p>A {h.text(self.a['path'])} vs B {h.text(self.b['path'])} "
                       f"(reference) on {self.samples} samples; atol={self.atol:g}, "
                       f"rtol={self.rtol:g}</p>",
                       h.table(["output", "verdict", "max abs", "mean abs", "max rel",
                                "cosine", "top-1", "atol needed", "rtol needed"], rows,
                               numeric=[2, 3, 4, 5, 7, 8],
                               row_classes=["ok" if r.passed else "error"
                                            for r in self.outputs]))


# ----------------------------------------------------------------------------- diff


@dataclass
class DiffResult:
    """The differences of two or more models, step by step (`modelkit diff`).

    Attributes:
        diffs: one ModelDiff per step (A -> B, B -> C, ...).
    """

    diffs: list[ModelDiff]

    @property
    def same(self) -> bool:
        """No step found a difference."""
        return all(d.same for d in self.diffs)

    def to_dict(self) -> dict:
        """The `diff --json` document."""
        from modelkit.diff.render import render_json

        return render_json(self.diffs)

    def text(self) -> str:
        """The text `modelkit diff` prints."""
        from modelkit.diff.render import render_text

        return render_text(self.diffs)

    def to_pandas(self) -> pandas.DataFrame:
        """One row per change (with its step when more than two models)."""
        from modelkit.diff.render import change_line

        rows = [{"step": i, "kind": c.kind, "what": c.what, "graph": c.graph,
                 "fields": list(c.fields), "line": change_line(c)}
                for i, d in enumerate(self.diffs) for c in d.changes]
        return _frame(rows, ["step", "kind", "what", "graph", "fields", "line"])

    def _repr_html_(self) -> str:
        from modelkit.diff.render import change_line, summary_line

        parts = []
        for d in self.diffs:
            parts.append(f"<p><b>{h.text(d.model_a.path)} -> {h.text(d.model_b.path)}</b>: "
                         f"{h.text(summary_line(d))}</p>")
            rows = [[c.kind, c.what, change_line(c)] for c in d.changes]
            if rows:
                parts.append(h.table(["kind", "what", "change"], rows,
                                     row_classes=["ok" if c.kind == "added" else
                                                  "error" if c.kind == "removed" else ""
                                                  for c in d.changes]))
            parts.append(h.lines(d.notes))
        return h.block(*parts)


# ----------------------------------------------------------------------------- extract


@dataclass
class ExtractResult:
    """A subgraph cut out of a model (`modelkit extract`).

    Attributes:
        model: the cut model.
        source: the input, as given.
        output: the file written (None: kept in memory only).
        format: `tflite` or `graphdef`.
        original_op_count: ops in the source's main graph.
        nodes: the source's nodes kept, in order.
        notes: what the caller should know (inputs the outputs do not use).
    """

    model: Model
    source: str
    output: str | None
    format: str
    original_op_count: int
    nodes: list[Node] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The `extract --json` document."""
        main = self.model.graphs[0]
        return {"schema_version": EXTRACT_SCHEMA_VERSION, "model": self.source,
                "output": self.output, "format": self.format,
                "original_op_count": self.original_op_count, "op_count": len(main.nodes),
                "ops": [{"index": n.index, "op": n.op, "name": n.name} for n in self.nodes],
                "inputs": [{"name": v.name, "type": v.type_str()} for v in main.inputs],
                "outputs": [{"name": v.name, "type": v.type_str()} for v in main.outputs],
                "notes": self.notes}

    def lines(self) -> list[str]:
        """The text `modelkit extract` prints."""
        main = self.model.graphs[0]
        kept = f"{len(main.nodes)} of {self.original_op_count} nodes of {self.source}"
        return ([f"wrote {self.output}: {kept}" if self.output is not None else f"cut {kept}"]
                + [f"input  {v.name}  {v.type_str()}" for v in main.inputs]
                + [f"output {v.name}  {v.type_str()}" for v in main.outputs])

    def to_pandas(self) -> pandas.DataFrame:
        """One row per op kept."""
        return _frame(self.to_dict()["ops"], ["index", "op", "name"])

    def _repr_html_(self) -> str:
        d = self.to_dict()
        io = [["input", x["name"], x["type"]] for x in d["inputs"]] + \
            [["output", x["name"], x["type"]] for x in d["outputs"]]
        return h.block(f"<p>{d['op_count']} of {d['original_op_count']} ops of "
                       f"{h.text(self.source)}</p>", h.table(["", "name", "type"], io),
                       h.table(["index", "op", "name"],
                               [[o["index"], o["op"], o["name"]] for o in d["ops"]]),
                       h.lines(self.notes, "warning"))


# ----------------------------------------------------------------------------- export


@dataclass
class ExportResult:
    """A model's graph rendered (`modelkit export`).

    Attributes:
        model: the model, as given.
        format: `html`, `svg`, `dot`, `mermaid`, `model-explorer` or `json`.
        files: (path, text) of everything rendered: the output first, then Model
            Explorer node data files.
        nodes: nodes drawn.
        output: the file written (None: rendered in memory only).
        notes: how much of an overlay matched, which graph was drawn.
        graph: the graph drawn (None: every graph).
        marks: per kind of mark asked for (`check`, `debug`, `diff`), how many of the
            nodes drawn it marks.
    """

    model: str
    format: str
    files: list[tuple[Path, str]]
    nodes: int
    output: str | None = None
    notes: list[str] = field(default_factory=list)
    graph: int | None = None
    marks: dict[str, int] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The rendered output (HTML, SVG, DOT, Mermaid or JSON text)."""
        return self.files[0][1]

    def to_dict(self) -> dict:
        """The `export --json` document."""
        return {"schema_version": EXPORT_SCHEMA_VERSION, "model": self.model,
                "format": self.format, "output": self.output, "graph": self.graph,
                "nodes": self.nodes, "marks": self.marks,
                "files": [{"path": str(p) if self.output else None,
                           "bytes": len(t.encode("utf-8"))} for p, t in self.files],
                "notes": self.notes}

    def _repr_html_(self) -> str:
        from html import escape

        if self.format == "svg":
            return h.block(self.text)
        if self.format == "html":
            return (f"<iframe srcdoc=\"{escape(self.text, quote=True)}\" "
                    "style=\"width:100%;height:600px;border:1px solid #ddd\"></iframe>")
        shown = self.text if len(self.text) <= 20000 else self.text[:20000] + "\n..."
        return h.block(f"<pre>{escape(shown)}</pre>")
