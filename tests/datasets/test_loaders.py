"""load_dataset end to end: layouts, real data, splits, classes, subsets and parameters.

Parsers are tested in test_idx.py and test_cifar.py on small synthetic files written to
``tmp_path``; the real files (the MNIST test split under ``../shared/data``, Debian's
Fashion-MNIST) are used when present and the tests skip, naming the path, when they are not.
"""

import logging

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sklearn_attnkernel.datasets import BINARY_PAIRS, PIXEL_STATS, files, load_dataset

from .synthetic import (
    FASHION_DIR,
    MNIST_DIR,
    require,
    synthetic_cifar,
    synthetic_idx_split,
    write_cifar_python,
)

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.usefixtures("synthetic_ok")
def test_mnist_layouts_raw_and_gz_load_the_pixels_divided_by_255(tmp_path):
    raw_dir = tmp_path / "tv" / "MNIST" / "raw"
    train_images, train_labels = synthetic_idx_split(raw_dir, "train", 20, seed=1)
    test_images, test_labels = synthetic_idx_split(raw_dir, "test", 10, seed=2, gz=True)

    X, y = load_dataset("mnist", root=tmp_path / "tv")
    assert X.dtype == np.float64
    assert X.flags.c_contiguous
    assert y.dtype == np.int64
    # exact by construction on any CPU: one correctly rounded IEEE division of the same bytes
    np.testing.assert_array_equal(X, train_images.reshape(20, 784) / 255.0)
    np.testing.assert_array_equal(y, train_labels)

    X_all, y_all = load_dataset("mnist", root=str(tmp_path / "tv"), split="all")
    np.testing.assert_array_equal(X_all[20:], test_images.reshape(10, 784) / 255.0)
    np.testing.assert_array_equal(y_all, np.concatenate([train_labels, test_labels]))

    # a root that directly holds the IDX files, as ../shared/data/mnist does
    flat = tmp_path / "flat"
    synthetic_idx_split(flat, "test", 10, seed=2)
    X_flat, y_flat = load_dataset("fashion-mnist", root=flat, split="test")
    np.testing.assert_array_equal(X_flat, X_all[20:])
    np.testing.assert_array_equal(y_flat, test_labels)


def test_real_mnist_test_split():
    root = require(MNIST_DIR)
    X, y = load_dataset("mnist", root=root, split="test")
    assert X.shape == (10000, 784)
    assert X.dtype == np.float64
    assert np.bincount(y).tolist() == MNIST_TEST_COUNTS
    assert X.min() == 0.0
    assert X.max() == 1.0
    # the test split's pixel statistics are close to (not equal to) the training constants
    assert abs(X.mean() - PIXEL_STATS["mnist"][0]) < 0.005
    assert abs(X.std() - PIXEL_STATS["mnist"][1]) < 0.005

    X38, y38 = load_dataset("mnist", root=root, split="test", classes=BINARY_PAIRS["mnist"])
    assert np.bincount(y38, minlength=10).tolist() == [0, 0, 0, 1010, 0, 0, 0, 0, 974, 0]
    np.testing.assert_array_equal(X38, X[(y == 3) | (y == 8)])


@pytest.fixture(scope="module")
def fashion_train():
    require(FASHION_DIR / "train-images-idx3-ubyte.gz")
    return load_dataset("fashion-mnist", root=FASHION_DIR, split="train")


def test_real_fashion_mnist_train_and_test(fashion_train, tmp_path, monkeypatch):
    X, y = fashion_train
    assert X.shape == (60000, 784)
    assert np.bincount(y).tolist() == [6000] * 10
    assert X.min() == 0.0
    assert X.max() == 1.0
    # the published constants are this split's pixel mean and std
    assert X.mean() == pytest.approx(PIXEL_STATS["fashion-mnist"][0], abs=5e-5)
    assert X.std() == pytest.approx(PIXEL_STATS["fashion-mnist"][1], abs=5e-5)

    # Debian's folder is found with no root at all (the data home is empty)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path))
    X_test, y_test = load_dataset("fashion-mnist", split="test")
    assert X_test.shape == (10000, 784)
    assert np.bincount(y_test).tolist() == [1000] * 10


def test_real_fashion_mnist_stratified_subset(fashion_train):
    X_full, y_full = fashion_train
    X, y = load_dataset(
        "fashion-mnist", root=FASHION_DIR, n_samples=500, random_state=0, classes=(0, 6)
    )
    assert np.bincount(y, minlength=10).tolist() == [250, 0, 0, 0, 0, 0, 250, 0, 0, 0]
    # every returned row is one of the training images of its class
    rows = {row.tobytes() for row in X_full[np.isin(y_full, (0, 6))]}
    assert all(row.tobytes() in rows for row in X)


# ---------------------------------------------------------------------------------------------
# Splits, classes and subsets (digits)
# ---------------------------------------------------------------------------------------------


def test_digits_pixels_and_fixed_stratified_split():
    digits = load_digits()
    X_all, y_all = load_dataset("digits", split="all")
    np.testing.assert_array_equal(X_all, digits.data / 16.0)
    np.testing.assert_array_equal(y_all, digits.target)
    assert X_all.min() == 0.0
    assert X_all.max() == 1.0

    X_train, y_train = load_dataset("digits", split="train", random_state=1)
    X_test, y_test = load_dataset("digits", split="test", random_state=2)
    assert X_train.shape == (1347, 64)
    assert X_test.shape == (450, 64)
    # the split does not depend on random_state and partitions the data
    np.testing.assert_array_equal(load_dataset("digits", random_state=3)[0], X_train)
    pool = sorted((*row, label) for row, label in zip(X_all.tolist(), y_all, strict=True))
    parts = sorted(
        (*row, label)
        for X, y in ((X_train, y_train), (X_test, y_test))
        for row, label in zip(X.tolist(), y, strict=True)
    )
    assert parts == pool
    # stratified: every class has its share of the test split, up to rounding
    expected = np.bincount(y_all) * 450 / 1797
    assert np.all(np.abs(np.bincount(y_test) - expected) <= 1)


def test_classes_by_label_or_name_keep_the_labels():
    X_all, y_all = load_dataset("digits", split="all")
    X, y = load_dataset("digits", split="all", classes=BINARY_PAIRS["digits"])
    mask = np.isin(y_all, (3, 8))
    np.testing.assert_array_equal(X, X_all[mask])
    np.testing.assert_array_equal(y, y_all[mask])
    X_named, y_named = load_dataset("digits", split="all", classes=("8", "3"))
    np.testing.assert_array_equal(X_named, X)
    np.testing.assert_array_equal(y_named, y)


@pytest.mark.usefixtures("synthetic_ok")
def test_cifar_pair_by_name(tmp_path):
    batches = synthetic_cifar()
    write_cifar_python(tmp_path / "cifar-10-batches-py", batches)
    X_all, y_all = load_dataset("cifar10", root=tmp_path)
    X, y = load_dataset("cifar10", root=tmp_path, classes=("automobile", "airplane"))
    assert set(y) == {0, 1}
    np.testing.assert_array_equal(X, X_all[y_all <= 1])


@pytest.mark.parametrize(
    ("classes", "error", "match"),
    [
        ((3, 10), ValueError, "holds the label 10, which digits does not have"),
        (("3", "eight"), ValueError, "names the class 'eight'"),
        ((3, 3), ValueError, "names a class twice"),
        ((), ValueError, "classes is empty"),
        ("38", ValueError, "'classes' parameter of load_dataset must be None or an array-like"),
        ([[3, 8]], ValueError, "must be a sequence of labels or class names"),
        ((3.0, 8.0), TypeError, "got 3.0 of type float"),
        ((True, 8), TypeError, "of type bool"),
    ],
)
def test_bad_classes_are_rejected(classes, error, match):
    with pytest.raises(error, match=match):
        load_dataset("digits", classes=classes)


def test_stratified_subset_is_reproducible_and_keeps_class_shares():
    X_all, y_all = load_dataset("digits", split="all")
    X1, y1 = load_dataset("digits", split="all", n_samples=200, random_state=0)
    X2, y2 = load_dataset("digits", split="all", n_samples=200, random_state=0)
    X3, _ = load_dataset("digits", split="all", n_samples=200, random_state=1)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    assert X1.shape == (200, 64)
    expected = np.bincount(y_all) * 200 / y_all.size
    assert np.all(np.abs(np.bincount(y1) - expected) < 1)
    # rows are distinct images of the dataset, with their own labels, in the dataset's order
    index = {
        (row.tobytes(), label): i for i, (row, label) in enumerate(zip(X_all, y_all, strict=True))
    }
    positions = [index[(row.tobytes(), label)] for row, label in zip(X1, y1, strict=True)]
    assert positions == sorted(set(positions))

    X_every, _ = load_dataset("digits", split="all", n_samples=1797, random_state=0)
    np.testing.assert_array_equal(X_every, X_all)


def test_n_samples_larger_than_the_data_is_rejected():
    with pytest.raises(
        ValueError,
        match=r"n_samples=400 exceeds the 357 images of classes \(3, 8\) in digits \(split='all'\)",
    ):
        load_dataset("digits", split="all", classes=(3, 8), n_samples=400)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "svhn"}, "'name' parameter"),
        ({"name": "digits", "split": "valid"}, "'split' parameter"),
        ({"name": "digits", "n_samples": 0}, "'n_samples' parameter"),
        ({"name": "digits", "root": 3}, "'root' parameter"),
    ],
)
def test_invalid_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(**kwargs)


def test_loading_is_logged(caplog, tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_DIGESTS", {})
    monkeypatch.setattr(files, "_LABEL_COUNTS", {})
    synthetic_idx_split(tmp_path, "test", 10, seed=0)
    with caplog.at_level(logging.INFO, logger="sklearn_attnkernel.datasets.loaders"):
        load_dataset("mnist", root=tmp_path, split="test")
    assert f"mnist test split: 10 images read from {tmp_path}" in caplog.text
