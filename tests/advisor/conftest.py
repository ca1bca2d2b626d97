"""The trained model with two planted layers (built once per session) and the oracles
the advisor tests share: Keras for the float model, LiteRT's own details for the
written models (their accuracy with a hand-quantized feed is tests/litert_by_hand.py's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

@pytest.fixture(scope="session")
def planted(tmp_path_factory) -> dict[str, Path]:
    from tests.advisor.planted_model import build

    return build(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="session")
def float_accuracy(planted) -> float:
    """Top-1 accuracy of the float source on the test split, run by Keras (TF)."""
    import keras

    model = keras.models.load_model(planted["model"], compile=False)
    test = np.load(planted["test"])
    pred = np.argmax(model.predict(test["x"], verbose=0), axis=1)
    return float(np.mean(pred == test["y"]))


def cli(*args):
    """A modelkit command in-process (typer's runner): stdout and stderr apart."""
    from typer.testing import CliRunner

    from modelkit.cli.main import _register, app

    _register()
    return CliRunner().invoke(app, [str(a) for a in args])


def ops_outside_int8(path: Path) -> list[tuple[str, str]]:
    """(op, output type) of the ops whose output is not int8, from LiteRT's op and
    tensor details: QUANTIZE/DEQUANTIZE (type conversions) and ops writing indices or
    shapes (int32, int64, bool) left out."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    tensors = {d["index"]: d for d in it.get_tensor_details()}
    out = []
    for op in it._get_ops_details():  # noqa: SLF001
        if op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
            continue
        dtype = np.dtype(tensors[op["outputs"][0]]["dtype"]).name
        if dtype not in ("int8", "int32", "int64", "bool"):
            out.append((op["op_name"], dtype))
    return out
