"""Fixtures of the browser tests: models (the committed sample and ones built in code) and
the TFLite interpreter's view of the sample, which is the oracle."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SAMPLE = ROOT / "samples" / "digits_int8.tflite"

# NOTE: the helpers beside the tests are imported as plain modules.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def sample_path() -> Path:
    if not SAMPLE.exists():
        pytest.skip(f"{SAMPLE} is not there (run `make samples`)")
    return SAMPLE


@pytest.fixture(scope="session")
def interpreter(sample_path):
    """The LiteRT interpreter on the sample: tensor and op details are the oracle."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # NOTE: without the default delegate, so the op list is the model's own ops.
    interp = Interpreter(model_path=str(sample_path), experimental_op_resolver_type=
                         OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    return interp


@pytest.fixture(scope="session")
def tensor_details(sample_path) -> dict[int, dict]:
    """The model's tensors as the interpreter reports them before allocation (which adds
    scratch tensors of its own)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(sample_path))
    return {d["index"]: d for d in interp.get_tensor_details()}


@pytest.fixture(scope="session")
def op_details(interpreter) -> list[dict]:
    # NOTE: the interpreter has no public op listing; this is the one its analyzer uses.
    return interpreter._get_ops_details()
