"""Layer 1: verified readers of the paper's image datasets (numpy only).

- :mod:`.loaders`: :func:`load_dataset` and the constants ``DATASETS``, ``CLASS_NAMES``,
  ``BINARY_PAIRS``, ``PIXEL_STATS``;
- :mod:`.files`: where a split's files are searched and the checks that they are genuine;
- :mod:`.idx`: the IDX reader (MNIST, Fashion-MNIST);
- :mod:`.cifar`: the CIFAR-10 batch readers and their restricted unpickler.
"""

from .loaders import BINARY_PAIRS, CLASS_NAMES, DATASETS, PIXEL_STATS, load_dataset

__all__ = ["BINARY_PAIRS", "CLASS_NAMES", "DATASETS", "PIXEL_STATS", "load_dataset"]
