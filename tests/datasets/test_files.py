"""Finding a split's files, and the checks that they are the genuine ones."""

import numpy as np
import pytest

from sklearn_attnkernel.datasets import files, load_dataset

from .synthetic import MNIST_DIR, require, synthetic_idx_split


@pytest.mark.usefixtures("synthetic_ok")
def test_the_uncompressed_file_is_preferred_to_the_gz_one(tmp_path):
    directory = tmp_path / "MNIST" / "raw"
    images, _ = synthetic_idx_split(directory, "test", 10, seed=3)
    synthetic_idx_split(directory, "test", 10, seed=4, gz=True)
    X, _ = load_dataset("mnist", root=tmp_path, split="test")
    np.testing.assert_array_equal(X, images.reshape(10, -1) / 255.0)


def test_hash_of_a_known_file_is_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_SYSTEM_DIRS", {})
    synthetic_idx_split(tmp_path / "MNIST" / "raw", "test", 10, seed=0, gz=True)
    with pytest.raises(ValueError, match=r"the sha256 of its decompressed data is [0-9a-f]{64}"):
        load_dataset("mnist", root=tmp_path, split="test")


def test_counts_per_class_of_the_genuine_split_are_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_SYSTEM_DIRS", {})
    # the MNIST training split has no known hash here: its per-class counts are the check
    synthetic_idx_split(tmp_path, "train", 30, seed=0)
    with pytest.raises(ValueError, match=r"genuine split has 60000 with \[5923, 6742"):
        load_dataset("mnist", root=tmp_path)


@pytest.mark.usefixtures("synthetic_ok")
@pytest.mark.parametrize(
    ("name", "subdirs", "how"),
    [
        ("mnist", ["MNIST/raw"], "torchvision.datasets.MNIST"),
        ("fashion-mnist", ["FashionMNIST/raw"], "apt-get install dataset-fashion-mnist"),
        (
            "cifar10",
            ["cifar-10-batches-py", "cifar-10-batches-bin"],
            "torchvision.datasets.CIFAR10",
        ),
    ],
)
def test_missing_data_lists_every_place_looked_and_how_to_get_it(
    tmp_path, monkeypatch, name, subdirs, how
):
    system = tmp_path / "usr-share"
    monkeypatch.setattr(files, "_SYSTEM_DIRS", {name: (system,)})
    (tmp_path / "root").mkdir()
    with pytest.raises(FileNotFoundError) as excinfo:
        load_dataset(name, root=tmp_path / "root")
    message = str(excinfo.value)
    places = [tmp_path / "root" / sub for sub in subdirs] + [tmp_path / "root", system]
    for place in places:
        assert f"- {place} (" in message
    assert message.index(str(places[0])) < message.index(f"- {places[-2]} (")
    assert "does not exist" in message
    assert how in message


@pytest.mark.usefixtures("synthetic_ok")
def test_root_none_searches_sklearn_data_home(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "data_home" / "MNIST" / "raw")):
        load_dataset("mnist")
    synthetic_idx_split(tmp_path / "data_home" / "MNIST" / "raw", "test", 10, seed=0)
    X, _ = load_dataset("mnist", split="test")
    assert X.shape == (10, 784)


@pytest.mark.usefixtures("synthetic_ok")
def test_only_the_test_split_present_says_so(tmp_path):
    synthetic_idx_split(tmp_path, "test", 10, seed=0, gz=True)
    with pytest.raises(FileNotFoundError) as excinfo:
        load_dataset("mnist", root=tmp_path, split="train")
    message = str(excinfo.value)
    assert f"Only the test split was found, in {tmp_path}: pass split='test'" in message
    assert "has t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz" in message
    assert "train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]" in message
    with pytest.raises(FileNotFoundError, match="Only the test split was found"):
        load_dataset("mnist", root=tmp_path, split="all")


def test_real_mnist_without_training_split_says_how_to_get_it():
    root = require(MNIST_DIR)
    if any(root.glob("train-*")):
        pytest.skip(f"{root} holds the training split")
    with pytest.raises(FileNotFoundError) as excinfo:
        load_dataset("mnist", root=root, split="train")
    message = str(excinfo.value)
    assert f"Only the test split was found, in {root}" in message
    assert "torchvision.datasets.MNIST(root, train=True, download=True)" in message
