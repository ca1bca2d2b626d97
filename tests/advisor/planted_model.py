"""A small digits classifier with two layers planted to quantize badly, each in its own way.

scikit-learn's digits (bundled, no download), as tests/debug/outlier_model.py uses
them. The classifier (Flatten, Dense 32 relu `dense1`, Dense 32 relu `dense2`, Dense
10 `logits`, Softmax) is trained normally, then:

- `dense1` gets a weight of 400 from the top-left pixel, which is 0 in every sample:
  the float model computes the same, but int8's per-channel weight scale of
  `dense1` is set by that outlier and its real weights round to a few steps. Its
  own error is large; int16 activations do not help (the weights stay int8), float
  does.
- one unit of `dense2` gets a bias of 2000 and `logits` reads it with weight 0: the
  float model computes the same, but the calibrated range of `dense2`'s output is
  [0, ~2000], so the other units round to a few int8 steps. The damage shows in
  `logits`, whose int8 input is too coarse; keeping `logits` alone out of int8 does
  not help (its input is still quantized with that range): `dense2`, the producer,
  has to go too. Both at int16 activations (256x finer steps) win it back.

    python -m tests.advisor.planted_model OUT_DIR   # writes planted.h5, calib.npy, test.npz
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tests.debug.outlier_model import digits_data

WEIGHT_OUTLIER = 400.0
BIAS_OUTLIER = 2000.0


def build(out_dir: Path) -> dict[str, Path]:
    """Train the classifier, plant both layers, save it as Keras H5 with its data."""
    import keras

    x_train, y_train, x_test, y_test = digits_data()
    assert not x_train[:, 0, 0, 0].any() and not x_test[:, 0, 0, 0].any()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="input")
    h = keras.layers.Flatten(name="flatten")(inputs)
    h = keras.layers.Dense(32, activation="relu", name="dense1")(h)
    h = keras.layers.Dense(32, activation="relu", name="dense2")(h)
    h = keras.layers.Dense(10, name="logits")(h)
    outputs = keras.layers.Softmax(name="probs")(h)
    model = keras.Model(inputs, outputs, name="planted_mlp")
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=40, batch_size=64, verbose=0)
    kernel, bias = model.get_layer("dense1").get_weights()
    kernel[0, :] = WEIGHT_OUTLIER  # the dead top-left pixel
    model.get_layer("dense1").set_weights([kernel, bias])
    kernel, bias = model.get_layer("dense2").get_weights()
    bias[0] = BIAS_OUTLIER
    model.get_layer("dense2").set_weights([kernel, bias])
    kernel, bias = model.get_layer("logits").get_weights()
    kernel[0, :] = 0.0  # nothing reads the planted unit
    model.get_layer("logits").set_weights([kernel, bias])
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"model": out_dir / "planted.h5", "calib": out_dir / "calib.npy",
             "test": out_dir / "test.npz"}
    model.save(paths["model"])
    np.save(paths["calib"], x_train[:200])
    np.savez(paths["test"], x=x_test, y=y_test)
    return paths


if __name__ == "__main__":
    for key, path in build(Path(sys.argv[1] if len(sys.argv) > 1 else "build/planted")).items():
        print(f"{key}: {path}")
