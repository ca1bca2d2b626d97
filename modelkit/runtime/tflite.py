"""TFLite models in the LiteRT interpreter (`ai_edge_litert.interpreter`).

By default the interpreter uses the builtin kernels only
(`OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES`): the reference behaviour, with
the kernels' own Prepare errors. `delegates=True` lets the interpreter apply its
default delegates (XNNPACK), as an app would.

Inputs and outputs are named by the signature's keys when the model has a signature
(the one asked for, or its only one), else by tensor name.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from modelkit.errors import ModelReadError, UnsupportedError, UsageError
from modelkit.quant.io_report import quant_from_detail
from modelkit.runtime.base import Backend, TensorSpec

_UNRESOLVED_RE = re.compile(r"unresolved custom op: ([^\s.]+)", re.IGNORECASE)
_FAILED_NODE_RE = re.compile(r"Node number \d+ \(([^)]+)\) failed to prepare")


class InterpreterUnsupportedError(UnsupportedError):
    """The interpreter cannot load the model: it holds ops it has no kernel for
    (Select TF ops, custom ops) or a kernel rejected the model while preparing.

    Attributes:
        ops: the op names the interpreter named, e.g. ["FlexRFFT"].
        reason: the interpreter's own first line.
    """

    def __init__(self, message: str, path: str | None, ops: list[str], reason: str) -> None:
        super().__init__(message, path)
        self.ops = ops
        self.reason = reason


def _spec(detail: dict, name: str) -> TensorSpec:
    shape_sig = detail.get("shape_signature")
    dims = shape_sig if shape_sig is not None and len(shape_sig) else detail["shape"]
    shape = tuple(None if int(d) < 0 else int(d) for d in dims)
    dtype = np.dtype(detail["dtype"])
    quant = quant_from_detail(detail) if dtype.kind in "iu" else None
    return TensorSpec(name, dtype, shape, quant, int(detail["index"]))


def interpreter_failure(text: str) -> tuple[list[str], str]:
    """The op names and the first line of an interpreter load/prepare error."""
    ops = list(dict.fromkeys(_UNRESOLVED_RE.findall(text) + _FAILED_NODE_RE.findall(text)))
    first = next((line.strip() for line in text.splitlines() if line.strip()),
                 "the interpreter failed")
    return ops, first


class TFLiteBackend(Backend):
    """A TFLite model loaded in the LiteRT interpreter.

    Args:
        source: a .tflite path or the flatbuffer bytes.
        delegates: let the interpreter apply its default delegates (XNNPACK).
        signature: the signature to run; default: the only one, else the main subgraph.
        preserve_all_tensors: keep every intermediate tensor readable after `run`.

    Raises:
        ModelReadError: the file is not a model the interpreter can read.
        InterpreterUnsupportedError: the interpreter has no kernel for some op
            (Flex/custom ops) or a kernel rejected the model (exit 4).
        UsageError: no such signature.
    """

    format = "tflite"

    def __init__(self, source: str | Path | bytes, *, delegates: bool = False,
                 signature: str | None = None, preserve_all_tensors: bool = False) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.path = "<memory>" if isinstance(source, (bytes, bytearray)) else str(source)
        resolver = (OpResolverType.AUTO if delegates
                    else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        kwargs = {"experimental_op_resolver_type": resolver,
                  "experimental_preserve_all_tensors": preserve_all_tensors}
        try:
            with warnings.catch_warnings():
                # NOTE: preserve_all_tensors is asked for on purpose; the interpreter warns.
                warnings.simplefilter("ignore", UserWarning)
                if isinstance(source, (bytes, bytearray)):
                    self.interpreter = Interpreter(model_content=bytes(source), **kwargs)
                else:
                    self.interpreter = Interpreter(model_path=str(source), **kwargs)
        except ValueError as e:
            # NOTE: the interpreter reports an unreadable flatbuffer as ValueError.
            raise ModelReadError(f"the TFLite interpreter cannot read the model: "
                                 f"{str(e).strip().splitlines()[0]}", self.path) from None
        self._allocate()
        sigs = self.interpreter.get_signature_list()
        if signature is not None and signature not in sigs:
            raise UsageError(f"no signature {signature!r}; the model has "
                             f"{', '.join(sorted(sigs)) or 'none'}", self.path)
        if signature is None and len(sigs) == 1:
            signature = next(iter(sigs))
        self.signature = signature
        self._runner = None
        self.subgraph = 0
        if signature is not None:
            self._runner = self.interpreter.get_signature_runner(signature)
            ins = self._runner.get_input_details()
            outs = self._runner.get_output_details()
            self.inputs = [_spec(d, k) for k, d in ins.items()]
            self.outputs = [_spec(d, k) for k, d in outs.items()]
            self.subgraph = int(getattr(self._runner, "_subgraph_index", 0))
        else:
            self.inputs = [_spec(d, d["name"]) for d in self.interpreter.get_input_details()]
            self.outputs = [_spec(d, d["name"]) for d in self.interpreter.get_output_details()]

    def _allocate(self) -> None:
        try:
            self.interpreter.allocate_tensors()
        except RuntimeError as e:
            text = str(e)
            ops, first = interpreter_failure(text)
            missing_kernel = "unresolved" in text.lower() or "Select TensorFlow op" in text
            if missing_kernel:
                ops = list(dict.fromkeys(self._custom_ops() + ops))
            what = (f"the TFLite interpreter has no kernel for {', '.join(ops)}"
                    if ops and missing_kernel
                    else f"the TFLite interpreter cannot prepare the model: {first}")
            hint = ""
            if any(op.startswith("Flex") for op in ops):
                hint = " (Select TF ops need the Flex delegate: a TF-linked runtime)"
            elif ops:
                hint = " (custom ops need their kernels registered in the runtime)"
            raise InterpreterUnsupportedError(what + hint, self.path, ops, first) from None

    def _custom_ops(self) -> list[str]:
        """Every custom and Select TF op of the model file (the interpreter names the first)."""
        if self.path == "<memory>":
            return []
        from modelkit.formats.tflite import load

        model = load(Path(self.path))
        return list(dict.fromkeys(n.op for g in model.graphs for n in g.nodes if n.custom))

    def _run(self, feeds: list[np.ndarray]) -> dict[str, np.ndarray]:
        interp = self.interpreter
        if self._runner is not None:
            # NOTE: the signature runner resizes inputs whose shape changed.
            try:
                out = self._runner(**{s.name: x for s, x in zip(self.inputs, feeds)})
            except (RuntimeError, ValueError) as e:
                raise UsageError(f"the interpreter rejected the inputs: "
                                 f"{str(e).strip().splitlines()[0]}", self.path) from None
            return {s.name: np.array(out[s.name]) for s in self.outputs}
        resized = False
        for spec, x in zip(self.inputs, feeds):
            if tuple(x.shape) != _current_shape(interp, spec.index):
                interp.resize_tensor_input(spec.index, list(x.shape), strict=False)
                resized = True
        if resized:
            self._allocate()
        try:
            for spec, x in zip(self.inputs, feeds):
                # NOTE: ascontiguousarray makes a 0-d value 1-d; keep the shape.
                interp.set_tensor(spec.index, np.ascontiguousarray(x).reshape(np.shape(x)))
            interp.invoke()
        except (RuntimeError, ValueError) as e:
            raise UsageError(f"the interpreter rejected the inputs: "
                             f"{str(e).strip().splitlines()[0]}", self.path) from None
        return {s.name: np.array(interp.get_tensor(s.index)) for s in self.outputs}

    def tensor(self, index: int) -> np.ndarray:
        """The value of tensor `index` after `run` (intermediates need
        preserve_all_tensors=True); a copy."""
        return np.array(self.interpreter.get_tensor(index, self.subgraph))

    def tensor_details(self) -> list[dict]:
        """The interpreter's details of every tensor of the running subgraph."""
        return self.interpreter.get_tensor_details(self.subgraph)


def _current_shape(interp, index: int) -> tuple[int, ...]:
    for d in interp.get_input_details():
        if d["index"] == index:
            return tuple(int(x) for x in d["shape"])
    return ()
