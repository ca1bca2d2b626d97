"""`debug FLOAT QUANT.tflite` on the committed samples, against samples/accuracy.json
(accuracies measured by samples/make_samples.py with each format's own runtime)."""

from __future__ import annotations

import json

import pytest

from modelkit.convert.progress import Progress
from modelkit.debug.session import DebugOptions, run_debug
from tests.conftest import SAMPLES


@pytest.fixture(scope="module")
def legacy():
    return run_debug(DebugOptions(src=SAMPLES / "digits_frozen.pb",
                                  quant=SAMPLES / "digits_uint8_legacy.tflite",
                                  data=SAMPLES / "digits_test.npz",
                                  labels=SAMPLES / "digits_test.npz", samples=360),
                     Progress(quiet=True))


def _recorded(name: str) -> float:
    return float(json.loads((SAMPLES / "accuracy.json").read_text())[name])


def test_accuracies_are_the_recorded_ones(legacy):
    assert legacy.accuracy["float"] == pytest.approx(_recorded("digits_frozen.pb"))
    assert legacy.accuracy["quantized"] == pytest.approx(_recorded("digits_uint8_legacy.tflite"))


def test_dummy_ranges_are_found_where_they_clip(legacy):
    """The legacy model was converted with default ranges (0, 6) for tensors without
    recorded ranges: the logits (which reach far outside [0, 6]) lose the most, then
    dense1; the convolutions are fine."""
    ranked = sorted(legacy.layers, key=lambda layer: layer.rank)
    assert ranked[0].tensor_name == "logits/MatMul;logits/BiasAdd"
    assert ranked[0].scale == pytest.approx(6 / 255)
    assert ranked[0].stats["rmse_scale"] > 50
    for layer in legacy.layers:
        if layer.op_name == "CONV_2D":
            assert layer.stats["rmse_scale"] < 0.7
    assert legacy.suggest_denylist[0] == "logits/MatMul;logits/BiasAdd"
    assert all(x.match == "name" for x in legacy.layers)


def test_library_refuses_labels_of_another_count(tmp_path):
    """As the CLI: 30 labels for the 20 samples of the data is a usage error."""
    import numpy as np

    from modelkit.errors import UsageError

    with np.load(SAMPLES / "digits_test.npz") as d:
        x, y = d["x"][:20], d["y"][:30]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    with pytest.raises(UsageError, match="30"):
        run_debug(DebugOptions(src=SAMPLES / "digits_float.tflite",
                               quant=SAMPLES / "digits_int8.tflite",
                               data=tmp_path / "x.npy", labels=tmp_path / "y.npy",
                               samples=20), Progress(quiet=True))
