"""The source model on the TensorFlow side: its inputs and outputs (graph sources),
the frozen GraphDef or Keras model the converter takes, and a runtime backend that
runs it for calibration specs and verification."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelkit.analysis.graph_io import graph_io, tensor_name
from modelkit.analysis.tf_summary import node_name
from modelkit.convert.options import ConvertOptions
from modelkit.convert.progress import Progress
from modelkit.errors import UsageError
from modelkit.ir import Graph
from modelkit.runtime import Backend


@dataclass
class GraphIO:
    """The inputs and outputs of a graph source, as tensor names (`x:0`)."""

    inputs: list[str]
    outputs: list[str]
    shapes: dict[str, tuple[int | None, ...]]
    description: str = ""


def graph_io_for(graph: Graph, opts: ConvertOptions, path: str) -> GraphIO:
    """Resolve --inputs/--outputs (or detect them) and their shapes on the IR graph.

    Raises:
        UsageError: a name is not in the graph; nothing to detect; shape count mismatch.
    """
    inputs, outputs = graph_io(graph, opts.inputs, opts.outputs, path)
    shapes: dict[str, tuple[int | None, ...]] = {}
    if opts.input_shapes:
        if len(opts.input_shapes) != len(inputs):
            raise UsageError(f"--input-shapes gives {len(opts.input_shapes)} shapes for "
                             f"{len(inputs)} inputs ({', '.join(inputs)}); separate shapes "
                             "with ':'")
        shapes = dict(zip(inputs, opts.input_shapes))
    else:
        for name in inputs:
            v = graph.value(name)
            if v is not None and v.shape is not None:
                shapes[name] = v.shape
    return GraphIO(inputs, outputs, shapes, f"inputs {', '.join(inputs)}; outputs "
                   f"{', '.join(outputs)}")


def graph_io_without_ir(opts: ConvertOptions) -> GraphIO:
    """Inputs/outputs when no IR adapter is installed: the user must name them."""
    if not opts.inputs or not opts.outputs:
        raise UsageError("name the graph's --inputs and --outputs (no graph reader available "
                         "to detect them)", str(opts.src))
    shapes = dict(zip([tensor_name(i) for i in opts.inputs], opts.input_shapes or []))
    return GraphIO([tensor_name(i) for i in opts.inputs],
                   [tensor_name(o) for o in opts.outputs], shapes)


@dataclass
class Source:
    """The source opened with TensorFlow.

    Attributes:
        backend: runs the source (verification, calibration input specs).
        graph_def: the frozen GraphDef (GraphDef and checkpoint sources).
        keras_model: the Keras model (Keras sources).
    """

    backend: Backend
    graph_def: object | None = None
    keras_model: object | None = None


def frozen_graph(tf, opts: ConvertOptions, source: str, gio: GraphIO, progress: Progress):
    """The source as a frozen GraphDef (graphdef: read; checkpoint: freeze)."""
    from modelkit.formats.checkpoint import freeze
    from modelkit.runtime.tf_loaders import read_graph_def

    if source == "graphdef":
        return read_graph_def(tf, opts.src)
    progress.stage("freezing the checkpoint")
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(freeze(tf, opts.src, [node_name(o) for o in gio.outputs]))
    return graph_def


def open_source(tf, opts: ConvertOptions, source: str, gio: GraphIO | None,
                progress: Progress) -> Source:
    """Open the source for conversion and verification (the backends check the IR for
    host side effects again: cheap, and it holds when no IR was loaded before)."""
    if source in ("graphdef", "checkpoint"):
        from modelkit.runtime.tf_graph import GraphBackend

        assert gio is not None
        graph_def = frozen_graph(tf, opts, source, gio, progress)
        backend = GraphBackend(tf, graph_def, gio.inputs, gio.outputs, gio.shapes,
                               path=str(opts.src))
        return Source(backend, graph_def=graph_def)
    if source == "savedmodel":
        from modelkit.runtime.savedmodel import SavedModelBackend

        return Source(SavedModelBackend(Path(opts.src), opts.signature,
                                        allow_unsafe_ops=opts.allow_unsafe_ops,
                                        debug=opts.debug))
    if source in ("keras_h5", "keras_zip"):
        from modelkit.runtime.keras import KerasBackend

        backend = KerasBackend(Path(opts.src), allow_unsafe_ops=opts.allow_unsafe_ops,
                               debug=opts.debug)
        return Source(backend, keras_model=backend.model)
    raise UsageError(f"cannot convert a {source} model", str(opts.src))
