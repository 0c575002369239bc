"""Writers of small synthetic dataset files, and where the real files are, for the dataset tests."""

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from sklearn_attnkernel.datasets import files

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
CIFAR_META = SHARED_DATA / "cifar10" / "batches.meta"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def require(path):
    """`path`, or skip the test naming it when the real data are not there."""
    if not Path(path).exists():
        pytest.skip(f"real data not available: {path} is missing")
    return Path(path)


_IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f8"): 0x0E}


def idx_bytes(array, *, magic=None):
    array = np.asarray(array)
    if array.dtype.kind != "u":
        array = array.astype(array.dtype.newbyteorder(">"))
    if magic is None:
        magic = (_IDX_CODES[array.dtype] << 8) | array.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write(path, data, *, gz=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def synthetic_idx_split(directory, split, n, *, seed, gz=False, image_shape=(28, 28)):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, *image_shape), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images_name, labels_name = files._IDX_FILES[split]
    write(directory / images_name, idx_bytes(images), gz=gz)
    write(directory / labels_name, idx_bytes(labels), gz=gz)
    return images, labels


def synthetic_cifar(n_per_batch=4, seed=0):
    """Six batches (5 train, 1 test) of random uint8 images with labels covering 0-9."""
    rng = np.random.default_rng(seed)
    batches = {}
    for k, base in enumerate((*files._CIFAR_FILES["train"], "test_batch")):
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in (np.arange(n_per_batch) + 3 * k) % 10]
        batches[base] = (data, labels)
    return batches


def write_cifar_python(directory, batches, *, protocol=4, bytes_keys=True):
    directory.mkdir(parents=True, exist_ok=True)
    for base, (data, labels) in batches.items():
        keys = (b"data", b"labels") if bytes_keys else ("data", "labels")
        payload = pickle.dumps({keys[0]: data, keys[1]: labels}, protocol=protocol)
        (directory / base).write_bytes(payload)


def write_cifar_bin(directory, batches):
    directory.mkdir(parents=True, exist_ok=True)
    for base, (data, labels) in batches.items():
        records = np.column_stack([np.asarray(labels, dtype=np.uint8), data])
        (directory / f"{base}.bin").write_bytes(records.tobytes())
