"""Broken models (built once per session) and the two runtimes used as oracles."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "data"))

import make_broken_models  # noqa: E402

_MICRO = r"""
import sys
from tflite_micro.python.tflite_micro import runtime
try:
    it = runtime.Interpreter.from_file(sys.argv[1])
except RuntimeError as e:
    print("FAIL", e)
    sys.exit(0)
it.print_allocations()
print("OK")
"""


@pytest.fixture(scope="session")
def broken(tmp_path_factory) -> dict[str, Path]:
    """name -> path of every broken variant in make_broken_models."""
    out = tmp_path_factory.mktemp("broken")
    return {name: make_broken_models.write(name, out / f"{name}.tflite")
            for name in make_broken_models.MAKERS}


def litert_failure(path: Path) -> str | None:
    """The builtin interpreter's error (no delegates), or None when it prepares and runs.

    NOTE: nodes after a dynamic tensor are prepared at the first invoke, not in
    allocate_tensors, so the oracle invokes once on zeros.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    try:
        it = Interpreter(model_path=str(path), experimental_op_resolver_type=
                         OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        it.allocate_tensors()
        for d in it.get_input_details():
            it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
        it.invoke()
    except (RuntimeError, ValueError) as e:
        return str(e)
    return None


def litert_run(path: Path, x: np.ndarray) -> np.ndarray:
    """Outputs (stored integers) of the builtin interpreter for a float batch x."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path), experimental_op_resolver_type=
                     OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    scale, zp = d["quantization"]
    outs = []
    for row in x:
        q = np.clip(np.round(row / scale) + zp, -128, 127).astype(d["dtype"]) if scale else row
        it.set_tensor(d["index"], q.reshape(d["shape"]))
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]).copy())
    return np.concatenate(outs)


def micro_result(path: Path) -> tuple[str | None, dict[str, int]]:
    """TFLite Micro's failure text (C-level stderr) or None, and its arena allocations."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    p = subprocess.run([sys.executable, "-c", _MICRO, str(path)], capture_output=True,
                       text=True, timeout=120, env=env)
    text = p.stdout + p.stderr
    sizes = {k: int(v) for k, v in re.findall(r"Arena allocation (\w+) (\d+) bytes", text)}
    if "FAIL" in p.stdout:
        return p.stderr.strip(), sizes
    if p.returncode in (-6, 134):
        return "Aborted", sizes  # a TFLITE_CHECK failed: abort() with no message
    assert "OK" in p.stdout, text
    return None, sizes
