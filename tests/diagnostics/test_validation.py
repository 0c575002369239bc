"""Input checks shared by the κ diagnostics: what they accept and how they convert it."""

import numpy as np
import pandas as pd
import pytest

from sklearn_attnkernel.diagnostics import effective_condition_number, feature_collapse


def test_dataframe_input_is_accepted():
    # a DataFrame has no ``dtype`` attribute (only ``dtypes``)
    X = pd.DataFrame(np.diag([10.0, 1.0, 0.1]), columns=["a", "b", "c"])
    assert effective_condition_number(X) == pytest.approx(1e4, rel=1e-12)
    assert feature_collapse(X) == 0.0


def test_single_feature_is_accepted():
    # n × 1: one nonzero singular value, κ = 1; all rows on one line, collapse 1
    X = np.array([[1.0], [2.0], [3.0]])
    assert effective_condition_number(X) == 1.0
    assert feature_collapse(X) == pytest.approx(1.0, rel=1e-15)


def test_float32_input_is_computed_in_float64():
    X = np.random.default_rng(16).normal(size=(40, 6)).astype(np.float32)
    eigenvalues = np.linalg.eigvalsh(X.astype(np.float64).T @ X.astype(np.float64))
    expected = eigenvalues[-1] / eigenvalues[0]
    for method in ("exact", "gram"):
        assert effective_condition_number(X, method=method) == pytest.approx(expected, rel=1e-10)
