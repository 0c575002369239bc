"""The IDX reader (MNIST's format): round trips, magic numbers, sizes, and image/label checks."""

import gzip

import numpy as np
import pytest

from sklearn_attnkernel.datasets import idx, load_dataset

from .synthetic import idx_bytes, synthetic_idx_split, write


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_read_idx_round_trips_images_labels_and_wider_types(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    path = write(tmp_path / "img", idx_bytes(images), gz=gz)
    read = idx.read_idx(path, expected_magic=2051)
    np.testing.assert_array_equal(read, images)

    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    path = write(tmp_path / "lab", idx_bytes(labels), gz=gz)
    np.testing.assert_array_equal(idx.read_idx(path, expected_magic=2049), labels)

    for values in (np.array([[-7, 2**20], [0, 5]], dtype=">i4"), rng.normal(size=(2, 3, 2))):
        path = write(tmp_path / f"other{values.ndim}", idx_bytes(values), gz=gz)
        np.testing.assert_array_equal(idx.read_idx(path), values)


def test_read_idx_rejects_the_wrong_magic_number(tmp_path):
    labels_path = write(tmp_path / "labels", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match=r"magic number 2049, expected 2051 \(images"):
        idx.read_idx(labels_path, expected_magic=2051)
    not_idx = write(tmp_path / "zip", b"PK\x03\x04" + bytes(20))
    with pytest.raises(ValueError, match="is not an IDX file"):
        idx.read_idx(not_idx)


@pytest.mark.parametrize("change", ["truncated", "trailing"])
def test_read_idx_rejects_data_not_filling_the_file(tmp_path, change):
    data = idx_bytes(np.zeros((3, 28, 28), np.uint8))
    data = data[:-1] if change == "truncated" else data + b"\x00"
    path = write(tmp_path / "images", data, gz=True)
    with pytest.raises(ValueError, match=r"dimensions \(3, 28, 28\) \(2352 bytes of data\)"):
        idx.read_idx(path, expected_magic=2051)


def test_corrupt_gzip_is_a_value_error_naming_the_file(tmp_path):
    path = write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(np.zeros((2, 28, 28), np.uint8)))
    broken = path.with_name(path.name + ".gz")
    broken.write_bytes(gzip.compress(path.read_bytes())[:-12])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz is not a readable gzip"):
        idx.read_idx(broken)


@pytest.mark.usefixtures("synthetic_ok")
def test_idx_counts_dims_and_label_range_are_checked(tmp_path):
    directory = tmp_path / "MNIST" / "raw"
    synthetic_idx_split(directory, "test", 10, seed=0)
    (directory / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(9, np.uint8)))
    with pytest.raises(ValueError, match=r"holds 10 images but .* holds 9 labels"):
        load_dataset("mnist", root=tmp_path, split="test")

    synthetic_idx_split(directory, "test", 10, seed=0, image_shape=(20, 20))
    with pytest.raises(ValueError, match="images of 20×20 pixels; mnist images are 28×28"):
        load_dataset("mnist", root=tmp_path, split="test")

    synthetic_idx_split(directory, "test", 10, seed=0)
    (directory / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(10, 12, np.uint8)))
    with pytest.raises(ValueError, match="labels from 12 to 12; expected labels 0 to 9"):
        load_dataset("mnist", root=tmp_path, split="test")
