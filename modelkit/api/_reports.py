"""Results that extend the library's own reports (convert, run, debug, reduce) with
`_repr_html_` and `to_pandas()`; `to_dict()` stays the library's, the `--json`
document."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelkit.api import _html as h
from modelkit.api._results import _fields, _frame
from modelkit.convert.result import ConvertResult
from modelkit.debug.session import DebugReport
from modelkit.reduce.reducer import ReduceReport
from modelkit.runtime.results import RunReport

if TYPE_CHECKING:
    import numpy as np
    import pandas


# ----------------------------------------------------------------------------- convert


def _io_rows(ios) -> list[list]:
    rows = []
    for io in ios:
        d = io.to_dict()
        rows.append([d.get("role"), d.get("name"), d.get("dtype"), d.get("shape"),
                     "; ".join(io.quant.describe().splitlines()) if io.is_quantized else "",
                     d.get("feed") or ""])
    return rows


@dataclass
class ConvertReport(ConvertResult):
    """What `convert` did (`modelkit convert`); a `modelkit.convert.ConvertResult`."""

    @classmethod
    def from_report(cls, result: ConvertResult) -> ConvertReport:
        """The API's view of a library result."""
        return cls(**_fields(result))

    def to_pandas(self) -> pandas.DataFrame:
        """One row per input and output: type, shape and quantization."""
        return _frame([io.to_dict() for io in self.inputs + self.outputs])

    def _repr_html_(self) -> str:
        status = (f"<p class=\"ok\">wrote {h.text(self.dst)} ({h.text(self.target)}, "
                  f"{self.size_bytes} bytes, quantize={h.text(self.quantize)})</p>"
                  if self.written else
                  f"<p class=\"error\">not written: {h.text(self.dst)}</p>")
        parts = [status, h.table(["", "name", "dtype", "shape", "quantization", "feed"],
                                 _io_rows(self.inputs + self.outputs))]
        if self.verification is not None:
            parts += [h.heading("verification"),
                      h.lines(self.verification.lines())]  # type: ignore[attr-defined]
        parts.append(h.lines(self.notes, "warning"))
        return h.block(*parts)


# ----------------------------------------------------------------------------- run


@dataclass
class RunResult(RunReport):
    """What `run` produced (`modelkit run`); a `modelkit.runtime.results.RunReport`.

    Attributes:
        values: every output's values (dequantized unless `raw`), samples first, by
            output name.
    """

    values: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def accuracy(self) -> float | None:
        """Top-1 accuracy of the first classifier output against the labels, if given."""
        return next((o.accuracy for o in self.outputs if o.accuracy is not None), None)

    def to_pandas(self) -> pandas.DataFrame:
        """One row per output: type, value statistics, accuracy."""
        return _frame([{k: v for k, v in o.to_dict().items() if k not in ("top_k",
                                                                          "predicted")}
                       for o in self.outputs])

    def _repr_html_(self) -> str:
        ins = [[i["name"], f"{i['dtype']}{i['shape']}", i.get("feed"),
                (i.get("normalization") or {}).get("source", "")] for i in self.inputs]
        outs = [[o.name, f"{o.dtype}{o.shape}", o.min, o.max, o.mean, o.std,
                 None if o.accuracy is None else f"{100 * o.accuracy:.2f}%"]
                for o in self.outputs]
        return h.block(f"<p>ran {h.text(self.model)} ({h.text(self.format)}) on {self.samples}"
                       f" samples from {h.text(self.data)}</p>",
                       h.table(["input", "type", "feed", "normalization"], ins),
                       h.table(["output", "type", "min", "max", "mean", "std", "accuracy"],
                               outs, numeric=[2, 3, 4, 5]),
                       h.lines(self.notes))


# ----------------------------------------------------------------------------- debug


@dataclass
class DebugResult(DebugReport):
    """Per-layer quantization error (`modelkit debug`); a
    `modelkit.debug.session.DebugReport`.

    Each layer has TF's QuantizationDebugger statistics and modelkit's (`stats`), and
    the custom per-layer metrics (`metrics`); `model_metrics` holds the custom model
    metrics.
    """

    advice_verified: Any = None
    """The suggested conversion measured (`modelkit.advisor.verify.AdviceCheck`), when
    the advice was verified."""

    @classmethod
    def from_report(cls, report: DebugReport) -> DebugResult:
        """The API's view of a library report."""
        return cls(**_fields(report))

    def to_dict(self) -> dict:
        """The `debug --json` document."""
        check = self.advice_verified
        return {**DebugReport.to_dict(self),
                "advice_verified": check.to_dict() if check is not None else None}

    def to_csv(self, path: str | Path | None = None, *, extra: bool = True,
               force: bool = False) -> str:
        """The per-layer table in the CSV layout of TF's
        `QuantizationDebugger.layer_statistics_dump` (custom per-layer metrics before
        `scale`), followed by modelkit's own columns when `extra`.

        Args:
            path: also write it there (atomically; an existing file only with `force`).

        Returns:
            The CSV text.
        """
        text = DebugReport.to_csv(self, extra=extra)
        if path is not None:
            from modelkit.fileio import atomic_output

            with atomic_output(path, force=force) as tmp:
                tmp.write_text(text, newline="")
        return text

    def model_explorer(self, path: str | Path, *, force: bool = False) -> None:
        """Write rmse/scale per node as Model Explorer node data JSON (atomically)."""
        import json

        from modelkit.debug.overlay import node_data
        from modelkit.fileio import atomic_output

        with atomic_output(path, force=force) as tmp:
            tmp.write_text(json.dumps(node_data(self.layers), indent=2) + "\n")

    def to_pandas(self) -> pandas.DataFrame:
        """One row per quantized layer (node order): the JSON row and the custom metrics."""
        rows = [{**{k: v for k, v in layer.to_dict().items() if k != "metrics"},
                 **layer.metrics} for layer in sorted(self.layers, key=lambda x: x.node)]
        return _frame(rows)

    def bad(self, layer) -> bool:
        """The layer is one to keep in float, or its 8-bit error exceeds 0.7 steps."""
        from modelkit.debug.session import RMSE_SCALE_THRESHOLD

        step = layer.stats.get("rmse_scale")
        return layer.float_tensor in self.suggest_denylist or (
            layer.dtype in ("int8", "uint8") and step is not None
            and step > RMSE_SCALE_THRESHOLD)

    def _repr_html_(self) -> str:
        from modelkit.debug.session import RMSE_SCALE_THRESHOLD

        layers = sorted(self.layers, key=lambda x: x.node)
        chart = h.bar_chart([f"#{x.node} {x.op_name} {x.tensor_name.split(';')[0]}"
                             for x in layers],
                            [x.stats.get("rmse_scale") for x in layers],
                            bad=[self.bad(x) for x in layers],
                            title="error per layer in quantization steps (rmse/scale)",
                            threshold=RMSE_SCALE_THRESHOLD)
        names = self.metric_names()
        rows = [[x.node, x.op_name, x.tensor_name, x.stats.get("rmse_scale"),
                 x.stats.get("local_sqnr_db"), x.stats.get("accumulated_rmse"),
                 x.stats.get("sqnr_db"), x.rank] + [x.metrics.get(n) for n in names]
                for x in layers]
        numeric = [3, 4, 5, 6] + list(range(8, 8 + len(names)))
        where = self.quantized_model or "quantized in memory"
        parts = [f"<p>{h.text(self.model)} vs {h.text(where)}: {len(self.layers)} quantized "
                 f"layers, {self.samples} samples ({h.text(self.mode)}, "
                 f"{h.text(self.quantize)})</p>", chart,
                 h.table(["#", "op", "tensor", "rmse/scale", "local SQNR dB", "acc. RMSE",
                          "SQNR dB", "rank"] + names, rows, numeric=numeric,
                         row_classes=["error" if self.bad(x) else "" for x in layers])]
        if self.model_metrics:
            parts += [h.heading("model metrics"), h.pairs(self.model_metrics.items())]
        if self.accuracy:
            parts += [h.heading("accuracy"),
                      h.pairs((k.replace("_", " "), f"{v:.4f}")
                              for k, v in self.accuracy.items())]
        keep = ", ".join(self.suggest_denylist) or "nothing"
        parts.append(f"<p>keep in float: {h.text(keep)}</p>")
        if self.convert_command and (self.suggest_denylist or self.denylist):
            parts.append(f"<p>convert with: <code>{h.text(self.convert_command)}</code></p>")
        if self.advice_verified is not None:
            parts.append(h.lines(self.advice_verified.lines()))
        parts.append(h.lines(self.notes))
        return h.block(*parts)


# ----------------------------------------------------------------------------- reduce


@dataclass
class ReduceResult(ReduceReport):
    """A failing model cut down to the ops that fail (`modelkit reduce`); a
    `modelkit.reduce.reducer.ReduceReport`."""

    @classmethod
    def from_report(cls, report: ReduceReport) -> ReduceResult:
        """The API's view of a library report."""
        return cls(**_fields(report))

    def lines(self) -> list[str]:
        """The text `modelkit reduce` prints."""
        kept = len(self.kept)
        out = [f"reduced {self.model} ({self.original_op_count} ops) to {self.output} "
               f"({kept} op{'s' if kept != 1 else ''}) in {self.runs} runs, "
               f"{self.seconds:.1f} s",
               f"condition: {self.condition['description']}",
               f"values fed at the cuts: {self.values}",
               f"ops left after bisecting: {self.ops_after_bisect}"]
        out += [f"  #{op['index']} {op['op']} {';'.join(op['names'])}" for op in self.kept]
        out.append(f"message: {self.message}")
        out += [f"note: {note}" for note in self.notes]
        return out

    def to_pandas(self) -> pandas.DataFrame:
        """One row per candidate tried."""
        return _frame(list(self.iterations))

    def _repr_html_(self) -> str:
        kept = [[op.get("index"), op.get("op"), ";".join(op.get("names") or [])]
                for op in self.kept]
        return h.block(f"<p>reduced {h.text(self.model)} ({self.original_op_count} ops) to "
                       f"{h.text(self.output)} ({len(self.kept)} ops) in {self.runs} runs</p>",
                       h.pairs([("condition", self.condition.get("description")),
                                ("message", self.message)]),
                       h.table(["index", "op", "names"], kept), h.lines(self.notes))
