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

from modelkit.check.custom_ops import XNNPACK_CUSTOM_OPS
from modelkit.errors import ModelkitError, ModelReadError, UnsupportedError, UsageError
from modelkit.quant.io_report import quant_from_detail
from modelkit.runtime.base import Backend, TensorSpec

_UNRESOLVED_RE = re.compile(r"unresolved custom op: ([^\s.]+)", re.IGNORECASE)
_FAILED_NODE_RE = re.compile(r"Node number \d+ \(([^)]+)\) failed to prepare")
_INVOKE_NODE_RE = re.compile(r"Node number (\d+) \(([^)]+)\) failed to invoke")


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


class InvokeError(ModelkitError):
    """The interpreter prepared the model but a kernel failed while running it
    (exit 1): a problem of the model, not of the inputs' shapes or types.

    Attributes:
        ops: the ops the interpreter named, innermost first (["READ_VARIABLE", "WHILE"]).
        reason: the interpreter's own first line.
    """

    def __init__(self, message: str, path: str | None, ops: list[str], reason: str) -> None:
        super().__init__(message, path)
        self.ops = ops
        self.reason = reason


class TensorUnavailableError(ModelkitError):
    """A tensor holds no data after the run: the interpreter did not keep it (a tensor
    of a control-flow subgraph, an unallocated dynamic tensor) or `preserve_all_tensors`
    was not asked for."""


def invoke_failure(text: str, path: str | None) -> InvokeError:
    """The error for an interpreter that failed at invoke, with what to do when known."""
    first = next((line.strip() for line in text.splitlines() if line.strip()),
                 "the interpreter failed")
    ops = [op for _, op in _INVOKE_NODE_RE.findall(text)]
    if "read_variable.cc" in text:
        message = (f"the model reads a resource variable that nothing assigned ({first}); "
                   "re-convert it with the variables frozen, or run the signature that "
                   "assigns them first (`modelkit check` names each read)")
    else:
        message = f"the TFLite interpreter failed while running the model: {first}"
    return InvokeError(message, path, ops, first)


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

    A model whose inputs have dynamic dims (shape_signature -1) may not prepare at the
    shape stored in the file (a [1, 1] placeholder for an audio front end whose
    convolutions need a minimum length): then the tensors are allocated at the first
    run, after the inputs are resized to the data's shape.

    Args:
        source: a .tflite path or the flatbuffer bytes.
        delegates: let the interpreter apply its default delegates (XNNPACK).
        signature: the signature to run; default: the only one, else the main subgraph.
        preserve_all_tensors: keep every intermediate tensor readable after `run`.
        name: what errors call the model (default: the path; "<memory>" for bytes).

    Raises:
        ModelReadError: the file is not a model the interpreter can read.
        InterpreterUnsupportedError: the interpreter has no kernel for some op
            (Flex/custom ops) or a kernel rejected the model (exit 4).
        UsageError: no such signature.
    """

    format = "tflite"

    def __init__(self, source: str | Path | bytes, *, delegates: bool = False,
                 signature: str | None = None, preserve_all_tensors: bool = False,
                 name: str | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        in_memory = isinstance(source, (bytes, bytearray))
        self._source = bytes(source) if in_memory else Path(source)
        self.path = name or ("<memory>" if in_memory else str(source))
        resolver = (OpResolverType.AUTO if delegates
                    else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        kwargs = {"experimental_op_resolver_type": resolver,
                  "experimental_preserve_all_tensors": preserve_all_tensors}
        try:
            with warnings.catch_warnings():
                # NOTE: preserve_all_tensors is asked for on purpose; the interpreter warns.
                warnings.simplefilter("ignore", UserWarning)
                if isinstance(self._source, bytes):
                    self.interpreter = Interpreter(model_content=self._source, **kwargs)
                else:
                    self.interpreter = Interpreter(model_path=str(source), **kwargs)
        except ValueError as e:
            # NOTE: the interpreter reports an unreadable flatbuffer as ValueError.
            raise ModelReadError(f"the TFLite interpreter cannot read the model: "
                                 f"{str(e).strip().splitlines()[0]}", self.path) from None
        self._model_ops: list[tuple[str, bool]] | None = None
        self._reported = ""
        self._delegates = delegates
        # NOTE: allocating here names missing kernels (custom, Flex ops) when the model is
        # opened, which convert's verification relies on. A prepare failure of a model
        # with dynamic inputs may come from the stored placeholder shape: it waits for
        # the data's shape.
        self._allocated = self._allocate(defer=True)
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

    def _has_dynamic_inputs(self) -> bool:
        """Any input of any signature (or of the main subgraph) with a -1 dim."""
        interp = self.interpreter
        details = list(interp.get_input_details())
        for key in interp.get_signature_list():
            details += list(interp.get_signature_runner(key).get_input_details().values())
        return any(d.get("shape_signature") is not None and (d["shape_signature"] < 0).any()
                   for d in details)

    def _allocate(self, defer: bool = False, shapes: list | None = None) -> bool:
        """allocate_tensors(); True when done.

        A missing kernel always raises InterpreterUnsupportedError. Another prepare
        failure returns False when `defer` and an input is dynamic (allocate again at
        the data's shape); with the data's `shapes` it is a UsageError naming them.
        """
        try:
            self.interpreter.allocate_tensors()
        except RuntimeError as e:
            text = self._text(e)
            ops, first = interpreter_failure(text)
            missing_kernel = "unresolved" in text.lower() or "Select TensorFlow op" in text
            if not missing_kernel:
                if defer and self._has_dynamic_inputs():
                    return False
                if shapes is not None:
                    raise _shape_failure(first, shapes, self.path) from None
            custom = self._custom_ops()
            if missing_kernel:
                ops = list(dict.fromkeys(custom + ops))
            what = (f"the TFLite interpreter has no kernel for {', '.join(ops)}"
                    if ops and missing_kernel
                    else f"the TFLite interpreter cannot prepare the model: {first}")
            hint = ""
            if any(op.startswith("Flex") for op in ops):
                hint = " (Select TF ops need the Flex delegate: a TF-linked runtime)"
            elif missing_kernel and not self._delegates and ops and \
                    set(ops) <= XNNPACK_CUSTOM_OPS:
                hint = (" (the default XNNPACK delegate implements them: run with the "
                        "default delegates, --delegates)")
            elif missing_kernel or any(op in custom for op in ops):
                hint = " (custom ops need their kernels registered in the runtime)"
            raise InterpreterUnsupportedError(what + hint, self.path, ops, first) from None
        return True

    def _text(self, e: Exception) -> str:
        """The interpreter's message for this failure: its error reporter keeps the text
        of earlier failures (a deferred allocation) in front of the new one."""
        text = str(e)
        new = text[len(self._reported):] if text.startswith(self._reported) else text
        self._reported = text
        return new or text

    def _custom_ops(self) -> list[str]:
        """Every custom and Select TF op of the model (the interpreter names the first)."""
        return [op for op, custom in self._ops() if custom]

    def _ops(self) -> list[tuple[str, bool]]:
        """(op, is custom) of every node of every subgraph, read from the flatbuffer."""
        if self._model_ops is None:
            import tempfile

            from modelkit.formats.tflite import load

            if isinstance(self._source, bytes):
                with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
                    f.write(self._source)
                    f.flush()
                    model = load(f.name)
            else:
                model = load(self._source)
            self._model_ops = list(dict.fromkeys((n.op, bool(n.custom))
                                                 for g in model.graphs for n in g.nodes))
        return self._model_ops

    def _run(self, feeds: list[np.ndarray]) -> dict[str, np.ndarray]:
        interp = self.interpreter
        if self._runner is not None:
            # NOTE: the signature runner resizes inputs whose shape changed, allocates and
            # invokes in one call; a kernel failing at invoke is the model's problem.
            try:
                out = self._runner(**{s.name: x for s, x in zip(self.inputs, feeds)})
            except (RuntimeError, ValueError) as e:
                raise self._failure(e, feeds) from None
            self._allocated = True
            return {s.name: np.array(out[s.name]) for s in self.outputs}
        resized = False
        for spec, x in zip(self.inputs, feeds):
            if tuple(x.shape) != _current_shape(interp, spec.index):
                interp.resize_tensor_input(spec.index, list(x.shape), strict=False)
                resized = True
        if resized or not self._allocated:
            self._allocated = self._allocate(shapes=[x.shape for x in feeds])
        try:
            for spec, x in zip(self.inputs, feeds):
                # NOTE: ascontiguousarray makes a 0-d value 1-d; keep the shape.
                interp.set_tensor(spec.index, np.ascontiguousarray(x).reshape(np.shape(x)))
            interp.invoke()
        except (RuntimeError, ValueError) as e:
            raise self._failure(e, feeds) from None
        return {s.name: np.array(interp.get_tensor(s.index)) for s in self.outputs}

    def _failure(self, e: Exception, feeds: list[np.ndarray]) -> ModelkitError:
        """A kernel failing at invoke is the model's problem; one failing to prepare at
        the data's shape, or a refused value, is the inputs'."""
        text = self._text(e)
        first = text.strip().splitlines()[0] if text.strip() else type(e).__name__
        if isinstance(e, RuntimeError) and "failed to invoke" in text:
            return invoke_failure(text, self.path)
        if isinstance(e, RuntimeError) and "failed to prepare" in text:
            return _shape_failure(first, [x.shape for x in feeds], self.path)
        return UsageError(f"the interpreter rejected the inputs: {first}", self.path)

    def tensor(self, index: int) -> np.ndarray:
        """The value of tensor `index` of the running subgraph after `run` (intermediates
        need preserve_all_tensors=True); a copy. A tensor of no elements is an empty array.

        Raises:
            TensorUnavailableError: the interpreter holds no data for it.
        """
        try:
            return np.array(self.interpreter.get_tensor(index, self.subgraph))
        except ValueError as e:
            detail = self.interpreter._get_tensor_details(index, self.subgraph)  # noqa: SLF001
            shape = tuple(int(d) for d in detail["shape"])
            if 0 in shape:
                return np.zeros(shape, detail["dtype"])
            raise TensorUnavailableError(
                f"tensor {index} ({detail['name']!r}) holds no data after the run: "
                f"{str(e).strip()}", self.path) from None

    def tensor_details(self) -> list[dict]:
        """The interpreter's details of every tensor of the running subgraph."""
        return self.interpreter.get_tensor_details(self.subgraph)


def _shape_failure(first: str, shapes: list, path: str) -> UsageError:
    shown = ", ".join(str(list(map(int, shape))) for shape in shapes)
    return UsageError(f"the model does not prepare for input shape {shown}: {first}", path)


def _current_shape(interp, index: int) -> tuple[int, ...]:
    for d in interp.get_input_details():
        if d["index"] == index:
            return tuple(int(x) for x in d["shape"])
    return ()
