"""Linearized attention: the d × d operator path against the naive ``(X Xᵀ) X`` (issue #2).

Both compute the attention outputs of the training rows over themselves. The naive form builds
the ``n × n`` Gram matrix (O(n² d) flops, n² floats); :class:`LinearizedAttention` only forms
``C = Xᵀ X`` (O(n d²) flops, d² floats). Both are matmul-bound, so the best possible speed-up is
the flop ratio ``n / d`` (25.5 at the full size). BLAS runs on 2 threads for both.
"""

import numpy as np

from sklearn_attnkernel import LinearizedAttention

from .common import SingleRun, limit_threads, speedup

D = 784
N_ROWS = {"small": 2_000, "full": 20_000, "large": 60_000}
THREADS = 2


def pixel_rows(size):
    """Pixel-like non-negative float64 data, ``N_ROWS[size] × 784``."""
    return np.random.default_rng(0).random((N_ROWS[size], D))


def naive_attention(X):
    """``(X Xᵀ) X`` with the n × n Gram matrix.

    ``X @ X.T`` would take numpy's SYRK shortcut, which segfaults in the bundled OpenBLAS
    (0.3.31, 2 threads) for n ≥ 16 000 (the numpy#19685 family of bugs); the explicit copy makes
    it a plain GEMM (4 n² d flops in all instead of 3 n² d).
    """
    return (X @ np.ascontiguousarray(X.T)) @ X


class LinearizedAttentionFitTransform:
    """``LinearizedAttention(normalize=...).fit_transform(X)``; ``large`` has no naive twin."""

    params = (list(N_ROWS), [False, True])
    param_names = ("size", "normalize")

    def setup(self, size, normalize):
        self.restore = limit_threads(THREADS)
        self.X = pixel_rows(size)
        self.attention = LinearizedAttention(normalize=normalize)

    def teardown(self, size, normalize):
        self.restore()

    def time_fit_transform(self, size, normalize):
        self.attention.fit_transform(self.X)

    def peakmem_fit_transform(self, size, normalize):
        self.attention.fit_transform(self.X)


class NaiveAttention(SingleRun):
    """The naive baseline, and the speed-up of ``normalize=False`` against it."""

    params = (["small", "full"],)
    param_names = ("size",)

    def setup(self, size):
        self.restore = limit_threads(THREADS)
        self.X = pixel_rows(size)

    def teardown(self, size):
        self.restore()

    def time_naive(self, size):
        naive_attention(self.X)

    def peakmem_naive(self, size):
        naive_attention(self.X)

    def track_speedup(self, size):
        return speedup(
            lambda: naive_attention(self.X),
            lambda: LinearizedAttention(normalize=False).fit_transform(self.X),
        )

    track_speedup.unit = "ratio"
