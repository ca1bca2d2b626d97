"""Per-layer precision as an ai-edge-quantizer recipe, applied to the float TFLite model.

A layer is an op of the float TFLite model, named by its output tensor (what
`modelkit debug` calls `tensor_name`). Its precision is one of:

- `int8`: int8 activations and weights (the recipe's default, ai-edge-quantizer's
  `static_wi8_ai8`);
- `int16x8`: int16 activations, int8 weights (`static_wi8_ai16`);
- `float`: not quantized (`no_quantize`): float32 activations and weights.

The recipe is ai-edge-quantizer's own format (a JSON list of
`{"regex", "operation", "algorithm_key", "op_config"}`, the later entry winning):
`static_wi8_ai8` for every op, then one entry per layer that is not int8, its regex
matching the op's scope exactly (ai-edge-quantizer names an op by its output tensor
names, each followed by `;`). `ai_edge_quantizer.quantizer.Quantizer(float_model,
recipe_path)` then reproduces the model without modelkit.

ai-edge-quantizer and LiteRT are imported inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from modelkit.errors import ConversionError, MissingDependencyError
from modelkit.ir import Model, Node

PRECISIONS = ("int8", "int16x8", "float")
SIGNATURE = "serving_default"
INSTALL = "pip install 'modelkit[tf]' (or pip install ai-edge-quantizer)"
_QDQ = ("QUANTIZE", "DEQUANTIZE")
_KIND = {"float32": "float", "float16": "float", "int16": "int16x8", "int8": "int8",
         "uint8": "int8"}


def _aeq():
    """ai_edge_quantizer's quantizer and recipe modules.

    Raises:
        MissingDependencyError: it is not installed.
    """
    try:
        from ai_edge_quantizer import quantizer, recipe
    except ImportError as e:
        raise MissingDependencyError(f"the precision search needs ai-edge-quantizer: "
                                     f"{INSTALL} ({e})") from None
    return quantizer, recipe


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ai-edge-quantizer's progress bars and the interpreter's notices off stderr."""
    from modelkit.runtime.tfenv import quiet_native_stderr

    with quiet_native_stderr(), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def scope(node: Node) -> str:
    """The name ai-edge-quantizer matches a recipe's regex against: the op's output
    tensor names, each followed by `;`."""
    return "".join(f"{v.name};" for v in node.outputs if v is not None and v.name)


def layer_regex(name: str) -> str:
    """The regex that selects exactly the op whose (only) output is `name`."""
    return "^" + re.escape(f"{name};") + "$"


def build_recipe(assignment: Mapping[str, str]) -> list[dict]:
    """The recipe: int8 everywhere, then the layers of `assignment` (output tensor
    name -> `int16x8` | `float`; `int8` entries are left out)."""
    _, recipe = _aeq()
    entries = [dict(e) for e in recipe.static_wi8_ai8()]
    a16w8 = recipe.static_wi8_ai16()[0]["op_config"]
    for name, precision in assignment.items():
        if precision == "int8":
            continue
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}")
        entry: dict = {"regex": layer_regex(name), "operation": "*"}
        if precision == "float":
            entry["algorithm_key"] = "no_quantize"
        else:
            entry.update(algorithm_key="min_max_uniform_quantize", op_config=a16w8)
        entries.append(entry)
    return json.loads(json.dumps(entries))  # plain JSON types (enums as their values)


def assignment_of(recipe: list[dict]) -> dict[str, str]:
    """The layers a recipe written by `build_recipe` sets apart from int8.

    Raises:
        ValueError: an entry `build_recipe` does not write.
    """
    out: dict[str, str] = {}
    for entry in recipe[1:]:
        m = re.fullmatch(r"\^(.*);\$", str(entry.get("regex", "")), re.S)
        if m is None or entry.get("operation") != "*":
            raise ValueError(f"entry {entry!r} is not a per-layer entry")
        name = re.sub(r"\\(.)", r"\1", m.group(1))
        if entry.get("algorithm_key") == "no_quantize":
            out[name] = "float"
        elif (entry.get("op_config") or {}).get("activation_tensor_config", {}) \
                .get("num_bits") == 16:
            out[name] = "int16x8"
        else:
            out[name] = "int8"
    return out


def with_signature(float_bytes: bytes) -> bytes:
    """The model with a `serving_default` signature over its main graph's inputs and
    outputs when it has none (ai-edge-quantizer calibrates through a signature; the
    TF1 converter writes none)."""
    from modelkit.formats.tflite import load as load_tflite
    from modelkit.formats.tflite.writer import save as save_tflite
    from modelkit.ir import Signature, SignatureIO

    with tempfile.TemporaryDirectory(prefix="modelkit-advisor-") as d:
        path = Path(d) / "float.tflite"
        path.write_bytes(float_bytes)
        model = load_tflite(path)
        if model.signatures or not model.graphs:
            return float_bytes
        graph = model.graphs[0]

        def ios(values) -> list[SignatureIO]:
            return [SignatureIO(v.name.split(":")[0], v.name, v.dtype, v.shape, v)
                    for v in values]

        model.signatures = [Signature(SIGNATURE, ios(graph.inputs), ios(graph.outputs))]
        out = Path(d) / "signed.tflite"
        save_tflite(model, out)
        return out.read_bytes()


def signature_inputs(float_bytes: bytes) -> tuple[str, list[str]]:
    """(signature key, its input keys in order) of the model's only/first signature."""
    from ai_edge_litert.interpreter import Interpreter

    with _quiet():
        sigs = Interpreter(model_content=float_bytes).get_signature_list()
    key = SIGNATURE if SIGNATURE in sigs else sorted(sigs)[0]
    return key, list(sigs[key]["inputs"])


def calibrate(float_bytes: bytes, samples: Iterable[Mapping[str, np.ndarray]],
              signature: str = SIGNATURE):
    """ai-edge-quantizer's min/max of every tensor over `samples` (feeds by input key,
    batch of one each); one calibration serves every recipe.

    Raises:
        ConversionError: the calibration failed.
        MissingDependencyError: ai-edge-quantizer is not installed.
    """
    quantizer, recipe = _aeq()
    q = quantizer.Quantizer(bytearray(float_bytes), recipe.static_wi8_ai8())
    try:
        with _quiet():
            return q.calibrate({signature: [dict(s) for s in samples]}, num_threads=1)
    except (ValueError, RuntimeError, KeyError) as e:
        raise ConversionError(f"ai-edge-quantizer could not calibrate the float model: "
                              f"{_first_line(e)}") from None


def quantize(float_bytes: bytes, recipe: list[dict], calibration) -> bytes:
    """The float model quantized with `recipe` and the `calibrate` result.

    Raises:
        ConversionError: ai-edge-quantizer refused the recipe or failed.
    """
    quantizer, _ = _aeq()
    try:
        with _quiet():
            q = quantizer.Quantizer(bytearray(float_bytes), recipe)
            result = q.quantize(calibration, enable_progress_report=False)
    except (ValueError, RuntimeError, KeyError, TypeError) as e:
        raise ConversionError(f"ai-edge-quantizer failed: {_first_line(e)}") from None
    return bytes(result.quantized_model)


def set_io_type(model_bytes: bytes, io_type: str) -> tuple[bytes, str | None]:
    """The model with inputs/outputs of `io_type` (modelkit's `set_io_type` pass), and
    a note when it cannot be done (an input that feeds float ops stays float)."""
    from modelkit.formats.tflite import load as load_tflite
    from modelkit.formats.tflite.writer import save as save_tflite
    from modelkit.transform import PassContext, parse_spec, run_passes
    from modelkit.transform.base import TransformError

    with tempfile.TemporaryDirectory(prefix="modelkit-advisor-") as d:
        path = Path(d) / "model.tflite"
        path.write_bytes(model_bytes)
        model = load_tflite(path)
        try:
            out, reports = run_passes(model, parse_spec(f"set_io_type(type={io_type})"),
                                      PassContext([], []))
        except TransformError as e:
            return model_bytes, f"input/output kept as they are: {e.message}"
        if not any(r.changed for r in reports):
            return model_bytes, None
        target = Path(d) / "io.tflite"
        save_tflite(out, target)
        return target.read_bytes(), None


def op_precisions(model: Model) -> list[tuple[Node, str]]:
    """(op, `int8` | `int16x8` | `float`) for every op of the main graph that computes
    on values, by the type of its output: QUANTIZE/DEQUANTIZE (conversions) and ops
    writing only indices or shapes (int32, bool) are left out."""
    out = []
    for node in model.graphs[0].nodes if model.graphs else []:
        if node.op in _QDQ:
            continue
        kinds = {_KIND.get(str(v.dtype)) for v in node.outputs if v is not None}
        kinds.discard(None)
        if not kinds:
            continue
        kind = "float" if "float" in kinds else "int16x8" if "int16x8" in kinds else "int8"
        out.append((node, kind))
    return out


def precision_counts(model_bytes: bytes) -> dict[str, int]:
    """How many ops compute in each precision (see `op_precisions`), plus
    `conversions`: the QUANTIZE/DEQUANTIZE ops."""
    from modelkit.formats.tflite import load as load_tflite

    with tempfile.TemporaryDirectory(prefix="modelkit-advisor-") as d:
        path = Path(d) / "model.tflite"
        path.write_bytes(model_bytes)
        model = load_tflite(path)
        counts = {p: 0 for p in PRECISIONS}
        for _, kind in op_precisions(model):
            counts[kind] += 1
        counts["conversions"] = sum(1 for n in model.graphs[0].nodes if n.op in _QDQ) \
            if model.graphs else 0
    return counts


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
