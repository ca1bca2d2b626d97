"""A model against itself, and against a re-serialized copy, has no differences.

Oracle: identity. Every sample is loaded twice (two independent IRs); the writable
formats are also written back with modelkit.save (different bytes, same model).
"""

from __future__ import annotations

import pytest

import modelkit
from modelkit.diff import diff_models
from tests.conftest import SAMPLES

ALL_SAMPLES = sorted(p.name for p in SAMPLES.iterdir()
                     if p.suffix not in (".npy", ".npz", ".json", ".md", ".py"))
WRITABLE = [n for n in ALL_SAMPLES if n.endswith((".tflite", ".pb", ".pbtxt"))]


def test_every_sample_is_listed():
    assert {"digits_savedmodel", "digits_ckpt", "digits.keras", "digits_keras.h5",
            "control_flow.tflite", "digits_frozen.pbtxt"} <= set(ALL_SAMPLES)


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_model_against_itself(name):
    d = diff_models(modelkit.load(SAMPLES / name), modelkit.load(SAMPLES / name))
    assert d.changes == []
    assert d.same
    for p in d.pairs:
        m = p.matching
        assert m.unmatched_nodes_a() == [] and m.unmatched_nodes_b() == []
        assert all(x.a.name == x.b.name for x in m.nodes)


@pytest.mark.parametrize("name", WRITABLE)
def test_reserialized_copy_is_the_same(tmp_path, name):
    src = SAMPLES / name
    out = tmp_path / ("copy.pb" if name.endswith((".pb", ".pbtxt")) else "copy.tflite")
    modelkit.save(modelkit.load(src), out)
    if name.endswith(".tflite") or name.endswith(".pbtxt"):
        assert out.read_bytes() != src.read_bytes()
    d = diff_models(modelkit.load(src), modelkit.load(out))
    assert d.changes == [], [c.to_dict() for c in d.changes]
