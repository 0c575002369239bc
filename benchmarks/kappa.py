"""The κ diagnostic against the naive eigenvalues of the n × n Gram matrix (issue #2).

Goal: :func:`effective_condition_number` on a 60 000 × 784 matrix in ≤ 5 s on 2 cores. The
baseline ``numpy.linalg.eigvalsh(X @ X.T)`` runs at n = 5 000 (at n = 60 000 the Gram matrix
alone would take 29 GB), and the speed-up is taken there. BLAS uses every core.

The test matrix is ``Z diag(s) Vᵀ`` with Gaussian ``Z``, ``V`` orthogonal and ``s`` decaying
geometrically over four decades, so κ is about 10⁸ and well defined.
"""

import numpy as np

from sklearn_attnkernel import effective_condition_number

from .common import SingleRun, speedup

#: (n, d) of the κ timings, and of the comparison with the naive eigvalsh.
SHAPES = {"small": (2_000, 256), "full": (60_000, 784)}
NAIVE_SHAPES = {"small": (1_000, 256), "full": (5_000, 784)}
METHODS = ("exact", "gram", "randomized")
#: Rank of the randomized SVD (it only pays off for rank ≪ d).
RANKS = {"small": 50, "full": 200}


def decaying_matrix(n, d, seed=0):
    """``n × d`` matrix with singular values decaying from 1 to 1e-4."""
    rng = np.random.default_rng(seed)
    V, _ = np.linalg.qr(rng.normal(size=(d, d)))
    s = np.geomspace(1.0, 1e-4, d)
    return (rng.normal(size=(n, d)) * s) @ V.T


def naive_kappa(X):
    """κ from the eigenvalues of the n × n Gram matrix ``X Xᵀ`` (its d leading ones)."""
    eigenvalues = np.linalg.eigvalsh(X @ X.T)[::-1]
    return eigenvalues[0] / eigenvalues[X.shape[1] - 1]


class EffectiveConditionNumber:
    """``effective_condition_number(X, method=...)``, the default (``auto``) being ``exact``."""

    params = (list(SHAPES), list(METHODS))
    param_names = ("size", "method")
    timeout = 300.0

    def setup(self, size, method):
        self.X = decaying_matrix(*SHAPES[size])
        self.kwargs = {"rank": RANKS[size], "random_state": 0} if method == "randomized" else {}

    def time_effective_condition_number(self, size, method):
        effective_condition_number(self.X, method=method, **self.kwargs)


class NaiveKappa(SingleRun):
    """The naive baseline ``eigvalsh(X Xᵀ)``."""

    params = (list(NAIVE_SHAPES),)
    param_names = ("size",)

    def setup(self, size):
        self.X = decaying_matrix(*NAIVE_SHAPES[size], seed=1)

    def time_naive_eigvalsh(self, size):
        naive_kappa(self.X)


class KappaSpeedup(SingleRun):
    """The speed-up of ``exact`` and ``gram`` against the naive ``eigvalsh(X Xᵀ)``."""

    params = (list(NAIVE_SHAPES), ["exact", "gram"])
    param_names = ("size", "method")

    def setup(self, size, method):
        self.X = decaying_matrix(*NAIVE_SHAPES[size], seed=1)

    def track_speedup(self, size, method):
        return speedup(
            lambda: naive_kappa(self.X),
            lambda: effective_condition_number(self.X, method=method),
        )

    track_speedup.unit = "ratio"
