"""Layer 1: verified readers of the paper's image datasets (numpy only)."""

from .loaders import BINARY_PAIRS, CLASS_NAMES, DATASETS, PIXEL_STATS, load_dataset

__all__ = ["BINARY_PAIRS", "CLASS_NAMES", "DATASETS", "PIXEL_STATS", "load_dataset"]
