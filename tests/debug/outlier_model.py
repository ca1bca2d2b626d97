"""A small digits classifier whose first dense layer quantizes badly on purpose.

scikit-learn's digits (bundled, no download) are 8x8 images whose top-left pixel is
0 in every sample. The classifier (Flatten, Dense 32 relu `dense1`, Dense 10
`logits`, Softmax) is trained normally, then every weight `dense1` gives that dead
pixel is set to a large value: the float model computes exactly the same (the
pixel is always 0), but int8's per-channel weight scale of `dense1` is now set by
that outlier, so its real weights round to a few steps and the int8 model loses
most of its accuracy. Keeping `dense1` in float wins it back.

    python -m tests.debug.outlier_model OUT_DIR   # writes outlier.h5, calib.npy, test.npz
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

OUTLIER = 400.0


def digits_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): float32 (N, 8, 8, 1) in [0, 1], int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y,
                                                        random_state=0)
    return x_train, y_train, x_test, y_test


def train_mlp(name: str, hidden: tuple[str, ...]) -> tuple[object, tuple[np.ndarray, ...]]:
    """The digits classifier trained normally (seed 0): Flatten, one Dense 32 relu per
    name in `hidden`, Dense 10 `logits`, Softmax. Returns the Keras model and
    `digits_data()`."""
    import keras

    data = digits_data()
    x_train, y_train, x_test, _ = data
    assert not x_train[:, 0, 0, 0].any() and not x_test[:, 0, 0, 0].any()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="input")
    h = keras.layers.Flatten(name="flatten")(inputs)
    for layer in hidden:
        h = keras.layers.Dense(32, activation="relu", name=layer)(h)
    h = keras.layers.Dense(10, name="logits")(h)
    outputs = keras.layers.Softmax(name="probs")(h)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=40, batch_size=64, verbose=0)
    return model, data


def save_with_data(model, path: Path, data: tuple[np.ndarray, ...]) -> dict[str, Path]:
    """Save `model` as Keras H5 at `path`, with the first 200 training samples
    (calib.npy) and the test split (test.npz) beside it."""
    x_train, _, x_test, y_test = data
    path.parent.mkdir(parents=True, exist_ok=True)
    paths = {"model": path, "calib": path.parent / "calib.npy",
             "test": path.parent / "test.npz"}
    model.save(paths["model"])
    np.save(paths["calib"], x_train[:200])
    np.savez(paths["test"], x=x_test, y=y_test)
    return paths


def build(out_dir: Path) -> dict[str, Path]:
    """Train the classifier, plant the outlier, save it as Keras H5 with its data."""
    model, data = train_mlp("outlier_mlp", ("dense1",))
    kernel, bias = model.get_layer("dense1").get_weights()
    kernel[0, :] = OUTLIER  # the dead top-left pixel
    model.get_layer("dense1").set_weights([kernel, bias])
    return save_with_data(model, out_dir / "outlier.h5", data)


if __name__ == "__main__":
    for key, path in build(Path(sys.argv[1] if len(sys.argv) > 1 else "build/outlier")).items():
        print(f"{key}: {path}")
