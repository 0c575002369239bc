"""Dataset loading, file checks, and the restricted unpickler.

Parsers are tested on small synthetic files written to ``tmp_path``; the real files (the MNIST
test split and CIFAR-10's ``batches.meta`` under ``../shared/data``, Debian's Fashion-MNIST) are
used when present and the tests skip, naming the path, when they are not.
"""

import gzip
import logging
import os
import pickle
import pickletools
import struct
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sklearn_attnkernel.datasets import loaders as datasets
from sklearn_attnkernel.datasets.loaders import (
    BINARY_PAIRS,
    CLASS_NAMES,
    PIXEL_STATS,
    load_dataset,
)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
CIFAR_META = SHARED_DATA / "cifar10" / "batches.meta"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _require(path):
    if not Path(path).exists():
        pytest.skip(f"real data not available: {path} is missing")
    return Path(path)


# ---------------------------------------------------------------------------------------------
# Writers of synthetic files
# ---------------------------------------------------------------------------------------------

_IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f8"): 0x0E}


def _idx_bytes(array, *, magic=None):
    array = np.asarray(array)
    if array.dtype.kind != "u":
        array = array.astype(array.dtype.newbyteorder(">"))
    if magic is None:
        magic = (_IDX_CODES[array.dtype] << 8) | array.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def _write(path, data, *, gz=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def _synthetic_idx_split(directory, split, n, *, seed, gz=False, image_shape=(28, 28)):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, *image_shape), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images_name, labels_name = datasets._IDX_FILES[split]
    _write(directory / images_name, _idx_bytes(images), gz=gz)
    _write(directory / labels_name, _idx_bytes(labels), gz=gz)
    return images, labels


def _synthetic_cifar(n_per_batch=4, seed=0):
    """Six batches (5 train, 1 test) of random uint8 images with labels covering 0-9."""
    rng = np.random.default_rng(seed)
    batches = {}
    for k, base in enumerate((*datasets._CIFAR_FILES["train"], "test_batch")):
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in (np.arange(n_per_batch) + 3 * k) % 10]
        batches[base] = (data, labels)
    return batches


def _write_cifar_python(directory, batches, *, protocol=4, bytes_keys=True):
    directory.mkdir(parents=True, exist_ok=True)
    for base, (data, labels) in batches.items():
        keys = (b"data", b"labels") if bytes_keys else ("data", "labels")
        payload = pickle.dumps({keys[0]: data, keys[1]: labels}, protocol=protocol)
        (directory / base).write_bytes(payload)


def _write_cifar_bin(directory, batches):
    directory.mkdir(parents=True, exist_ok=True)
    for base, (data, labels) in batches.items():
        records = np.column_stack([np.asarray(labels, dtype=np.uint8), data])
        (directory / f"{base}.bin").write_bytes(records.tobytes())


@pytest.fixture
def synthetic_ok(monkeypatch, tmp_path):
    """Switch off the genuine-file checks (hashes, per-class counts) and system folders."""
    monkeypatch.setattr(datasets, "_DIGESTS", {})
    monkeypatch.setattr(datasets, "_LABEL_COUNTS", {})
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {})
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "data_home"))


# ---------------------------------------------------------------------------------------------
# IDX parser
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_read_idx_round_trips_images_labels_and_wider_types(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    path = _write(tmp_path / "img", _idx_bytes(images), gz=gz)
    read = datasets._read_idx(path, expected_magic=2051)
    np.testing.assert_array_equal(read, images)

    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    path = _write(tmp_path / "lab", _idx_bytes(labels), gz=gz)
    np.testing.assert_array_equal(datasets._read_idx(path, expected_magic=2049), labels)

    for values in (np.array([[-7, 2**20], [0, 5]], dtype=">i4"), rng.normal(size=(2, 3, 2))):
        path = _write(tmp_path / f"other{values.ndim}", _idx_bytes(values), gz=gz)
        np.testing.assert_array_equal(datasets._read_idx(path), values)


def test_read_idx_rejects_the_wrong_magic_number(tmp_path):
    labels_path = _write(tmp_path / "labels", _idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match=r"magic number 2049, expected 2051 \(images"):
        datasets._read_idx(labels_path, expected_magic=2051)
    not_idx = _write(tmp_path / "zip", b"PK\x03\x04" + bytes(20))
    with pytest.raises(ValueError, match="is not an IDX file"):
        datasets._read_idx(not_idx)


@pytest.mark.parametrize("change", ["truncated", "trailing"])
def test_read_idx_rejects_data_not_filling_the_file(tmp_path, change):
    data = _idx_bytes(np.zeros((3, 28, 28), np.uint8))
    data = data[:-1] if change == "truncated" else data + b"\x00"
    path = _write(tmp_path / "images", data, gz=True)
    with pytest.raises(ValueError, match=r"dimensions \(3, 28, 28\) \(2352 bytes of data\)"):
        datasets._read_idx(path, expected_magic=2051)


def test_corrupt_gzip_is_a_value_error_naming_the_file(tmp_path):
    path = _write(tmp_path / "t10k-images-idx3-ubyte", _idx_bytes(np.zeros((2, 28, 28), np.uint8)))
    broken = path.with_name(path.name + ".gz")
    broken.write_bytes(gzip.compress(path.read_bytes())[:-12])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz is not a readable gzip"):
        datasets._read_idx(broken)


# ---------------------------------------------------------------------------------------------
# IDX datasets end to end (synthetic files)
# ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("synthetic_ok")
def test_mnist_layouts_raw_and_gz_load_the_pixels_divided_by_255(tmp_path):
    raw_dir = tmp_path / "tv" / "MNIST" / "raw"
    train_images, train_labels = _synthetic_idx_split(raw_dir, "train", 20, seed=1)
    test_images, test_labels = _synthetic_idx_split(raw_dir, "test", 10, seed=2, gz=True)

    X, y = load_dataset("mnist", root=tmp_path / "tv")
    assert X.dtype == np.float64
    assert X.flags.c_contiguous
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X, train_images.reshape(20, 784) / 255.0)
    np.testing.assert_array_equal(y, train_labels)

    X_all, y_all = load_dataset("mnist", root=str(tmp_path / "tv"), split="all")
    np.testing.assert_array_equal(X_all[20:], test_images.reshape(10, 784) / 255.0)
    np.testing.assert_array_equal(y_all, np.concatenate([train_labels, test_labels]))

    # a root that directly holds the IDX files, as ../shared/data/mnist does
    flat = tmp_path / "flat"
    _synthetic_idx_split(flat, "test", 10, seed=2)
    X_flat, y_flat = load_dataset("fashion-mnist", root=flat, split="test")
    np.testing.assert_array_equal(X_flat, X_all[20:])
    np.testing.assert_array_equal(y_flat, test_labels)


@pytest.mark.usefixtures("synthetic_ok")
def test_the_uncompressed_file_is_preferred_to_the_gz_one(tmp_path):
    directory = tmp_path / "MNIST" / "raw"
    images, _ = _synthetic_idx_split(directory, "test", 10, seed=3)
    _synthetic_idx_split(directory, "test", 10, seed=4, gz=True)
    X, _ = load_dataset("mnist", root=tmp_path, split="test")
    np.testing.assert_array_equal(X, images.reshape(10, -1) / 255.0)


@pytest.mark.usefixtures("synthetic_ok")
def test_idx_counts_dims_and_label_range_are_checked(tmp_path):
    directory = tmp_path / "MNIST" / "raw"
    _synthetic_idx_split(directory, "test", 10, seed=0)
    (directory / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(9, np.uint8)))
    with pytest.raises(ValueError, match=r"holds 10 images but .* holds 9 labels"):
        load_dataset("mnist", root=tmp_path, split="test")

    _synthetic_idx_split(directory, "test", 10, seed=0, image_shape=(20, 20))
    with pytest.raises(ValueError, match="images of 20×20 pixels; mnist images are 28×28"):
        load_dataset("mnist", root=tmp_path, split="test")

    _synthetic_idx_split(directory, "test", 10, seed=0)
    (directory / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(np.full(10, 12, np.uint8)))
    with pytest.raises(ValueError, match="labels from 12 to 12; expected labels 0 to 9"):
        load_dataset("mnist", root=tmp_path, split="test")


def test_hash_of_a_known_file_is_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {})
    _synthetic_idx_split(tmp_path / "MNIST" / "raw", "test", 10, seed=0, gz=True)
    with pytest.raises(ValueError, match=r"the sha256 of its decompressed data is [0-9a-f]{64}"):
        load_dataset("mnist", root=tmp_path, split="test")


def test_counts_per_class_of_the_genuine_split_are_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {})
    # the MNIST training split has no known hash here: its per-class counts are the check
    _synthetic_idx_split(tmp_path, "train", 30, seed=0)
    with pytest.raises(ValueError, match=r"genuine split has 60000 with \[5923, 6742"):
        load_dataset("mnist", root=tmp_path)


# ---------------------------------------------------------------------------------------------
# Missing data
# ---------------------------------------------------------------------------------------------


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
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {name: (system,)})
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
    _synthetic_idx_split(tmp_path / "data_home" / "MNIST" / "raw", "test", 10, seed=0)
    X, _ = load_dataset("mnist", split="test")
    assert X.shape == (10, 784)


@pytest.mark.usefixtures("synthetic_ok")
def test_only_the_test_split_present_says_so(tmp_path):
    _synthetic_idx_split(tmp_path, "test", 10, seed=0, gz=True)
    with pytest.raises(FileNotFoundError) as excinfo:
        load_dataset("mnist", root=tmp_path, split="train")
    message = str(excinfo.value)
    assert f"Only the test split was found, in {tmp_path}: pass split='test'" in message
    assert "has t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz" in message
    assert "train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]" in message
    with pytest.raises(FileNotFoundError, match="Only the test split was found"):
        load_dataset("mnist", root=tmp_path, split="all")


# ---------------------------------------------------------------------------------------------
# CIFAR-10 parsers
# ---------------------------------------------------------------------------------------------


def _expected_cifar(batches, split):
    names = datasets._CIFAR_FILES[split]
    X = np.concatenate([batches[b][0] for b in names]) / 255.0
    y = np.concatenate([batches[b][1] for b in names])
    return X, y


@pytest.mark.usefixtures("synthetic_ok")
@pytest.mark.parametrize(("protocol", "bytes_keys"), [(3, True), (4, False), (5, True)])
def test_cifar_python_batches_load(tmp_path, protocol, bytes_keys):
    # protocols 3-4 pickle arrays through _reconstruct, protocol 5 through _frombuffer
    batches = _synthetic_cifar()
    _write_cifar_python(
        tmp_path / "cifar-10-batches-py", batches, protocol=protocol, bytes_keys=bytes_keys
    )
    for split in ("train", "test"):
        X, y = load_dataset("cifar10", root=tmp_path, split=split)
        X_expected, y_expected = _expected_cifar(batches, split)
        assert X.shape == (X_expected.shape[0], 3072)
        np.testing.assert_array_equal(X, X_expected)
        np.testing.assert_array_equal(y, y_expected)


@pytest.mark.usefixtures("synthetic_ok")
def test_cifar_binary_batches_give_the_same_arrays_as_python_batches(tmp_path):
    batches = _synthetic_cifar(seed=5)
    _write_cifar_python(tmp_path / "py" / "cifar-10-batches-py", batches)
    _write_cifar_bin(tmp_path / "bin" / "cifar-10-batches-bin", batches)
    for split in ("train", "test", "all"):
        X_py, y_py = load_dataset("cifar10", root=tmp_path / "py", split=split)
        X_bin, y_bin = load_dataset("cifar10", root=tmp_path / "bin", split=split)
        np.testing.assert_array_equal(X_bin, X_py)
        np.testing.assert_array_equal(y_bin, y_py)
    assert X_py.shape == (24, 3072)


def test_cifar_python_batch_with_numpy_core_globals_loads(tmp_path):
    """The genuine batches were pickled before numpy 2 and name numpy.core.multiarray."""
    data = np.arange(2 * 3072, dtype=np.uint64).astype(np.uint8).reshape(2, 3072)
    payload = pickle.dumps({b"data": data, b"labels": [7, 2]}, protocol=3)
    assert b"numpy._core.multiarray\n_reconstruct" in payload
    payload = payload.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    read, labels = datasets._read_cifar_python_batch(path)
    np.testing.assert_array_equal(read, data)
    np.testing.assert_array_equal(labels, [7, 2])


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ([1, 2, 3], "holds a list, not a CIFAR-10 batch"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, r"lacks the key\(s\) \['labels'\]"),
        ({"data": np.zeros((2, 3000), np.uint8), "labels": [0, 1]}, r"shape \(2, 3000\)"),
        ({"data": np.zeros((2, 3072), np.float64), "labels": [0, 1]}, "float64 array"),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1, 2]}, "2 images but 3 labels"),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}, "labels from 0 to 10"),
    ],
    ids=["not-a-dict", "no-labels", "wrong-width", "wrong-dtype", "count-mismatch", "label-10"],
)
def test_cifar_python_batch_content_is_checked(tmp_path, content, match):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(content, protocol=4))
    with pytest.raises(ValueError, match=match):
        datasets._read_cifar_python_batch(path)


def test_truncated_cifar_pickle_is_a_value_error(tmp_path):
    path = tmp_path / "test_batch"
    payload = pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1]})
    path.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(ValueError, match="test_batch is not a readable pickle"):
        datasets._read_cifar_python_batch(path)


def test_cifar_binary_batch_size_is_checked(tmp_path):
    path = tmp_path / "test_batch.bin"
    path.write_bytes(bytes(2 * 3073 + 5))
    with pytest.raises(ValueError, match="not a whole number of CIFAR-10 records of 3073 bytes"):
        datasets._read_cifar_bin_batch(path)


def test_cifar_python_batch_hash_is_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "_SYSTEM_DIRS", {})
    _write_cifar_python(tmp_path / "cifar-10-batches-py", _synthetic_cifar())
    with pytest.raises(ValueError, match=r"the md5 of its data is [0-9a-f]{32}, but the genuine"):
        load_dataset("cifar10", root=tmp_path, split="test")


# ---------------------------------------------------------------------------------------------
# Restricted unpickler
# ---------------------------------------------------------------------------------------------


class _RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _RunsEval:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize(
    ("make", "global_name"),
    [
        (lambda m: _RunsShell(m), b"system"),
        (lambda m: _RunsEval(m), b"eval"),
        (lambda m: {"data": np.array([_RunsShell(m)], dtype=object), "labels": [0]}, b"system"),
        (lambda m: {b"labels": [0], b"data": [_RunsEval(m)]}, b"eval"),
    ],
    ids=["os.system", "builtins.eval", "inside-object-array", "inside-dict"],
)
def test_restricted_unpickler_refuses_malicious_pickles_without_running_them(
    tmp_path, make, global_name
):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(make(marker), protocol=2)
    # the payload does name the dangerous callable, so a plain pickle.loads would run it
    assert global_name in b"".join(
        str(arg).encode() for _, arg, _ in pickletools.genops(payload) if arg is not None
    )
    path = tmp_path / "test_batch"
    path.write_bytes(payload)
    with pytest.raises(pickle.UnpicklingError, match=r"test_batch: refusing to load the global"):
        datasets._safe_unpickle(path)
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        datasets._read_cifar_python_batch(path)
    assert not marker.exists()


def test_malicious_batch_is_refused_by_load_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "_DIGESTS", {})
    marker = tmp_path / "pwned"
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({"data": _RunsShell(marker), "labels": []}))
    with pytest.raises(pickle.UnpicklingError, match=r"global (posix|nt)\.system"):
        load_dataset("cifar10", root=tmp_path, split="test")
    assert not marker.exists()


def test_restricted_unpickler_loads_the_real_batches_meta():
    meta = datasets._safe_unpickle(_require(CIFAR_META))
    assert tuple(meta["label_names"]) == CLASS_NAMES["cifar10"]
    assert meta["num_cases_per_batch"] == 10000
    assert meta["num_vis"] == 3072
    assert CLASS_NAMES["cifar10"][BINARY_PAIRS["cifar10"][0]] == "automobile"
    assert CLASS_NAMES["cifar10"][BINARY_PAIRS["cifar10"][1]] == "airplane"


# ---------------------------------------------------------------------------------------------
# Real data
# ---------------------------------------------------------------------------------------------


def test_real_mnist_test_split():
    root = _require(MNIST_DIR)
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


def test_real_mnist_without_training_split_says_how_to_get_it():
    root = _require(MNIST_DIR)
    if any(root.glob("train-*")):
        pytest.skip(f"{root} holds the training split")
    with pytest.raises(FileNotFoundError) as excinfo:
        load_dataset("mnist", root=root, split="train")
    message = str(excinfo.value)
    assert f"Only the test split was found, in {root}" in message
    assert "torchvision.datasets.MNIST(root, train=True, download=True)" in message


@pytest.fixture(scope="module")
def fashion_train():
    _require(FASHION_DIR / "train-images-idx3-ubyte.gz")
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
    batches = _synthetic_cifar()
    _write_cifar_python(tmp_path / "cifar-10-batches-py", batches)
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
    monkeypatch.setattr(datasets, "_DIGESTS", {})
    monkeypatch.setattr(datasets, "_LABEL_COUNTS", {})
    _synthetic_idx_split(tmp_path, "test", 10, seed=0)
    with caplog.at_level(logging.INFO, logger="sklearn_attnkernel.datasets.loaders"):
        load_dataset("mnist", root=tmp_path, split="test")
    assert f"mnist test split: 10 images read from {tmp_path}" in caplog.text
