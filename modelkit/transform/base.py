"""The pass framework: passes registered by name, run from a transform_graph spec.

A pass is a pure function `(model, params, ctx) -> PassResult`: it never edits
the model it is given (start from `modelkit.ir.edit.clone_model`), and it says
what it changed. `run_spec` parses TF's transform_graph syntax
(`name(param=value, param="1,2", param=v2) name2`), runs the passes in order and
reports per pass.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from modelkit.errors import ModelkitError, UsageError
from modelkit.ir import Model


class TransformError(ModelkitError):
    """A pass could not be applied to this model (exit 1)."""


@dataclass(frozen=True)
class Param:
    """A documented pass parameter (TF passes every value as a string)."""

    name: str
    doc: str = ""
    default: str | None = None
    required: bool = False
    repeated: bool = False


@dataclass
class PassContext:
    """What every pass may need besides its params.

    Attributes:
        inputs: input node names (given with --inputs or detected).
        outputs: output node names (given with --outputs or detected).
    """

    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@dataclass
class PassResult:
    """A pass's new model and what it changed.

    Attributes:
        model: the new model (the input model is never edited).
        changed: False when the pass found nothing to do.
        notes: lines for people about what was done (folded 3 batch norms...).
    """

    model: Model
    changed: bool = True
    notes: list[str] = field(default_factory=list)


class Params:
    """A pass's parameters as TF parses them: name -> list of string values.

    Getters raise UsageError with TF's wording for a bad value.
    """

    def __init__(self, pass_name: str, raw: dict[str, list[str]] | None = None) -> None:
        self.pass_name = pass_name
        self.raw: dict[str, list[str]] = {k: list(v) for k, v in (raw or {}).items()}

    def has(self, name: str) -> bool:
        return name in self.raw

    def list(self, name: str) -> list[str]:
        """Every value given for a repeatable parameter."""
        return list(self.raw.get(name, []))

    def str(self, name: str, default: str | None = None) -> str | None:
        """The one value of `name`, or `default`.

        Raises:
            UsageError: the parameter was given more than once.
        """
        values = self.raw.get(name)
        if not values:
            return default
        if len(values) > 1:
            raise UsageError(f"{self.pass_name}: expected a single '{name}' parameter, "
                             f"found {len(values)}")
        return values[0]

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.str(name)
        if value is None:
            return default
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        raise UsageError(f"{self.pass_name}: couldn't interpret the {name} argument as a "
                         f"boolean: {value} (expected true, false, 0 or 1)")

    def int(self, name: str, default: int = 0) -> int:
        return self._number(name, default, int)

    def float(self, name: str, default: float = 0.0) -> float:
        return self._number(name, default, float)

    def _number(self, name: str, default, parse):
        """The one value of `name` parsed by `parse` (int or float), or `default`."""
        value = self.str(name)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError:
            raise UsageError(f"{self.pass_name}: couldn't interpret the {name} argument as "
                             f"a number: {value}") from None


PassFn = Callable[[Model, Params, PassContext], PassResult]


@dataclass(frozen=True)
class TransformPass:
    """A registered pass.

    Attributes:
        name: the name used in specs.
        fn: the pass function.
        domain: `tf` (GraphDef graphs) or `tflite`.
        params: documented parameters; unknown names are refused.
        doc: one line on what it does.
        needs_tf: the pass imports TensorFlow (e.g. to evaluate rare ops).
        open_params: the pass accepts parameters beyond `params` (TF passes some through).
        example: a call with its required parameters, for error messages.
    """

    name: str
    fn: PassFn
    domain: str
    params: tuple[Param, ...]
    doc: str
    needs_tf: bool = False
    open_params: bool = False
    example: str = ""

    def validate(self, params: Params) -> None:
        """Refuse unknown and missing required parameters, naming the valid ones.

        Raises:
            UsageError: a parameter is unknown, missing or given twice when it may not be.
        """
        known = {p.name: p for p in self.params}
        # NOTE: TF parses `ignore_errors` for every transform.
        allowed = set(known) | {"ignore_errors"}
        for name, values in params.raw.items():
            if name not in allowed and not self.open_params:
                valid = ", ".join(sorted(known)) or "none"
                raise UsageError(f"{self.name} has no parameter '{name}' "
                                 f"(its parameters: {valid})")
            p = known.get(name)
            if p is not None and len(values) > 1 and not p.repeated:
                raise UsageError(f"{self.name} expects exactly one '{name}' argument")
        ignore = params.str("ignore_errors")
        if ignore is not None and ignore.lower() not in ("true", "false"):
            raise UsageError(f"ignore_errors should be true or false, found {ignore}")
        missing = [p for p in self.params if p.required and not params.has(p.name)]
        if missing:
            # NOTE: worded as TF's own messages (remove_nodes, rename_op...).
            required = [p for p in self.params if p.required]
            if len(required) == 1 and required[0].repeated:
                what = f"at least one '{required[0].name}' argument"
            else:
                what = "exactly one " + " and one ".join(f"'{p.name}'" for p in required) \
                    + " argument"
            example = self.example or (f"{self.name}("
                                       + ", ".join(f"{p.name}=..." for p in required) + ")")
            raise UsageError(f"{self.name} expects {what}, e.g. {example}")


_REGISTRY: dict[str, TransformPass] = {}
_LOADED = False


def register(name: str, *, domain: str = "tf", params: Iterable[Param] = (), doc: str = "",
             needs_tf: bool = False, open_params: bool = False,
             example: str = "") -> Callable[[PassFn], PassFn]:
    """Register the decorated function as pass `name`.

    Args:
        domain: `tf` or `tflite`: the models the pass works on.
        params: its documented parameters (others are refused unless open_params).
        doc: one line for `--list` (default: the docstring's first line).
        needs_tf: the pass imports TensorFlow.
        example: a call showing the required parameters, for error messages.
    """

    def deco(fn: PassFn) -> PassFn:
        if name in _REGISTRY:
            raise ValueError(f"pass {name!r} registered twice")
        _REGISTRY[name] = TransformPass(name, fn, domain, tuple(params),
                                        doc or (fn.__doc__ or "").strip().split("\n")[0],
                                        needs_tf, open_params, example)
        return fn

    return deco


def _load_passes() -> None:
    """Import the modules that register passes (cheap: no TF at import time)."""
    import importlib
    import pkgutil

    import modelkit.transform as pkg
    for sub in ("tf", "tflite"):
        try:
            mod = importlib.import_module(f"{pkg.__name__}.{sub}")
        except ModuleNotFoundError as e:
            if e.name != f"{pkg.__name__}.{sub}":
                raise
            continue
        for info in pkgutil.iter_modules(mod.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{mod.__name__}.{info.name}")


def all_passes() -> dict[str, TransformPass]:
    """Every registered pass by name (the pass modules are imported on the first call)."""
    global _LOADED
    if not _LOADED:
        _load_passes()
        _LOADED = True
    return dict(_REGISTRY)


def get_pass(name: str) -> TransformPass:
    """The pass called `name`.

    Raises:
        UsageError: no such pass; the message lists the known ones.
    """
    passes = all_passes()
    if name not in passes:
        import difflib
        close = difflib.get_close_matches(name, passes, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UsageError(f"Transform '{name}' not recognized.{hint} "
                         f"Known: {', '.join(sorted(passes))}")
    return passes[name]


_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def parse_spec(text: str) -> list[tuple[str, Params]]:
    """Parse a transform_graph spec: `name(param=value, param="a,b") name2 ...`.

    Values may be double-quoted (to hold commas, spaces and parentheses); a
    parameter may repeat (`remove_nodes(op=Identity, op=CheckNumerics)`).

    Raises:
        UsageError: the spec does not parse; the message points at the place.
    """
    out: list[tuple[str, Params]] = []
    i, n = 0, len(text)

    def fail(what: str) -> UsageError:
        rest = text[i:i + 30]
        return UsageError(f"--transforms: {what} at character {i + 1}: '{rest}'")

    def skip_space() -> None:
        nonlocal i
        while i < n and text[i].isspace():
            i += 1

    while True:
        skip_space()
        if i >= n:
            break
        m = _NAME.match(text, i)
        if not m:
            raise fail("expected a transform name")
        name = m.group(0)
        i = m.end()
        raw: dict[str, list[str]] = {}
        skip_space()
        if i < n and text[i] == "(":
            i += 1
            while True:
                skip_space()
                if i < n and text[i] == ")":
                    i += 1
                    break
                m = _NAME.match(text, i)
                if not m:
                    raise fail("expected a parameter name")
                pname = m.group(0)
                i = m.end()
                skip_space()
                if i >= n or text[i] != "=":
                    raise fail(f"expected '=' after parameter '{pname}'")
                i += 1
                skip_space()
                if i < n and text[i] == '"':
                    # NOTE: as TF's ScanEscapedUntil: a backslash escapes the next
                    # character, and the value keeps the backslash.
                    end = i + 1
                    while end < n and text[end] != '"':
                        end += 2 if text[end] == "\\" else 1
                    if end >= n:
                        raise fail("unterminated quoted value")
                    value = text[i + 1:end]
                    i = end + 1
                else:
                    start = i
                    while i < n and text[i] not in ",)" and not text[i].isspace():
                        i += 1
                    value = text[start:i]
                raw.setdefault(pname, []).append(value)
                skip_space()
                if i < n and text[i] == ",":
                    i += 1
                    continue
                if i < n and text[i] == ")":
                    i += 1
                    break
                raise fail("expected ',' or ')'")
        out.append((name, Params(name, raw)))
    return out


@dataclass
class PassReport:
    """What one pass did: node counts and the op histogram change."""

    name: str
    graph_nodes_before: int
    graph_nodes_after: int
    op_delta: dict[str, int]
    changed: bool
    notes: list[str]

    def line(self) -> str:
        delta = ", ".join(f"{op} {d:+d}" for op, d in sorted(self.op_delta.items()))
        text = f"{self.name}: {self.graph_nodes_before} -> {self.graph_nodes_after} nodes"
        if delta:
            text += f" ({delta})"
        elif not self.changed:
            text += " (no change)"
        for note in self.notes:
            text += f"; {note}"
        return text

    def to_dict(self) -> dict:
        return {"name": self.name, "nodes_before": self.graph_nodes_before,
                "nodes_after": self.graph_nodes_after, "op_delta": self.op_delta,
                "changed": self.changed, "notes": self.notes}


def _histogram(model: Model) -> Counter:
    return Counter(n.op for g in model.graphs for n in g.nodes)


def _count(model: Model) -> int:
    return sum(len(g.nodes) for g in model.graphs)


def _broken_edges(model: Model) -> set[str]:
    """Inputs of main-graph nodes whose producer is not in the graph (`node <- value`)."""
    if not model.graphs:
        return set()
    graph = model.graphs[0]
    alive = {id(n) for n in graph.nodes}
    names = {n.name for n in graph.nodes}
    bad = set()
    for n in graph.nodes:
        for v in n.inputs:
            if v is not None and v.producer is not None and id(v.producer) not in alive:
                bad.add(f"{n.name} <- {v.name}")
        for c in n.control_inputs:
            if c not in names:
                bad.add(f"{n.name} <- ^{c}")
    return bad


def run_passes(model: Model, passes: list[tuple[str, Params]], ctx: PassContext,
               *, on_report: Callable[[PassReport], None] | None = None
               ) -> tuple[Model, list[PassReport]]:
    """Run `passes` in order; each sees the previous one's model.

    Raises:
        UsageError: an unknown pass, a bad parameter, or a pass of another domain.
        TransformError: a pass failed on this model.
    """
    domain = "tflite" if model.format == "tflite" else "tf"
    resolved = []
    for name, params in passes:
        p = get_pass(name)
        if p.domain != domain:
            kind = "TFLite models" if p.domain == "tflite" else "TensorFlow graphs"
            raise UsageError(f"{name} works on {kind}, not on a {model.format} model")
        p.validate(params)
        resolved.append((p, params))
    reports = []
    broken = _broken_edges(model)
    for p, params in resolved:
        before_hist, before = _histogram(model), _count(model)
        ignore = (params.str("ignore_errors") or "false").lower() == "true"
        try:
            result = p.fn(model, params, ctx)
        except ModelkitError as e:
            # NOTE: as TF's TransformGraph: with ignore_errors=true a failing pass
            # leaves the graph as it was and the chain goes on.
            if not ignore:
                raise
            result = PassResult(model, False, [f"failed, ignored: {e}"])
        # NOTE: as TF's TransformGraph (IsGraphValid after every transform), a pass
        # must not leave an input pointing at a node that is gone.
        now = _broken_edges(result.model)
        new = sorted(now - broken)
        if new:
            more = f" and {len(new) - 3} more" if len(new) > 3 else ""
            raise TransformError(f"{p.name}: invalid graph with inputs referring to "
                                 f"nonexistent nodes: {', '.join(new[:3])}{more}")
        broken = now
        model = result.model
        after_hist = _histogram(model)
        delta = {op: after_hist[op] - before_hist[op] for op in set(before_hist) | set(after_hist)
                 if after_hist[op] != before_hist[op]}
        report = PassReport(p.name, before, _count(model), delta, result.changed,
                            list(result.notes))
        reports.append(report)
        if on_report is not None:
            on_report(report)
    return model, reports
