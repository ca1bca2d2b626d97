"""Make the small TFLite files in tests/data with TensorFlow's own converter.

Run: `python tests/data/make_test_data.py`. The files are committed; tests only read them.

- sparse_fc.tflite: a FULLY_CONNECTED whose 90%-zero weights the converter stores
  sparse (EXPERIMENTAL_SPARSITY), so the file has sparsity parameters and DENSIFY.
- custom_ops.tflite: a Select TF op (Flex, custom code `FlexErfinv`... whichever
  op TensorFlow picks) and a plain custom op (converter's allow_custom_ops), next
  to builtin ops, so the file has custom codes and custom options.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def make_sparse_fc(tf) -> bytes:
    """A Dense layer with block-sparse weights, converted with EXPERIMENTAL_SPARSITY."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 8)).astype(np.float32)
    w[rng.random(w.shape) < 0.9] = 0.0

    @tf.function(input_signature=[tf.TensorSpec([1, 16], tf.float32)])
    def f(x):
        return tf.matmul(x, tf.constant(w))

    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    conv.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    return conv.convert()


def make_custom_ops(tf) -> bytes:
    """Builtins around a Select TF op and a custom op the runtime does not know."""

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def f(x):
        y = tf.nn.relu(x)
        y = tf.math.bessel_i1e(y)  # no builtin: becomes a custom or Flex op
        return tf.math.erfinv(tf.tanh(y)) + 1.0

    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                      tf.lite.OpsSet.SELECT_TF_OPS]
    conv.allow_custom_ops = True
    return conv.convert()


def make_variables(tf) -> bytes:
    """A resource variable assigned, read, updated and reset by four signatures."""

    class Counter(tf.Module):
        def __init__(self):
            super().__init__()
            self.v = tf.Variable(tf.fill([1, 4], 2.0))

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
        def init(self, x):
            self.v.assign(x)
            return {"y": tf.identity(x)}

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
        def read(self, x):
            return {"y": x * self.v}

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
        def accumulate(self, x):
            self.v.assign_add(x)
            return {"y": self.v * 1.0}

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
        def reset(self, x):
            self.v.assign(x + 1.0)
            return {"y": self.v * 3.0}

    import tempfile

    module = Counter()
    sigs = {k: getattr(module, k) for k in ("init", "read", "accumulate", "reset")}
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures=sigs)
        conv = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=list(sigs))
        conv.experimental_enable_resource_variables = True
        return conv.convert()


def make_lstm_variables(tf) -> bytes:
    """Keras weights left as variables: from_concrete_functions without freezing."""
    keras = tf.keras
    keras.utils.set_random_seed(0)
    x_in = keras.Input((5,), dtype="int32")
    h = keras.layers.Embedding(8, 3)(x_in)
    h = keras.layers.LSTM(2)(h)
    model = keras.Model(x_in, keras.layers.Dense(2)(h))
    fn = tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec([1, 5], tf.int32))
    return tf.lite.TFLiteConverter.from_concrete_functions([fn], model).convert()


def make_reshape_dynamic(tf) -> bytes:
    """[-1, -1] samples -> frames of 400 -> a per-frame sum; stored as [1, 1]."""
    import tempfile

    w = np.linspace(-1.0, 1.0, 400, dtype=np.float32)

    class Frames(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="audio")])
        def serve(self, audio):
            framed = tf.reshape(audio[:, :16000], [-1, 40, 400])
            return {"energy": tf.reduce_sum(framed * w, axis=-1)}

    module = Frames()
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures={"serving_default": module.serve})
        return tf.lite.TFLiteConverter.from_saved_model(tmp).convert()


def make_if_pair(tf) -> tuple[bytes, bytes]:
    """An IF on a [1, 1] score reshaped to a scalar; float and int8 conversions."""
    w = np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
    def gate(x):
        h = tf.nn.relu(tf.matmul(x, w) + 0.5)
        score = tf.sigmoid(tf.reduce_sum(h, axis=1, keepdims=True))
        flag = tf.reshape(score >= 0.5, [])
        return tf.cond(flag, lambda: tf.tanh(tf.matmul(h, w.T)), lambda: h * 2.0)

    rng = np.random.default_rng(1)

    def convert(quantize: bool) -> bytes:
        conv = tf.lite.TFLiteConverter.from_concrete_functions([gate.get_concrete_function()],
                                                               gate)
        if quantize:
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = lambda: (
                [rng.normal(size=(1, 4)).astype(np.float32)] for _ in range(64))
        return conv.convert()

    return convert(False), convert(True)


def make_control_flow_int8(tf) -> bytes:
    """The samples' control-flow module, quantized: IF branches and the WHILE body hold
    int8 layers, the main graph of `gate` one."""
    import sys
    import tempfile

    sys.path.insert(0, str(HERE.parent.parent / "samples"))
    from make_samples import make_control_flow_module

    module = make_control_flow_module(tf)
    rng = np.random.default_rng(0)

    def calibration():
        for _ in range(64):
            x = rng.normal(size=(1, 4)).astype(np.float32)
            yield "gate", {"x": x}
            yield "iterate", {"x": x, "steps": np.array(3, np.int32)}

    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures={"gate": module.gate,
                                                     "iterate": module.iterate})
        conv = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["gate",
                                                                             "iterate"])
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = calibration
        return conv.convert()


def make_tconv_pair(tf) -> tuple[bytes, bytes]:
    """A float TRANSPOSE_CONV with bias, and the same node as Convolution2DTransposeBias."""
    import struct
    import tempfile

    import modelkit
    from modelkit.ir import Node

    rng = np.random.default_rng(0)
    w = rng.normal(size=(2, 2, 3, 4)).astype(np.float32)  # kh, kw, out, in
    b = rng.normal(size=(3,)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, 4, 4, 4], tf.float32, name="x")])
    def up(x):
        y = tf.nn.conv2d_transpose(x, w, [1, 8, 8, 3], strides=2, padding="SAME")
        return tf.nn.bias_add(y, b)

    conv = tf.lite.TFLiteConverter.from_concrete_functions([up.get_concrete_function()], up)
    builtin = conv.convert()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "tconv.tflite"
        src.write_bytes(builtin)
        model = modelkit.load(src)
        graph = model.graphs[0]
        i = next(k for k, n in enumerate(graph.nodes) if n.op == "TRANSPOSE_CONV")
        old = graph.nodes[i]
        _, weights, x, bias = old.inputs
        # NOTE: TfLiteTransposeConvParams as MediaPipe stores it: padding (1 = SAME),
        # stride_width, stride_height.
        node = Node(old.name, "Convolution2DTransposeBias", old.domain, [x, weights, bias],
                    list(old.outputs), custom=True, version=1,
                    attrs={"custom_options": struct.pack("<3i", 1, 2, 2)})
        graph.nodes[i] = node
        model.path = None
        out = Path(tmp) / "custom.tflite"
        modelkit.save(model, out)
        return builtin, out.read_bytes()


def main() -> None:
    import tensorflow as tf

    (HERE / "sparse_fc.tflite").write_bytes(make_sparse_fc(tf))
    (HERE / "custom_ops.tflite").write_bytes(make_custom_ops(tf))
    (HERE / "variables.tflite").write_bytes(make_variables(tf))
    (HERE / "lstm_variables.tflite").write_bytes(make_lstm_variables(tf))
    (HERE / "reshape_dynamic.tflite").write_bytes(make_reshape_dynamic(tf))
    if_float, if_int8 = make_if_pair(tf)
    (HERE / "if_float.tflite").write_bytes(if_float)
    (HERE / "if_int8.tflite").write_bytes(if_int8)
    (HERE / "control_flow_int8.tflite").write_bytes(make_control_flow_int8(tf))
    tconv, tconv_custom = make_tconv_pair(tf)
    (HERE / "tconv_float.tflite").write_bytes(tconv)
    (HERE / "tconv_bias_custom.tflite").write_bytes(tconv_custom)


if __name__ == "__main__":
    main()
