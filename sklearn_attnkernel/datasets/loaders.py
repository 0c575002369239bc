"""The paper's image datasets as ``(X, y)`` arrays: :func:`load_dataset` and its constants.

numpy only: this subpackage must not import torch.

:func:`load_dataset` returns flattened pixels in ``[0, 1]`` for scikit-learn's digits (embedded,
always available), MNIST, Fashion-MNIST and CIFAR-10. The last three are read from files in
torchvision's layout (or Debian's ``dataset-fashion-mnist`` package), found and verified by
:mod:`.files` and parsed by :mod:`.idx` (MNIST's format) and :mod:`.cifar` (CIFAR-10's batches,
pickles read through a restricted unpickler).

Module constants (not exported at the package root):

- ``DATASETS``: the dataset names accepted by :func:`load_dataset`.
- ``BINARY_PAIRS``: the paper's binary tasks as label pairs, e.g. ``BINARY_PAIRS["mnist"]``.
- ``CLASS_NAMES``: the class names of each dataset, indexed by label.
- ``PIXEL_STATS``: ``(mean, std)`` of the pixels (in ``[0, 1]``) of each training split.
"""

import logging
import os
from numbers import Integral

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import resample
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .cifar import read_cifar_bin_batch, read_cifar_python_batch
from .files import (
    SPLITS,
    candidate_dirs,
    check_label_counts,
    find_split,
    known_digest,
    missing_split_error,
)
from .idx import read_idx_pair

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

_DIGITS_TEST_SIZE = 0.25
_DIGITS_SPLIT_SEED = 0


def _load_file_split(name, dirs, split):
    """Pixels (uint8, one flattened image per row) and labels of one split of a file dataset."""
    directory, found = find_split(name, dirs, split)
    if directory is None:
        raise missing_split_error(name, dirs, split)
    if name == "cifar10":
        fmt, paths = found
        if fmt == "python":
            batches = [read_cifar_python_batch(p, digest=known_digest(name, p)) for p in paths]
        else:
            batches = [read_cifar_bin_batch(p) for p in paths]
        pixels = np.concatenate([b[0] for b in batches])
        labels = np.concatenate([b[1] for b in batches])
    else:
        pixels, labels = read_idx_pair(name, *found)
    check_label_counts(name, split, labels, directory)
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


def _read_pixels(name, root, split):
    """``(pixels, labels, max_value)`` of the requested split(s), pixels as stored."""
    if name == "digits":
        pixels, labels = _load_digits_split(split)
        return pixels, labels, 16.0
    dirs = candidate_dirs(name, root)
    parts = [_load_file_split(name, dirs, s) for s in (SPLITS if split == "all" else (split,))]
    if len(parts) == 1:
        pixels, labels = parts[0]
    else:
        pixels = np.concatenate([p for p, _ in parts])
        labels = np.concatenate([lab for _, lab in parts])
    return pixels, labels, 255.0


def _label_of(c, name, classes):
    """The int label of one entry of `classes`: a label or a class name of `name`."""
    names = CLASS_NAMES[name]
    if isinstance(c, str):
        if c not in names:
            raise ValueError(
                f"classes={tuple(classes)!r} names the class {c!r}, which {name} does not "
                f"have. Its classes are {names} (labels 0 to {len(names) - 1})."
            )
        return names.index(c)
    if isinstance(c, (Integral, np.integer)) and not isinstance(c, (bool, np.bool_)):
        if not 0 <= c < len(names):
            raise ValueError(
                f"classes={tuple(classes)!r} holds the label {c}, which {name} does not "
                f"have. Pass labels 0 to {len(names) - 1} or class names {names}."
            )
        return int(c)
    raise TypeError(
        f"classes must hold int labels or str class names; got {c!r} of type "
        f"{type(c).__name__} in classes={tuple(classes)!r}."
    )


def _resolve_classes(name, classes):
    """Validate `classes` (labels or class names) and return them as a sorted int array."""
    if isinstance(classes, (str, bytes)) or np.ndim(classes) != 1:
        raise ValueError(
            f"classes must be a sequence of labels or class names, e.g. {BINARY_PAIRS[name]}; "
            f"got {classes!r}."
        )
    labels = [_label_of(c, name, classes) for c in classes]
    if not labels:
        raise ValueError(f"classes is empty; pass at least one label, e.g. {BINARY_PAIRS[name]}.")
    if len(set(labels)) != len(labels):
        raise ValueError(f"classes={tuple(classes)!r} names a class twice; pass distinct classes.")
    return np.array(sorted(labels), dtype=np.int64)


def _stratified_subset(index, labels, n_samples, random_state, describe):
    """`n_samples` of `index`, stratified by `labels` and in file order; all of it if None."""
    if n_samples is None:
        return index
    available = index.size
    if n_samples > available:
        raise ValueError(
            f"n_samples={n_samples} exceeds the {available} images{describe}; pass "
            f"n_samples <= {available} or None for all."
        )
    if n_samples == available:
        return index
    return np.sort(
        resample(
            index,
            replace=False,
            n_samples=n_samples,
            stratify=labels[index],
            random_state=random_state,
        )
    )


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
    >>> from sklearn_attnkernel.datasets import BINARY_PAIRS, load_dataset
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
    pixels, labels, max_value = _read_pixels(name, root, split)
    index = np.arange(labels.size)
    if class_labels is not None:
        index = np.flatnonzero(np.isin(labels, class_labels))
    selection = "" if classes is None else f" of classes {tuple(classes)!r}"
    index = _stratified_subset(
        index, labels, n_samples, random_state, f"{selection} in {name} (split={split!r})"
    )
    X = np.divide(pixels[index], max_value, dtype=np.float64)
    y = labels[index].astype(np.int64, copy=False)
    return np.ascontiguousarray(X.reshape(index.size, -1)), y
