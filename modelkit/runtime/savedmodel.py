"""SavedModel signatures, called eagerly (TF2 loader) or frozen and run in a Session
when only the TF1 loader can read the SavedModel (TF 2.4-era Keras exports).

Inputs and outputs are keyed by the signature's own keys, sorted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelkit.errors import UsageError
from modelkit.runtime.base import Backend, TensorSpec


class SavedModelBackend(Backend):
    """One signature of a SavedModel.

    Raises:
        UnsafeOpsError: the SavedModel holds ops that act on the host.
        UsageError: no such signature.
    """

    format = "savedmodel"

    def __init__(self, path: str | Path, signature: str = "serving_default", *,
                 allow_unsafe_ops: bool = False, debug: bool = False) -> None:
        from modelkit.formats import registry
        from modelkit.runtime.safety import refuse_unsafe
        from modelkit.runtime.tf_loaders import freeze_savedmodel_v1, load_savedmodel
        from modelkit.runtime.tfenv import import_tf

        self.path = str(path)
        if not allow_unsafe_ops:
            refuse_unsafe(registry.load(path, "savedmodel"), path)
        tf = self.tf = import_tf(debug, needed_for="running a SavedModel", path=path)
        self.signature = signature
        self._graph = None
        loaded = load_savedmodel(tf, Path(path))
        if loaded is None:
            from modelkit.runtime.tf_graph import GraphBackend

            graph_def, ins, outs = freeze_savedmodel_v1(tf, Path(path), signature)
            keys = _v1_keys(tf, Path(path), signature)
            self._graph = GraphBackend(tf, graph_def, ins, outs, names=keys, path=self.path)
            self.inputs, self.outputs = self._graph.inputs, self._graph.outputs
            return
        if signature not in loaded.signatures:
            raise UsageError(f"no signature {signature!r}; the SavedModel has "
                             f"{', '.join(sorted(loaded.signatures)) or 'none'}", self.path)
        self._loaded = loaded
        self._fn = loaded.signatures[signature]
        args = self._fn.structured_input_signature[1]
        self.inputs = [TensorSpec(k, np.dtype(s.dtype.as_numpy_dtype),
                                  tuple(s.shape.as_list()) if s.shape.rank is not None else (),
                                  None, i)
                       for i, (k, s) in enumerate(sorted(args.items()))]
        outs = self._fn.structured_outputs
        self.outputs = [TensorSpec(k, np.dtype(outs[k].dtype.as_numpy_dtype),
                                   tuple(outs[k].shape.as_list())
                                   if outs[k].shape.rank is not None else (), None, i)
                        for i, k in enumerate(sorted(outs))]

    def _run(self, feeds: list[np.ndarray]) -> dict[str, np.ndarray]:
        if self._graph is not None:
            return self._graph._run(feeds)
        tf = self.tf
        try:
            out = self._fn(**{s.name: tf.constant(x) for s, x in zip(self.inputs, feeds)})
        except (ValueError, TypeError, tf.errors.OpError) as e:
            from modelkit.runtime.tf_loaders import first_line

            raise UsageError(f"the signature {self.signature!r} rejected the inputs: "
                             f"{first_line(e)}", self.path) from None
        return {s.name: np.asarray(out[s.name]) for s in self.outputs}

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()


def _v1_keys(tf, path: Path, signature: str) -> tuple[list[str], list[str]]:
    """The signature's input and output keys, sorted (the order freeze_savedmodel_v1 uses)."""
    from tensorflow.python.tools import saved_model_utils

    meta = saved_model_utils.get_meta_graph_def(str(path), "serve")
    sig = meta.signature_def[signature]
    return sorted(sig.inputs), sorted(sig.outputs)
