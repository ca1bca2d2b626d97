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
