"""CIFAR-10 batches (python and binary) and the restricted unpickler that reads the python ones."""

import os
import pickle
import pickletools

import numpy as np
import pytest

from sklearn_attnkernel.datasets import BINARY_PAIRS, CLASS_NAMES, cifar, files, load_dataset

from .synthetic import (
    CIFAR_META,
    require,
    synthetic_cifar,
    write_cifar_bin,
    write_cifar_python,
)


def _expected_cifar(batches, split):
    names = files._CIFAR_FILES[split]
    X = np.concatenate([batches[b][0] for b in names]) / 255.0
    y = np.concatenate([batches[b][1] for b in names])
    return X, y


@pytest.mark.usefixtures("synthetic_ok")
@pytest.mark.parametrize(("protocol", "bytes_keys"), [(3, True), (4, False), (5, True)])
def test_cifar_python_batches_load(tmp_path, protocol, bytes_keys):
    # protocols 3-4 pickle arrays through _reconstruct, protocol 5 through _frombuffer
    batches = synthetic_cifar()
    write_cifar_python(
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
    batches = synthetic_cifar(seed=5)
    write_cifar_python(tmp_path / "py" / "cifar-10-batches-py", batches)
    write_cifar_bin(tmp_path / "bin" / "cifar-10-batches-bin", batches)
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
    read, labels = cifar.read_cifar_python_batch(path)
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
        cifar.read_cifar_python_batch(path)


def test_truncated_cifar_pickle_is_a_value_error(tmp_path):
    path = tmp_path / "test_batch"
    payload = pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1]})
    path.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(ValueError, match="test_batch is not a readable pickle"):
        cifar.read_cifar_python_batch(path)


def test_cifar_binary_batch_size_is_checked(tmp_path):
    path = tmp_path / "test_batch.bin"
    path.write_bytes(bytes(2 * 3073 + 5))
    with pytest.raises(ValueError, match="not a whole number of CIFAR-10 records of 3073 bytes"):
        cifar.read_cifar_bin_batch(path)


def test_cifar_python_batch_hash_is_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_SYSTEM_DIRS", {})
    write_cifar_python(tmp_path / "cifar-10-batches-py", synthetic_cifar())
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
        cifar._safe_unpickle(path.read_bytes(), path)
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        cifar.read_cifar_python_batch(path)
    assert not marker.exists()


def test_malicious_batch_is_refused_by_load_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_DIGESTS", {})
    marker = tmp_path / "pwned"
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({"data": _RunsShell(marker), "labels": []}))
    with pytest.raises(pickle.UnpicklingError, match=r"global (posix|nt)\.system"):
        load_dataset("cifar10", root=tmp_path, split="test")
    assert not marker.exists()


def test_restricted_unpickler_loads_the_real_batches_meta():
    meta = cifar._safe_unpickle(require(CIFAR_META).read_bytes(), CIFAR_META)
    assert tuple(meta["label_names"]) == CLASS_NAMES["cifar10"]
    assert meta["num_cases_per_batch"] == 10000
    assert meta["num_vis"] == 3072
    assert CLASS_NAMES["cifar10"][BINARY_PAIRS["cifar10"][0]] == "automobile"
    assert CLASS_NAMES["cifar10"][BINARY_PAIRS["cifar10"][1]] == "airplane"
