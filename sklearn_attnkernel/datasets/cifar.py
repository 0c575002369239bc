"""Readers of CIFAR-10 batches: python pickles (through a restricted unpickler) and binary files.

A python batch is a pickle, and unpickling runs whatever callables the pickle names. The batches
are therefore read only through :class:`_NumpyOnlyUnpickler`, which admits the few globals numpy
arrays need and refuses every other one, so a crafted pickle cannot run code.
"""

import io
import pickle

import numpy as np

from .files import check_digest, check_labels

_CIFAR_IMAGE_SIZE = 3 * 32 * 32

# numpy's own reconstructors, taken from its pickling so that they are exactly the callables a
# pickled array names, whatever the numpy version calls their module.
_NDARRAY_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]
_NDARRAY_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]

# The only globals a CIFAR batch may name: what numpy arrays need. Python 2 pickles (the genuine
# batches) and numpy < 2 name ``numpy.core``; numpy >= 2 names ``numpy._core``. Protocol 5
# pickles of contiguous arrays use ``_frombuffer``.
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _NDARRAY_RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _NDARRAY_RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _NDARRAY_FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _NDARRAY_FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle named a global that :class:`_NumpyOnlyUnpickler` does not admit."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that builds numpy arrays and plain Python containers, and refuses any other
    global (functions, classes, modules), so a crafted pickle cannot run code."""

    def find_class(self, module, name):
        try:
            return _PICKLE_ALLOWED[(module, name)]
        except KeyError:
            raise _RefusedGlobal(
                f"refusing to load the global {module}.{name}: only numpy arrays and plain "
                "Python values are allowed in a dataset pickle."
            ) from None


def _safe_unpickle(data, path):
    """Unpickle `data` (read from `path`) through :class:`_NumpyOnlyUnpickler`.

    Python 2 strings are decoded as latin-1. A refused global stays an UnpicklingError, now naming
    `path`; any other failure means the pickle is unreadable and becomes a ValueError.
    """
    try:
        return _NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except _RefusedGlobal as exc:
        raise _RefusedGlobal(f"{path}: {exc}") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
    ) as exc:
        raise ValueError(
            f"{path} is not a readable pickle ({type(exc).__name__}: {exc}): it is corrupt or "
            "truncated. Download it again."
        ) from exc


def _batch_dict(batch, path):
    """The unpickled batch as a dict with str keys holding ``"data"`` and ``"labels"``."""
    if not isinstance(batch, dict):
        raise ValueError(
            f"{path} holds a {type(batch).__name__}, not a CIFAR-10 batch (a dict with 'data' "
            "and 'labels')."
        )
    # Keys are str (latin-1 decoding of Python 2 strings) or bytes (pickled from bytes keys).
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    missing = {"data", "labels"} - set(batch)
    if missing:
        raise ValueError(
            f"{path} lacks the key(s) {sorted(missing)} of a CIFAR-10 batch; found "
            f"{sorted(map(str, batch))}."
        )
    return batch


def _check_data(data, path):
    """``data`` must be a uint8 array of one 3072-pixel image per row."""
    if (
        isinstance(data, np.ndarray)
        and data.dtype == np.uint8
        and data.ndim == 2
        and data.shape[1] == _CIFAR_IMAGE_SIZE
    ):
        return
    description = (
        f"a {data.dtype} array of shape {data.shape}"
        if isinstance(data, np.ndarray)
        else f"a {type(data).__name__}"
    )
    raise ValueError(
        f"{path}: 'data' is {description}; a CIFAR-10 batch holds a uint8 array of shape "
        f"(n_images, {_CIFAR_IMAGE_SIZE})."
    )


def _batch_labels(labels, n_images, path):
    """``labels`` as int64, one per image, each in 0–9."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(f"{path}: 'labels' must be a list of integers; got {labels.dtype}.")
    if labels.shape[0] != n_images:
        raise ValueError(
            f"{path} holds {n_images} images but {labels.shape[0]} labels; the file is corrupt."
        )
    labels = labels.astype(np.int64)
    check_labels(labels, path)
    return labels


def read_cifar_python_batch(path, *, digest=None):
    """Read one CIFAR-10 python batch: ``(data uint8 (n, 3072), labels int64 (n,))``."""
    with open(path, "rb") as f:
        raw = f.read()
    check_digest(raw, path, digest)
    batch = _batch_dict(_safe_unpickle(raw, path), path)
    data = batch["data"]
    _check_data(data, path)
    return data, _batch_labels(batch["labels"], data.shape[0], path)


def read_cifar_bin_batch(path):
    """Read one CIFAR-10 binary batch: records of 1 label byte and 3072 pixel bytes."""
    raw = np.fromfile(path, dtype=np.uint8)
    record = 1 + _CIFAR_IMAGE_SIZE
    if raw.size == 0 or raw.size % record:
        raise ValueError(
            f"{path} holds {raw.size} bytes, not a whole number of CIFAR-10 records of {record} "
            "bytes (1 label byte, 3072 pixel bytes). The file is truncated or corrupt."
        )
    records = raw.reshape(-1, record)
    labels = records[:, 0].astype(np.int64)
    check_labels(labels, path)
    return records[:, 1:], labels
