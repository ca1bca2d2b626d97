"""Label files for accuracy: which array of an .npz holds the class ids, checked
against the ids written into the file."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.errors import UsageError
from modelkit.runtime.results import load_labels


def test_labels_by_name_only_array_or_only_integer_vector(tmp_path):
    ids = np.array([3, 1, 4, 1, 5])
    images = np.zeros((5, 8, 8, 1), np.float32)
    np.savez(tmp_path / "named.npz", x=images, labels=ids)
    np.savez(tmp_path / "only.npz", ids)
    np.savez(tmp_path / "dataset.npz", images=images, classes=ids)
    for name in ("named", "only", "dataset"):
        np.testing.assert_array_equal(load_labels(tmp_path / f"{name}.npz", 4), ids[:4])


def test_one_hot_labels_become_class_ids(tmp_path):
    np.save(tmp_path / "onehot.npy", np.eye(3)[[2, 0, 1]])
    np.testing.assert_array_equal(load_labels(tmp_path / "onehot.npy", 3), [2, 0, 1])


@pytest.mark.parametrize("arrays,count,message", [
    ({"a": np.arange(3), "b": np.arange(3)}, 3, "name the labels array"),
    ({"y": np.array([0.5, 1.0])}, 2, "class ids"),
    ({"y": np.arange(2)}, 3, "2 labels for 3 samples"),
])
def test_bad_label_files_are_usage_errors(tmp_path, arrays, count, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(UsageError, match=message):
        load_labels(tmp_path / "bad.npz", count)


def test_a_missing_label_file_is_named(tmp_path):
    with pytest.raises(UsageError, match="no such labels file"):
        load_labels(tmp_path / "labels.npy", 1)
