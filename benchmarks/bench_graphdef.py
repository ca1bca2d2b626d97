"""`modelkit summarize --json` of a ~100 MB frozen GraphDef against TensorFlow's import_graph_def.

The graph is Keras' ResNet50 with random weights (no download), frozen on the fly
into benchmarks/_work and never committed.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from common import HEADER, WORK, summarize_vs  # noqa: E402

TF_IMPORT = ("import sys, tensorflow as tf; g = tf.compat.v1.GraphDef(); "
             "g.ParseFromString(open(sys.argv[1], 'rb').read()); "
             "tf.graph_util.import_graph_def(g, name=''); print(len(g.node))")


def make_resnet50(path) -> None:
    """Freeze ResNet50 (random weights) into a GraphDef file."""
    import keras
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    model = keras.applications.ResNet50(weights=None)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, 224, 224, 3], tf.float32, name="input"))
    frozen = convert_variables_to_constants_v2(fn)
    path.write_bytes(frozen.graph.as_graph_def().SerializeToString())


def main() -> None:
    print("### summarize --json vs TensorFlow import_graph_def\n")
    print(HEADER)
    print(summarize_vs("ResNet50 frozen GraphDef", WORK / "resnet50_frozen.pb", make_resnet50,
                       TF_IMPORT, "import_graph_def"))


if __name__ == "__main__":
    main()
