"""Feature collapse against the brute-force mean of pairwise cosines."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_attnkernel.diagnostics import feature_collapse


def test_feature_collapse_matches_pairwise_mean(read_only):
    F = read_only(np.random.default_rng(4).normal(size=(30, 6)) + 0.5)
    n = len(F)
    total = 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                total += F[i] @ F[j] / (np.linalg.norm(F[i]) * np.linalg.norm(F[j]))
    expected = total / (n * (n - 1))
    assert feature_collapse(F) == pytest.approx(expected, rel=1e-12)
    assert feature_collapse(sp.csr_matrix(F)) == pytest.approx(expected, rel=1e-12)


def test_feature_collapse_extremes_and_zero_rows():
    assert feature_collapse(np.outer(np.arange(1.0, 6.0), [1.0, 2.0])) == pytest.approx(1.0)
    assert feature_collapse(np.eye(4)) == pytest.approx(0.0, abs=1e-15)
    assert feature_collapse([[1.0, 0.0], [-1.0, 0.0]]) == pytest.approx(-1.0)
    F = [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    for zero_rows in (F, sp.csr_matrix(F), sp.csc_matrix(F)):
        with pytest.raises(ValueError, match=r"rows \[1, 3\] of F are zero"):
            feature_collapse(zero_rows)


def test_feature_collapse_of_two_rows_is_their_cosine():
    # n = 2: the mean over the pairs (1, 2) and (2, 1) is cos(f₁, f₂) = 3/(√2·√5) here
    assert feature_collapse([[1.0, 1.0], [1.0, 2.0]]) == pytest.approx(3 / math.sqrt(10), rel=1e-14)
