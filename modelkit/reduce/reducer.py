"""`modelkit reduce`: cut a failing model down to the few ops that still fail.

The source's ops are numbered in topological order; `Search` picks candidates (sets
of op numbers), `cut_model` builds each one (fed at every value it reads from outside
the set, ending at every value that leaves it), the condition judges it, and the
smallest candidate that still fails is written.

Values fed at the cut: the whole source model is run once on the data (`--data`, or
values generated once from each input's type and quantization range with a fixed
seed) with every tensor kept, and a cut input is fed the value the whole model
computed there; a candidate is never fed new random values, so what fails in the
whole model fails in the cut. When the source itself does not run (the interpreter
refuses it), a cut input gets values generated once from its own type and range.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from modelkit.errors import ModelkitError, UsageError
from modelkit.fileio import atomic_output, check_output
from modelkit.ir import Graph, Model, Node, Value
from modelkit.reduce.conditions import (Candidate, CheckError, Command, Condition, Mismatch,
                                        Narrowed, Refused, node_of, _real)
from modelkit.reduce.extract import check_destination, check_format, cut_model
from modelkit.reduce.search import Search, Verdict

if TYPE_CHECKING:
    from modelkit.reduce.worker import RunResult

SCHEMA_VERSION = 1
UNTIL = ("refused", "check-error", "mismatch")
MODES = ("bisect", "linear")
_EXT = {"tflite": ".tflite", "graphdef": ".pb"}
_NOT_OPS = frozenset({"Const", "Placeholder", "PlaceholderV2"})


class ConditionNotMetError(ModelkitError):
    """The condition does not fail on the source model: there is nothing to reduce."""


@dataclass
class ReduceOptions:
    """Everything `modelkit reduce` takes; see the CLI help."""

    src: Path
    dst: Path
    until: str | None = None
    check: str | None = None
    fail_regex: str | None = None
    target: str = "tflite"
    reference: Path | None = None
    data: Path | None = None
    atol: float = 1e-5
    rtol: float = 1e-5
    limit: int = 1
    artifacts: Path | None = None
    force: bool = False
    fmt: str | None = None
    delegates: bool = False
    timeout: float = 60.0
    seed: int = 0
    mode: str = "bisect"
    debug: bool = False


@dataclass
class ReduceReport:
    """What `reduce` did; `to_dict()` is the `--json` report."""

    model: str
    output: str
    format: str
    condition: dict
    values: str
    original_op_count: int
    kept: list[dict]
    iterations: list[dict]
    ops_after_bisect: int
    message: str
    seconds: float = 0.0
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return len(self.iterations)

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "model": self.model, "output": self.output,
                "format": self.format, "condition": self.condition, "values": self.values,
                "original_op_count": self.original_op_count, "op_count": len(self.kept),
                "original_ops": self.kept, "runs": self.runs,
                "ops_after_bisect": self.ops_after_bisect, "iterations": self.iterations,
                "message": self.message, "seconds": round(self.seconds, 3),
                "interrupted": self.interrupted, "notes": self.notes}


# ----------------------------------------------------------------------------- ops


def topological_ops(model: Model) -> list[Node]:
    """The main graph's ops in an order where every op comes after the ops it reads
    from: TFLite's execution order; for a GraphDef its nodes (constants and
    placeholders left out) sorted so, keeping the file order where it is free."""
    graph = model.graphs[0]
    if model.format == "tflite":
        return list(graph.nodes)
    nodes = [n for n in graph.nodes if n.op not in _NOT_OPS]
    index = {id(n): i for i, n in enumerate(nodes)}
    by_name = {n.name: n for n in nodes}
    preds: list[set[int]] = []
    for n in nodes:
        p = {index[id(v.producer)] for v in n.inputs
             if v is not None and v.producer is not None and id(v.producer) in index}
        p |= {index[id(by_name[c])] for c in n.control_inputs if c in by_name}
        p.discard(index[id(n)])
        preds.append(p)
    import heapq

    succ: list[list[int]] = [[] for _ in nodes]
    waiting = [len(p) for p in preds]
    for i, p in enumerate(preds):
        for j in p:
            succ[j].append(i)
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in succ[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    if len(order) != len(nodes):
        # NOTE: a cycle (TF1 while loops: NextIteration); keep the rest in file order.
        done = set(order)
        order += [i for i in range(len(nodes)) if i not in done]
    return [nodes[i] for i in order]


def op_names(node: Node, fmt: str) -> list[str]:
    """The names an op stands for: a TFLite op's output names split on ';' (the TF
    nodes the converter fused into it); a TF node's own name."""
    if fmt != "tflite":
        return [node.name]
    names: list[str] = []
    for v in node.outputs or []:
        names += [p.strip() for p in v.name.split(";") if p.strip()]
    return list(dict.fromkeys(names)) or [node.name]


# ----------------------------------------------------------------------------- values


def generated(value: Value, seed: int, key: int) -> np.ndarray:
    """Values for `value` (one sample), the same for the same seed and key: integers
    over the whole stored range of a quantized tensor, [0, 1) for floats, 0 or 1 for
    other integers and booleans (Polygraphy's default range)."""
    rng = np.random.default_rng([seed, key])
    shape = tuple(1 if d is None or d < 0 else int(d) for d in (value.shape or ()))
    dtype = np.dtype(value.dtype.numpy) if value.dtype is not None and value.dtype.numpy \
        is not None else np.dtype(np.float32)
    if dtype.kind == "f":
        return rng.random(shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu" and value.quant is not None:
        info = np.iinfo(dtype)
        return rng.integers(int(info.min), int(info.max), shape, endpoint=True).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(0, 2, shape).astype(dtype)
    return np.zeros(shape, dtype)


def _stored(value: Value, x: np.ndarray) -> np.ndarray:
    """Float data as `value` stores it: quantized with its own parameters."""
    dtype = np.dtype(value.dtype.numpy) if value.dtype is not None and value.dtype.numpy \
        is not None else x.dtype
    if value.quant is not None and dtype.kind in "iu" and x.dtype.kind == "f":
        return value.quant.quantize(x, value.dtype)
    return x.astype(dtype, copy=False)


def _source_feeds(model: Model, opts: ReduceOptions) -> tuple[list[list[np.ndarray]], str]:
    """Per graph input, one array per sample (stored type), and where they come from."""
    from modelkit.convert.data import InputSpec, load_data

    inputs = model.graphs[0].inputs
    if opts.data is None:
        feeds = [[generated(v, opts.seed, i)] for i, v in enumerate(inputs)]
        return feeds, (f"generated (seed {opts.seed}): quantized inputs over their whole "
                       "range, float inputs in [0, 1)")
    specs = []
    for v in inputs:
        dtype = np.dtype(v.dtype.numpy) if v.dtype is not None and v.dtype.numpy is not None \
            else np.dtype(np.float32)
        if v.quant is not None and dtype.kind in "iu":
            dtype = np.dtype(np.float32)
        specs.append(InputSpec(v.name, dtype, tuple(v.shape or ())))
    arrays = load_data(opts.data, specs, limit=opts.limit)
    feeds = []
    for v, a in zip(inputs, arrays):
        step = v.shape[0] if v.shape and v.shape[0] not in (None, -1) and v.shape[0] > 0 else 1
        count = max(1, a.shape[0] // step)
        feeds.append([_stored(v, a[s * step:(s + 1) * step]) for s in range(count)])
    samples = min(len(f) for f in feeds) if feeds else 0
    feeds = [f[:samples] for f in feeds]
    return feeds, f"{opts.data} ({samples} sample{'s' if samples != 1 else ''})"


# ----------------------------------------------------------------------------- driver


def validate(opts: ReduceOptions) -> None:
    """Reject option combinations before anything loads.

    Raises:
        UsageError: what to change.
    """
    if (opts.until is None) == (opts.check is None):
        raise UsageError("give one failure condition: --until refused|check-error|mismatch, "
                         "or --check 'CMD ... {model}'")
    if opts.until is not None and opts.until not in UNTIL:
        raise UsageError(f"--until {opts.until!r}: choose one of {', '.join(UNTIL)}")
    if opts.until == "mismatch" and opts.reference is None:
        raise UsageError("--until mismatch needs --reference REF (the float source model or "
                         "an earlier good model)")
    if opts.reference is not None and opts.until != "mismatch":
        raise UsageError("--reference applies to --until mismatch")
    if opts.atol < 0 or opts.rtol < 0:
        raise UsageError("--atol and --rtol must not be negative")
    if opts.limit < 1:
        raise UsageError("--limit must be at least 1")
    if opts.timeout <= 0:
        raise UsageError("--timeout must be positive")
    if opts.mode not in MODES:
        raise UsageError(f"--mode {opts.mode!r}: choose bisect (then linear) or linear")


def _regex(text: str | None) -> re.Pattern | None:
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as e:
        raise UsageError(f"--fail-regex {text!r} is not a regular expression: {e}") from None


def _check_artifacts(folder: Path, force: bool, src: Path) -> None:
    """Refuse an --artifacts folder that cannot take the tried models, before any run."""
    import tempfile

    existing = next(p for p in (folder, *folder.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        raise UsageError(f"{existing} is not a folder", str(folder))
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise UsageError(f"cannot write in {existing}: {e.strerror or e}", str(folder)) from None
    for sub in ("good", "bad"):
        d = folder / sub
        if d.exists() and not d.is_dir():
            raise UsageError(f"{d} is not a folder", str(folder))
        if d.is_dir() and any(d.iterdir()) and not force:
            raise UsageError(f"{d} already holds files; pass --force to add to it or "
                             "choose another folder", str(folder))
    check_output(folder / "good" / "x", force=True, sources=(src,))


def reduce_model(opts: ReduceOptions, progress=None) -> ReduceReport:
    """Reduce `opts.src` to the smallest model that still fails; write it to `opts.dst`.

    Raises:
        UsageError: bad options, a --check command not found (exit 2).
        ModelReadError: a model cannot be read (exit 3).
        ConditionNotMetError: the source does not fail the condition (exit 1).
        KeyboardInterrupt: after writing the smallest failing model found so far.
    """
    from modelkit.convert.progress import Progress
    from modelkit.formats import registry

    progress = progress or Progress()
    started = time.perf_counter()
    validate(opts)
    regex = _regex(opts.fail_regex)
    src = Path(opts.src)
    check_output(opts.dst, force=opts.force, sources=(src,))
    if opts.artifacts is not None:
        _check_artifacts(Path(opts.artifacts), opts.force, src)
    model = registry.load(src, opts.fmt)
    check_format(model, "reduce")
    check_destination(opts.dst, model.format)
    if opts.until in ("refused", "mismatch") and model.format != "tflite":
        raise UsageError(f"--until {opts.until} runs the TFLite interpreter; SRC is a "
                         f"{model.format} model (use --until check-error or --check)",
                         str(src))
    command = None
    if opts.check is not None:
        command = Command(opts.check, timeout=opts.timeout,
                          fail_regex=regex)
        if command.runs_model and model.format != "tflite":
            raise UsageError("--check with {inputs} needs the model's values, which only "
                             "TFLite models give here", str(src))

    ops = topological_ops(model)
    if not ops:
        raise UsageError("the main graph has no ops to reduce", str(src))
    number = {id(n): i for i, n in enumerate(ops)}
    with tempfile.TemporaryDirectory(prefix="modelkit-reduce-") as work:
        workdir = Path(work)
        worker = None
        condition: Condition
        try:
            needs_worker = opts.until in ("refused", "mismatch") or (
                command is not None and command.runs_model)
            if needs_worker:
                from modelkit.reduce.worker import InterpreterWorker

                worker = InterpreterWorker(timeout=opts.timeout, delegates=opts.delegates)
            if needs_worker:
                feeds, values_from = _source_feeds(model, opts)
            else:
                feeds, values_from = [], "none (the condition does not run the model)"
                if opts.data is not None:
                    progress.warn(f"--data is not used: {opts.until or 'this --check'} does "
                                  "not run the model")
            if opts.until == "refused":
                condition = Refused(worker)
            elif opts.until == "check-error":
                condition = CheckError(opts.target)
            elif opts.until == "mismatch":
                condition = _mismatch(model, feeds, opts, worker, workdir, progress)
            else:
                assert command is not None
                condition = command
            if regex is not None and command is None:
                condition = Narrowed(condition, regex)
            progress.stage(f"condition: {condition.describe()}")
            source = Candidate(src, model, _origin(model, number), list(model.graphs[0].inputs),
                               list(model.graphs[0].outputs), feeds,
                               [v.name for v in model.graphs[0].inputs])
            baseline = condition.baseline(source)
            if not baseline.failed:
                raise ConditionNotMetError(f"the condition does not fail on the model, so "
                                           f"there is nothing to reduce: {baseline.reason}",
                                           str(src))
            progress.stage(f"{src} ({len(ops)} ops) fails: {baseline.reason}")
            runner = _Runner(model, ops, condition, opts, workdir, progress, feeds,
                             values_from, baseline)
            if condition.runs_model:
                runner.capture(worker)
                progress.stage(f"values fed at the cuts: {runner.values_from}")
            return runner.search(started)
        finally:
            if worker is not None:
                worker.close()


def _origin(model: Model, number: dict[int, int]) -> list[int | None]:
    """Per main-graph node, its index in the source when it is one of the ops."""
    return [n.index if id(n) in number else None for n in model.graphs[0].nodes]


def _mismatch(model: Model, feeds: list[list[np.ndarray]], opts: ReduceOptions, worker,
              workdir: Path, progress) -> Mismatch:
    """The mismatch condition: the reference run once on the same inputs, every tensor
    kept, and its tensors matched to the source's by name."""
    from modelkit.formats import registry

    assert opts.reference is not None
    ref_path = Path(opts.reference)
    ref_fmt = registry.detect_format(ref_path)
    if ref_fmt == "tflite":
        ref_file = ref_path
    else:
        from modelkit.convert.pipeline import ConvertOptions, convert
        from modelkit.convert.progress import Progress

        ref_file = workdir / "reference.tflite"
        progress.stage(f"converting {ref_path} to a float TFLite model to read its tensors")
        convert(ConvertOptions(src=ref_path, dst=ref_file, quantize="none", verify=False,
                               debug=opts.debug), Progress(quiet=True))
    ref = registry.load(ref_file, "tflite")
    ours, theirs = model.graphs[0].inputs, ref.graphs[0].inputs
    if len(ours) != len(theirs):
        raise UsageError(f"the reference has {len(theirs)} inputs, the model {len(ours)}: "
                         "they do not compute the same thing", str(ref_path))
    pairs = _pair_inputs(ours, theirs)
    ref_feeds = []
    for r in theirs:
        v = pairs[id(r)]
        arrays = feeds[ours.index(v)]
        ref_feeds.append([_stored(r, _real(v, a)) for a in arrays])
    result = worker.run(ref_file, ref_feeds, dump=True)
    if not result.ok:
        raise UsageError(f"the reference does not run in the interpreter: {result.message}",
                         str(ref_path))

    reference: dict[str, list[np.ndarray]] = {}
    for v, arrays in _dumped(ref.graphs[0], result):
        reference[v.name] = [_real(v, a) for a in arrays]
    from modelkit.diff.match import match_graphs

    # NOTE: the matching `modelkit diff` does: names, TFLite fused names, structure.
    matching = match_graphs(model.graphs[0], ref.graphs[0])
    matches = {}
    for v in model.graphs[0].values:
        other = matching.value_b(v)
        if other is not None and not v.is_const:
            matches[id(v)] = other.name
    progress.stage(f"reference {ref_path}: {len(matches)} of the model's tensors have a "
                   "counterpart")
    return Mismatch(worker, reference, matches, str(ref_path), opts.atol, opts.rtol)


def _dumped(graph: Graph, result: RunResult) -> Iterator[tuple[Value, list[np.ndarray]]]:
    """(value of `graph`, its arrays) of every non-constant tensor a run with `dump`
    kept, in the run's order."""
    by_index = {v.index: v for v in graph.values if v.index is not None}
    for index, arrays in result.tensors.items():
        v = by_index.get(index)
        if v is not None and not v.is_const:
            yield v, arrays


def _pair_inputs(ours: list[Value], theirs: list[Value]) -> dict[int, Value]:
    """id(reference input) -> the model's input: by name when all match, else by order."""
    from modelkit.runtime import match_key

    keys = {match_key(v.name): v for v in ours}
    if len(keys) == len(ours) and all(match_key(r.name) in keys for r in theirs):
        return {id(r): keys[match_key(r.name)] for r in theirs}
    return {id(r): v for r, v in zip(theirs, ours)}


class _Runner:
    """Builds, judges and records the candidates of one search."""

    def __init__(self, model: Model, ops: list[Node], condition: Condition,
                 opts: ReduceOptions, workdir: Path, progress, feeds: list[list[np.ndarray]],
                 values_from: str, baseline: Verdict) -> None:
        self.model = model
        self.ops = ops
        self.condition = condition
        self.opts = opts
        self.workdir = workdir
        self.progress = progress
        self.values_from = values_from
        self.golden: dict[int, list[np.ndarray]] = {}
        graph = model.graphs[0]
        for v, arrays in zip(graph.inputs, feeds):
            self.golden[id(v)] = arrays
        self.samples = len(feeds[0]) if feeds else 1
        self.generated: dict[int, list[np.ndarray]] = {}
        self.graph_outputs = {id(v) for v in graph.outputs}
        self.iterations: list[dict] = [{
            "iteration": 0, "stage": "original", "ops": len(ops), "op_range": [0, len(ops) - 1],
            "removed": None, "verdict": "fail", "reason": baseline.reason}]
        self.best_model: Model = model
        self.best_ops: list[int] = list(range(len(ops)))
        self.message = baseline.reason
        self.notes: list[str] = []
        self.ext = _EXT[model.format]
        self.types: dict[str, tuple] = {}
        if model.format == "graphdef":
            untyped = [v for v in graph.values if v.dtype is None and not v.is_const]
            if untyped:
                # NOTE: a cut input needs a Placeholder of its dtype; ask TensorFlow once.
                from modelkit.reduce.extract import tf_types

                self.types = tf_types(model, untyped)

    # -- values ---------------------------------------------------------------------

    def capture(self, worker) -> None:
        """Run the whole model once keeping every tensor (the values fed at the cuts)."""
        graph = self.model.graphs[0]
        result = worker.run(self.model.path, [self.golden[id(v)] for v in graph.inputs],
                            dump=True)
        usable = {id(v) for v in graph.values}
        if not result.ok:
            self.notes.append(f"the whole model does not run ({result.status}: "
                              f"{result.message})")
            failed_at, _ = node_of(result.message, [n.index for n in graph.nodes])
            usable = set()
            where = ""
            if failed_at is not None and self.samples == 1 and result.tensors:
                # NOTE: the ops before the failing one ran; their outputs are real.
                usable = {id(v) for n in graph.nodes if n.index is not None
                          and n.index < failed_at for v in n.outputs}
                where = f" from op #{failed_at} on"
            self.values_from += (f"; the whole model does not run: cut inputs{where} get "
                                 f"values generated from their own type and range (seed "
                                 f"{self.opts.seed})")
        for v, arrays in _dumped(graph, result):
            if id(v) in usable:
                self.golden.setdefault(id(v), arrays)

    def _values(self, v: Value) -> list[np.ndarray]:
        found = self.golden.get(id(v))
        if found is not None:
            return found
        made = self.generated.get(id(v))
        if made is None:
            key = v.index if v.index is not None else abs(hash(v.name)) % (2**31)
            one = generated(v, self.opts.seed, key)
            made = self.generated[id(v)] = [one] * self.samples
        return made

    # -- candidates -----------------------------------------------------------------

    def _io(self, chosen: list[int]) -> tuple[list[Node], list[Value], list[Value]]:
        nodes = [self.ops[i] for i in chosen]
        produced = {id(v) for n in nodes for v in n.outputs}
        read: dict[int, Value] = {}
        for n in nodes:
            for v in n.inputs:
                if v is not None:
                    read.setdefault(id(v), v)
        inputs = [v for k, v in read.items() if k not in produced
                  and not v.is_const and not v.is_variable]
        # NOTE: every value that leaves the set: read by an op left out (also when an op
        # of the set reads it too), an output of the whole model, or read by no op.
        kept = {id(n) for n in nodes}
        outputs = [v for n in nodes for v in n.outputs
                   if id(v) in self.graph_outputs or not v.consumers
                   or any(id(c) not in kept for c, _ in v.consumers)]
        order = {id(v): i for i, v in enumerate(self.model.graphs[0].values)}
        inputs.sort(key=lambda v: order.get(id(v), len(order)))
        return nodes, inputs, outputs

    def build(self, chosen: list[int], name: str) -> tuple[Candidate, Model]:
        nodes, inputs, outputs = self._io(chosen)
        cut = cut_model(self.model, nodes, inputs, outputs, types=self.types)
        path = self.workdir / f"{name}{self.ext}"
        from modelkit.formats import registry

        registry.save(cut.model, path, force=True)
        origin: list[int | None]
        if self.model.format == "tflite":
            origin = [n.index for n in nodes]
        else:
            by_name = {n.name: n.index for n in nodes}
            origin = [by_name.get(n.name) if n.op not in _NOT_OPS else None
                      for n in cut.model.graphs[0].nodes]
        feeds = [self._values(v) for v in inputs] if self.condition.runs_model else []
        names = [v.name for v in cut.model.graphs[0].inputs]
        return Candidate(path, cut.model, origin, inputs, outputs, feeds, names), cut.model

    def evaluate(self, chosen: list[int], stage: str, removed: int | None) -> Verdict:
        n = len(self.iterations)
        name = f"{n:03d}_{stage}_{len(chosen)}_ops"
        candidate, model = self.build(chosen, name)
        verdict = self.condition.evaluate(candidate)
        if verdict.failed:
            self.message = verdict.reason
            if len(chosen) <= len(self.best_ops):
                self.best_ops, self.best_model = chosen, model
        self.iterations.append({
            "iteration": n, "stage": stage, "ops": len(chosen),
            "op_range": [chosen[0], chosen[-1]],
            "removed": removed, "verdict": "fail" if verdict.failed else "pass",
            "reason": verdict.reason})
        what = {"outputs": f"cut after {self._describe(chosen[-1])}",
                "inputs": f"cut before {self._describe(chosen[0])}",
                "linear": f"without {self._describe(removed)}"}.get(stage, stage)
        count = f"{len(chosen)} op{'s' if len(chosen) != 1 else ''}"
        self.progress.stage(f"[{n}] {stage}: {what} ({count}): "
                            f"{'fails' if verdict.failed else 'passes'}: {verdict.reason}")
        if self.opts.artifacts is not None:
            folder = Path(self.opts.artifacts) / ("bad" if verdict.failed else "good")
            with atomic_output(folder / candidate.path.name, force=self.opts.force,
                               sources=(self.opts.src,)) as tmp:
                tmp.write_bytes(candidate.path.read_bytes())
        candidate.path.unlink(missing_ok=True)
        return verdict

    def _describe(self, op: int | None) -> str:
        if op is None:
            return "?"
        node = self.ops[op]
        return f"op #{self._src_index(op)} {node.op} {node.name}"

    def _src_index(self, op: int) -> int:
        node = self.ops[op]
        return node.index if node.index is not None else op

    # -- the search -----------------------------------------------------------------

    def search(self, started: float) -> ReduceReport:
        bisect = self.opts.mode == "bisect"
        search = Search(len(self.ops), self.evaluate, outputs=bisect, inputs=bisect)
        interrupted = False
        try:
            search.run()
        except KeyboardInterrupt:
            interrupted = True
        self._write()
        report = self._report(started, search.after_bisect, interrupted)
        if interrupted:
            self.progress.note(f"interrupted: the smallest failing model found so far "
                               f"({len(self.best_ops)} ops) was written to {self.opts.dst}")
            raise KeyboardInterrupt
        return report

    def _write(self) -> None:
        from modelkit.formats import registry

        registry.save(self.best_model, self.opts.dst, force=self.opts.force)

    def _report(self, started: float, after_bisect: int, interrupted: bool) -> ReduceReport:
        kept = []
        for i in self.best_ops:
            node = self.ops[i]
            kept.append({"index": self._src_index(i), "op": node.op,
                         "names": op_names(node, self.model.format)})
        for it in self.iterations:
            it["op_range"] = [self._src_index(it["op_range"][0]),
                              self._src_index(it["op_range"][1])]
            if it["removed"] is not None:
                it["removed"] = self._src_index(it["removed"])
        return ReduceReport(
            model=str(self.opts.src), output=str(self.opts.dst), format=self.model.format,
            condition=self.condition.to_dict(), values=self.values_from,
            original_op_count=len(self.ops), kept=kept, iterations=self.iterations,
            ops_after_bisect=after_bisect, message=self.message,
            seconds=time.perf_counter() - started, interrupted=interrupted, notes=self.notes)

