"""Labels as class ids: the shapes taken (ids [N], a column [N, 1], one-hot rows), the
ones refused, and the count that must match the data."""

from __future__ import annotations

import re

import numpy as np
import pytest

from modelkit.errors import UsageError
from modelkit.runtime.results import load_labels

IDS = np.array([3, 1, 4, 1, 5, 9])


@pytest.mark.parametrize("stored", [IDS, IDS[:, None], np.eye(10)[IDS],
                                    IDS.astype(np.float32)])
def test_shapes_that_hold_class_ids(tmp_path, stored):
    np.save(tmp_path / "y.npy", stored)
    got = load_labels(tmp_path / "y.npy", 4, total=6)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, IDS[:4])


@pytest.mark.parametrize("stored,words", [
    (np.eye(10)[IDS] * 0.5, "neither class ids [N] nor one-hot rows"),
    (np.eye(10)[IDS] + np.eye(10)[[0, 0, 0, 0, 0, 0]], "neither class ids"),
    (np.zeros((6, 2, 2)), "labels of shape [6, 2, 2]"),
    (np.array([0.5, 1, 2, 3, 4, 5]), "class ids (integers)"),
    (np.array([0, 1, -2, 3, 4, 5]), "label 2 is -2"),
    (np.array([True] * 6), "class ids (integers), got bool"),
])
def test_what_is_not_class_ids(tmp_path, stored, words):
    np.save(tmp_path / "y.npy", stored)
    with pytest.raises(UsageError, match=re.escape(words)):
        load_labels(tmp_path / "y.npy", 6, total=6)


def test_count_must_equal_the_data(tmp_path):
    np.save(tmp_path / "y.npy", IDS)
    with pytest.raises(UsageError, match="6 labels for 5 samples in the data"):
        load_labels(tmp_path / "y.npy", 5, total=5)
    with pytest.raises(UsageError, match="6 labels for 7 samples in the data"):
        load_labels(tmp_path / "y.npy", 6, total=7)
    # When the data's size is not known, at least the samples used are needed.
    np.testing.assert_array_equal(load_labels(tmp_path / "y.npy", 2), IDS[:2])


def test_empty_file(tmp_path):
    (tmp_path / "y.npy").write_bytes(b"")
    (tmp_path / "y.npz").write_bytes(b"")
    with pytest.raises(UsageError, match=r"the labels file is empty \(0 bytes\)"):
        load_labels(tmp_path / "y.npy", 1)
    with pytest.raises(UsageError, match=r"the labels file is empty \(0 bytes\)"):
        load_labels(tmp_path / "y.npz", 1)


def test_ids_beyond_the_outputs_classes_give_no_accuracy():
    """A 10-class output scores ids 0..9: label 10 can never be predicted, so there is
    no accuracy to give (before, it counted as a miss: a wrong accuracy, silently)."""
    from modelkit.runtime.base import TensorSpec
    from modelkit.runtime.results import summarize_output

    scores = np.eye(10, dtype=np.float32)[[3, 1, 4]]
    spec = TensorSpec("probs", np.float32, (None, 10))
    fits = summarize_output(spec, scores, labels=np.array([3, 1, 9]))
    assert fits.accuracy == pytest.approx(2 / 3) and fits.label_misfit is None
    beyond = summarize_output(spec, scores, labels=np.array([3, 1, 10]))
    assert beyond.accuracy is None
    assert beyond.label_misfit == ("label 2 is 10, but output 'probs' has 10 classes "
                                   "(ids 0..9): these labels do not belong to this model")


def test_run_refuses_labels_beyond_the_classes(tmp_path):
    """`run` on the 10-class digits model with a label 10: exit 2 naming the labels file,
    one line, no accuracy."""
    from tests.conftest import SAMPLES, run_cli

    with np.load(SAMPLES / "digits_test.npz") as d:
        np.save(tmp_path / "x.npy", d["x"][:4])
    np.save(tmp_path / "y.npy", np.array([0, 1, 10, 2]))
    res = run_cli("run", str(SAMPLES / "digits_float.tflite"), "--data",
                  str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy"))
    assert res.returncode == 2, res.stderr
    assert res.stderr == (f"modelkit: error: {tmp_path / 'y.npy'}: label 2 is 10, but output "
                          "'output_0' has 10 classes (ids 0..9): these labels do not belong "
                          "to this model\n")
    assert res.stdout == ""
