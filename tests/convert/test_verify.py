"""When convert calls an output constant while the source varies (numerically broken)."""

from __future__ import annotations

import numpy as np

from modelkit.convert.verify import varies


def test_rounding_noise_is_no_variation():
    """An untrained EfficientNetB0's softmax: every class 0.001 and samples apart by at most
    1.2e-10 (measured in Keras); no 8- or 16-bit output can show that, so an int8 model
    that outputs one constant is no loss."""
    rng = np.random.default_rng(0)
    probs = np.full((16, 1000), 0.001) + rng.uniform(-1.2e-10, 1.2e-10, (16, 1000))
    assert not varies(probs)


def test_a_real_spread_and_a_constant():
    x = np.linspace(0, 1, 16).reshape(16, 1) * np.ones((1, 10))
    assert varies(x)  # spread 1 over magnitude 1
    assert varies(x * 1e-9)  # small values that do differ
    assert not varies(np.ones((16, 10)))
    assert not varies(x[:1])  # one sample cannot vary
