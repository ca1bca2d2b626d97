"""modelkit without TensorFlow (a plain `pip install modelkit`): TFLite work goes on,
and a command that needs TensorFlow says so in one line with the install command.

A driver runs the CLI in a subprocess where `import tensorflow` fails as it does
when the package is absent (`sys.modules['tensorflow'] = None`). The oracles: the
LiteRT interpreter driven by hand (run), the same command in this full environment
(summarize, check, debug, transform), numpy's cosine (folding with TF), and the
install contract itself (the message, exit 2, no file left behind).
`.ci/smoke_without_tf.sh` checks the same in a real venv without TensorFlow.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelkit.errors import ExitCode, MissingDependencyError
from tests.conftest import ROOT, SAMPLES, run_cli
from tests.litert_by_hand import by_hand

NEEDS_TF = "needs TensorFlow: pip install 'modelkit[tf]'"

_DRIVER = """
import sys
sys.modules["tensorflow"] = None  # `import tensorflow` now fails as when it is absent
sys.argv = ["modelkit"] + sys.argv[1:]
from modelkit.cli.main import main
main()
"""


def without_tf(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _DRIVER, *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def assert_needs_tf(res: subprocess.CompletedProcess, line: str) -> None:
    """Exit 2 and the error as the last stderr line; no traceback."""
    assert res.returncode == ExitCode.USAGE, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1] == f"modelkit: error: {line} {NEEDS_TF}"


def cos_graph(path: Path) -> np.ndarray:
    """out = x + cos(c): a GraphDef whose constant subgraph holds an op numpy does not
    evaluate (Cos). Returns c."""
    from tensorboard.compat.proto import graph_pb2, types_pb2

    c_value = np.array([0.0, 0.5, 2.0], np.float32)
    gd = graph_pb2.GraphDef()
    x = gd.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = types_pb2.DT_FLOAT
    x.attr["shape"].shape.dim.add(size=3)
    c = gd.node.add(name="c", op="Const")
    c.attr["dtype"].type = types_pb2.DT_FLOAT
    c.attr["value"].tensor.dtype = types_pb2.DT_FLOAT
    c.attr["value"].tensor.tensor_shape.dim.add(size=3)
    c.attr["value"].tensor.tensor_content = c_value.tobytes()
    cos = gd.node.add(name="cos", op="Cos", input=["c"])
    cos.attr["T"].type = types_pb2.DT_FLOAT
    out = gd.node.add(name="out", op="AddV2", input=["x", "cos"])
    out.attr["T"].type = types_pb2.DT_FLOAT
    path.write_bytes(gd.SerializeToString())
    return c_value


def test_the_driver_really_has_no_tensorflow():
    res = subprocess.run([sys.executable, "-c",
                          "import sys; sys.modules['tensorflow'] = None; import tensorflow"],
                         capture_output=True, text=True)
    assert res.returncode == 1 and "ModuleNotFoundError" in res.stderr


# ----------------------------------------------------------------------------- what needs TF

def test_convert_says_it_needs_tensorflow_and_writes_nothing(tmp_path):
    dst = tmp_path / "out.tflite"
    res = without_tf("convert", "samples/digits_frozen.pb", dst)
    assert_needs_tf(res, "samples/digits_frozen.pb: converting")
    assert list(tmp_path.iterdir()) == []


def test_running_a_tf_graph_says_it_needs_tensorflow():
    res = without_tf("run", "samples/digits_frozen.pb", "--data", "samples/digits_test.npz")
    assert_needs_tf(res, "samples/digits_frozen.pb: running a TF graph")


def test_freezing_a_checkpoint_for_transform_says_it_needs_tensorflow(tmp_path):
    res = without_tf("transform", "samples/digits_ckpt", tmp_path / "f.pb",
                     "--transforms", "strip_unused_nodes")
    assert_needs_tf(res, "samples/digits_ckpt: freezing a checkpoint")
    assert list(tmp_path.iterdir()) == []


def test_folding_an_op_numpy_does_not_evaluate_needs_tensorflow(tmp_path):
    src = tmp_path / "cos.pb"
    c = cos_graph(src)
    res = without_tf("transform", src, tmp_path / "folded.pb", "--transforms",
                     "fold_constants", "--inputs", "x", "--outputs", "out")
    assert_needs_tf(res, f"{src}: folding Cos 'cos'")
    assert not (tmp_path / "folded.pb").exists()
    # With ignore_errors=true the pass is skipped, as TF's TransformGraph skips a
    # failing one, and the note says why.
    res = without_tf("transform", src, tmp_path / "kept.pb", "--transforms",
                     "fold_constants(ignore_errors=true)", "--inputs", "x", "--outputs", "out")
    assert res.returncode == 0, res.stderr
    assert f"failed, ignored: folding Cos 'cos' {NEEDS_TF}" in res.stderr
    # With TensorFlow the same graph folds, to numpy's cosine.
    from modelkit import load
    from modelkit.cli.transform import run_transform

    run_transform(src, tmp_path / "with_tf.pb", "fold_constants", inputs=["x"],
                  outputs=["out"])
    graph = load(tmp_path / "with_tf.pb").main
    assert "Cos" not in {n.op for n in graph.nodes}
    (folded,) = [n for n in graph.nodes if n.op == "Const"]
    np.testing.assert_allclose(folded.attrs["value"].numpy(), np.cos(c), rtol=1e-6)


def test_tensorflow_is_imported_in_one_place():
    """`import tensorflow` only in import_tf; `from tensorflow.x import y` runs after it
    (in code that was handed the module)."""
    import ast

    found = []
    for pkg in ("modelkit", "tui"):
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import) and any(
                        a.name.split(".")[0] == "tensorflow" for a in node.names):
                    found.append((path.relative_to(ROOT).as_posix(), node.lineno))
    assert [f for f, _ in found] == ["modelkit/runtime/tfenv.py"], found


def test_import_tf_names_what_needs_it(monkeypatch):
    from modelkit.runtime.tfenv import import_tf

    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(MissingDependencyError) as e:
        import_tf(needed_for="converting", path="m.pb")
    assert str(e.value) == f"m.pb: converting {NEEDS_TF}"
    assert e.value.exit_code == ExitCode.USAGE


def test_import_tf_shows_why_an_installed_tensorflow_fails(monkeypatch):
    from modelkit.runtime.tfenv import import_tf

    class Broken:
        """A TensorFlow whose import fails inside (as a missing shared library makes it)."""

        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow":
                raise ImportError("libtensorflow_framework.so.2: cannot open shared "
                                  "object file: No such file or directory")
            return None

    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Broken(), *sys.meta_path])
    with pytest.raises(MissingDependencyError) as e:
        import_tf(needed_for="converting")
    assert str(e.value) == ("converting needs TensorFlow, which is installed but failed to "
                            "import: libtensorflow_framework.so.2: cannot open shared object "
                            "file: No such file or directory")


# ----------------------------------------------------------------------------- TFLite without TF

def test_summarize_is_the_same_without_tensorflow():
    args = ("summarize", "--json", "--tensors", "samples/digits_int8.tflite")
    res = without_tf(*args)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == json.loads(run_cli(*args).stdout)


def test_check_finds_the_same_without_tensorflow(tmp_path):
    sys.path.insert(0, str(ROOT / "tests" / "data"))
    try:
        from make_broken_models import write
    finally:
        sys.path.pop(0)
    broken = write("fc_bias_per_tensor", tmp_path / "fc_bias_per_tensor.tflite")
    res = without_tf("check", "--json", broken)
    full = run_cli("check", "--json", str(broken))
    assert res.returncode == full.returncode == ExitCode.UNSUPPORTED, res.stderr
    assert json.loads(res.stdout) == json.loads(full.stdout)
    assert without_tf("check", "samples/digits_int8.tflite").returncode == 0


def test_run_matches_the_interpreter_without_tensorflow(tmp_path):
    out = tmp_path / "out.npz"
    res = without_tf("run", "samples/digits_int8.tflite", "--data", "samples/digits_test.npz",
                     "--output", out)
    assert res.returncode == 0, res.stderr
    x = np.load(SAMPLES / "digits_test.npz")["x"]
    with np.load(out) as saved:
        np.testing.assert_allclose(saved["output_0"], by_hand(SAMPLES / "digits_int8.tflite", x),
                                   rtol=0, atol=1e-6)


def test_debug_pair_mode_is_the_same_without_tensorflow():
    args = ("debug", "samples/digits_float.tflite", "samples/digits_int8.tflite",
            "--data", "samples/digits_test.npz", "--json")
    res = without_tf(*args)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == json.loads(run_cli(*args).stdout)


def test_structural_graphdef_transform_is_the_same_without_tensorflow(tmp_path):
    spec = "strip_unused_nodes fold_constants remove_nodes(op=Identity)"
    a, b = tmp_path / "a.pb", tmp_path / "b.pb"
    res = without_tf("transform", "samples/digits_frozen.pb", a, "--transforms", spec)
    assert res.returncode == 0, res.stderr
    full = run_cli("transform", "samples/digits_frozen.pb", str(b), "--transforms", spec)
    assert full.returncode == 0, full.stderr
    assert a.read_bytes() == b.read_bytes()
