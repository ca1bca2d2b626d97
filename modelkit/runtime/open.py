"""`open_runtime`: pick the backend for a model path, bytes or IR Model."""

from __future__ import annotations

import os
from pathlib import Path

from modelkit.errors import UsageError
from modelkit.runtime.base import Backend

RUNNABLE_FORMATS = ("tflite", "graphdef", "checkpoint", "savedmodel", "keras_h5", "keras_zip")


def open_runtime(model_or_path, *, fmt: str | None = None, delegates: bool = False,
                 signature: str | None = None, preserve_all_tensors: bool = False,
                 allow_unsafe_ops: bool = False, inputs: list[str] | None = None,
                 outputs: list[str] | None = None, shapes: list[tuple] | None = None,
                 debug: bool = False, name: str | None = None) -> Backend:
    """Open a model for running.

    Args:
        model_or_path: a path (file, folder, checkpoint prefix), TFLite flatbuffer
            bytes, or an IR `Model` (its path and format are used).
        fmt: the format when detection should not guess (`tflite`, `graphdef`,
            `checkpoint`, `savedmodel`, `keras_h5`, `keras_zip`).
        delegates: TFLite: let the interpreter apply its default delegates (XNNPACK).
        signature: TFLite/SavedModel: the signature to run.
        preserve_all_tensors: TFLite: keep intermediate tensors readable after a run.
        allow_unsafe_ops: TF graphs: run even when the graph holds ops with host side
            effects (file writes, Python calls); refused otherwise.
        inputs/outputs: GraphDef/checkpoint: tensor names when detection is not wanted.
        shapes: GraphDef/checkpoint: one shape per input instead of the placeholders'.
        debug: show TensorFlow's own logs.
        name: TFLite: what errors call the model (the user's file when running a copy
            or bytes; default: the path, "<memory>" for bytes).

    Raises:
        ModelReadError: the model cannot be read (exit 3).
        UnsafeOpsError: the graph holds ops with host side effects (exit 4).
        UsageError: a bad signature, format or name (exit 2).
    """
    from modelkit.formats import registry

    if isinstance(model_or_path, (bytes, bytearray)):
        if fmt not in (None, "tflite"):
            raise UsageError(f"bytes can hold a TFLite model only, not {fmt}")
        from modelkit.runtime.tflite import TFLiteBackend

        return TFLiteBackend(model_or_path, delegates=delegates, signature=signature,
                             preserve_all_tensors=preserve_all_tensors, name=name)
    if isinstance(model_or_path, (str, os.PathLike)):
        path = Path(model_or_path)
        fmt = registry.detect_format(path, fmt)
    else:
        model = model_or_path
        if model.path is None:
            raise UsageError("this IR model has no file to run; save it first")
        path = Path(model.path)
        fmt = fmt or model.format
    if (inputs or outputs or shapes) and fmt not in ("graphdef", "checkpoint"):
        raise UsageError(f"input/output names and shapes apply to graphs and checkpoints; "
                         f"a {registry.DESCRIPTIONS.get(fmt, fmt)} has its own", str(path))
    if fmt == "tflite":
        from modelkit.runtime.tflite import TFLiteBackend

        return TFLiteBackend(path, delegates=delegates, signature=signature,
                             preserve_all_tensors=preserve_all_tensors, name=name)
    if fmt in ("graphdef", "checkpoint"):
        from modelkit.runtime.tf_graph import open_graph

        return open_graph(path, fmt, inputs=inputs, outputs=outputs, shapes=shapes,
                          allow_unsafe_ops=allow_unsafe_ops, debug=debug)
    if fmt == "savedmodel":
        from modelkit.runtime.savedmodel import SavedModelBackend

        return SavedModelBackend(path, signature=signature or "serving_default",
                                 allow_unsafe_ops=allow_unsafe_ops, debug=debug)
    if fmt in ("keras_h5", "keras_zip"):
        from modelkit.runtime.keras import KerasBackend

        return KerasBackend(path, allow_unsafe_ops=allow_unsafe_ops, debug=debug)
    raise UsageError(f"cannot run a {registry.DESCRIPTIONS.get(fmt, fmt)}; runnable: "
                     f"{', '.join(RUNNABLE_FORMATS)}", str(path))
