"""What a run produced, as data: per output its type, shape, value summary, top-k
classes and accuracy against labels; `modelkit run` prints it as text or JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelkit.errors import UsageError
from modelkit.runtime.arrays import read_npy, read_npz
from modelkit.runtime.base import TensorSpec

SCHEMA_VERSION = 1
SHOWN_SAMPLES = 3


def is_classifier(spec: TensorSpec, value: np.ndarray) -> bool:
    """An output of scores over classes: [N, C] with C > 1, float after dequantization."""
    return value.ndim == 2 and value.shape[1] > 1 and np.dtype(value.dtype).kind == "f"


@dataclass
class OutputSummary:
    """One output over every sample."""

    name: str
    model_dtype: str
    dtype: str
    shape: list[int]
    quantized: bool
    min: float
    max: float
    mean: float
    std: float
    top_k: list[list[tuple[int, float]]] | None = None
    predicted: list[int] | None = None
    accuracy: float | None = None
    # Why the labels gave no accuracy for this classifier output (not in the JSON).
    label_misfit: str | None = None

    def to_dict(self) -> dict:
        out: dict = {"name": self.name, "dtype": self.dtype, "model_dtype": self.model_dtype,
                     "dequantized": self.quantized, "shape": self.shape,
                     "min": self.min, "max": self.max, "mean": self.mean, "std": self.std}
        if self.top_k is not None:
            out["top_k"] = [[{"class": c, "score": s} for c, s in row] for row in self.top_k]
            out["predicted"] = self.predicted
        if self.accuracy is not None:
            out["accuracy"] = self.accuracy
        return out

    def lines(self) -> list[str]:
        shape = ",".join(map(str, self.shape))
        kind = f"{self.dtype}[{shape}]"
        if self.quantized:
            kind += f" (dequantized from {self.model_dtype})"
        out = [f"output {self.name}: {kind}",
               f"  values: min {self.min:.6g}, max {self.max:.6g}, mean {self.mean:.6g}, "
               f"std {self.std:.6g}"]
        if self.top_k is not None:
            for i, row in enumerate(self.top_k[:SHOWN_SAMPLES]):
                classes = ", ".join(f"{c} ({s:.4g})" for c, s in row)
                out.append(f"  sample {i}: top-{len(row)} {classes}")
            if len(self.top_k) > SHOWN_SAMPLES:
                out.append(f"  ... {len(self.top_k) - SHOWN_SAMPLES} more samples "
                           "(--json or --output for all)")
        if self.accuracy is not None:
            out.append(f"  accuracy: {100 * self.accuracy:.2f}% "
                       f"({round(self.accuracy * len(self.predicted or []))}"
                       f"/{len(self.predicted or [])} top-1 matches the labels)")
        return out


def summarize_output(spec: TensorSpec, value: np.ndarray, *, top_k: int = 5,
                     labels: np.ndarray | None = None) -> OutputSummary:
    """Summarize one output's values (samples first)."""
    v = np.asarray(value)
    finite = v[np.isfinite(v)] if v.dtype.kind == "f" else v
    stats = (float(finite.min()), float(finite.max()), float(finite.mean()),
             float(finite.std())) if finite.size else (float("nan"),) * 4
    summary = OutputSummary(spec.name, str(np.dtype(spec.dtype)), str(v.dtype),
                            [int(d) for d in v.shape], spec.is_quantized, *stats)
    if is_classifier(spec, v):
        k = min(top_k, v.shape[1])
        order = np.argsort(-v, axis=1, kind="stable")[:, :k]
        summary.top_k = [[(int(c), float(v[i, c])) for c in row] for i, row in enumerate(order)]
        summary.predicted = [int(row[0]) for row in order]
        if labels is not None:
            if labels.shape[0] != v.shape[0]:
                raise UsageError(f"{labels.shape[0]} labels for {v.shape[0]} samples")
            summary.label_misfit = label_misfit(labels, v.shape[1], spec.name)
            if summary.label_misfit is None:
                summary.accuracy = float(np.mean(order[:, 0] == labels))
    return summary


def label_misfit(labels: np.ndarray, classes: int, output: str | None = None) -> str | None:
    """Why class ids cannot be scored against an output of `classes` classes (an id at
    or above that count: no prediction can ever match it), or None when they fit."""
    too_big = labels >= classes
    if not np.any(too_big):
        return None
    first = int(np.argmax(too_big))
    what = "the model's output" if output is None else f"output '{output}'"
    return (f"label {first} is {int(labels[first])}, but {what} has {classes} classes "
            f"(ids 0..{classes - 1}): these labels do not belong to this model")


def load_labels(path: Path, count: int, *, total: int | None = None) -> np.ndarray:
    """Class ids, one per sample: an .npy, or an .npz's `y`/`labels` array (else its only
    array, or its only 1-D integer array). Ids are integers >= 0 of shape [N] (or
    [N, 1]), or one-hot rows [N, classes] (each row one 1, the rest 0).

    Args:
        count: the samples used; the first `count` labels are returned.
        total: the samples the data holds; the labels must be exactly as many. When
            not known (None), at least `count` are required.

    Raises:
        UsageError: missing, empty or unreadable; not class ids or one-hot rows; a
            count that does not match the data.
    """
    if not path.is_file():
        raise UsageError("no such labels file", str(path))
    if path.suffix.lower() == ".npz":
        arrays = read_npz(path, "labels")
        keys = [k for k in ("y", "labels", "label") if k in arrays]
        if not keys and len(arrays) != 1:
            # NOTE: a dataset file (x and its ids under another name) still works.
            keys = [k for k, a in arrays.items() if a.dtype.kind in "iu" and a.ndim == 1]
            if len(keys) != 1:
                raise UsageError(f"the .npz holds {sorted(arrays)}; name the "
                                 "labels array 'y' or 'labels'", str(path))
        labels = arrays[keys[0] if keys else next(iter(arrays))]
    else:
        labels = read_npy(path, "labels")
    labels = _class_ids(np.asarray(labels), path)
    n = int(labels.shape[0])
    if total is not None and n != total:
        raise UsageError(f"{n} labels for {total} samples in the data; give one label "
                         "per sample", str(path))
    if n < count:
        raise UsageError(f"{n} labels for {count} samples", str(path))
    return labels[:count]


def _class_ids(labels: np.ndarray, path: Path) -> np.ndarray:
    """Labels as int64 class ids [N].

    Raises:
        UsageError: not numbers, not whole or negative ids, or rows that are not one-hot.
    """
    shape = list(labels.shape)
    if labels.dtype.kind not in "iuf":
        raise UsageError(f"labels must be class ids (integers), got {labels.dtype}", str(path))
    if labels.ndim == 2 and shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim == 2:
        rows_ok = shape[1] > 1 and bool(np.all((labels == 0) | (labels == 1))) and \
            bool(np.all(labels.sum(axis=1) == 1))
        if not rows_ok:
            raise UsageError(f"labels of shape {shape} are neither class ids [N] nor "
                             "one-hot rows [N, classes] (one 1 per row, the rest 0)",
                             str(path))
        return np.argmax(labels, axis=1).astype(np.int64)
    if labels.ndim != 1:
        raise UsageError(f"labels of shape {shape}: give class ids [N] or one-hot rows "
                         "[N, classes]", str(path))
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        raise UsageError(f"labels must be class ids (integers), got {labels.dtype}", str(path))
    if labels.size and labels.min() < 0:
        first = int(np.argmax(labels < 0))
        raise UsageError(f"labels must be class ids >= 0; label {first} is "
                         f"{labels[first]:g}", str(path))
    return labels.astype(np.int64)


@dataclass
class RunReport:
    """A `modelkit run`: the model, what was fed, and every output."""

    model: str
    format: str
    samples: int
    data: str
    inputs: list[dict] = field(default_factory=list)
    outputs: list[OutputSummary] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "model": self.model, "format": self.format,
                "samples": self.samples, "data": self.data, "inputs": self.inputs,
                "outputs": [o.to_dict() for o in self.outputs], "notes": self.notes}

    def lines(self) -> list[str]:
        out = [f"ran {self.model} ({self.format}) on {self.samples} samples from {self.data}"]
        for i in self.inputs:
            dims = ",".join("?" if d is None else str(d) for d in i["shape"])
            line = f"input {i['name']}: {i['dtype']}[{dims}]"
            if i.get("normalization"):
                n = i["normalization"]
                mean, std = format_values(n["mean"]), format_values(n["std"])
                line += f", normalized (x - {mean}) / {std} ({n['source']})"
            line += f", {i['feed']}"
            out.append(line)
        for o in self.outputs:
            out.extend(o.lines())
        return out


def format_values(values: list[float]) -> str:
    """`0` for one value, `[0.485, 0.456, 0.406]` for per-channel values."""
    text = [f"{v:g}" for v in values]
    return text[0] if len(text) == 1 else "[" + ", ".join(text) + "]"
