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


def main() -> None:
    import tensorflow as tf

    (HERE / "sparse_fc.tflite").write_bytes(make_sparse_fc(tf))
    (HERE / "custom_ops.tflite").write_bytes(make_custom_ops(tf))


if __name__ == "__main__":
    main()
