"""Where a dataset's files are searched, and what the genuine files look like.

Folders are searched in order (torchvision's sub-folders of a root, the root, then system-wide
folders); a split is taken from the first folder holding all its files. A file is genuine when
its hash (where known) and the per-class counts of its split match; labels must lie in 0–9.
"""

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

#: The splits of a file dataset, in the order ``split="all"`` concatenates them.
SPLITS = ("train", "test")
_N_CLASSES = 10

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

_CIFAR_FILES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}

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


def candidate_dirs(name, root):
    """The folders searched for `name`'s files, in order."""
    base = _default_data_home() if root is None else Path(root).expanduser()
    dirs = [base / sub for sub in _TORCHVISION_DIRS[name]]
    dirs.append(base)
    dirs.extend(_SYSTEM_DIRS.get(name, ()))
    # keep the first occurrence of each folder
    return list(dict.fromkeys(dirs))


def _stem(path):
    """File name without a trailing ``.gz`` or ``.bin``."""
    name = Path(path).name
    for suffix in (".gz", ".bin"):
        name = name.removesuffix(suffix)
    return name


def known_digest(name, path):
    """``(algorithm, hex digest)`` of the genuine file `path` of dataset `name`, or None."""
    return _DIGESTS.get((name, _stem(path)))


def check_digest(data, path, digest):
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


def check_labels(labels, path):
    if labels.size and (labels.min() < 0 or labels.max() >= _N_CLASSES):
        raise ValueError(
            f"{path} holds labels from {labels.min()} to {labels.max()}; expected labels 0 to "
            f"{_N_CLASSES - 1}. The file is corrupt or not a 10-class dataset."
        )


def check_label_counts(name, split, labels, where):
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


def find_split(name, dirs, split):
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


def _file_names(name):
    """Every file name of `name`'s splits, compressed or binary variants included."""
    files, suffixes = (
        (_CIFAR_FILES, ("", ".bin")) if name == "cifar10" else (_IDX_FILES, ("", ".gz"))
    )
    return {f"{base}{suffix}" for split in SPLITS for base in files[split] for suffix in suffixes}


def _describe_dir(name, directory):
    """What a searched folder holds, for the missing-data message."""
    if not directory.exists():
        return "does not exist"
    if not directory.is_dir():
        return "is not a folder"
    wanted = _file_names(name)
    present = sorted(p.name for p in directory.iterdir() if p.name in wanted)
    return f"has {', '.join(present)}" if present else "has none of the files"


def missing_split_error(name, dirs, split):
    """The FileNotFoundError for a split no folder holds: every folder searched, how to get it."""
    if name == "cifar10":
        wanted = ", ".join(_CIFAR_FILES[split]) + " (python batches, or the same names + .bin)"
    else:
        wanted = " and ".join(f"{b}[.gz]" for b in _IDX_FILES[split])
    lines = [
        f"The {split} split of {name} was not found. Looked for {wanted} in, in order:",
        *(f"  - {d} ({_describe_dir(name, d)})" for d in dirs),
    ]
    other = "test" if split == "train" else "train"
    other_dir, _ = find_split(name, dirs, other)
    if other_dir is not None:
        lines.append(
            f"Only the {other} split was found, in {other_dir}: pass split={other!r} to use it, "
            f"or add the {split} split's files."
        )
    lines.append(_HOW_TO_GET[name])
    return FileNotFoundError("\n".join(lines))
