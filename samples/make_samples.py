#!/usr/bin/env python
"""Build the small sample models that ship in ``samples/``.

Every sample is the same tiny digit classifier, trained on scikit-learn's
bundled 8x8 handwritten digits and written in each format modelkit reads:
Keras 3 and Keras 2 H5, SavedModel, TF1 checkpoint, frozen GraphDef (binary
and text), a GraphDef quantized by TensorFlow's legacy graph_transforms, and
several TFLite flavours.  One extra TFLite model has control flow (WHILE and
IF subgraphs) and two signatures.

Each digit model is evaluated on the held-out test split with its own runtime;
the accuracies go to ``accuracy.json`` and ``README.md``.

Runs are deterministic: every file is byte-identical from run to run except
the SavedModel, whose variables Keras lists in TensorFlow's capture order
(values are identical, their order in the files is not).

Usage::

    python samples/make_samples.py [--out samples]

TensorFlow is imported inside :func:`main`, so ``--help`` stays fast.
"""

import argparse
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np

SEED = 0
TEST_FRACTION = 0.2
CALIBRATION_COUNT = 200
EPOCHS = 20
BATCH_SIZE = 32
LEARNING_RATE = 3e-3
MIN_ACCURACY = 0.95
MAX_TOTAL_BYTES = 5 * 1024 * 1024

# TF1 fine-tuning run before the checkpoint is written, so that the checkpoint
# holds non-zero Adam slots and a global step like a real training checkpoint.
TF1_STEPS = 10
TF1_BATCH_SIZE = 64
TF1_LEARNING_RATE = 1e-4

INPUT_NAME = "input"
OUTPUT_NAME = "probs"
LEGACY_TRANSFORMS = (
    "fold_constants(ignore_errors=true) "
    'strip_unused_nodes(type=float, shape="1,8,8,1") '
    "quantize_weights quantize_nodes"
)
UINT8_INPUT_STATS = (0.0, 255.0)  # real = (q - mean) / std, so q = pixel * 255
DUMMY_RANGE = (0, 6)

# file name -> (how it was made, format, quantization); README table order.
SAMPLES = {
    "digits_keras.h5": (
        "Keras 3 `model.save()` of the compiled, trained model",
        "Keras 3 legacy H5",
        "none (float32)",
    ),
    "digits.keras": (
        "Keras 3 `model.save()` of the same model as `.keras` (zip of config, metadata, weights)",
        "Keras 3 `.keras`",
        "none (float32)",
    ),
    "digits_keras2.h5": (
        "same architecture rebuilt in tf_keras, weights copied, `model.save()`",
        "Keras 2 H5",
        "none (float32)",
    ),
    "digits_savedmodel": (
        "Keras 3 `model.export()` (signature `serving_default`)",
        "SavedModel",
        "none (float32)",
    ),
    "digits_ckpt": (
        f"TF1 graph + Adam, {TF1_STEPS} fine-tuning steps from the Keras weights, "
        "`tf.compat.v1.train.Saver`",
        "TF1 checkpoint",
        "none (float32)",
    ),
    "digits_frozen.pb": (
        "checkpoint restored into a batch-1 graph, variables frozen to constants",
        "frozen GraphDef (binary)",
        "none (float32)",
    ),
    "digits_frozen.pbtxt": (
        "text form of `digits_frozen.pb`",
        "frozen GraphDef (text)",
        "none (float32)",
    ),
    "digits_legacy_quantized.pb": (
        f"graph_transforms `{LEGACY_TRANSFORMS}` on the frozen graph",
        "GraphDef",
        "legacy 8-bit (quint8 QuantizeV2 / QuantizedConv2D / Requantize)",
    ),
    "digits_float.tflite": (
        "`TFLiteConverter.from_saved_model` on the SavedModel",
        "TFLite",
        "none (float32)",
    ),
    "digits_dynamic.tflite": (
        "as float, `optimizations=[Optimize.DEFAULT]`, no data",
        "TFLite",
        "dynamic range (int8 weights)",
    ),
    "digits_int8.tflite": (
        f"as float + {CALIBRATION_COUNT}-image representative dataset, "
        "`TFLITE_BUILTINS_INT8`, int8 input/output",
        "TFLite",
        "full integer int8",
    ),
    "digits_fp16.tflite": (
        "as float, `Optimize.DEFAULT`, `supported_types=[tf.float16]`",
        "TFLite",
        "float16 weights",
    ),
    "digits_int16x8.tflite": (
        "as int8 with `EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8`, "
        "float input/output",
        "TFLite",
        "int16 activations, int8 weights",
    ),
    "digits_uint8_legacy.tflite": (
        "`tf.compat.v1.lite.TFLiteConverter.from_frozen_graph`, `inference_type=tf.uint8`, "
        f"input stats (mean, std) = {UINT8_INPUT_STATS}, `default_ranges_stats={DUMMY_RANGE}`",
        "TFLite",
        "legacy uint8 with dummy ranges",
    ),
    "control_flow.tflite": (
        "`tf.Module` with a `tf.while_loop` and a `tf.cond` signature, "
        "`from_saved_model(signature_keys=...)`",
        "TFLite",
        "none (float32)",
    ),
}


def parse_args(argv=None):
    """Return the command-line options (only ``--out``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="directory to write the samples to (default: this script's directory)",
    )
    return parser.parse_args(argv)


def seed_everything(tf):
    """Seed Python, NumPy and TensorFlow and make TF kernels deterministic."""
    random.seed(SEED)
    np.random.seed(SEED)
    tf.random.set_seed(SEED)
    tf.config.experimental.enable_op_determinism()


def load_digits_split():
    """Load scikit-learn's digits, scaled to [0, 1], as a stratified train/test split.

    Returns ``(x_train, y_train, x_test, y_test)`` with images float32 of shape
    (N, 8, 8, 1) and labels int64.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=TEST_FRACTION, stratify=labels, random_state=SEED
    )
    return x_train, y_train, x_test, y_test


def write_data(out, x_train, x_test, y_test):
    """Write the test split (``digits_test.npz``) and calibration images (``digits_calib.npy``)."""
    np.savez_compressed(out / "digits_test.npz", x=x_test, y=y_test)
    np.save(out / "digits_calib.npy", x_train[:CALIBRATION_COUNT])


def build_keras_model(keras):
    """Return the uncompiled digits CNN (functional API, input named ``input``)."""
    layers = keras.layers
    inputs = keras.Input((8, 8, 1), name=INPUT_NAME)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.Conv2D(16, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPool2D(2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(32, activation="relu", name="dense1")(x)
    x = layers.Dense(10, name="logits")(x)
    outputs = layers.Softmax(name=OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def train_keras_model(keras, x_train, y_train, x_test, y_test):
    """Build, compile and train the CNN with Adam; fail if test accuracy is too low."""
    model = build_keras_model(keras)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    if accuracy < MIN_ACCURACY:
        raise RuntimeError(f"Keras model reached only {accuracy:.4f} test accuracy")
    return model


def keras_weights(model):
    """Return the trained weights as ``{"<layer>/kernel" | "<layer>/bias": array}``."""
    weights = {}
    for name in ("conv1", "conv2", "dense1", "logits"):
        kernel, bias = model.get_layer(name).get_weights()
        weights[f"{name}/kernel"] = kernel
        weights[f"{name}/bias"] = bias
    return weights


def save_keras2_h5(model, path):
    """Rebuild ``model`` in tf_keras, copy its weights and save a Keras 2 H5 file.

    The tf_keras model is compiled with Adam and its optimizer built, so the
    file carries ``training_config`` and ``optimizer_weights`` like the Keras 3
    one.  Raises ImportError when tf_keras is not installed.
    """
    import tf_keras

    clone = build_keras_model(tf_keras)
    for layer in clone.layers:
        layer.set_weights(model.get_layer(layer.name).get_weights())
    clone.compile(
        optimizer=tf_keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    clone.optimizer.build(clone.trainable_variables)
    clone.save(path)


def add_tf1_classifier(tf, batch_size):
    """Add the digits CNN to the default TF1 graph and return its logits tensor.

    Variables are TF1 reference variables (VariableV2 with ``/read``
    Identities) named ``conv1/kernel``, ``conv1/bias`` ... ``logits/bias``; the
    input placeholder is ``input`` and the Softmax output is ``probs``.
    """
    v1 = tf.compat.v1
    images = v1.placeholder(tf.float32, [batch_size, 8, 8, 1], name=INPUT_NAME)

    def parameters(shape):
        """Create ``kernel`` and ``bias`` variables in the current variable scope."""
        kernel = v1.get_variable(
            "kernel",
            shape,
            initializer=v1.glorot_uniform_initializer(seed=SEED),
            use_resource=False,
        )
        bias = v1.get_variable(
            "bias", shape[-1:], initializer=v1.zeros_initializer(), use_resource=False
        )
        return kernel, bias

    def conv(name, x, shape, padding):
        """Conv2D + BiasAdd + Relu under the scope ``name``."""
        with v1.variable_scope(name):
            kernel, bias = parameters(shape)
            x = tf.nn.conv2d(x, kernel, strides=1, padding=padding, name="Conv2D")
            return tf.nn.relu(tf.nn.bias_add(x, bias, name="BiasAdd"), name="Relu")

    def dense(name, x, shape, relu):
        """MatMul + BiasAdd (+ Relu if ``relu``) under the scope ``name``."""
        with v1.variable_scope(name):
            kernel, bias = parameters(shape)
            x = tf.nn.bias_add(tf.matmul(x, kernel, name="MatMul"), bias, name="BiasAdd")
            return tf.nn.relu(x, name="Relu") if relu else x

    x = conv("conv1", images, [3, 3, 1, 8], "SAME")
    x = conv("conv2", x, [3, 3, 8, 16], "VALID")
    with tf.name_scope("pool"):
        x = tf.nn.max_pool2d(x, 2, 2, "VALID", name="MaxPool")
    with tf.name_scope("flatten"):
        x = tf.reshape(x, [-1, 3 * 3 * 16], name="Reshape")
    x = dense("dense1", x, [3 * 3 * 16, 32], relu=True)
    logits = dense("logits", x, [32, 10], relu=False)
    tf.nn.softmax(logits, name=OUTPUT_NAME)
    return logits


def write_tf1_checkpoint(tf, weights, x_train, y_train, ckpt_dir):
    """Write ``ckpt_dir/model.ckpt.*`` from a TF1 training graph.

    The graph has the classifier (batch size None), a ``labels`` placeholder,
    a cross-entropy ``loss``, an Adam ``train_op`` with a global step and a
    Saver.  Variables start from the Keras weights and take a few Adam steps.
    """
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(SEED)
        logits = add_tf1_classifier(tf, batch_size=None)
        labels = v1.placeholder(tf.int64, [None], name="labels")
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits),
            name="loss",
        )
        global_step = v1.train.get_or_create_global_step()
        train_op = v1.train.AdamOptimizer(TF1_LEARNING_RATE).minimize(
            loss, global_step=global_step, name="train_op"
        )
        saver = v1.train.Saver(save_relative_paths=True)
        initial_values = {
            variable.initial_value: weights[variable.op.name]
            for variable in v1.trainable_variables()
        }
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer(), feed_dict=initial_values)
            for step in range(TF1_STEPS):
                batch = slice(step * TF1_BATCH_SIZE, (step + 1) * TF1_BATCH_SIZE)
                session.run(train_op, {f"{INPUT_NAME}:0": x_train[batch], labels: y_train[batch]})
            saver.save(session, str(ckpt_dir / "model.ckpt"))


def freeze_checkpoint(tf, ckpt_dir, pb_path, pbtxt_path):
    """Restore the checkpoint into a batch-1 inference graph and freeze it.

    Writes the frozen GraphDef (only what ``probs`` needs) in binary and text
    form and returns it.
    """
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        add_tf1_classifier(tf, batch_size=1)
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as session:
            saver.restore(session, str(ckpt_dir / "model.ckpt"))
            frozen = v1.graph_util.convert_variables_to_constants(
                session, graph.as_graph_def(), [OUTPUT_NAME]
            )
    frozen = v1.graph_util.extract_sub_graph(frozen, [OUTPUT_NAME])
    pb_path.write_bytes(frozen.SerializeToString(deterministic=True))
    tf.io.write_graph(frozen, str(pbtxt_path.parent), pbtxt_path.name, as_text=True)
    return frozen


def legacy_quantize(tf, frozen, path):
    """Quantize the frozen graph with TF's graph_transforms library and write it.

    Fails unless the result holds the legacy quantized ops.
    """
    from tensorflow.python.util._pywrap_transform_graph import (
        TransformGraphWithStringInputs,
    )

    quantized_bytes = TransformGraphWithStringInputs(
        frozen.SerializeToString(),
        INPUT_NAME.encode(),
        OUTPUT_NAME.encode(),
        LEGACY_TRANSFORMS.encode(),
    )
    quantized = tf.compat.v1.GraphDef.FromString(quantized_bytes)
    ops = {node.op for node in quantized.node}
    missing = {"QuantizeV2", "QuantizedConv2D", "Requantize", "Dequantize"} - ops
    if missing:
        raise RuntimeError(f"graph_transforms left out {sorted(missing)}")
    path.write_bytes(quantized.SerializeToString(deterministic=True))


def convert_from_savedmodel(tf, savedmodel_dir, calibration, flavour):
    """Convert the SavedModel to TFLite; ``flavour`` is float, dynamic, int8, fp16 or int16x8."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(savedmodel_dir))

    def representative_dataset():
        """Yield the calibration images one at a time."""
        for image in calibration:
            yield [image[np.newaxis]]

    if flavour != "float":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if flavour == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    elif flavour == "int8":
        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif flavour == "int16x8":
        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
    return converter.convert()


def convert_uint8_legacy(tf, frozen_path):
    """Convert the frozen graph with the TF1 converter to a legacy uint8 TFLite model."""
    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        str(frozen_path),
        input_arrays=[INPUT_NAME],
        output_arrays=[OUTPUT_NAME],
        input_shapes={INPUT_NAME: [1, 8, 8, 1]},
    )
    converter.inference_type = tf.uint8
    converter.quantized_input_stats = {INPUT_NAME: UINT8_INPUT_STATS}
    converter.default_ranges_stats = DUMMY_RANGE
    return converter.convert()


def make_control_flow_module(tf):
    """Return a tf.Module with two signatures: ``iterate`` (while loop) and ``gate`` (cond)."""
    weights = np.random.default_rng(SEED).normal(size=(4, 4)).astype(np.float32)

    class ControlFlow(tf.Module):
        """Two small functions whose control flow becomes WHILE and IF subgraphs."""

        def __init__(self):
            """Hold a fixed 4x4 weight matrix and a bias as constants."""
            super().__init__()
            self.weights = tf.constant(weights)
            self.bias = tf.constant(np.float32(0.5))

        @tf.function(
            input_signature=[
                tf.TensorSpec([1, 4], tf.float32, name="x"),
                tf.TensorSpec([], tf.int32, name="steps"),
            ]
        )
        def iterate(self, x, steps):
            """Apply ``y = tanh(y @ W)`` ``steps`` times, starting from ``x``."""
            _, y = tf.while_loop(
                lambda i, y: i < steps,
                lambda i, y: (i + 1, tf.tanh(tf.matmul(y, self.weights))),
                (tf.constant(0), x),
            )
            return {"y": y}

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
        def gate(self, x):
            """Return ``relu(x @ W + b)`` if ``sum(x) > 0`` else ``sigmoid(x @ W.T)``.

            The bias is needed: TF 2.21's converter drops a Relu that directly
            follows a bias-free MatMul inside an IF branch (wrong results).
            """
            y = tf.cond(
                tf.reduce_sum(x) > 0,
                lambda: tf.nn.relu(tf.matmul(x, self.weights) + self.bias),
                lambda: tf.sigmoid(tf.matmul(x, self.weights, transpose_b=True)),
            )
            return {"y": y}

    return ControlFlow()


def make_control_flow_tflite(tf, path):
    """Write ``control_flow.tflite`` and check it against TensorFlow.

    The module is saved as a temporary SavedModel with signatures ``iterate``
    and ``gate`` and converted with both signature keys.  Returns
    ``{"subgraphs": n, "signatures": interpreter.get_signature_list()}``.
    """
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter

    module = make_control_flow_module(tf)
    signatures = {"iterate": module.iterate, "gate": module.gate}
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures=signatures)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=list(signatures))
        path.write_bytes(converter.convert())

    model = schema.Model.GetRootAs(path.read_bytes(), 0)
    subgraphs = model.SubgraphsLength()
    builtins = {model.OperatorCodes(i).BuiltinCode() for i in range(model.OperatorCodesLength())}
    wanted = {schema.BuiltinOperator.WHILE, schema.BuiltinOperator.IF}
    if subgraphs < 2 or not wanted <= builtins:
        raise RuntimeError(f"control_flow.tflite: {subgraphs} subgraphs, no WHILE/IF ops")

    interpreter = Interpreter(model_path=str(path))
    x = np.array([[0.5, -0.25, 1.0, 0.1]], np.float32)
    for key, arguments in (
        ("iterate", {"x": x, "steps": np.array(3, np.int32)}),
        ("gate", {"x": x}),
        ("gate", {"x": -x}),
    ):
        got = interpreter.get_signature_runner(key)(**arguments)["y"]
        expected = signatures[key](**arguments)["y"].numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    return {"subgraphs": subgraphs, "signatures": interpreter.get_signature_list()}


def evaluate_keras(keras_module, path, x, y):
    """Accuracy of the H5 or .keras file at ``path``, loaded with ``keras_module``."""
    model = keras_module.models.load_model(path)
    return accuracy(model.predict(x, verbose=0), y)


def evaluate_savedmodel(tf, path, x, y):
    """Accuracy of the SavedModel's ``serving_default`` signature."""
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    (probs,) = serve(**{INPUT_NAME: tf.constant(x)}).values()
    return accuracy(probs.numpy(), y)


def evaluate_checkpoint(tf, ckpt_dir, x, y):
    """Accuracy of the checkpoint via ``import_meta_graph`` and ``restore``."""
    v1 = tf.compat.v1
    prefix = str(ckpt_dir / "model.ckpt")
    with tf.Graph().as_default() as graph, v1.Session(graph=graph) as session:
        v1.train.import_meta_graph(prefix + ".meta").restore(session, prefix)
        probs = session.run(f"{OUTPUT_NAME}:0", {f"{INPUT_NAME}:0": x})
    return accuracy(probs, y)


def read_graphdef(tf, path):
    """Read a GraphDef from a binary file, or a text one if the name ends in ``.pbtxt``."""
    from google.protobuf import text_format

    graph_def = tf.compat.v1.GraphDef()
    if path.suffix == ".pbtxt":
        text_format.Parse(path.read_text(), graph_def)
    else:
        graph_def.ParseFromString(path.read_bytes())
    return graph_def


def evaluate_graphdef(tf, path, x, y):
    """Accuracy of a batch-1 GraphDef file (binary or text), fed one test image at a time."""
    v1 = tf.compat.v1
    graph_def = read_graphdef(tf, path)
    with tf.Graph().as_default() as graph, v1.Session(graph=graph) as session:
        v1.import_graph_def(graph_def, name="")
        probs = [
            session.run(f"{OUTPUT_NAME}:0", {f"{INPUT_NAME}:0": image[np.newaxis]})[0]
            for image in x
        ]
    return accuracy(np.array(probs), y)


def quantize_input(values, detail):
    """Quantize float ``values`` with an integer tensor's own scale and zero point."""
    dtype = detail["dtype"]
    if not np.issubdtype(dtype, np.integer):
        return values.astype(dtype)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(dtype)


def dequantize_output(values, detail):
    """Map an integer output tensor back to real values; float outputs pass through."""
    if not np.issubdtype(detail["dtype"], np.integer):
        return values
    scale, zero_point = detail["quantization"]
    return (values.astype(np.float32) - zero_point) * scale


def evaluate_tflite(path, x, y):
    """Accuracy of a single-input TFLite classifier, one test image per invocation."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    (input_detail,) = interpreter.get_input_details()
    (output_detail,) = interpreter.get_output_details()
    probs = []
    for image in x:
        interpreter.set_tensor(
            input_detail["index"], quantize_input(image[np.newaxis], input_detail)
        )
        interpreter.invoke()
        probs.append(
            dequantize_output(interpreter.get_tensor(output_detail["index"]), output_detail)[0]
        )
    return accuracy(np.array(probs), y)


def accuracy(probs, y):
    """Fraction of rows of ``probs`` whose argmax equals the label."""
    return float(np.mean(np.argmax(probs, axis=-1) == y))


def total_size(out):
    """Total size in bytes of the files under ``out``."""
    return sum(path.stat().st_size for path in out.rglob("*") if path.is_file())


def code_list(names):
    """Format names as a comma-separated list of Markdown code spans."""
    return ", ".join(f"`{name}`" for name in names)


def describe_signatures(signatures):
    """Describe ``{key: {"inputs": [...], "outputs": [...]}}`` for the README."""
    return "; ".join(
        f"`{key}` (inputs {code_list(spec['inputs'])}, outputs {code_list(spec['outputs'])})"
        for key, spec in sorted(signatures.items())
    )


def describe_tflite(path):
    """Describe a single-subgraph TFLite model's signatures and tensor names."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    signatures = describe_signatures(interpreter.get_signature_list())
    inputs = code_list(detail["name"] for detail in interpreter.get_input_details())
    outputs = code_list(detail["name"] for detail in interpreter.get_output_details())
    signatures = f"signatures {signatures}" if signatures else "no signatures"
    return f"{signatures}; input tensor {inputs}, output tensor {outputs}"


def describe_names(tf, out, control_flow):
    """Return README lines giving the input/output names of every sample."""
    serving = tf.saved_model.load(str(out / "digits_savedmodel")).signatures["serving_default"]
    names = [
        f"Frozen and legacy-quantized graphs: input `{INPUT_NAME}:0` "
        f"(float32 [1, 8, 8, 1]), output `{OUTPUT_NAME}:0` (Softmax, [1, 10]).",
        f"Checkpoint graph: input `{INPUT_NAME}:0` (float32 [?, 8, 8, 1]), labels `labels:0` "
        f"(int64 [?]), output `{OUTPUT_NAME}:0`, loss `loss:0`, train op `train_op`.",
        "SavedModel: signature `serving_default`, inputs "
        f"{code_list(sorted(serving.structured_input_signature[1]))}, "
        f"outputs {code_list(sorted(serving.structured_outputs))}.",
        f"Keras models: input layer `{INPUT_NAME}`, output layer `{OUTPUT_NAME}` (Softmax).",
    ]
    files_by_description = {}
    for path in sorted(out.glob("digits_*.tflite")):
        files_by_description.setdefault(describe_tflite(path), []).append(path.name)
    for description, files in files_by_description.items():
        names.append(f"{code_list(files)}: {description}.")
    names.append(
        f"`control_flow.tflite`: {control_flow['subgraphs']} subgraphs, signatures "
        f"{describe_signatures(control_flow['signatures'])}."
    )
    return names


def write_reports(out, accuracies, test_count, names):
    """Write ``accuracy.json`` and ``README.md`` (data paragraph, table and names)."""
    (out / "accuracy.json").write_text(json.dumps(accuracies, indent=2) + "\n")
    rows = [
        f"| file | how it was made | format | quantization | test accuracy (N={test_count}) |",
        "|---|---|---|---|---|",
    ]
    for name, (how, kind, quantization) in SAMPLES.items():
        if not (out / name).exists():
            continue
        score = f"{accuracies[name]:.4f}" if name in accuracies else "n/a (not a classifier)"
        rows.append(f"| `{name}` | {how} | {kind} | {quantization} | {score} |")
    lines = [
        "# Sample models",
        "",
        "Generated by `python samples/make_samples.py`; do not edit by hand.",
        "",
        "The data is scikit-learn's bundled `load_digits` set (1,797 real 8x8 handwritten "
        "digits, no download), pixels scaled to float32 in [0, 1] (divided by 16) and shaped "
        f"(N, 8, 8, 1), split stratified with {TEST_FRACTION:.0%} held out (random_state={SEED}). "
        f"`digits_test.npz` holds the test split (`x` float32, `y` int64, N={test_count}); "
        f"`digits_calib.npy` holds {CALIBRATION_COUNT} training images used as the "
        "representative dataset. Every digit model is the same small CNN "
        "(Conv2D 8 same/relu, Conv2D 16 valid/relu, MaxPool 2, Flatten, Dense 32 relu, "
        "Dense 10, Softmax) trained with Adam; accuracies are measured on the "
        f"N={test_count} test images with each format's own runtime (Keras, TensorFlow, "
        "or the LiteRT interpreter with inputs quantized by the input tensor's scale and "
        "zero point) and repeated in `accuracy.json`.",
        "",
        *rows,
        "",
        "## Names",
        "",
        *[f"- {line}" for line in names],
        "",
    ]
    (out / "README.md").write_text("\n".join(lines))


def main(argv=None):
    """Train the model, write every sample, evaluate them and write the reports."""
    out = parse_args(argv).out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    seed_everything(tf)
    x_train, y_train, x_test, y_test = load_digits_split()
    write_data(out, x_train, x_test, y_test)
    calibration = x_train[:CALIBRATION_COUNT]

    print("training the Keras model")
    model = train_keras_model(keras, x_train, y_train, x_test, y_test)
    model.save(out / "digits_keras.h5")
    accuracies = {"digits_keras.h5": evaluate_keras(keras, out / "digits_keras.h5", x_test, y_test)}
    model.save(out / "digits.keras")
    accuracies["digits.keras"] = evaluate_keras(keras, out / "digits.keras", x_test, y_test)

    print("writing the Keras 2 H5 file")
    try:
        save_keras2_h5(model, out / "digits_keras2.h5")
    except ImportError:
        print("tf_keras is not installed: digits_keras2.h5 skipped")
        (out / "digits_keras2.h5").unlink(missing_ok=True)
    else:
        import tf_keras

        accuracies["digits_keras2.h5"] = evaluate_keras(
            tf_keras, out / "digits_keras2.h5", x_test, y_test
        )

    print("exporting the SavedModel")
    savedmodel_dir = out / "digits_savedmodel"
    shutil.rmtree(savedmodel_dir, ignore_errors=True)
    model.export(savedmodel_dir, verbose=False)
    accuracies["digits_savedmodel"] = evaluate_savedmodel(tf, savedmodel_dir, x_test, y_test)

    print("writing the TF1 checkpoint and frozen graphs")
    ckpt_dir = out / "digits_ckpt"
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    ckpt_dir.mkdir()
    write_tf1_checkpoint(tf, keras_weights(model), x_train, y_train, ckpt_dir)
    accuracies["digits_ckpt"] = evaluate_checkpoint(tf, ckpt_dir, x_test, y_test)
    frozen = freeze_checkpoint(tf, ckpt_dir, out / "digits_frozen.pb", out / "digits_frozen.pbtxt")
    for name in ("digits_frozen.pb", "digits_frozen.pbtxt"):
        accuracies[name] = evaluate_graphdef(tf, out / name, x_test, y_test)
    legacy_quantize(tf, frozen, out / "digits_legacy_quantized.pb")
    accuracies["digits_legacy_quantized.pb"] = evaluate_graphdef(
        tf, out / "digits_legacy_quantized.pb", x_test, y_test
    )

    print("converting to TFLite")
    for flavour in ("float", "dynamic", "int8", "fp16", "int16x8"):
        path = out / f"digits_{flavour}.tflite"
        path.write_bytes(convert_from_savedmodel(tf, savedmodel_dir, calibration, flavour))
        accuracies[path.name] = evaluate_tflite(path, x_test, y_test)
    path = out / "digits_uint8_legacy.tflite"
    path.write_bytes(convert_uint8_legacy(tf, out / "digits_frozen.pb"))
    accuracies[path.name] = evaluate_tflite(path, x_test, y_test)
    control_flow = make_control_flow_tflite(tf, out / "control_flow.tflite")

    names = describe_names(tf, out, control_flow)
    write_reports(out, accuracies, len(y_test), names)

    size = total_size(out)
    for name, score in accuracies.items():
        print(f"{name:32s} {score:.4f}")
    print(f"total size of {out}: {size} bytes")
    if size > MAX_TOTAL_BYTES:
        raise RuntimeError(f"samples take {size} bytes, more than {MAX_TOTAL_BYTES}")


if __name__ == "__main__":
    main()
