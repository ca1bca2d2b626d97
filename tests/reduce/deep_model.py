"""A deep int8 TFLite model for `reduce`: a stack of small residual blocks
(x = x + FC(x), FULLY_CONNECTED then ADD), converted by TF's converter, and copies
of it with one op broken.

Each block's weights are Q - I for a random orthogonal Q, so the float model keeps
the norm of its input through every block and the int8 model's error grows only
by rounding (about 0.7 at the end of 110 blocks on unit-variance inputs).

`python -m tests.reduce.deep_model OUT` writes deep_int8.tflite, deep_float.tflite,
deep_calib.npy and the two broken copies to OUT.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

WIDTH = 8
BLOCKS = 110  # 220 ops
FAULTY_BLOCK = 70  # its FULLY_CONNECTED is op 140


def make(out: Path, blocks: int = BLOCKS) -> dict[str, Path]:
    """Convert the stack to an int8 and a float TFLite model; write calibration inputs."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from modelkit.runtime.tfenv import import_tf, quiet_native_stderr

    tf = import_tf()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    weights, biases = [], []
    for _ in range(blocks):
        q, _ = np.linalg.qr(rng.normal(size=(WIDTH, WIDTH)))
        weights.append(tf.constant((q - np.eye(WIDTH)).T.astype(np.float32)))
        biases.append(tf.constant((rng.normal(size=WIDTH) * 0.01).astype(np.float32)))

    @tf.function(input_signature=[tf.TensorSpec((1, WIDTH), tf.float32, name="x")])
    def stack(x):
        for i in range(blocks):
            with tf.name_scope(f"block{i}"):
                h = tf.nn.bias_add(tf.matmul(x, weights[i]), biases[i], name="fc")
                x = tf.add(x, h, name="add")
        return x

    calib = rng.normal(size=(32, WIDTH)).astype(np.float32)
    fn = stack.get_concrete_function()
    paths = {"int8": out / "deep_int8.tflite", "float": out / "deep_float.tflite",
             "calib": out / "deep_calib.npy"}
    with quiet_native_stderr():
        conv = tf.lite.TFLiteConverter.from_concrete_functions([fn], stack)
        paths["float"].write_bytes(conv.convert())
        conv = tf.lite.TFLiteConverter.from_concrete_functions([fn], stack)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        paths["int8"].write_bytes(conv.convert())
    np.save(paths["calib"], calib)
    return paths


def _fc(model, block: int):
    return [n for n in model.graphs[0].nodes if n.op == "FULLY_CONNECTED"][block]


def refused(src: Path, dst: Path, block: int = FAULTY_BLOCK) -> int:
    """A copy whose block FULLY_CONNECTED is per-tensor with its bias scale 20x
    input_scale * weight_scale: LiteRT refuses it at prepare (scale_diff /
    output_scale <= 0.02). Returns the op's index."""
    import modelkit
    from tests.data.make_broken_models import _per_tensor_fc, _scale_bias

    m = modelkit.load(src)
    fc = _fc(m, block)
    _per_tensor_fc(m, fc)
    _scale_bias(fc.inputs[2], 20.0, values=True)
    modelkit.save(m, dst, force=True)
    return fc.index


def wrong_weight(src: Path, dst: Path, block: int = FAULTY_BLOCK) -> int:
    """A copy whose block FULLY_CONNECTED has output channel 0's weights all set to
    the largest int8 value: it runs, and computes a wrong result. Returns the op's index."""
    import modelkit
    from modelkit.ir import ArrayData, DType

    m = modelkit.load(src)
    fc = _fc(m, block)
    w = fc.inputs[1]
    data = np.array(w.data.numpy())
    data[0, :] = 127
    w.data = ArrayData(data, DType.INT8)
    modelkit.save(m, dst, force=True)
    return fc.index


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "build/deep")
    made = make(target)
    print("refused op", refused(made["int8"], target / "deep_refused.tflite"))
    print("wrong-weight op", wrong_weight(made["int8"], target / "deep_wrong.tflite"))
