"""Keras models (H5, .keras) loaded with Keras in safe mode and called eagerly.

Inputs are keyed by the model's input names, outputs by its output names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelkit.errors import UsageError
from modelkit.runtime.base import Backend, TensorSpec


def _name(tensor) -> str:
    return str(getattr(tensor, "name", "")).split(":")[0]


class KerasBackend(Backend):
    """A Keras model called with `training=False`.

    Raises:
        UnsafeOpsError: the model has Lambda layers (Python code) and allow_unsafe_ops
            is off.
        ModelReadError: Keras cannot load the file.
    """

    format = "keras_h5"

    def __init__(self, path: str | Path, *, allow_unsafe_ops: bool = False,
                 debug: bool = False) -> None:
        from modelkit.formats import registry
        from modelkit.runtime.safety import refuse_unsafe
        from modelkit.runtime.tf_loaders import load_keras
        from modelkit.runtime.tfenv import import_tf, quiet_native_stderr

        self.path = str(path)
        if not allow_unsafe_ops:
            refuse_unsafe(registry.load(path), path, "loading")
        self.tf = import_tf(debug, needed_for="running a Keras model", path=path)
        with quiet_native_stderr(debug):
            # NOTE: allowed unsafe ops means the user trusts the file's Lambda code.
            self.model = load_keras(Path(path), safe_mode=not allow_unsafe_ops)
        model = self.model
        out_names = list(getattr(model, "output_names", None) or
                         [_name(t) for t in model.outputs])
        self.inputs = [TensorSpec(_name(t), np.dtype(str(t.dtype).replace("tf.", "")),
                                  tuple(t.shape), None, i) for i, t in enumerate(model.inputs)]
        self.outputs = [TensorSpec(n, np.dtype(str(t.dtype).replace("tf.", "")),
                                   tuple(t.shape), None, i)
                        for i, (n, t) in enumerate(zip(out_names, model.outputs))]

    def _run(self, feeds: list[np.ndarray]) -> dict[str, np.ndarray]:
        tf = self.tf
        args = [tf.constant(x) for x in feeds]
        try:
            out = self.model(args if len(args) > 1 else args[0], training=False)
        except (ValueError, TypeError, tf.errors.OpError) as e:
            from modelkit.runtime.tf_loaders import first_line

            raise UsageError(f"the Keras model rejected the inputs: {first_line(e)}",
                             self.path) from None
        if isinstance(out, dict):
            values = [out[s.name] for s in self.outputs]
        elif isinstance(out, (list, tuple)):
            values = list(out)
        else:
            values = [out]
        return {s.name: np.asarray(v) for s, v in zip(self.outputs, values)}
