"""Make tests/transform/data/digits_int8_floatio.tflite: the digits SavedModel
quantized to int8 with float32 input/output (QUANTIZE/DEQUANTIZE at the edges),
the kind of model TF's modify_model_interface takes.

    .venv/bin/python tests/transform/make_data.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    import tensorflow as tf

    calib = np.load(ROOT / "samples" / "digits_calib.npy")[:50].astype(np.float32)
    conv = tf.lite.TFLiteConverter.from_saved_model(str(ROOT / "samples" / "digits_savedmodel"))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    out = Path(__file__).parent / "data" / "digits_int8_floatio.tflite"
    out.write_bytes(conv.convert())


if __name__ == "__main__":
    main()
