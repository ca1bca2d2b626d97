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

from tests.debug.outlier_model import save_with_data, train_mlp

WEIGHT_OUTLIER = 400.0
BIAS_OUTLIER = 2000.0


def build(out_dir: Path) -> dict[str, Path]:
    """Train the classifier, plant both layers, save it as Keras H5 with its data."""
    model, data = train_mlp("planted_mlp", ("dense1", "dense2"))
    kernel, bias = model.get_layer("dense1").get_weights()
    kernel[0, :] = WEIGHT_OUTLIER  # the dead top-left pixel
    model.get_layer("dense1").set_weights([kernel, bias])
    kernel, bias = model.get_layer("dense2").get_weights()
    bias[0] = BIAS_OUTLIER
    model.get_layer("dense2").set_weights([kernel, bias])
    kernel, bias = model.get_layer("logits").get_weights()
    kernel[0, :] = 0.0  # nothing reads the planted unit
    model.get_layer("logits").set_weights([kernel, bias])
    return save_with_data(model, out_dir / "planted.h5", data)


if __name__ == "__main__":
    for key, path in build(Path(sys.argv[1] if len(sys.argv) > 1 else "build/planted")).items():
        print(f"{key}: {path}")
