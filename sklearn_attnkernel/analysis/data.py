"""The data of a cell: dataset splits (cached per process), seeded subsets and split sizes.

A cell's training subset is drawn with ``derive_seed("train", dataset, setting, split, n_train,
seed)`` and its test subset with a seed of the same settings, so both architectures of a grid
see the same points. Pixels stay in ``[0, 1]``; :func:`standardize` applies the dataset's
mean/std step where a part needs standardized rows.
"""

import functools

import numpy as np

from .store import derive_seed

__all__ = [
    "DataUnavailableError",
    "cell_data",
    "holdout_pool",
    "load_split",
    "resolve_n_test",
    "split_size",
    "standardize",
]


class DataUnavailableError(ValueError):
    """A dataset split that cannot be loaded (missing or unreadable files).

    Parameters
    ----------
    dataset : str
        The dataset's name.
    reason : Exception
        What the loader raised.

    Attributes
    ----------
    dataset : str
        The dataset's name.
    """

    def __init__(self, dataset, reason):
        self.dataset = dataset
        super().__init__(f"cannot load {dataset!r}: {reason}")


@functools.lru_cache(maxsize=8)
def load_split(dataset, root, split, setting):
    """Pixels and labels of one split (read-only arrays), cached per process."""
    from ..datasets.loaders import BINARY_PAIRS, load_dataset

    classes = BINARY_PAIRS[dataset] if setting == "binary" else None
    X, y = load_dataset(dataset, root=root, split=split, classes=classes)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def split_size(data, dataset, setting, split_key="train_split"):
    """Number of images of the split ``data[split_key]``; :class:`DataUnavailableError` if none."""
    try:
        _, y = load_split(dataset, data["root"], data[split_key], setting)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise DataUnavailableError(dataset, exc) from exc
    return y.size


def holdout_pool(data, dataset, setting, n_train):
    """Number of images the test points are drawn from, and where they come from."""
    available = split_size(data, dataset, setting)
    if data["test_split"] == data["train_split"]:
        n_used = available if n_train == "all" else n_train
        return available - n_used, f"the rest of split {data['train_split']!r}"
    return split_size(data, dataset, setting, "test_split"), f"split {data['test_split']!r}"


def resolve_n_test(data, dataset, setting, n_train, n_test):
    """``n_test`` at least the pool's size becomes "all"."""
    pool, _ = holdout_pool(data, dataset, setting, n_train)
    return "all" if n_test == "all" or n_test >= pool else n_test


def _subset(y, index, n, seed):
    """A stratified subset of ``index`` of size ``n`` (sorted), or all of it for "all"."""
    from sklearn.utils import resample

    if n == "all" or n >= index.size:
        return index
    return np.sort(
        resample(index, replace=False, n_samples=n, stratify=y[index], random_state=seed)
    )


def cell_data(s, root):
    """Training (and, when ``s`` has ``n_test``, test) data of a cell: pixels in [0, 1], labels.

    Returns a dict with ``X`` and ``y``, plus ``X_test`` and ``y_test`` for cells with a test
    set (drawn from the rest of the training split when both splits are the same).
    """
    dataset, setting, split = s["dataset"], s["setting"], s["train_split"]
    X, y = load_split(dataset, root, split, setting)
    train_seed = derive_seed("train", dataset, setting, split, s["n_train"], s["seed"])
    train = _subset(y, np.arange(y.size), s["n_train"], train_seed)
    out = {"X": X[train], "y": y[train]}
    if "n_test" in s:
        test_seed = derive_seed(
            "test", dataset, setting, split, s["test_split"], s["n_train"], s["n_test"], s["seed"]
        )
        if s["test_split"] == split:
            pool, Xp, yp = np.setdiff1d(np.arange(y.size), train), X, y
        else:
            Xp, yp = load_split(dataset, root, s["test_split"], setting)
            pool = np.arange(yp.size)
        test = _subset(yp, pool, s["n_test"], test_seed)
        out.update(X_test=Xp[test], y_test=yp[test])
    return out


def standardize(dataset, X):
    """Rows after the dataset's mean/std step and ℓ2 normalisation (the networks' input)."""
    from ..preprocessing import dataset_standardizer

    return dataset_standardizer(dataset).fit_transform(X)
