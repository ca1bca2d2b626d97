"""TensorFlow-side loading: GraphDef files, SavedModel signatures frozen to graphs,
Keras models. Shared by the runtime backends and `modelkit.convert`.

Every function takes the imported `tf` module (or imports Keras itself), so
importing this module is cheap.
"""

from __future__ import annotations

from pathlib import Path

from modelkit.errors import ModelReadError, UsageError


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (TF errors carry long tails)."""
    text = getattr(e, "message", None) or str(e)
    return text.strip().splitlines()[0] if text.strip() else type(e).__name__


def read_graph_def(tf, path: Path):
    """A GraphDef from a binary .pb or a text .pbtxt file.

    Raises:
        ModelReadError: neither form parses.
    """
    from google.protobuf import text_format
    from google.protobuf.message import DecodeError

    data = Path(path).read_bytes()
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


def frozen_function(fn):
    """The concrete function with its variables made constants."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    return convert_variables_to_constants_v2(fn)


def freeze_concrete_function(tf, fn):
    """Freeze a concrete function; returns (GraphDef, input names, output names)."""
    frozen = frozen_function(fn)
    graph_def = frozen.graph.as_graph_def()
    inputs = [t.name for t in frozen.inputs if t.dtype != tf.resource]
    outputs = [t.name for t in frozen.outputs]
    return graph_def, inputs, outputs


# What the TF2 SavedModel loader raises on SavedModels it cannot restore (TF 2.4-era
# Keras: '_UserObject' object has no attribute 'add_slot').
def tf2_load_errors(tf) -> tuple[type[BaseException], ...]:
    """The exception types that mean "use the TF1 loader" for a SavedModel."""
    return (AttributeError, ValueError, KeyError, TypeError, tf.errors.OpError)


def load_savedmodel(tf, path: Path):
    """`tf.saved_model.load`, or None when the TF2 loader cannot read the SavedModel."""
    from modelkit import interrupts

    try:
        return tf.saved_model.load(str(path))
    except tf2_load_errors(tf):
        # NOTE: an interrupt swallowed while loading is no reason to fall back.
        interrupts.check()
        return None


def freeze_savedmodel(tf, path: Path, signature: str, progress=None):
    """Freeze one signature of a SavedModel.

    Returns:
        (GraphDef, input tensor names, output tensor names).
    Raises:
        UsageError: the signature does not exist.
    """
    loaded = load_savedmodel(tf, path)
    if loaded is None:
        # NOTE: SavedModels of TF 2.4-era Keras fail the v2 loader; the v1 loader reads them.
        if progress is not None:
            progress.note("the TF2 loader cannot read this SavedModel; using the TF1 loader")
        return freeze_savedmodel_v1(tf, path, signature)
    if signature not in loaded.signatures:
        raise UsageError(f"no signature {signature!r}; the SavedModel has "
                         f"{', '.join(sorted(loaded.signatures)) or 'none'}", str(path))
    return freeze_concrete_function(tf, loaded.signatures[signature])


def freeze_savedmodel_v1(tf, path: Path, signature: str):
    """Freeze a signature with the TF1 loader; inputs/outputs sorted by signature key."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as session:
        try:
            meta = v1.saved_model.loader.load(session, ["serve"], str(path))
        except (RuntimeError, ValueError, tf.errors.OpError) as e:
            raise ModelReadError(f"TensorFlow cannot load the SavedModel: {first_line(e)}",
                                 str(path)) from None
        if signature not in meta.signature_def:
            raise UsageError(f"no signature {signature!r}; the SavedModel has "
                             f"{', '.join(sorted(meta.signature_def)) or 'none'}", str(path))
        sig = meta.signature_def[signature]
        inputs = [sig.inputs[k].name for k in sorted(sig.inputs)]
        outputs = [sig.outputs[k].name for k in sorted(sig.outputs)]
        frozen = v1.graph_util.convert_variables_to_constants(
            session, graph.as_graph_def(), [o.split(":")[0] for o in outputs])
    return frozen, inputs, outputs


def load_keras(path: Path, safe_mode: bool = True):
    """A Keras model from H5/.keras, without compiling, in Keras' safe mode unless
    told otherwise (safe mode refuses to deserialize Lambda layers' Python code).

    Raises:
        ModelReadError: Keras cannot load it (or it needs unsafe deserialization).
    """
    import keras

    try:
        return keras.models.load_model(str(path), compile=False, safe_mode=safe_mode)
    except (ValueError, TypeError, KeyError, OSError) as e:
        raise ModelReadError(f"Keras cannot load the model: {first_line(e)}", str(path)) \
            from None
