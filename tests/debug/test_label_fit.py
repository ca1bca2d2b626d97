"""`debug` with labels the model's output cannot score."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.convert.progress import Progress
from modelkit.debug.session import DebugOptions, run_debug
from modelkit.errors import UsageError
from tests.conftest import SAMPLES


def test_a_label_beyond_the_classes_is_refused_and_nothing_written(tmp_path):
    """The digits models score 10 classes (ids 0..9): a label 10 cannot be predicted, so
    the accuracies would be wrong; debug refuses it (before, it printed them)."""
    with np.load(SAMPLES / "digits_test.npz") as d:
        x, y = d["x"][:8], d["y"][:8].copy()
    y[5] = 10
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    with pytest.raises(UsageError, match=r"label 5 is 10, but the model's output has 10 classes") \
            as raised:
        run_debug(DebugOptions(src=SAMPLES / "digits_float.tflite",
                               quant=SAMPLES / "digits_int8.tflite",
                               data=tmp_path / "x.npy", labels=tmp_path / "y.npy",
                               samples=8), Progress(quiet=True))
    assert raised.value.path == str(tmp_path / "y.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "y.npy"]
