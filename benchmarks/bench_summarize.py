"""`modelkit summarize --json` against TensorFlow's interpreter dump of the same TFLite file.

(a) a generated float model of about 50 MB with hundreds of ops;
(b) a generated model of over 1 GB (its buffers stored after the flatbuffer).
Both are made on the fly into benchmarks/_work and never committed.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from common import HEADER, WORK, summarize_vs  # noqa: E402

TF_DUMP = ("import sys, tensorflow as tf; i = tf.lite.Interpreter(sys.argv[1]); "
           "print(i.get_tensor_details())")


def make_50mb(path) -> None:
    """A float MLP-style model: 48 blocks of Dense(512)+Add+Mul, ~50 MB of weights."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    weights = [tf.constant(rng.standard_normal((512, 512), dtype=np.float32) * 0.01)
               for _ in range(48)]
    biases = [tf.constant(rng.standard_normal(512, dtype=np.float32)) for _ in range(48)]

    @tf.function(input_signature=[tf.TensorSpec([1, 512], tf.float32)])
    def f(x):
        for w, b in zip(weights, biases):
            y = tf.nn.relu(tf.matmul(x, w) + b)
            x = tf.tanh(y * 0.5 + x)
        return tf.nn.softmax(x)

    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    path.write_bytes(conv.convert())


def make_1gb(path) -> None:
    """A model with 1.07 GB of weights: 16 MatMuls by 4096x4096 float32 constants."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(1)
    weights = [tf.constant(rng.standard_normal((4096, 4096), dtype=np.float32) * 0.01)
               for _ in range(16)]

    @tf.function(input_signature=[tf.TensorSpec([1, 4096], tf.float32)])
    def f(x):
        for w in weights:
            x = tf.tanh(tf.matmul(x, w))
        return x

    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    path.write_bytes(conv.convert())


def main() -> None:
    cases = [("float, 50 MB, hundreds of ops", WORK / "float_50mb.tflite", make_50mb),
             ("float, 1 GB", WORK / "float_1gb.tflite", make_1gb)]
    print("### summarize --json vs tf.lite.Interpreter(path).get_tensor_details()\n")
    print(HEADER)
    for label, path, make in cases:
        print(summarize_vs(label, path, make, TF_DUMP, "TF interpreter"), flush=True)


if __name__ == "__main__":
    main()
