"""Exporting with TensorFlow: Keras -> concrete function or SavedModel, frozen
GraphDef -> SavedModel. (Reading and freezing sources: `modelkit.runtime.tf_loaders`.)

Every function takes the imported `tf` module, so importing this module is cheap.
"""

from __future__ import annotations

from pathlib import Path

from modelkit.errors import ConversionError
from modelkit.runtime.tf_loaders import first_line as _first_line


def keras_concrete_function(tf, model, input_shapes: list | None = None):
    """A concrete function of a Keras model, with fixed input shapes when given."""
    specs = []
    for i, t in enumerate(model.inputs):
        shape = list(t.shape)
        if input_shapes and i < len(input_shapes):
            shape = list(input_shapes[i])
        specs.append(tf.TensorSpec(shape, t.dtype, name=t.name.split(":")[0]))
    fn = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False))
    return fn.get_concrete_function(*specs)


def export_keras(model, dst: Path) -> None:
    """Write a Keras model as a SavedModel (`model.export`)."""
    model.export(str(dst), verbose=False)


def graph_def_to_savedmodel(tf, graph_def, inputs: list[str], outputs: list[str],
                            dst: Path) -> None:
    """Write a frozen GraphDef as a SavedModel with one serving_default signature.

    Args:
        inputs/outputs: tensor names (`name:0`).
    """
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        v1.import_graph_def(graph_def, name="")
        with v1.Session(graph=graph) as session:
            builder = v1.saved_model.Builder(str(dst))
            sig = v1.saved_model.signature_def_utils.predict_signature_def(
                inputs={t.split(":")[0]: graph.get_tensor_by_name(t) for t in inputs},
                outputs={t.split(":")[0]: graph.get_tensor_by_name(t) for t in outputs})
            builder.add_meta_graph_and_variables(
                session, [v1.saved_model.tag_constants.SERVING],
                signature_def_map={"serving_default": sig}, strip_default_attrs=True)
            try:
                builder.save()
            except (OSError, tf.errors.OpError) as e:
                raise ConversionError(f"cannot write the SavedModel: {_first_line(e)}",
                                      str(dst)) from None
