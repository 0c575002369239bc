"""Tests for the attention transformers and the linearized attention operator.

Every expected value is computed independently of the implementation: the literal matrix
products (through the n × n Gram where the implementation avoids it), an explicit SVD, a per-row
loop for softmax, or a closed form for the condition number.
"""

import inspect
import re
import sys
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.preprocessing import normalize
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_attnkernel import (
    LinearizedAttention,
    SoftmaxAttention,
    linearized_attention_operator,
)
from sklearn_attnkernel._utils.rows import ZeroRowsWarning


def _readonly(A):
    A = np.array(A)
    A.flags.writeable = False
    return A


def _orthonormal_columns(rng, n, k):
    Q, _ = np.linalg.qr(rng.standard_normal((n, k)))
    return Q


def _matrix_with_singular_values(rng, n, d, singular_values):
    """Return an n × d matrix U diag(s) Vᵀ with the given singular values (len = min(n, d))."""
    r = len(singular_values)
    U = _orthonormal_columns(rng, n, r)
    V = _orthonormal_columns(rng, d, r)
    return _readonly((U * singular_values) @ V.T)


def _kappa(F, r):
    """Condition number σ_1² / σ_r² of F Fᵀ from the SVD of F (independent of the package)."""
    s = np.linalg.svd(F, compute_uv=False)
    return (s[0] / s[r - 1]) ** 2


def _brute_softmax_attention(X, X_ref, tau, *, normalize_weights, normalize):
    """Per-row loop over the reference set; softmax via logsumexp, exponential via max shift."""
    out = np.zeros((X.shape[0], X_ref.shape[1]))
    for i, x in enumerate(X):
        scores = np.array([x @ x_k for x_k in X_ref]) / tau
        if normalize_weights:
            weights = np.exp(scores - logsumexp(scores))
        else:
            weights = np.exp(scores - scores.max())
        out[i] = sum(w * x_k for w, x_k in zip(weights, X_ref, strict=True))
        if normalize:
            out[i] /= np.linalg.norm(out[i])
    return out


@pytest.fixture
def data(rng):
    X_ref = _readonly(rng.standard_normal((30, 7)))
    X_new = _readonly(rng.standard_normal((13, 7)))
    return X_ref, X_new


# --------------------------------------------------------------------------------------------
# Linearized attention: equality with the literal products
# --------------------------------------------------------------------------------------------


def test_linearized_equals_literal_product(data):
    X_ref, X_new = data
    expected = (X_new @ X_ref.T) @ X_ref  # through the n_new × n_ref score matrix
    attn = LinearizedAttention(normalize=False).fit(X_ref)
    np.testing.assert_allclose(attn.transform(X_new), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(attn.operator_, X_ref.T @ X_ref, rtol=1e-13)
    np.testing.assert_allclose(linearized_attention_operator(X_ref), X_ref.T @ X_ref, rtol=1e-13)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_operator_function_accepts_sparse_reference(data, fmt):
    X_ref, _ = data
    X_sparse = {"csr": sp.csr_matrix, "csc": sp.csc_matrix}[fmt](X_ref)
    M = linearized_attention_operator(X_sparse)
    assert isinstance(M, np.ndarray)
    np.testing.assert_allclose(M, X_ref.T @ X_ref, rtol=1e-13)


def test_operator_function_computes_in_float64(rng):
    # float32 entries are exact in float64: the float64 product of the same values is the
    # reference; a float32 product would be off by ~1e-7 relative.
    X32 = rng.standard_normal((40, 5)).astype(np.float32)
    X64 = X32.astype(np.float64)
    M = linearized_attention_operator(X32)
    assert M.dtype == np.float64
    np.testing.assert_allclose(M, X64.T @ X64, rtol=1e-13)


def test_linearized_normalized_rows(data):
    X_ref, X_new = data
    raw = (X_new @ X_ref.T) @ X_ref
    expected = raw / np.sqrt((raw**2).sum(axis=1, keepdims=True))
    out = LinearizedAttention().fit(X_ref).transform(X_new)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)


def test_projection_tuple_equals_literal(data, rng):
    X_ref, X_new = data
    d = X_ref.shape[1]
    W_Q, W_K, W_V = (_readonly(rng.standard_normal((d, d))) for _ in range(3))
    expected = (X_new @ W_Q) @ (X_ref @ W_K).T @ (X_ref @ W_V)
    attn = LinearizedAttention(normalize=False, projection=(W_Q, W_K, W_V)).fit(X_ref)
    np.testing.assert_allclose(attn.transform(X_new), expected, rtol=1e-11, atol=1e-11)
    cloned = clone(attn).fit(X_ref)  # the tuple survives clone (deep-copied arrays)
    np.testing.assert_array_equal(cloned.transform(X_new), attn.transform(X_new))


def test_projection_tuple_stacks_layers(data, rng):
    X_ref, X_new = data
    d = X_ref.shape[1]
    W = tuple(_readonly(rng.standard_normal((d, d)) / np.sqrt(d)) for _ in range(3))
    W_Q, W_K, W_V = W
    h = X_new
    for _ in range(3):  # each layer attends from the previous output to the reference set
        h = (h @ W_Q) @ (X_ref @ W_K).T @ (X_ref @ W_V)
    out = LinearizedAttention(normalize=False, projection=W, n_layers=3).fit(X_ref).transform(X_new)
    np.testing.assert_allclose(out, h, rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 30),
    d=st.integers(1, 12),
    log10_kappa=st.floats(0.0, 3.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_kappa_cubed_property(n, d, log10_kappa, seed):
    """κ(G_attn) = κ(G)³ where G = X Xᵀ has eigenvalues σ_i², with σ chosen so κ is known."""
    rng = np.random.default_rng(seed)
    r = min(n, d)
    kappa_G = 10.0**log10_kappa if r > 1 else 1.0  # κ of G = X Xᵀ (one singular value: κ = 1)
    singular_values = np.sqrt(np.geomspace(1.0, 1.0 / kappa_G, r))
    X = _matrix_with_singular_values(rng, n, d, singular_values)
    F = LinearizedAttention(normalize=False).fit(X).transform(X)
    np.testing.assert_allclose(_kappa(F, r), kappa_G**3, rtol=1e-8)


def test_orthogonal_projection_preserves_operator_spectrum(rng):
    n, d = 40, 9
    kappa_G = 10.0
    X = _matrix_with_singular_values(rng, n, d, np.sqrt(np.geomspace(1.0, 1.0 / kappa_G, d)))
    C = X.T @ X
    attn = LinearizedAttention(normalize=False, projection="orthogonal", random_state=0).fit(X)
    # the projections are genuinely random: the operator is not C itself
    assert np.linalg.norm(attn.operator_ - C) > 0.1 * np.linalg.norm(C)
    np.testing.assert_allclose(
        np.linalg.svd(attn.operator_, compute_uv=False),
        np.linalg.svd(C, compute_uv=False),
        rtol=1e-10,
    )
    # Untied W_Q, W_K rotate C's eigenvectors away from X's: κ of the features is only bounded,
    # κ(G) ≤ κ(F Fᵀ) ≤ κ(G)³ (σ_i(X M) lies between σ_min(X) σ_i(M) and σ_max(X) σ_i(M)).
    kappa_F = _kappa(attn.transform(X), d)
    assert kappa_G * (1 - 1e-9) <= kappa_F <= kappa_G**3 * (1 + 1e-9)


def test_tied_orthogonal_query_key_preserves_kappa_cubed_exactly(rng):
    n, d = 40, 9
    kappa_G = 10.0
    X = _matrix_with_singular_values(rng, n, d, np.sqrt(np.geomspace(1.0, 1.0 / kappa_G, d)))
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    F = LinearizedAttention(normalize=False, projection=(Q, Q, V)).fit(X).transform(X)
    assert np.linalg.norm(F - (X @ X.T) @ X) > 0.1 * np.linalg.norm(F)  # V really rotates
    np.testing.assert_allclose(_kappa(F, d), kappa_G**3, rtol=1e-8)


def test_orthogonal_projection_is_orthogonal_and_seeded():
    d = 6
    identity_ref = _readonly(np.eye(d))  # C = I, so the operator is W_Q W_Kᵀ W_V
    M = linearized_attention_operator(identity_ref, projection="orthogonal", random_state=3)
    np.testing.assert_allclose(M @ M.T, np.eye(d), atol=1e-12)
    again = linearized_attention_operator(identity_ref, projection="orthogonal", random_state=3)
    other = linearized_attention_operator(identity_ref, projection="orthogonal", random_state=4)
    np.testing.assert_array_equal(M, again)
    assert not np.allclose(M, other)


def test_he_projection_variance():
    # With C = I the operator is W_Q W_Kᵀ W_V, whose entries have E[M_ij²] = d² (2/d)³ = 8/d.
    d = 120
    M = linearized_attention_operator(np.eye(d), projection="he", random_state=0)
    np.testing.assert_allclose(np.mean(M**2), 8.0 / d, rtol=0.15)
    assert abs(np.mean(M)) < 0.05 * np.sqrt(8.0 / d)


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_stacked_layers_kappa_power(rng, n_layers):
    n, d = 25, 6
    kappa_G = 3.0
    X = _matrix_with_singular_values(rng, n, d, np.sqrt(np.geomspace(1.0, 1.0 / kappa_G, d)))
    attn = LinearizedAttention(normalize=False, n_layers=n_layers).fit(X)
    F = attn.transform(X)
    # literal stacking through the n × n Gram: each layer attends to the original reference set
    h = X
    for _ in range(n_layers):
        h = (h @ X.T) @ X
    np.testing.assert_allclose(F, h, rtol=1e-10)
    np.testing.assert_allclose(_kappa(F, d), kappa_G ** (2 * n_layers + 1), rtol=1e-8)


@pytest.mark.parametrize(("n", "d", "k"), [(30, 7, 3), (5, 12, 2), (20, 6, 6)])
def test_rank_truncation_equals_truncated_svd(rng, n, d, k):
    X_ref = _readonly(rng.standard_normal((n, d)))
    X_new = _readonly(rng.standard_normal((9, d)))
    U, s, Vt = np.linalg.svd(X_ref, full_matrices=False)
    X_k = (U[:, :k] * s[:k]) @ Vt[:k]
    expected = (X_new @ X_k.T) @ X_k
    out = LinearizedAttention(normalize=False, rank=k).fit(X_ref).transform(X_new)
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-10)


def test_rank_above_min_shape_raises(data):
    X_ref, _ = data
    with pytest.raises(ValueError, match=r"rank=8 exceeds min\(n_samples, n_features\)=7"):
        LinearizedAttention(rank=8).fit(X_ref)
    with pytest.raises(ValueError, match="pass rank <= 7"):
        linearized_attention_operator(X_ref, rank=8)


# --------------------------------------------------------------------------------------------
# Softmax / exponential attention
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", [1, 4, 13, 50])
@pytest.mark.parametrize("normalize_weights", [True, False])
@pytest.mark.parametrize("normalize", [True, False])
def test_softmax_equals_brute_force(data, block_size, normalize_weights, normalize):
    X_ref, X_new = data  # n_new = 13: block sizes below, equal to and above it
    attn = SoftmaxAttention(
        normalize_weights=normalize_weights, normalize=normalize, block_size=block_size
    ).fit(X_ref)
    assert attn.temperature_ == pytest.approx(np.sqrt(7))
    expected = _brute_softmax_attention(
        X_new, X_ref, np.sqrt(7), normalize_weights=normalize_weights, normalize=normalize
    )
    np.testing.assert_allclose(attn.transform(X_new), expected, rtol=1e-11, atol=1e-13)


def test_softmax_custom_temperature(data):
    X_ref, X_new = data
    out = SoftmaxAttention(temperature=0.3, normalize=False).fit(X_ref).transform(X_new)
    expected = _brute_softmax_attention(X_new, X_ref, 0.3, normalize_weights=True, normalize=False)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-13)


def test_exponential_normalized_equals_softmax_normalized(data):
    X_ref, X_new = data
    soft = SoftmaxAttention(normalize_weights=True).fit(X_ref).transform(X_new)
    expo = SoftmaxAttention(normalize_weights=False).fit(X_ref).transform(X_new)
    np.testing.assert_allclose(expo, soft, rtol=1e-12, atol=1e-14)


def test_exponential_unnormalized_is_shifted_sum(data):
    X_ref, X_new = data
    tau = 2.0
    out = SoftmaxAttention(temperature=tau, normalize_weights=False, normalize=False)
    out = out.fit(X_ref).transform(X_new)
    scores = X_new @ X_ref.T / tau
    unshifted = np.exp(scores) @ X_ref  # no overflow at this scale
    np.testing.assert_allclose(out * np.exp(scores.max(axis=1))[:, None], unshifted, rtol=1e-12)


def test_softmax_memory_is_blockwise(rng):
    n, d = 2000, 4
    X = rng.standard_normal((n, d))
    attn = SoftmaxAttention(block_size=100).fit(X)
    full_scores_bytes = n * n * 8  # 32 MB
    tracemalloc.start()
    try:
        attn.transform(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < full_scores_bytes / 8


def test_linearized_memory_has_no_gram(rng):
    n, d = 3000, 5
    X = rng.standard_normal((n, d))
    tracemalloc.start()
    try:
        LinearizedAttention().fit_transform(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < n * n * 8 / 20  # the n × n Gram would be 72 MB


# --------------------------------------------------------------------------------------------
# Feature collapse on digits (arXiv 2603.13085, Fig. 7)
# --------------------------------------------------------------------------------------------


def _mean_pairwise_cosine(F):
    F = F / np.linalg.norm(F, axis=1, keepdims=True)
    S = F @ F.T
    n = len(F)
    return (S.sum() - np.trace(S)) / (n * (n - 1))


def test_feature_collapse_on_digits():
    X = load_digits().data / 16.0
    X = _readonly(X / np.linalg.norm(X, axis=1, keepdims=True))
    soft = SoftmaxAttention().fit_transform(X)  # τ = √64
    lin = LinearizedAttention().fit_transform(X)
    soft_gap = 1.0 - _mean_pairwise_cosine(soft)
    lin_gap = 1.0 - _mean_pairwise_cosine(lin)
    assert soft_gap < 1e-3
    assert lin_gap >= 100 * soft_gap


# --------------------------------------------------------------------------------------------
# Rows that cannot be produced or normalised
# --------------------------------------------------------------------------------------------


def test_zero_rows_stay_zero_with_a_warning_naming_them(data):
    X_ref, X_new = data
    X_bad = np.array(X_new)
    X_bad[[2, 5]] = 0.0
    attn = LinearizedAttention().fit(X_ref)
    with pytest.warns(ZeroRowsWarning, match=r"2 output row\(s\) \(row indices 2, 5\)"):
        out = attn.transform(X_bad)
    # sklearn.preprocessing.normalize is the reference behaviour: zero rows stay zero
    expected = normalize(X_bad @ X_ref.T @ X_ref)
    np.testing.assert_array_equal(out[[2, 5]], 0.0)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)


def test_zero_row_orthogonal_to_reference_span_is_left_zero(rng):
    X_ref = np.hstack([rng.standard_normal((10, 3)), np.zeros((10, 1))])
    many = np.tile([0.0, 0.0, 0.0, 1.0], (14, 1))  # orthogonal to every reference row
    with pytest.warns(
        ZeroRowsWarning, match=r"row indices 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 4 more"
    ):
        out = LinearizedAttention().fit(X_ref).transform(many)
    np.testing.assert_array_equal(out, 0.0)


def test_softmax_zero_output_row_is_left_zero():
    X_ref = np.array([[1.0, 0.0], [-1.0, 0.0]])
    with pytest.warns(ZeroRowsWarning, match=r"row indices 1\b"):
        out = SoftmaxAttention().fit(X_ref).transform([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(out[1], 0.0)
    # (w, 0) with w > 0 normalises to exactly (1, 0): one nonzero entry, divided by itself
    np.testing.assert_array_equal(out[0], [1.0, 0.0])


@pytest.mark.parametrize("exponent", [-1000, -600, -3, 5, 700, 990])
def test_linearized_normalised_output_is_bit_invariant_to_power_of_two_scale(data, exponent):
    X_ref, X_new = data
    attn = LinearizedAttention().fit(X_ref)
    expected = attn.transform(X_new)
    scaled = np.ldexp(X_new, exponent)  # exact for these inputs (no subnormals)
    assert np.array_equal(np.ldexp(scaled, -exponent), X_new)
    np.testing.assert_array_equal(attn.transform(scaled), expected)


@pytest.mark.parametrize("factor", [1e-300, 1e-200, 1e200, 1e300])
def test_linearized_normalised_output_is_invariant_to_any_scale(data, factor):
    X_ref, X_new = data
    attn = LinearizedAttention().fit(X_ref)
    # independent computation: the cosine direction of the unscaled features
    expected = normalize(X_new @ attn.operator_)
    np.testing.assert_allclose(attn.transform(X_new * factor), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("Estimator", [LinearizedAttention, SoftmaxAttention])
def test_overflow_raises(Estimator):
    # 1e400 overflows, and 1e400 − 1e400 is invalid (NaN)
    X = np.array([[1e200, 1e200], [1e200, -1e200], [1.0, 1.0]])
    # the overflow is reported once, as the ValueError: no numpy RuntimeWarning escapes first
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"not finite.*overflowed float64"):
            Estimator(normalize=False).fit(X).transform(X)


def test_normalization_robust_to_scale(data):
    X_ref, X_new = data
    expected = LinearizedAttention().fit(X_ref).transform(X_new)
    tiny = LinearizedAttention().fit(X_ref * 1e-100).transform(X_new * 1e-100)
    np.testing.assert_allclose(tiny, expected, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------------------------
# Input formats, dtypes, mutation, pandas
# --------------------------------------------------------------------------------------------


ESTIMATORS = [
    LinearizedAttention(),
    LinearizedAttention(normalize=False, rank=3, projection="he", random_state=0),
    SoftmaxAttention(block_size=4),
    SoftmaxAttention(normalize_weights=False, normalize=False, block_size=5),
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_equals_dense(rng, estimator, fmt):
    X_ref = rng.standard_normal((30, 7)) * (rng.random((30, 7)) < 0.4)
    X_new = rng.standard_normal((13, 7)) * (rng.random((13, 7)) < 0.4)
    X_new[0] = X_ref[0]  # guarantee no all-zero row
    X_new[np.abs(X_new).sum(axis=1) == 0, 0] = 1.0
    dense = clone(estimator).fit(X_ref).transform(X_new)
    S_ref, S_new = sp.csr_matrix(X_ref).asformat(fmt), sp.csr_matrix(X_new).asformat(fmt)
    sparse_out = clone(estimator).fit(S_ref).transform(S_new)
    assert isinstance(sparse_out, np.ndarray)
    np.testing.assert_allclose(sparse_out, dense, rtol=1e-11, atol=1e-13)
    # mixing formats: fitted on sparse, applied to dense
    np.testing.assert_allclose(
        clone(estimator).fit(S_ref).transform(X_new), dense, rtol=1e-11, atol=1e-13
    )


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_float32_preserved_and_close_to_float64(data, estimator):
    X_ref, X_new = data
    out64 = clone(estimator).fit(X_ref).transform(X_new)
    out32 = clone(estimator).fit(X_ref.astype(np.float32)).transform(X_new.astype(np.float32))
    assert out64.dtype == np.float64
    assert out32.dtype == np.float32
    scale = np.abs(out64).max()
    np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-5 * scale)
    int_out = clone(estimator).fit(np.round(X_ref * 3).astype(np.int64))
    assert int_out.transform(np.round(X_new * 3).astype(np.int32)).dtype == np.float64


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_readonly_input_not_mutated(data, estimator):
    X_ref, X_new = data
    ref_copy, new_copy = X_ref.copy(), X_new.copy()
    fitted = clone(estimator).fit(X_ref)
    fitted.transform(X_new)
    fitted.fit_transform(X_ref)
    np.testing.assert_array_equal(X_ref, ref_copy)
    np.testing.assert_array_equal(X_new, new_copy)


def test_softmax_stores_a_copy(data):
    X_ref, _ = data
    X = np.array(X_ref)
    attn = SoftmaxAttention().fit(X)
    X[:] = 0.0
    np.testing.assert_array_equal(attn.X_ref_, X_ref)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_pandas_output_and_feature_names(data, estimator):
    X_ref, X_new = data
    columns = [f"pixel_{j}" for j in range(X_ref.shape[1])]
    df_ref = pd.DataFrame(X_ref, columns=columns)
    df_new = pd.DataFrame(X_new, columns=columns, index=np.arange(100, 100 + len(X_new)))
    est = clone(estimator).set_output(transform="pandas").fit(df_ref)
    out = est.transform(df_new)
    prefix = type(estimator).__name__.lower()
    expected_names = [f"{prefix}{j}" for j in range(X_ref.shape[1])]
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == expected_names
    assert list(est.get_feature_names_out()) == expected_names
    assert list(est.feature_names_in_) == columns
    np.testing.assert_array_equal(out.index, df_new.index)
    np.testing.assert_allclose(
        out.to_numpy(), clone(estimator).fit(X_ref).transform(X_new), rtol=1e-13
    )


# --------------------------------------------------------------------------------------------
# Bad input and parameters
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", [LinearizedAttention, SoftmaxAttention])
@pytest.mark.parametrize(
    ("X", "message"),
    [
        ([[1.0, np.nan], [2.0, 3.0]], "Input X contains NaN"),
        ([[1.0, np.inf], [2.0, 3.0]], "Input X contains infinity"),
        (np.empty((0, 3)), "0 sample"),
        (np.empty((3, 0)), "0 feature"),
        ([[1.0, 2.0]], "1 sample"),
        (np.array([[1 + 1j, 2.0], [3.0, 4.0]]), "Complex data not supported"),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), "could not convert"),
    ],
)
def test_bad_fit_input(Estimator, X, message):
    with pytest.raises(ValueError, match=message):
        Estimator().fit(X)


@pytest.mark.parametrize("Estimator", [LinearizedAttention, SoftmaxAttention])
def test_bad_transform_input(data, Estimator):
    X_ref, X_new = data
    est = Estimator().fit(X_ref)
    with pytest.raises(ValueError, match=r"X has 6 features, but .* is expecting 7 features"):
        est.transform(X_new[:, :6])
    X_nan = np.array(X_new)
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.transform(X_nan)


def test_object_dtype_numbers_accepted(data):
    X_ref, X_new = data
    expected = LinearizedAttention().fit(X_ref).transform(X_new)
    out = LinearizedAttention().fit(X_ref.astype(object)).transform(X_new.astype(object))
    # the same float64 values reach the same code path: identical by construction
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    ("estimator", "param"),
    [
        (LinearizedAttention(n_layers=0), "n_layers"),
        (LinearizedAttention(n_layers=1.5), "n_layers"),
        (LinearizedAttention(rank=0), "rank"),
        (LinearizedAttention(projection="random"), "projection"),
        (LinearizedAttention(projection=[np.eye(7)] * 3), "projection"),
        (LinearizedAttention(normalize="yes"), "normalize"),
        (SoftmaxAttention(temperature=0.0), "temperature"),
        (SoftmaxAttention(temperature=-1.0), "temperature"),
        (SoftmaxAttention(block_size=0), "block_size"),
        (SoftmaxAttention(normalize_weights=None), "normalize_weights"),
    ],
    ids=repr,
)
def test_invalid_params(data, estimator, param):
    X_ref, _ = data
    with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of"):
        estimator.fit(X_ref)


def test_invalid_params_function(data):
    X_ref, _ = data
    with pytest.raises(InvalidParameterError, match="The 'n_layers' parameter"):
        linearized_attention_operator(X_ref, n_layers=0)
    with pytest.raises(InvalidParameterError, match="The 'projection' parameter"):
        linearized_attention_operator(X_ref, projection="qr")


@pytest.mark.parametrize(
    ("make_projection", "message"),
    [
        (lambda d: (np.eye(d), np.eye(d)), "tuple of length 2"),
        (lambda d: (np.eye(d), np.eye(d), np.eye(d + 1)), r"projection\[2\] \(W_V\) must have"),
        (lambda d: (np.eye(d), np.full((d, d), np.nan), np.eye(d)), r"projection\[1\] \(W_K\)"),
    ],
)
def test_bad_projection_tuple(data, make_projection, message):
    X_ref, _ = data
    with pytest.raises(ValueError, match=message):
        LinearizedAttention(projection=make_projection(X_ref.shape[1])).fit(X_ref)


def test_fit_is_deterministic_with_seed(data):
    X_ref, X_new = data
    a = LinearizedAttention(projection="orthogonal", n_layers=2, random_state=7).fit(X_ref)
    b = clone(a).fit(X_ref)
    np.testing.assert_array_equal(a.transform(X_new), b.transform(X_new))
    assert re.search("random_state=7", repr(a))


def test_projections_are_kept_as_a_fitted_attribute(data, rng):
    """``projections_`` holds the (W_Q, W_K, W_V) of every layer, and the operator is exactly
    the product the paper writes with them (``W_Q W_Kᵀ C W_V`` per layer)."""
    X_ref, _ = data
    d = X_ref.shape[1]
    assert LinearizedAttention().fit(X_ref).projections_ is None
    for random_state in (0, np.random.RandomState(0), None):
        attn = LinearizedAttention(projection="he", n_layers=2, random_state=random_state)
        attn.fit(X_ref)
        assert len(attn.projections_) == 2
        C = X_ref.T @ X_ref
        expected = np.eye(d)
        for W_Q, W_K, W_V in attn.projections_:
            assert W_Q.shape == W_K.shape == W_V.shape == (d, d)
            expected = expected @ W_Q @ W_K.T @ C @ W_V
        np.testing.assert_allclose(attn.operator_, expected, rtol=1e-10, atol=1e-12)
    # an int seed draws the projections of linearized_attention_operator with that seed
    seeded = LinearizedAttention(normalize=False, projection="orthogonal", random_state=3)
    M = linearized_attention_operator(X_ref, projection="orthogonal", random_state=3)
    np.testing.assert_array_equal(seeded.fit(X_ref).operator_, M)
    # a tuple is copied (the caller's arrays are not kept) and reused by every layer
    W = tuple(rng.normal(size=(d, d)) for _ in range(3))
    attn = LinearizedAttention(projection=W, n_layers=3).fit(X_ref)
    assert len(attn.projections_) == 3
    for triple in attn.projections_:
        for fitted, given_ in zip(triple, W, strict=True):
            np.testing.assert_array_equal(fitted, given_)
            assert not np.shares_memory(fitted, given_)


def test_softmax_block_memory_is_checked_before_allocating(data):
    X_ref, X_new = data
    n_ref = X_ref.shape[0]
    attn = SoftmaxAttention(block_size=1000, memory_budget=2 * 8 * n_ref * 3).fit(X_ref)
    block = min(1000, X_new.shape[0])
    with pytest.raises(
        ValueError, match=rf"2 float64 score blocks of {block}×{n_ref} .*block_size <= 3"
    ):
        attn.transform(X_new)
    # the suggested block size fits and gives the same result as one big block
    small = attn.set_params(block_size=3).transform(X_new)
    np.testing.assert_allclose(small, SoftmaxAttention().fit(X_ref).transform(X_new), rtol=1e-13)
    # the case: n = 200 000 rows against 200 000 reference rows in one block
    big = np.ones((200_000, 1))
    with pytest.raises(ValueError, match=r"needs 596\.05 GiB.*block_size <= 1342"):
        SoftmaxAttention(block_size=200_000).fit(big).transform(big)


@pytest.mark.parametrize("k", [-1000, -600, 600, 1000])
def test_normalised_output_survives_an_operator_beyond_float64(k):
    # at 2^±600 and beyond, XᵀX leaves the float64 range; normalised rows only need the
    # operator's direction, so fit keeps the operator of X·2⁻ᵉ (exact) and records the exponent
    rng = np.random.default_rng(11)
    X = rng.normal(size=(20, 4))
    reference = LinearizedAttention().fit(X)
    scaled = LinearizedAttention().fit(np.ldexp(X, k))
    assert reference.operator_log2_scale_ == 0
    np.testing.assert_array_equal(reference.operator_, X.T @ X)
    assert scaled.operator_log2_scale_ != 0
    M = np.ldexp(scaled.operator_, scaled.operator_log2_scale_ - 2 * k)  # back to the scale of X
    np.testing.assert_allclose(M, X.T @ X, rtol=1e-13)
    np.testing.assert_array_equal(scaled.transform(np.ldexp(X, k)), reference.transform(X))


@pytest.mark.parametrize("s", [1e-300, 1e300])
def test_normalised_output_is_invariant_at_extreme_scales(s):
    rng = np.random.default_rng(12)
    X = rng.normal(size=(20, 4))
    expected = LinearizedAttention().fit_transform(X)
    np.testing.assert_allclose(LinearizedAttention().fit_transform(X * s), expected, atol=1e-14)


def test_unnormalised_operator_overflow_is_still_refused():
    X = np.random.default_rng(13).normal(size=(20, 4)) * 1e300
    with pytest.raises(ValueError, match="overflowed float64"):
        LinearizedAttention(normalize=False).fit(X)


# --------------------------------------------------------------------------------------------
# Issue #15: survivors of mutation testing, each killed against an independent computation
# --------------------------------------------------------------------------------------------


def test_all_negative_output_row_with_a_wide_range_keeps_its_sign_and_direction():
    # C = diag(2^600, 2^-600): x = (-1, -1) maps to (-2^600, -2^-600), an all-negative row whose
    # entries span 2^1200 (more than the float64 range). Its direction is (-1, -2^-1200) up to a
    # factor 1 + O(2^-2400), i.e. exactly (-1, 0) in float64. The per-row power-of-two shift must
    # use max|entry| = -min of such a row; its max (the entry nearest 0) overflows the other one.
    X_train = np.array([[2.0**300, 0.0], [0.0, 2.0**-300]])
    attn = LinearizedAttention().fit(X_train)
    np.testing.assert_array_equal(attn.operator_, np.diag([2.0**600, 2.0**-600]))
    out = attn.transform(np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 0.0]]))
    np.testing.assert_array_equal(out, [[-1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])


@pytest.mark.parametrize("scale", [1.0, 1e-3, 1e-150])
def test_rank_truncation_at_small_scale_equals_the_hand_made_spectrum(rng, scale):
    # All singular values below 1: the kept eigenvalues of C are s_k² < 1 and must be kept
    # as they are (only round-off below 0 is clipped), so C_k = V_k diag(s_k²) V_kᵀ.
    s = scale * np.array([0.6, 0.3, 0.05, 0.01])
    U = _orthonormal_columns(rng, 6, 4)
    V = _orthonormal_columns(rng, 4, 4)
    X_ref = (U * s) @ V.T
    for k in (1, 2, 4):
        expected = (V[:, :k] * s[:k] ** 2) @ V[:, :k].T
        M = linearized_attention_operator(X_ref, rank=k)
        np.testing.assert_allclose(M, expected, rtol=0, atol=1e-13 * s[0] ** 2)
        np.testing.assert_allclose(
            np.linalg.eigvalsh(M)[::-1][:k], s[:k] ** 2, rtol=1e-12, atol=1e-13 * s[0] ** 2
        )


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_reference_is_a_float64_copy_of_any_input(rng, fmt, dtype):
    # X_ref_ is documented as a float64 copy (CSR for sparse input): it must not share memory
    # with the caller's array, dense or sparse, and must hold the input's values exactly.
    dense = rng.standard_normal((6, 4)).astype(dtype)
    dense[dense < 0] = 0.0
    expected = dense.astype(np.float64)  # a separate array: `dense` itself is overwritten below
    X = dense if fmt == "dense" else sp.csr_matrix(dense) if fmt == "csr" else sp.csc_matrix(dense)
    attn = SoftmaxAttention().fit(X)
    stored = attn.X_ref_
    assert stored.dtype == np.float64
    if fmt == "dense":
        assert isinstance(stored, np.ndarray)
        assert not np.shares_memory(stored, X)
        X[:] = 7.0
    else:
        assert sp.issparse(stored)
        assert stored.format == "csr"
        assert not np.shares_memory(stored.data, X.data)
        X.data[:] = 7.0
    np.testing.assert_array_equal(stored.toarray() if sp.issparse(stored) else stored, expected)


@pytest.mark.parametrize("Estimator", [LinearizedAttention, SoftmaxAttention])
def test_defaults_are_the_documented_ones(Estimator):
    # the numpydoc "default=" of every parameter is the spec; the signature must agree with it
    documented = dict(
        re.findall(r"^    (\w+) : [^\n]*default=([^\n]+)$", Estimator.__doc__, flags=re.M)
    )
    signature = inspect.signature(Estimator.__init__).parameters
    assert set(documented) == set(signature) - {"self"}
    for name, text in documented.items():
        assert repr(signature[name].default) == {"4 * 2**30": repr(4 * 2**30)}.get(text, text)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_tags_describe_the_observed_behaviour(data, estimator):
    X_ref, X_new = data
    tags = estimator.__sklearn_tags__()
    sparse_ok = clone(estimator).fit(sp.csr_matrix(X_ref)).transform(sp.csr_matrix(X_new))
    assert tags.input_tags.sparse is isinstance(sparse_ok, np.ndarray)
    preserved = [
        dtype
        for dtype in ("float64", "float32", "float16")
        if clone(estimator).fit(X_ref).transform(X_new.astype(dtype)).dtype == dtype
    ]
    assert tags.transformer_tags.preserves_dtype == preserved


def test_projection_tuple_is_kept_in_float64(data, rng):
    X_ref, _ = data
    d = X_ref.shape[1]
    triple = tuple(rng.standard_normal((d, d)).astype(np.float32) for _ in range(3))
    attn = LinearizedAttention(normalize=False, projection=triple).fit(X_ref)
    W_Q, W_K, W_V = (W.astype(np.float64) for W in triple)
    for kept, W in zip(attn.projections_[0], (W_Q, W_K, W_V), strict=True):
        assert kept.dtype == np.float64
        np.testing.assert_array_equal(kept, W)
    expected = W_Q @ W_K.T @ (X_ref.T @ X_ref) @ W_V
    np.testing.assert_allclose(
        attn.operator_, expected, rtol=1e-12, atol=1e-12 * abs(expected).max()
    )


# without normalisation an operator beyond float64 is refused, so only (False, 0) there
@pytest.mark.parametrize(("normalize_rows", "exponent"), [(True, 0), (True, 700), (False, 0)])
def test_operator_times_its_recorded_scale_is_the_operator(normalize_rows, exponent):
    # the documented relation M = operator_ · 2**operator_log2_scale_, with M = XᵀX written
    # out at a scale where it fits float64
    rng = np.random.default_rng(3)
    X = rng.normal(size=(10, 3))
    attn = LinearizedAttention(normalize=normalize_rows).fit(np.ldexp(X, exponent))
    assert isinstance(attn.operator_log2_scale_, int)
    recorded = np.ldexp(attn.operator_, attn.operator_log2_scale_ - 2 * exponent)
    np.testing.assert_allclose(recorded, X.T @ X, rtol=1e-13)


def test_overflow_error_names_exactly_the_overflowing_rows():
    # C = [[1e300, -1e300], [-1e300, 1e300]] (+1): row 1 gives inf − inf (NaN), row 3 inf
    attn = LinearizedAttention(normalize=False).fit(np.array([[1e150, -1e150], [1.0, 1.0]]))
    X = np.array([[0.0, 1.0], [1e10, 1e10], [0.0, 1.0], [1e10, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # reported once, by the ValueError
        with pytest.raises(
            ValueError, match=r"cannot produce 2 output row\(s\) \(row indices 1, 3\)"
        ):
            attn.transform(X)


@pytest.mark.parametrize(
    "params",
    [
        {"projection": "orthogonal", "random_state": 0},
        {"projection": "he", "random_state": 1, "n_layers": 2},
        {"rank": 2},
    ],
    ids=["orthogonal", "he-2-layers", "rank"],
)
def test_normalised_output_beyond_float64_keeps_projections_and_rank(params):
    # at 2^700 the operator overflows and is rebuilt from X·2⁻ᵉ: with the same projections and
    # rank, so the normalised output is the one at scale 1
    rng = np.random.default_rng(5)
    X = rng.normal(size=(12, 4))
    expected = LinearizedAttention(**params).fit(X).transform(X)
    scaled = LinearizedAttention(**params).fit(np.ldexp(X, 700))
    assert scaled.operator_log2_scale_ > 0
    np.testing.assert_allclose(scaled.transform(X), expected, rtol=1e-12, atol=1e-14)


def test_operator_that_overflows_even_after_rescaling_is_refused():
    # X·2⁻ᵉ has entries 0.5, so C = 1·[[1, 1], [1, 1]] and C^L = 2^(L−1)·C: beyond float64 at
    # L = 1100 whatever the scale of X
    X = np.full((4, 2), 2.0**600)
    with pytest.raises(ValueError, match=r"not finite.*n_layers=1100"):
        LinearizedAttention(n_layers=1100).fit(X)


@pytest.mark.skipif(
    "mutants" in Path(sys.modules[LinearizedAttention.__module__].__file__).parts,
    reason="mutmut's trampolines add stack frames between the caller and warnings.warn",
)
def test_zero_row_warning_points_at_the_callers_line():
    attn = LinearizedAttention().fit(np.array([[1.0, 0.0], [0.0, 1.0]]))
    with pytest.warns(ZeroRowsWarning) as record:
        attn.transform([[0.0, 0.0]])
    assert record[0].filename == __file__
