"""Resource variables nothing assigns: check against the LiteRT interpreter at invoke.

tests/data/variables.tflite has signatures `init` (assign), `read` (read), `accumulate`
(read, add, assign) and `reset` (assign, then read), each starting with the converter's
initializer (CALL_ONCE); the variants below drop the initializer and some signatures.
"""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import modelkit
from modelkit.check import TARGETS, check_model
from modelkit.ir.edit import clone_model
from tests.conftest import ROOT, run_cli

DATA = ROOT / "tests" / "data"
BUILTIN = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
X = np.arange(1, 5, dtype=np.float32).reshape(1, 4)


def _variant(tmp_path, name: str, keep: tuple[str, ...] | None = None,
             initializer: bool = False):
    """variables.tflite without its CALL_ONCE nodes (unless `initializer`), keeping the
    signatures in `keep` (all by default)."""
    model = clone_model(modelkit.load(DATA / "variables.tflite"))
    if not initializer:
        for g in model.graphs:
            g.nodes = [n for n in g.nodes if n.op != "CALL_ONCE"]
    if keep is not None:
        model.signatures = [s for s in model.signatures if s.key in keep]
    model.path = None
    path = tmp_path / f"{name}.tflite"
    modelkit.save(model, path)
    return path


def _invoke_failure(path, key: str | None = None, resolver=BUILTIN) -> str | None:
    """The interpreter's error when `key` (or the only subgraph) is run first, else None."""
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
    try:
        if key is None:
            it.allocate_tensors()
            for d in it.get_input_details():
                it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
            it.invoke()
        else:
            it.get_signature_runner(key)(x=X)
    except RuntimeError as e:
        return str(e)
    return None


def _unassigned(report):
    return [f for f in report.findings if f.rule == "unassigned-variable"]


def test_initializer_subgraph_assigns_every_variable():
    """The converter's file runs every signature first and check flags nothing."""
    path = DATA / "variables.tflite"
    for key in ("init", "read", "accumulate", "reset"):
        assert _invoke_failure(path, key) is None
    model = modelkit.load(path)
    for target in TARGETS:
        assert _unassigned(check_model(model, target)) == []


def test_reads_nothing_assigns_fail_at_invoke_and_are_errors(tmp_path):
    """No initializer and no signature that assigns cleanly: `read` and `accumulate`
    fail at their first READ_VARIABLE, with check's message, on every target."""
    path = _variant(tmp_path, "unassigned", keep=("read", "accumulate"))
    model = modelkit.load(path)
    report = check_model(model, "tflite")
    errors = {f.numbers["entries"][0]: f for f in report.errors
              if f.rule == "unassigned-variable"}
    assert set(errors) == {"read", "accumulate"}
    for key, finding in errors.items():
        failure = _invoke_failure(path, key)
        assert failure == finding.message, (failure, finding.message)
        sig = next(s for s in model.signatures if s.key == key)
        assert finding.graph == sig.graph and finding.op == "READ_VARIABLE"
        assert finding.fix and "frozen" in finding.fix
    for target in TARGETS:
        found = [f.graph for f in check_model(model, target).errors
                 if f.rule == "unassigned-variable"]
        # NOTE: TFLite Micro runs subgraph 0 (`accumulate`) only.
        assert found == ([0] if target == "micro" else [0, 2]), target


def test_assign_before_read_in_the_same_subgraph_runs_and_is_not_flagged(tmp_path):
    """`reset` assigns, then reads: no initializer needed."""
    path = _variant(tmp_path, "assign_first", keep=("reset",))
    assert _invoke_failure(path, "reset") is None
    model = modelkit.load(path)
    for target in set(TARGETS) - {"micro"}:  # Micro runs subgraph 0, not the signature
        assert _unassigned(check_model(model, target)) == []


def test_variable_an_init_signature_assigns_is_an_info(tmp_path):
    """Without the initializer but with `init`: `read` fails when run first and works
    after `init` ran in the same interpreter; check tells so without an error."""
    path = _variant(tmp_path, "init_signature")
    assert "read_variable.cc" in _invoke_failure(path, "read")
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=BUILTIN)
    it.get_signature_runner("init")(x=X)
    np.testing.assert_array_equal(it.get_signature_runner("read")(x=X)["y"], X * X)
    report = check_model(modelkit.load(path), "tflite")
    assert report.errors == []
    infos = _unassigned(report)
    assert {f.numbers["entries"][0] for f in infos} == {"read", "accumulate"}
    assert all(f.severity == "info" and "init" in f.numbers["assigned_by"] for f in infos)


def test_reads_in_a_while_body_name_the_loop_as_the_interpreter_does():
    """A Keras LSTM converted unfrozen: its weights are read in the main graph and in the
    WHILE body through handles passed into the loop. The builtin kernels fail at the
    first main-graph read; with XNNPACK (which takes the main graph's reads without an
    error) the body's first read fails, named inside its WHILE node."""
    path = DATA / "lstm_variables.tflite"
    model = modelkit.load(path)
    report = check_model(model, "tflite")
    first = min(report.errors, key=lambda f: (f.graph, f.node))
    assert first.rule == "unassigned-variable"
    assert _invoke_failure(path) == first.message
    xnn = check_model(model, "xnnpack")
    body = [f for f in xnn.errors if f.graph != 0]
    assert body and {f.numbers["variable"] for f in body} == {
        f.numbers["variable"] for f in report.errors if f.graph != 0}
    auto = _invoke_failure(path, resolver=OpResolverType.AUTO)
    assert auto == min(body, key=lambda f: f.node).message
    assert all("XNNPACK" in f.message for f in xnn.errors if f.graph == 0)
    assert not any("XNNPACK" in f.message for f in body)


def test_xnnpack_runs_an_unassigned_read_without_error(tmp_path):
    """What the xnnpack target says: the default delegate takes the read of a handle
    its subgraph makes, and the run ends without an error where the builtin kernel
    fails."""
    path = _variant(tmp_path, "unassigned_read", keep=("read",))
    assert "read_variable.cc" in _invoke_failure(path, "read")
    assert _invoke_failure(path, "read", resolver=OpResolverType.AUTO) is None
    (finding,) = _unassigned(check_model(modelkit.load(path), "xnnpack"))
    assert finding.severity == "error" and "no error" in finding.message


@pytest.mark.parametrize("keep,code", [(("read",), 1), (("reset",), 0)])
def test_run_blames_the_model_not_the_inputs(tmp_path, keep, code):
    """`run` on a read nothing assigns exits 1 with one line naming the model's problem
    (the interpreter's own text in it); a model that assigns first runs."""
    path = _variant(tmp_path, "run_" + keep[0], keep=keep)
    data = tmp_path / "x.npy"
    np.save(data, np.repeat(X, 2, axis=0))
    p = run_cli("run", str(path), "--data", str(data))
    assert p.returncode == code, p.stdout + p.stderr
    if code:
        (line,) = p.stderr.strip().splitlines()
        assert line.startswith(f"modelkit: error: {path}: the model reads a resource "
                               "variable that nothing assigned")
        assert _invoke_failure(path, keep[0]).splitlines()[0] in line
        assert "Traceback" not in p.stderr


_MICRO_RUN = r"""
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
it = runtime.Interpreter.from_file(sys.argv[1])
it.set_input(np.arange(1, 5, dtype=np.float32).reshape(1, 4), 0)
it.invoke()
print(" ".join(str(v) for v in it.get_output(0).ravel()))
"""


def test_micro_reads_zeros_where_nothing_assigned(tmp_path):
    """TFLite Micro runs subgraph 0 (`accumulate`: read, add x, assign, read) without an
    error: with the initializer it gives 2 + x, without it 0 + x. Check's micro
    message says so."""
    import subprocess
    import sys

    def micro(path) -> list[float]:
        p = subprocess.run([sys.executable, "-c", _MICRO_RUN, str(path)],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return [float(v) for v in p.stdout.split()]

    assert micro(DATA / "variables.tflite") == (X.ravel() + 2).tolist()
    path = _variant(tmp_path, "micro")
    assert micro(path) == X.ravel().tolist()
    report = check_model(modelkit.load(path), "micro")
    (finding,) = [f for f in report.errors if f.rule == "unassigned-variable" and f.graph == 0]
    assert "reads zeros" in finding.message
