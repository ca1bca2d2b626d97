"""Freezing and exporting with TensorFlow: checkpoint/SavedModel/Keras -> frozen
GraphDef, Keras -> SavedModel, frozen GraphDef -> SavedModel.

Every function takes the imported `tf` module, so importing this module is cheap.
"""

from __future__ import annotations

from pathlib import Path

from modelkit.errors import ConversionError, ModelReadError, UsageError


def read_graph_def(tf, path: Path):
    """A GraphDef from a binary .pb or a text .pbtxt file.

    Raises:
        ModelReadError: neither form parses.
    """
    from google.protobuf import text_format
    from google.protobuf.message import DecodeError

    data = path.read_bytes()
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
        if graph_def.node or not data:
            return graph_def
    except DecodeError:
        pass
    try:
        text_format.Parse(data.decode("utf-8"), graph_def)
    except (text_format.ParseError, UnicodeDecodeError) as e:
        raise ModelReadError(f"not a GraphDef (binary or text): {e}", str(path)) from None
    return graph_def


def _first_line(e: BaseException) -> str:
    text = getattr(e, "message", None) or str(e)
    return text.strip().splitlines()[0] if text.strip() else type(e).__name__


def freeze_concrete_function(tf, fn):
    """Freeze a concrete function; returns (GraphDef, input names, output names)."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    frozen = convert_variables_to_constants_v2(fn)
    graph_def = frozen.graph.as_graph_def()
    inputs = [t.name for t in frozen.inputs if t.dtype != tf.resource]
    outputs = [t.name for t in frozen.outputs]
    return graph_def, inputs, outputs


def freeze_savedmodel(tf, path: Path, signature: str, progress=None):
    """Freeze one signature of a SavedModel.

    Returns:
        (GraphDef, input tensor names, output tensor names).
    Raises:
        UsageError: the signature does not exist.
    """
    try:
        loaded = tf.saved_model.load(str(path))
    except (AttributeError, ValueError, KeyError, TypeError, tf.errors.OpError):
        # NOTE: SavedModels of TF 2.4-era Keras fail the v2 loader; the v1 loader reads them.
        if progress is not None:
            progress.note("the TF2 loader cannot read this SavedModel; using the TF1 loader")
        return _freeze_savedmodel_v1(tf, path, signature)
    if signature not in loaded.signatures:
        raise UsageError(f"no signature {signature!r}; the SavedModel has "
                         f"{', '.join(sorted(loaded.signatures)) or 'none'}", str(path))
    return freeze_concrete_function(tf, loaded.signatures[signature])


def _freeze_savedmodel_v1(tf, path: Path, signature: str):
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as session:
        meta = v1.saved_model.loader.load(session, ["serve"], str(path))
        if signature not in meta.signature_def:
            raise UsageError(f"no signature {signature!r}; the SavedModel has "
                             f"{', '.join(sorted(meta.signature_def)) or 'none'}", str(path))
        sig = meta.signature_def[signature]
        inputs = [sig.inputs[k].name for k in sorted(sig.inputs)]
        outputs = [sig.outputs[k].name for k in sorted(sig.outputs)]
        frozen = v1.graph_util.convert_variables_to_constants(
            session, graph.as_graph_def(), [o.split(":")[0] for o in outputs])
    return frozen, inputs, outputs


def load_keras(path: Path):
    """A Keras model from H5/.keras, without compiling (no optimizer needed).

    Raises:
        ModelReadError: Keras cannot load it.
    """
    import keras

    try:
        return keras.models.load_model(str(path), compile=False)
    except (ValueError, TypeError, KeyError, OSError) as e:
        raise ModelReadError(f"Keras cannot load the model: {_first_line(e)}", str(path)) \
            from None


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
