"""TF graphs in a TF1 Session: GraphDef / frozen graphs, and checkpoints (frozen first).

Inputs and outputs are detected on the IR (placeholders and inference sinks) unless
named; they are keyed by node name (`input`, `probs`). The graph is checked for ops
that act on the host before TensorFlow sees it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelkit.analysis.graph_io import graph_io
from modelkit.analysis.tf_summary import node_name
from modelkit.errors import UsageError
from modelkit.runtime.base import Backend, TensorSpec


class GraphBackend(Backend):
    """A frozen GraphDef run in a TF1 Session (opened on the first run).

    Args:
        tf: the imported tensorflow module.
        graph_def: a frozen GraphDef proto.
        inputs/outputs: tensor names (`x:0`).
        shapes: input shapes to use instead of the placeholders' (tensor name -> dims).
        names: the keys of inputs and outputs (default: node names).
        path: the source, for messages.
    """

    format = "graphdef"

    def __init__(self, tf, graph_def, inputs: list[str], outputs: list[str],
                 shapes: dict[str, tuple] | None = None, *,
                 names: tuple[list[str], list[str]] | None = None, path: str = "") -> None:
        v1 = tf.compat.v1
        self.tf = tf
        self.path = path
        self.graph = tf.Graph()
        try:
            with self.graph.as_default():
                v1.import_graph_def(graph_def, name="")
            self._feeds = [self.graph.get_tensor_by_name(n) for n in inputs]
            self._fetches = [self.graph.get_tensor_by_name(n) for n in outputs]
        except (ValueError, KeyError, tf.errors.OpError) as e:
            from modelkit.runtime.tf_loaders import first_line

            raise UsageError(f"TensorFlow cannot import the graph: {first_line(e)}",
                             path) from None
        self._session = None
        in_names, out_names = names or ([node_name(n) for n in inputs],
                                        [node_name(n) for n in outputs])
        shapes = shapes or {}
        self.inputs = [TensorSpec(key, np.dtype(t.dtype.as_numpy_dtype),
                                  _dims(shapes.get(name), t), None, i)
                       for i, (key, name, t) in enumerate(zip(in_names, inputs, self._feeds))]
        self.outputs = [TensorSpec(key, np.dtype(t.dtype.as_numpy_dtype), _dims(None, t), None, i)
                        for i, (key, t) in enumerate(zip(out_names, self._fetches))]

    def _run(self, feeds: list[np.ndarray]) -> dict[str, np.ndarray]:
        if self._session is None:
            # NOTE: a Session costs time; a backend that is never run never opens one.
            self._session = self.tf.compat.v1.Session(graph=self.graph)
        try:
            values = self._session.run(self._fetches, dict(zip(self._feeds, feeds)))
        except (ValueError, self.tf.errors.OpError) as e:
            from modelkit.runtime.tf_loaders import first_line

            raise UsageError(f"TensorFlow failed to run the graph: {first_line(e)}",
                             self.path) from None
        return {s.name: np.asarray(v) for s, v in zip(self.outputs, values)}

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def _dims(given: tuple | None, tensor) -> tuple[int | None, ...]:
    """The placeholder's dims, with the unknown ones taken from `given` when it fits."""
    own = None if tensor.shape.rank is None else tuple(tensor.shape.as_list())
    if given is None:
        return own if own is not None else ()
    if own is None or len(own) != len(given):
        return tuple(given)
    # NOTE: a known placeholder dim wins: the graph cannot take another one.
    return tuple(g if o is None else o for o, g in zip(own, given))


def open_graph(path: Path, fmt: str, *, inputs: list[str] | None = None,
               outputs: list[str] | None = None, shapes: list[tuple] | None = None,
               allow_unsafe_ops: bool = False, debug: bool = False) -> GraphBackend:
    """A GraphDef or checkpoint (frozen on the way) ready to run.

    Args:
        shapes: one shape per input, overriding the placeholders' shapes.

    Raises:
        ModelReadError: the graph cannot be read.
        UnsafeOpsError: it holds ops that act on the host and allow_unsafe_ops is off.
        UsageError: names not in the graph, nothing to detect.
    """
    from modelkit.formats import registry
    from modelkit.runtime.safety import refuse_unsafe
    from modelkit.runtime.tf_loaders import read_graph_def
    from modelkit.runtime.tfenv import import_tf

    model = registry.load(path, fmt)
    if not allow_unsafe_ops:
        refuse_unsafe(model, path)
    graph = model.graphs[0]
    ins, outs = graph_io(graph, inputs, outputs, str(path))
    if shapes is not None and len(shapes) != len(ins):
        raise UsageError(f"{len(shapes)} shapes for {len(ins)} inputs ({', '.join(ins)})",
                         str(path))
    tf = import_tf(debug, needed_for="running a TF graph", path=path)
    if fmt == "checkpoint":
        from modelkit.formats.checkpoint import freeze

        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(freeze(tf, path, [node_name(o) for o in outs]))
    else:
        graph_def = read_graph_def(tf, path)
    backend = GraphBackend(tf, graph_def, ins, outs, dict(zip(ins, shapes or [])),
                           path=str(path))
    backend.format = fmt
    return backend
