"""What `reduce` asks of every candidate: does it still fail?

A condition is a plug-in: `evaluate(candidate) -> Verdict`. The built-in ones:

- `Refused` (`--until refused`): the LiteRT interpreter refuses the model (load,
  prepare or invoke fails) or crashes; run in a child process. Still failing means
  failing the same way (stage) at the same op of the source when the source's
  message names an op, so a cut that fails elsewhere for another reason is no
  reduction.
- `CheckError` (`--until check-error`): `modelkit check` reports an error, of a
  rule that fires on the source at the same op of the source.
- `Mismatch` (`--until mismatch`): an output differs from the reference model's
  corresponding tensor beyond the tolerance (Polygraphy's elementwise rule, as
  `compare`).
- `Command` (`--check CMD`): a command run on the model file; a non-zero exit
  status fails, or with `fail_regex` a match in its output (Polygraphy's rule).

`fail_regex` narrows every condition: a failure counts only when its message
matches.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelkit.errors import UsageError
from modelkit.ir import Model, Value
from modelkit.reduce.search import Verdict

# LiteRT names the op that failed: "Node number 140 (FULLY_CONNECTED) failed to prepare."
_NODE_RE = re.compile(r"Node number (\d+) \(([^)]+)\) failed to (prepare|invoke)")


@dataclass
class Candidate:
    """One model to judge.

    Attributes:
        path: the model file.
        model: the model (as written).
        origin: per main-graph node of `model`, the source op number it is (None for
            nodes the cut added: GraphDef Placeholders, constants).
        inputs/outputs: the source's values the model is fed at and ends at, in the
            model's input and output order.
        feeds: per input, the arrays of every sample, in the input's stored type.
        input_names: the model's own input names, in order.
    """

    path: Path
    model: Model
    origin: list[int | None]
    inputs: list[Value]
    outputs: list[Value]
    feeds: list[list[np.ndarray]] = field(default_factory=list)
    input_names: list[str] = field(default_factory=list)


class Condition:
    """A failure condition; subclasses say how a model is judged."""

    name = ""
    runs_model = False  # candidates are run: they need input values

    def describe(self) -> str:
        """One line for the log and the report."""
        raise NotImplementedError

    def baseline(self, source: Candidate) -> Verdict:
        """Judge the source model and remember how it fails."""
        return self.evaluate(source)

    def evaluate(self, candidate: Candidate) -> Verdict:
        raise NotImplementedError

    def to_dict(self) -> dict:
        return {"kind": self.name, "description": self.describe()}

    def close(self) -> None:
        """Release child processes and files."""


def node_of(message: str, origin: list[int | None]) -> tuple[int | None, str | None]:
    """(source op number, stage) of the node an interpreter message names."""
    m = _NODE_RE.search(message)
    if m is None:
        return None, None
    i = int(m.group(1))
    return (origin[i] if 0 <= i < len(origin) else None), m.group(3)


class Refused(Condition):
    """The interpreter refuses or crashes on the model (in a child process)."""

    name = "refused"
    runs_model = True

    def __init__(self, worker) -> None:
        self.worker = worker
        self._status: str | None = None
        self._op: int | None = None

    def describe(self) -> str:
        return "the TFLite interpreter refuses the model or crashes"

    def _judge(self, candidate: Candidate) -> tuple[str, int | None, str]:
        """(kind of failure or "ok", source op it names, reason)."""
        result = self.worker.run(candidate.path, candidate.feeds)
        if result.ok:
            return "ok", None, "the interpreter loads and runs the model"
        op, verb = node_of(result.message, candidate.origin)
        # NOTE: an op whose input shapes are only known at run time is prepared in
        # invoke; cut from its producers it is prepared in allocate. Both are the
        # same refusal: the message's own verb says which it is.
        kind = verb or result.status
        return kind, op, f"{result.status}: {result.message}"

    def baseline(self, source: Candidate) -> Verdict:
        status, op, reason = self._judge(source)
        self._status, self._op = status, op
        return Verdict(status != "ok", reason)

    def evaluate(self, candidate: Candidate) -> Verdict:
        status, op, reason = self._judge(candidate)
        if status == "ok":
            return Verdict(False, reason)
        if status != self._status:
            return Verdict(False, f"fails otherwise ({reason})")
        if self._op is not None and op != self._op:
            where = "no op" if op is None else f"op #{op}"
            return Verdict(False, f"fails at {where}, not at op #{self._op} ({reason})")
        return Verdict(True, reason)


class CheckError(Condition):
    """`modelkit check` reports an error (a rule that fires on the source, at the
    same source op)."""

    name = "check-error"

    def __init__(self, target: str = "tflite") -> None:
        from modelkit.check import TARGETS

        if target not in TARGETS:
            raise UsageError(f"unknown --target {target!r}; choose one of {', '.join(TARGETS)}")
        self.target = target
        self._wanted: set[tuple] = set()

    def describe(self) -> str:
        return f"modelkit check --target {self.target} reports an error"

    def to_dict(self) -> dict:
        return {**super().to_dict(), "target": self.target}

    def _errors(self, candidate: Candidate) -> list[tuple[tuple, str]]:
        from modelkit.check import check_model
        from modelkit.formats import registry

        model = registry.load(candidate.path, candidate.model.format)
        out = []
        for f in check_model(model, self.target).findings:
            if f.severity != "error":
                continue
            op = f.node
            if f.graph == 0 and f.node is not None:
                op = candidate.origin[f.node] if f.node < len(candidate.origin) else None
            where = f" at op #{op}" if op is not None else ""
            text = f"{f.rule}{where} ({f.op or 'graph'} {f.node_name}): {f.message}".strip()
            out.append(((f.rule, f.graph, op), " ".join(text.split())))
        return out

    def baseline(self, source: Candidate) -> Verdict:
        errors = self._errors(source)
        self._wanted = {key for key, _ in errors}
        if not errors:
            return Verdict(False, f"modelkit check --target {self.target} reports no error")
        return Verdict(True, errors[0][1])

    def evaluate(self, candidate: Candidate) -> Verdict:
        errors = self._errors(candidate)
        for key, text in errors:
            if key in self._wanted:
                return Verdict(True, text)
        if errors:
            return Verdict(False, f"other errors only: {errors[0][1]}")
        return Verdict(False, f"modelkit check --target {self.target} reports no error")


class Mismatch(Condition):
    """An output differs from the reference's tensor of the same name beyond the
    tolerance.

    Args:
        worker: runs the candidates (InterpreterWorker).
        reference: reference tensor name -> the float values of every sample.
        matches: id(source value) -> reference tensor name.
        ref_path: the reference model, for messages.
    """

    name = "mismatch"
    runs_model = True

    def __init__(self, worker, reference: dict[str, list[np.ndarray]],
                 matches: dict[int, str], ref_path: str, atol: float, rtol: float) -> None:
        self.worker = worker
        self.reference = reference
        self.matches = matches
        self.ref_path = ref_path
        self.atol = atol
        self.rtol = rtol

    def describe(self) -> str:
        return (f"an output differs from {self.ref_path} beyond atol={self.atol:g} "
                f"rtol={self.rtol:g}")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "reference": self.ref_path, "atol": self.atol,
                "rtol": self.rtol}

    def evaluate(self, candidate: Candidate) -> Verdict:
        from modelkit.runtime.compare import compare_arrays

        result = self.worker.run(candidate.path, candidate.feeds)
        if not result.ok:
            return Verdict(False, f"the model does not run ({result.status}: "
                                  f"{result.message})")
        compared, worst = 0, None
        for value, arrays in zip(candidate.outputs, result.outputs):
            ref_name = self.matches.get(id(value))
            if ref_name is None:
                continue
            ref = self.reference.get(ref_name)
            if ref is None or [a.shape for a in ref] != [a.shape for a in arrays]:
                continue
            ours = np.stack([_real(value, a) for a in arrays])
            theirs = np.stack(ref)
            r = compare_arrays(ours, theirs, atol=self.atol, rtol=self.rtol,
                               name=value.name, other_name=ref_name, classes_axis=False)
            compared += 1
            if not r.passed and (worst is None or r.max_abs_error > worst.max_abs_error):
                worst = r
        if worst is not None:
            other = "" if worst.other_name == worst.name else f" ({worst.other_name})"
            return Verdict(True, f"{worst.name!r}{other} differs from the reference: "
                                 f"{worst.mismatches} of {worst.elements} elements beyond "
                                 f"the tolerance, max abs error {worst.max_abs_error:.6g}")
        if not compared:
            return Verdict(False, "no output has a counterpart in the reference")
        return Verdict(False, f"{compared} output(s) match the reference within the tolerance")


def _real(value: Value, array: np.ndarray) -> np.ndarray:
    """Float values of a tensor the model stores quantized."""
    if value.quant is not None and np.asarray(array).dtype.kind in "iu" \
            and value.quant.scale.size >= 1 and float(value.quant.scale.reshape(-1)[0]) > 0:
        return value.quant.dequantize(array)
    return np.asarray(array)


class Command(Condition):
    """A user command run on the model: `{model}` is replaced by the model's path,
    `{inputs}` by an .npz of its input values (keyed by input name).

    Raises:
        UsageError: the command is empty or not found (exit 2).
    """

    name = "check"

    def __init__(self, template: str, *, timeout: float | None = None,
                 fail_regex: re.Pattern | None = None) -> None:
        try:
            self.argv = shlex.split(template)
        except ValueError as e:
            raise UsageError(f"--check: cannot split the command: {e}") from None
        if not self.argv:
            raise UsageError("--check: the command is empty")
        program = self.argv[0]
        if shutil.which(program) is None and not (os.sep in program and
                                                  os.access(program, os.X_OK)):
            raise UsageError(f"--check: command not found: {program}")
        if not any("{model}" in a for a in self.argv):
            raise UsageError("--check: the command must name the model as {model}, e.g. "
                             "--check 'python check.py {model}'")
        self.template = template
        self.timeout = timeout
        self.fail_regex = fail_regex
        self.runs_model = any("{inputs}" in a for a in self.argv)

    def describe(self) -> str:
        what = (f"its output matches {self.fail_regex.pattern!r}" if self.fail_regex
                else "it exits with a non-zero status")
        return f"{self.template} fails ({what})"

    def to_dict(self) -> dict:
        return {**super().to_dict(), "command": self.template,
                "fail_regex": self.fail_regex.pattern if self.fail_regex else None}

    def evaluate(self, candidate: Candidate) -> Verdict:
        inputs_path = candidate.path.with_suffix(".inputs.npz")
        if self.runs_model:
            np.savez(inputs_path, **{name: np.concatenate(arrays)
                                     for name, arrays in zip(candidate.input_names,
                                                             candidate.feeds)})
        argv = [a.replace("{model}", str(candidate.path)).replace("{inputs}", str(inputs_path))
                for a in self.argv]
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=self.timeout)
        except FileNotFoundError:
            raise UsageError(f"--check: command not found: {argv[0]}") from None
        except subprocess.TimeoutExpired:
            return Verdict(True, f"did not finish within {self.timeout:g} s")
        finally:
            inputs_path.unlink(missing_ok=True)
        text = (done.stdout + done.stderr).decode("utf-8", "replace")
        last = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")
        status = f"exit status {done.returncode}" + (f": {last}" if last else "")
        if self.fail_regex is not None:
            m = self.fail_regex.search(text)
            if m:
                return Verdict(True, f"{status} (matches {m.group(0)!r})")
            return Verdict(False, f"{status} (no match for {self.fail_regex.pattern!r})")
        return Verdict(done.returncode != 0, status)


class Narrowed(Condition):
    """Another condition whose failures count only when their message matches a regex."""

    def __init__(self, inner: Condition, regex: re.Pattern) -> None:
        self.inner = inner
        self.regex = regex
        self.name = inner.name
        self.runs_model = inner.runs_model

    def describe(self) -> str:
        return f"{self.inner.describe()}, with a message matching {self.regex.pattern!r}"

    def to_dict(self) -> dict:
        return {**self.inner.to_dict(), "description": self.describe(),
                "fail_regex": self.regex.pattern}

    def _narrow(self, v: Verdict) -> Verdict:
        if v.failed and not self.regex.search(v.reason):
            return Verdict(False, f"fails without a match for {self.regex.pattern!r} "
                                  f"({v.reason})")
        return v

    def baseline(self, source: Candidate) -> Verdict:
        return self._narrow(self.inner.baseline(source))

    def evaluate(self, candidate: Candidate) -> Verdict:
        return self._narrow(self.inner.evaluate(candidate))

    def close(self) -> None:
        self.inner.close()
