"""Image datasets of the paper and their preprocessing (issue #5 §1).

numpy only: this module must not import torch.

- :func:`load_dataset` returns ``(X, y)`` with flattened pixels in ``[0, 1]`` for scikit-learn's
  digits (embedded, always available), MNIST, Fashion-MNIST and CIFAR-10. The last three are read
  from files in torchvision's layout (or Debian's ``dataset-fashion-mnist`` package); every file
  is checked (IDX magic numbers and dimensions, matching counts, label range and, where known, a
  hash of the decompressed data and the per-class counts of the genuine split). CIFAR-10 python
  batches are pickles and are read only through a restricted unpickler that admits numpy arrays
  and nothing else.
- :class:`DatasetStandardizer` is the paper's preprocessing as a pipeline step: subtract a scalar
  pixel mean, divide by a scalar pixel standard deviation, then ℓ2-normalise each row.
  :func:`dataset_standardizer` returns one set to a dataset's known constants.

Module constants (not exported at the package root):

- ``DATASETS``: the dataset names accepted by :func:`load_dataset`.
- ``BINARY_PAIRS``: the paper's binary tasks as label pairs, e.g. ``BINARY_PAIRS["mnist"]``.
- ``CLASS_NAMES``: the class names of each dataset, indexed by label.
- ``PIXEL_STATS``: ``(mean, std)`` of the pixels (in ``[0, 1]``) of each training split.
"""

import gzip
import hashlib
import io
import logging
import math
import os
import pickle
import struct
import zlib
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import resample
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = [
    "BINARY_PAIRS",
    "CLASS_NAMES",
    "DATASETS",
    "PIXEL_STATS",
    "load_dataset",
]

logger = logging.getLogger(__name__)

#: Dataset names accepted by :func:`load_dataset`.
DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")

#: Class names per dataset; ``CLASS_NAMES[name][label]`` names label ``label``.
CLASS_NAMES = {
    "digits": tuple(str(i) for i in range(10)),
    "mnist": tuple(str(i) for i in range(10)),
    "fashion-mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "cifar10": (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ),
}

#: Binary tasks as ``(label, label)`` pairs. The paper's: MNIST 3 vs 8 and CIFAR-10 automobile
#: (1) vs airplane (0). Ours (no paper value): digits 3 vs 8, Fashion-MNIST T-shirt/top (0) vs
#: Shirt (6), the most confused pair.
BINARY_PAIRS = {
    "digits": (3, 8),
    "mnist": (3, 8),
    "fashion-mnist": (0, 6),
    "cifar10": (1, 0),
}

# CIFAR-10 per-channel (R, G, B) mean and standard deviation of the 50 000 training images.
_CIFAR10_CHANNEL_MEAN = (0.4914, 0.4822, 0.4465)
_CIFAR10_CHANNEL_STD = (0.2470, 0.2435, 0.2616)

#: Scalar ``(mean, std)`` of the pixels (scaled to ``[0, 1]``) over every pixel of the training
#: split. MNIST and Fashion-MNIST: the usual constants (Fashion-MNIST's recomputed from the
#: genuine files). CIFAR-10: the three channels pooled, i.e. the mean of the channel means and,
#: by the law of total variance, ``std² = mean(channel std²) + var(channel means)``. digits:
#: computed on the fixed training split of :func:`load_dataset`.
PIXEL_STATS = {
    "digits": (0.3052, 0.3760),
    "mnist": (0.1307, 0.3081),
    "fashion-mnist": (0.2860, 0.3530),
    "cifar10": (0.4734, 0.2516),
}

_N_CLASSES = 10
_SPLITS = ("train", "test")
_DIGITS_TEST_SIZE = 0.25
_DIGITS_SPLIT_SEED = 0
_MAX_LISTED_ROWS = 10

# --------------------------------------------------------------------------------------------
# Where files live and what the genuine ones look like
# --------------------------------------------------------------------------------------------

# torchvision's sub-folders of a root, searched before the root itself.
_TORCHVISION_DIRS = {
    "mnist": ("MNIST/raw",),
    "fashion-mnist": ("FashionMNIST/raw",),
    "cifar10": ("cifar-10-batches-py", "cifar-10-batches-bin"),
}

# System-wide locations, searched last.
_SYSTEM_DIRS = {
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
}

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_IMAGES_MAGIC = 2051  # unsigned bytes, 3 dimensions
_IDX_LABELS_MAGIC = 2049  # unsigned bytes, 1 dimension
_IDX_IMAGE_SHAPE = (28, 28)

_CIFAR_FILES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
_CIFAR_IMAGE_SIZE = 3 * 32 * 32

# (dataset, file name without .gz) -> (hash algorithm, hex digest). IDX: digest of the
# decompressed file, so the check does not depend on how (or whether) it was gzipped; computed
# from the genuine files (the MNIST test split whose .gz md5s torchvision lists, and Debian's
# Fashion-MNIST). CIFAR-10 python batches: md5 of the file as torchvision lists it.
_DIGESTS = {
    ("mnist", "t10k-images-idx3-ubyte"): (
        "sha256",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    ("mnist", "t10k-labels-idx1-ubyte"): (
        "sha256",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    ("fashion-mnist", "train-images-idx3-ubyte"): (
        "sha256",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    ("fashion-mnist", "train-labels-idx1-ubyte"): (
        "sha256",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    ("fashion-mnist", "t10k-images-idx3-ubyte"): (
        "sha256",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    ("fashion-mnist", "t10k-labels-idx1-ubyte"): (
        "sha256",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
    ("cifar10", "data_batch_1"): ("md5", "c99cafc152244af753f735de768cd75f"),
    ("cifar10", "data_batch_2"): ("md5", "d4bba439e000b95fd0a9bffe97cbabec"),
    ("cifar10", "data_batch_3"): ("md5", "54ebc095f3ab1f0389bbae665268c751"),
    ("cifar10", "data_batch_4"): ("md5", "634d18415352ddfa80567beed471001a"),
    ("cifar10", "data_batch_5"): ("md5", "482c414d41f54cd18b22e5b47cb7c3cb"),
    ("cifar10", "test_batch"): ("md5", "40351d587109b95175f43aff81a1287e"),
}

# (dataset, split) -> images per class in the genuine split. Checked for every file-based
# split; the only content check of the MNIST training split, whose decompressed hash we lack.
_LABEL_COUNTS = {
    ("mnist", "train"): (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    ("mnist", "test"): (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
    ("fashion-mnist", "train"): (6000,) * 10,
    ("fashion-mnist", "test"): (1000,) * 10,
    ("cifar10", "train"): (5000,) * 10,
    ("cifar10", "test"): (1000,) * 10,
}

_HOW_TO_GET = {
    "mnist": (
        "Get them with torchvision, `torchvision.datasets.MNIST(root, train=True, download=True)` "
        "(and train=False for the test split), which writes them to <root>/MNIST/raw; or put "
        "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
        "t10k-labels-idx1-ubyte.gz (the MNIST database, http://yann.lecun.com/exdb/mnist/ or a "
        "mirror) there or directly in root; then pass root=<root>."
    ),
    "fashion-mnist": (
        "On Debian or Ubuntu, `apt-get install dataset-fashion-mnist` installs them in "
        "/usr/share/datasets/fashion-mnist, which is always searched. Otherwise "
        "`torchvision.datasets.FashionMNIST(root, download=True)` writes them to "
        "<root>/FashionMNIST/raw; then pass root=<root>."
    ),
    "cifar10": (
        "Get them with torchvision, `torchvision.datasets.CIFAR10(root, download=True)`, which "
        "extracts <root>/cifar-10-batches-py; or extract cifar-10-python.tar.gz or "
        "cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html into root; "
        "then pass root=<root>."
    ),
}


def _default_data_home():
    """scikit-learn's data home (``$SCIKIT_LEARN_DATA`` or ``~/scikit_learn_data``), not created.

    The same folder as :func:`sklearn.datasets.get_data_home`, which would create it.
    """
    return Path(os.environ.get("SCIKIT_LEARN_DATA", "~/scikit_learn_data")).expanduser()


def _candidate_dirs(name, root):
    """The folders searched for `name`'s files, in order."""
    base = _default_data_home() if root is None else Path(root).expanduser()
    dirs = [base / sub for sub in _TORCHVISION_DIRS[name]]
    dirs.append(base)
    dirs.extend(_SYSTEM_DIRS.get(name, ()))
    # keep the first occurrence of each folder
    return list(dict.fromkeys(dirs))


# --------------------------------------------------------------------------------------------
# File readers
# --------------------------------------------------------------------------------------------


def _read_bytes(path):
    """Return the bytes of `path`, decompressed when its name ends in ``.gz``."""
    path = Path(path)
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(
            f"{path} is not a readable gzip file ({exc}): it is corrupt or truncated. Delete it "
            "and download it again."
        ) from exc


def _check_digest(data, path, digest):
    """Raise a ValueError when the hash of `data` (read from `path`) differs from `digest`."""
    if digest is None:
        return
    algorithm, expected = digest
    actual = hashlib.new(algorithm, data).hexdigest()
    if actual != expected:
        what = "decompressed data" if Path(path).suffix == ".gz" else "data"
        raise ValueError(
            f"{path}: the {algorithm} of its {what} is {actual}, but the genuine file's is "
            f"{expected}. The file is corrupt or not the genuine one: delete it and download it "
            "again."
        )
    logger.debug("%s: %s verified", path, algorithm)


_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_idx(path, *, expected_magic=None, digest=None):
    """Read an IDX file (raw or ``.gz``) into an array of the dimensions its header gives.

    The magic number is the first four bytes read as a big-endian int: two zero bytes, the
    element type and the number of dimensions (2051 for unsigned-byte images of three
    dimensions, 2049 for unsigned-byte labels of one). Then come one big-endian uint32 per
    dimension and the data, which must fill the rest of the file exactly.
    """
    data = _read_bytes(path)
    _check_digest(data, path, digest)
    if len(data) < 4:
        raise ValueError(f"{path} holds {len(data)} bytes, too few for an IDX header.")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{path} has magic number {magic}, expected {expected_magic} "
            f"({'images' if expected_magic == _IDX_IMAGES_MAGIC else 'labels'} in IDX format). "
            "It is not the file its name says, or it is corrupt: download it again."
        )
    type_code, n_dims = data[2], data[3]
    if data[:2] != b"\x00\x00" or type_code not in _IDX_DTYPES or n_dims == 0:
        raise ValueError(
            f"{path} is not an IDX file (magic number {magic}: the first two bytes must be zero, "
            f"the third one of {sorted(_IDX_DTYPES)}, the fourth a positive dimension count)."
        )
    header_end = 4 + 4 * n_dims
    if len(data) < header_end:
        raise ValueError(f"{path} is truncated inside its IDX header ({len(data)} bytes).")
    dims = struct.unpack(f">{n_dims}I", data[4:header_end])
    dtype = _IDX_DTYPES[type_code]
    count = math.prod(dims)
    n_bytes = len(data) - header_end
    if n_bytes != count * dtype.itemsize:
        raise ValueError(
            f"{path}: its header announces dimensions {dims} ({count * dtype.itemsize} bytes of "
            f"data) but {n_bytes} bytes follow. The file is truncated or corrupt: download it "
            "again."
        )
    return np.frombuffer(data, dtype=dtype, count=count, offset=header_end).reshape(dims)


def _check_labels(labels, path):
    if labels.size and (labels.min() < 0 or labels.max() >= _N_CLASSES):
        raise ValueError(
            f"{path} holds labels from {labels.min()} to {labels.max()}; expected labels 0 to "
            f"{_N_CLASSES - 1}. The file is corrupt or not a 10-class dataset."
        )


def _read_idx_pair(name, images_path, labels_path):
    """Read and cross-check an IDX images file and its labels file."""
    images = _read_idx(
        images_path,
        expected_magic=_IDX_IMAGES_MAGIC,
        digest=_DIGESTS.get((name, _stem(images_path))),
    )
    labels = _read_idx(
        labels_path,
        expected_magic=_IDX_LABELS_MAGIC,
        digest=_DIGESTS.get((name, _stem(labels_path))),
    )
    if images.shape[1:] != _IDX_IMAGE_SHAPE:
        raise ValueError(
            f"{images_path} holds images of {images.shape[1]}×{images.shape[2]} pixels; "
            f"{name} images are {_IDX_IMAGE_SHAPE[0]}×{_IDX_IMAGE_SHAPE[1]}."
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels; they must come from the same split. Download both again."
        )
    _check_labels(labels, labels_path)
    return images.reshape(images.shape[0], -1), labels.astype(np.int64)


def _stem(path):
    """File name without a trailing ``.gz`` or ``.bin``."""
    name = Path(path).name
    for suffix in (".gz", ".bin"):
        name = name.removesuffix(suffix)
    return name


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


def _safe_unpickle(path):
    """Unpickle `path` through :class:`_NumpyOnlyUnpickler` (Python 2 strings as latin-1)."""
    with open(path, "rb") as f:
        data = f.read()
    return _safe_unpickle_bytes(data, path)


def _safe_unpickle_bytes(data, path):
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


def _read_cifar_python_batch(path, *, digest=None):
    """Read one CIFAR-10 python batch: ``(data uint8 (n, 3072), labels int64 (n,))``."""
    with open(path, "rb") as f:
        raw = f.read()
    _check_digest(raw, path, digest)
    batch = _safe_unpickle_bytes(raw, path)
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
    data = batch["data"]
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != _CIFAR_IMAGE_SIZE
    ):
        description = (
            f"a {data.dtype} array of shape {data.shape}"
            if isinstance(data, np.ndarray)
            else f"a {type(data).__name__}"
        )
        raise ValueError(
            f"{path}: 'data' is {description}; a CIFAR-10 batch holds a uint8 array of shape "
            f"(n_images, {_CIFAR_IMAGE_SIZE})."
        )
    labels = np.asarray(batch["labels"])
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(f"{path}: 'labels' must be a list of integers; got {labels.dtype}.")
    if labels.shape[0] != data.shape[0]:
        raise ValueError(
            f"{path} holds {data.shape[0]} images but {labels.shape[0]} labels; the file is "
            "corrupt."
        )
    labels = labels.astype(np.int64)
    _check_labels(labels, path)
    return data, labels


def _read_cifar_bin_batch(path):
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
    _check_labels(labels, path)
    return records[:, 1:], labels


# --------------------------------------------------------------------------------------------
# Locating a split
# --------------------------------------------------------------------------------------------


def _idx_split_files(directory, split):
    """Paths of `split`'s images and labels in `directory` (raw preferred to .gz), or None."""
    paths = []
    for base in _IDX_FILES[split]:
        for candidate in (directory / base, directory / f"{base}.gz"):
            if candidate.is_file():
                paths.append(candidate)
                break
        else:
            return None
    return paths


def _cifar_split_files(directory, split):
    """``(format, paths)`` of `split`'s batches in `directory` (python preferred), or None."""
    for fmt, suffix in (("python", ""), ("binary", ".bin")):
        paths = [directory / f"{base}{suffix}" for base in _CIFAR_FILES[split]]
        if all(p.is_file() for p in paths):
            return fmt, paths
    return None


def _find_split(name, dirs, split):
    """Return ``(directory, found)`` for the first folder holding all of `split`'s files."""
    for directory in dirs:
        found = (
            _cifar_split_files(directory, split)
            if name == "cifar10"
            else _idx_split_files(directory, split)
        )
        if found is not None:
            return directory, found
    return None, None


def _describe_dir(name, directory):
    """What a searched folder holds, for the missing-data message."""
    if not directory.exists():
        return "does not exist"
    if not directory.is_dir():
        return "is not a folder"
    if name == "cifar10":
        wanted = {f"{b}{s}" for split in _SPLITS for b in _CIFAR_FILES[split] for s in ("", ".bin")}
    else:
        wanted = {f"{b}{s}" for split in _SPLITS for b in _IDX_FILES[split] for s in ("", ".gz")}
    present = sorted(p.name for p in directory.iterdir() if p.name in wanted)
    return f"has {', '.join(present)}" if present else "has none of the files"


def _missing_split_error(name, dirs, split):
    if name == "cifar10":
        wanted = ", ".join(_CIFAR_FILES[split]) + " (python batches, or the same names + .bin)"
    else:
        wanted = " and ".join(f"{b}[.gz]" for b in _IDX_FILES[split])
    lines = [
        f"The {split} split of {name} was not found. Looked for {wanted} in, in order:",
        *(f"  - {d} ({_describe_dir(name, d)})" for d in dirs),
    ]
    other = "test" if split == "train" else "train"
    other_dir, _ = _find_split(name, dirs, other)
    if other_dir is not None:
        lines.append(
            f"Only the {other} split was found, in {other_dir}: pass split={other!r} to use it, "
            f"or add the {split} split's files."
        )
    lines.append(_HOW_TO_GET[name])
    return FileNotFoundError("\n".join(lines))


def _check_label_counts(name, split, labels, where):
    expected = _LABEL_COUNTS.get((name, split))
    if expected is None:
        return
    counts = tuple(int(c) for c in np.bincount(labels, minlength=_N_CLASSES))
    if counts != expected:
        raise ValueError(
            f"The {split} split of {name} read from {where} has {labels.size} images with "
            f"{list(counts)} per class, but the genuine split has {sum(expected)} with "
            f"{list(expected)}. The files are not the genuine {name} {split} split (another "
            "dataset, a subset or corrupt): download them again."
        )


def _load_file_split(name, dirs, split):
    """Pixels (uint8, one flattened image per row) and labels of one split of a file dataset."""
    directory, found = _find_split(name, dirs, split)
    if directory is None:
        raise _missing_split_error(name, dirs, split)
    if name == "cifar10":
        fmt, paths = found
        if fmt == "python":
            batches = [
                _read_cifar_python_batch(p, digest=_DIGESTS.get((name, p.name))) for p in paths
            ]
        else:
            batches = [_read_cifar_bin_batch(p) for p in paths]
        pixels = np.concatenate([b[0] for b in batches])
        labels = np.concatenate([b[1] for b in batches])
    else:
        pixels, labels = _read_idx_pair(name, *found)
    _check_label_counts(name, split, labels, directory)
    logger.info("%s %s split: %d images read from %s", name, split, labels.size, directory)
    return pixels, labels


def _load_digits_split(split):
    digits = load_digits()
    pixels, labels = digits.data, digits.target.astype(np.int64)
    if split == "all":
        return pixels, labels
    train, test = train_test_split(
        np.arange(labels.size),
        test_size=_DIGITS_TEST_SIZE,
        stratify=labels,
        random_state=_DIGITS_SPLIT_SEED,
    )
    index = np.sort(train if split == "train" else test)
    return pixels[index], labels[index]


def _resolve_classes(name, classes):
    """Validate `classes` (labels or class names) and return them as a sorted int array."""
    names = CLASS_NAMES[name]
    if isinstance(classes, (str, bytes)) or np.ndim(classes) != 1:
        raise ValueError(
            f"classes must be a sequence of labels or class names, e.g. {BINARY_PAIRS[name]}; "
            f"got {classes!r}."
        )
    labels = []
    for c in classes:
        if isinstance(c, str):
            if c not in names:
                raise ValueError(
                    f"classes={tuple(classes)!r} names the class {c!r}, which {name} does not "
                    f"have. Its classes are {names} (labels 0 to {len(names) - 1})."
                )
            labels.append(names.index(c))
        elif isinstance(c, (Integral, np.integer)) and not isinstance(c, (bool, np.bool_)):
            if not 0 <= c < len(names):
                raise ValueError(
                    f"classes={tuple(classes)!r} holds the label {c}, which {name} does not "
                    f"have. Pass labels 0 to {len(names) - 1} or class names {names}."
                )
            labels.append(int(c))
        else:
            raise TypeError(
                f"classes must hold int labels or str class names; got {c!r} of type "
                f"{type(c).__name__} in classes={tuple(classes)!r}."
            )
    if not labels:
        raise ValueError(f"classes is empty; pass at least one label, e.g. {BINARY_PAIRS[name]}.")
    if len(set(labels)) != len(labels):
        raise ValueError(f"classes={tuple(classes)!r} names a class twice; pass distinct classes.")
    return np.array(sorted(labels), dtype=np.int64)


@validate_params(
    {
        "name": [StrOptions(set(DATASETS))],
        "root": [None, str, os.PathLike],
        "split": [StrOptions({"train", "test", "all"})],
        "n_samples": [None, Interval(Integral, 1, None, closed="left")],
        "classes": [None, "array-like"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_dataset(
    name, *, root=None, split="train", n_samples=None, classes=None, random_state=None
):
    """Load an image dataset as flattened pixels in ``[0, 1]`` and integer labels.

    Parameters
    ----------
    name : {"digits", "mnist", "fashion-mnist", "cifar10"}
        The dataset.

        - ``"digits"``: scikit-learn's embedded 8×8 digits (:func:`sklearn.datasets.load_digits`,
          1797 images), pixels divided by 16. Always available; no files are read.
        - ``"mnist"``, ``"fashion-mnist"``: 28×28 grey images (784 features), IDX files.
        - ``"cifar10"``: 32×32 colour images (3072 features), python or binary batches.

    root : str or path-like, default=None
        Folder holding the files, in torchvision's layout or directly (see Notes). None uses
        scikit-learn's data home, ``$SCIKIT_LEARN_DATA`` or ``~/scikit_learn_data`` (not
        created). Ignored for digits.

    split : {"train", "test", "all"}, default="train"
        Which split. ``"all"`` is the training split followed by the test split. For digits,
        which has no official split, ``"train"`` and ``"test"`` are a fixed stratified 75 % / 25 %
        split (1347 / 450 images; the same on every call, independent of `random_state`) and
        ``"all"`` is all 1797 images.

    n_samples : int, default=None
        If given, return a stratified random subset of this many images (of the selected
        `classes`), drawn without replacement with :func:`sklearn.utils.resample`: each class
        keeps its share up to rounding. The subset keeps the order of the file. None returns
        every image.

    classes : sequence of int or str, default=None
        Keep only these classes, given as labels or as names from ``CLASS_NAMES[name]``; e.g.
        ``BINARY_PAIRS["mnist"]`` (3 vs 8) or ``("automobile", "airplane")`` for CIFAR-10. The
        labels are kept as in the dataset, not remapped (map them yourself, e.g.
        ``np.where(y == 3, 1, -1)`` for ±1 targets). None keeps all 10 classes.

    random_state : int, RandomState instance or None, default=None
        Seeds the `n_samples` subset. Pass an int for reproducible output across multiple
        function calls. See :term:`Glossary <random_state>`.

    Returns
    -------
    X : ndarray of shape (n_images, n_features), dtype=float64
        One flattened image per row, pixels in ``[0, 1]`` (bytes divided by 255, digits by 16).
        MNIST and Fashion-MNIST rows are the 28×28 image row by row; CIFAR-10 rows are the
        file's channel-major order, the 1024 red, then green, then blue pixels, each 32×32 row
        by row.

    y : ndarray of shape (n_images,), dtype=int64
        Labels 0 to 9; ``CLASS_NAMES[name][label]`` names them.

    Raises
    ------
    FileNotFoundError
        If no searched folder holds all the files of a requested split. The message lists every
        folder searched and what it holds, and says how to get the files; when only the other
        split is present (as with a folder holding just the MNIST test split) it says so.
    ValueError
        If a file fails a check (see Notes), or `classes` or `n_samples` do not fit the data.
    pickle.UnpicklingError
        If a CIFAR-10 python batch names anything but numpy arrays (a malicious pickle).

    See Also
    --------
    DatasetStandardizer : The paper's preprocessing, as a pipeline step.
    dataset_standardizer : It, set to a dataset's known pixel mean and std.

    Notes
    -----
    **Search order.** The files of each split are taken from the first folder holding all of
    them (for IDX files, ``<file>`` is preferred to ``<file>.gz``; for CIFAR-10, python batches
    to ``.bin``):

    - MNIST: ``<root>/MNIST/raw``, then ``<root>``;
    - Fashion-MNIST: ``<root>/FashionMNIST/raw``, ``<root>``, then Debian's
      ``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``);
    - CIFAR-10: ``<root>/cifar-10-batches-py``, ``<root>/cifar-10-batches-bin``, then
      ``<root>``.

    File names: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``);
    ``data_batch_1`` … ``data_batch_5`` and ``test_batch`` (each optionally ``.bin``).

    **Checks.** IDX files: the magic number (2051 for images, 2049 for labels), 28×28 images,
    the data filling the file exactly, as many labels as images. CIFAR-10: python batches are
    read only through a restricted unpickler that admits numpy arrays and plain Python values
    and refuses every other global (so a crafted pickle cannot run code), then must hold a uint8
    ``data`` array of 3072 columns and as many labels; binary batches must be whole 3073-byte
    records. Labels must lie in 0–9. Where known, the hash of the decompressed data must match
    the genuine file's (the MNIST test split, all of Fashion-MNIST, CIFAR-10's python batches)
    and each split must have the genuine split's count of images per class.

    Reading a split decompresses it in memory; only the selected rows are converted to float64
    (the full CIFAR-10 training split would take 1.2 GB, pass `n_samples` to take less).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel.datasets.loaders import BINARY_PAIRS, load_dataset
    >>> X, y = load_dataset("digits")
    >>> X.shape, y.shape
    ((1347, 64), (1347,))
    >>> float(X.min()), float(X.max())
    (0.0, 1.0)
    >>> X, y = load_dataset(
    ...     "digits", split="all", classes=BINARY_PAIRS["digits"], n_samples=100, random_state=0
    ... )
    >>> X.shape
    (100, 64)
    >>> np.unique(y, return_counts=True)
    (array([3, 8]), array([51, 49]))
    """
    class_labels = None if classes is None else _resolve_classes(name, classes)
    splits = _SPLITS if split == "all" else (split,)
    if name == "digits":
        pixels, labels = _load_digits_split(split)
        max_value = 16.0
    else:
        dirs = _candidate_dirs(name, root)
        parts = [_load_file_split(name, dirs, s) for s in splits]
        if len(parts) == 1:
            pixels, labels = parts[0]
        else:
            pixels = np.concatenate([p for p, _ in parts])
            labels = np.concatenate([lab for _, lab in parts])
        max_value = 255.0

    index = np.arange(labels.size)
    if class_labels is not None:
        index = np.flatnonzero(np.isin(labels, class_labels))
    if n_samples is not None:
        available = index.size
        if n_samples > available:
            selection = "" if classes is None else f" of classes {tuple(classes)!r}"
            raise ValueError(
                f"n_samples={n_samples} exceeds the {available} images{selection} in {name} "
                f"(split={split!r}); pass n_samples <= {available} or None for all."
            )
        if n_samples < available:
            index = np.sort(
                resample(
                    index,
                    replace=False,
                    n_samples=n_samples,
                    stratify=labels[index],
                    random_state=random_state,
                )
            )
    X = np.divide(pixels[index], max_value, dtype=np.float64)
    y = labels[index].astype(np.int64, copy=False)
    return np.ascontiguousarray(X.reshape(index.size, -1)), y
