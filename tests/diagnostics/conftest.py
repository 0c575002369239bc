"""Matrices with a known spectrum, shared by the κ diagnostics tests."""

import numpy as np
import pytest
from scipy.stats import ortho_group


def _read_only(A):
    A = np.array(A, dtype=np.float64)
    A.flags.writeable = False
    return A


def _with_singular_values(n, d, singular_values, seed):
    """``U diag(s) Vᵀ`` with random orthonormal U (n × d) and V (d × d), read-only."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(n, d)))
    V = ortho_group.rvs(d, random_state=seed) if d > 1 else np.ones((1, 1))
    return _read_only((U * np.asarray(singular_values)) @ V.T)


@pytest.fixture(scope="session")
def read_only():
    """``read_only(A)``: ``A`` as a float64 array that cannot be written (catches mutation)."""
    return _read_only


@pytest.fixture(scope="session")
def with_singular_values():
    """``with_singular_values(n, d, s, seed)``: an ``n × d`` matrix with singular values ``s``."""
    return _with_singular_values


@pytest.fixture
def X_rank_deficient():
    """30 × 10 matrix of rank 6."""
    rng = np.random.default_rng(3)
    return _read_only(rng.normal(size=(30, 6)) @ rng.normal(size=(6, 10)))


def _permuted_diagonal(n, d, singular_values, seed):
    """``n × d`` matrix whose singular values are exactly ``s``: a diagonal, rows/columns shuffled.

    Every SVD/eigenvalue routine returns such a spectrum without round-off, so thresholds
    (numerical rank, energy fraction) can be tested right at their boundary.
    """
    s = np.asarray(singular_values, dtype=np.float64)
    X = np.zeros((n, d))
    X[np.arange(s.size), np.arange(s.size)] = s
    rng = np.random.default_rng(seed)
    return _read_only(X[rng.permutation(n)][:, rng.permutation(d)])


@pytest.fixture(scope="session")
def permuted_diagonal():
    """``permuted_diagonal(n, d, s, seed)``: ``n × d``, singular values exactly ``s``."""
    return _permuted_diagonal
