"""`modelkit transform` with the usual cleaning chain on a ~100 MB frozen graph, against
a script calling TensorFlow's own TransformGraph (the C++ graph_transforms).

The graph is Keras' InceptionV3 with random weights (no download), frozen into
benchmarks/_work and never committed. Both sides run as cold processes that read
the file, run the chain and write the result.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

from common import HEADER, MODELKIT, PYTHON, WORK, generated, measure, side_by_side  # noqa: E402

CHAIN = ["strip_unused_nodes", "fold_constants(ignore_errors=true)", "fold_batch_norms",
         "fold_old_batch_norms", "remove_nodes(op=Identity)", "sort_by_execution_order"]

# What the graph_transforms passes of this stage alone cost (no constant folding).
STRUCTURAL = ["strip_unused_nodes", "remove_nodes(op=Identity)", "sort_by_execution_order"]

TF_SCRIPT = """\
import sys
from tensorflow.python.util._pywrap_transform_graph import TransformGraphWithStringInputs
src, dst, inputs, outputs, spec = sys.argv[1:]
out = TransformGraphWithStringInputs(open(src, "rb").read(), inputs, outputs, spec)
open(dst, "wb").write(out)
"""


def make_inception(path) -> None:
    """Freeze InceptionV3 (random weights, batch 1) into a GraphDef file.

    Its batch norms are built as FusedBatchNorm ops, as TF1-era graphs have them
    (TF's fold_old_batch_norms folds FusedBatchNorm, not FusedBatchNormV3): Keras 3
    spells a batch norm as Rsqrt/Mul/Sub/Add, which fold_constants turns into Mul
    constants of shape [1,1,1,C] that TF's fold_batch_norms rejects ("Mul constant
    input to batch norm has bad shape").
    """
    import keras
    import tensorflow as tf
    from keras.src.applications import inception_v3
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    class FusedBatchNorm(keras.layers.BatchNormalization):
        def call(self, inputs, training=None, mask=None):
            scale = self.gamma if self.scale else tf.ones_like(self.moving_mean)
            offset = self.beta if self.center else tf.zeros_like(self.moving_mean)
            return tf.raw_ops.FusedBatchNorm(
                x=inputs, scale=scale, offset=offset, mean=self.moving_mean,
                variance=self.moving_variance, epsilon=self.epsilon, is_training=False)[0]

    original = inception_v3.layers.BatchNormalization
    inception_v3.layers.BatchNormalization = FusedBatchNorm
    try:
        model = keras.applications.InceptionV3(weights=None)
    finally:
        inception_v3.layers.BatchNormalization = original
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, FusedBatchNorm):
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, layer.moving_variance.shape))
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, 299, 299, 3], tf.float32, name="input"))
    frozen = convert_variables_to_constants_v2(fn)
    path.write_bytes(frozen.graph.as_graph_def().SerializeToString())


def _io(path) -> tuple[str, str]:
    """Input and output node names as `modelkit transform` detects them."""
    import modelkit
    from modelkit.analysis.tf_summary import node_name, possible_inputs, possible_outputs

    graph = modelkit.load(path).main
    return (",".join(node_name(v.name) for v in possible_inputs(graph)),
            ",".join(n.name for n in possible_outputs(graph)))


def main() -> None:
    from modelkit.transform import all_passes

    src = generated(WORK / "inception_v3_fbn_frozen.pb", make_inception)
    known = all_passes()
    chain = [p for p in CHAIN if p.split("(")[0] in known]
    missing = [p for p in CHAIN if p not in chain]
    inputs, outputs = _io(src)
    size = src.stat().st_size / 1e6
    print("### transform vs TensorFlow's TransformGraph\n")
    print(f"Cleaning chain: `{' '.join(chain)}`"
          + (f" (not yet available here: {', '.join(missing)})" if missing else "")
          + f"; structural chain: `{' '.join(STRUCTURAL)}`.\n")
    print(HEADER)
    for label, spec in (("cleaning chain", " ".join(chain)),
                        ("structural chain", " ".join(STRUCTURAL))):
        ours_out, theirs_out = WORK / "inception_mk.pb", WORK / "inception_tf.pb"
        ours = measure([MODELKIT, "transform", str(src), str(ours_out), "-t", spec,
                        "--force", "--inputs", inputs, "--outputs", outputs], runs=3)
        theirs = measure([PYTHON, "-c", TF_SCRIPT, str(src), str(theirs_out), inputs,
                          outputs, spec], runs=3)
        print(side_by_side(f"InceptionV3 frozen GraphDef ({size:.0f} MB), {label}", ours,
                           theirs, "TransformGraph"), flush=True)


if __name__ == "__main__":
    main()
