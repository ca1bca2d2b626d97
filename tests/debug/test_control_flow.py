"""debug on models with IF/WHILE subgraphs, against the LiteRT interpreter by hand.

- if_float/if_int8: an IF whose condition is reshaped to a scalar by an empty shape
  tensor (the interpreter cannot read a zero-element tensor), as ONNX-converted
  wake-word models have.
- samples/control_flow.tflite against control_flow_int8.tflite (the same module
  quantized): int8 layers in the main graph and in IF branches and the WHILE body.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from tests.conftest import ROOT, SAMPLES, run_cli

DATA = ROOT / "tests" / "data"
BUILTIN = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES


def _by_hand(float_path, quant_path, x: np.ndarray, layers: list[dict]) -> dict[int, float]:
    """Accumulated RMSE per quantized tensor index: each sample through both models (main
    subgraph, builtin kernels, every tensor kept), the float tensor of the same name
    against the dequantized int8 one."""
    def interpreter(path):
        it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=BUILTIN)
        it.allocate_tensors()
        return it

    f_it, q_it = interpreter(float_path), interpreter(quant_path)
    f_index = {d["name"]: d["index"] for d in f_it.get_tensor_details()}
    mse: dict[int, list[float]] = {layer["tensor_idx"]: [] for layer in layers}
    for row in x:
        for it in (f_it, q_it):
            it.set_tensor(it.get_input_details()[0]["index"], row[None])
            it.invoke()
        for layer in layers:
            f = f_it.get_tensor(f_index[layer["float_tensor_name"]]).astype(np.float64)
            q = q_it.get_tensor(layer["tensor_idx"]).astype(np.float64)
            real = (q - layer["zero_point"]) * layer["scale"]
            mse[layer["tensor_idx"]].append(float(np.mean((real - f) ** 2)))
    return {k: float(np.sqrt(np.mean(v))) for k, v in mse.items()}


def _int8_subgraphs(path) -> set[int]:
    """Subgraphs other than the main one where the interpreter holds int8 tensors (both
    models are fully quantized: no int8 weight without int8 activations)."""
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=BUILTIN)
    found, gi = set(), 1
    while True:
        try:
            details = it.get_tensor_details(gi)
        except (ValueError, IndexError):
            return found
        if any(d["dtype"] == np.int8 and d["quantization_parameters"]["scales"].size
               for d in details):
            found.add(gi)
        gi += 1


def _debug(float_path, quant_path, x, tmp_path) -> dict:
    data = tmp_path / "x.npy"
    np.save(data, x)
    p = run_cli("debug", str(float_path), str(quant_path), "--data", str(data), "--json")
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    return json.loads(p.stdout)


@pytest.mark.parametrize("float_path,quant_path", [
    (DATA / "if_float.tflite", DATA / "if_int8.tflite"),
    (SAMPLES / "control_flow.tflite", DATA / "control_flow_int8.tflite"),
], ids=["if_empty_shape", "samples_control_flow"])
def test_debug_measures_the_main_graph_and_names_what_it_skipped(float_path, quant_path,
                                                                 tmp_path):
    x = np.random.default_rng(3).normal(size=(12, 4)).astype(np.float32)
    report = _debug(float_path, quant_path, x, tmp_path)
    layers = [layer for layer in report["layers"] if layer["float_tensor_name"]]
    assert layers, report
    want = _by_hand(float_path, quant_path, x, layers)
    for layer in layers:
        assert layer["accumulated_rmse"] == pytest.approx(want[layer["tensor_idx"]],
                                                          rel=1e-5, abs=1e-9), layer
        assert layer["local_sqnr_db"] is not None
    skipped = _int8_subgraphs(quant_path)
    assert skipped
    (note,) = [n for n in report["notes"] if "subgraphs other than the main one" in n]
    named = {int(part.split()[1]) for part in note.split(": ", 1)[1].split(";")[0]
             .split(", ")}
    assert named == skipped, note


def test_debug_of_a_control_flow_model_against_itself_has_nothing_to_measure(tmp_path):
    """The samples' float model against itself: no quantized layer, no subgraph note."""
    x = np.random.default_rng(4).normal(size=(3, 4)).astype(np.float32)
    report = _debug(SAMPLES / "control_flow.tflite", SAMPLES / "control_flow.tflite", x,
                    tmp_path)
    assert report["layers"] == []
    assert not any("subgraphs other than" in n for n in report["notes"])


def test_debug_errors_name_the_users_file(tmp_path):
    """A model the interpreter cannot prepare is named by its path, not `<memory>`."""
    data = tmp_path / "x.npy"
    np.save(data, np.ones((2, 4), np.float32))
    path = DATA / "custom_ops.tflite"
    p = run_cli("debug", str(path), str(path), "--data", str(data))
    assert p.returncode == 4
    (line,) = p.stderr.strip().splitlines()
    assert line.startswith(f"modelkit: error: {path}: ") and "<memory>" not in line
