"""Tests for GramInducedKernel against explicit matrix products and closed-form solves."""

import os

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import WhiteKernel
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import normalize

from sklearn_attnkernel._utils.rows import ZeroRowsWarning
from sklearn_attnkernel.kernels.gram import GramInducedKernel


def _read_only(A):
    A = np.array(A, dtype=np.float64)
    A.flags.writeable = False
    return A


@pytest.fixture
def data():
    rng = np.random.default_rng(42)
    X = _read_only(rng.normal(size=(25, 4)) / 2.0)
    Y = _read_only(rng.normal(size=(7, 4)) / 2.0)
    y = _read_only(rng.normal(size=25))
    return X, Y, y


def test_matrix_on_reference_is_gram_cubed(data):
    X, _, _ = data
    G = X @ X.T
    np.testing.assert_allclose(GramInducedKernel(X)(X), G @ G @ G, rtol=1e-12, atol=1e-12)


def test_entries_equal_the_triple_sum_definition(data):
    X, Y, _ = data
    # k(x, x') = Σ_{k,l} <x, x_k> <x_k, x_l> <x_l, x'>, summed with explicit loops.
    K = GramInducedKernel(X)(Y[:3], Y[3:5])
    for i in range(3):
        for j in range(2):
            total = 0.0
            for xk in X:
                for xl in X:
                    total += np.dot(Y[i], xk) * np.dot(xk, xl) * np.dot(xl, Y[3 + j])
            assert K[i, j] == pytest.approx(total, rel=1e-10)


def test_cross_matrix_is_x_c_squared_y(data):
    X, Y, _ = data
    C = X.T @ X
    np.testing.assert_allclose(GramInducedKernel(X)(Y, X), Y @ C @ C @ X.T, rtol=1e-12)
    K = GramInducedKernel(X)(Y)
    np.testing.assert_allclose(K, Y @ C @ C @ Y.T, rtol=1e-12)
    np.testing.assert_array_equal(K, K.T)  # exact: __call__ symmetrises k(X, X)


def test_normalize_is_cosine_of_attention_features(data):
    X, Y, _ = data
    features = Y @ (X.T @ X)
    expected = np.empty((len(Y), len(Y)))
    for i, a in enumerate(features):
        for j, b in enumerate(features):
            expected[i, j] = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    np.testing.assert_allclose(GramInducedKernel(X, normalize=True)(Y), expected, rtol=1e-12)


@pytest.mark.parametrize("normalize", [False, True])
def test_diag_matches_full_matrix(data, normalize):
    X, Y, _ = data
    kernel = GramInducedKernel(X, normalize=normalize)
    np.testing.assert_allclose(kernel.diag(Y), np.diag(kernel(Y)), rtol=1e-12)


def test_sparse_reference_and_input_match_dense(data):
    X, Y, _ = data
    dense = GramInducedKernel(X)(Y, X)
    sparse = GramInducedKernel(sp.csr_matrix(X))(sp.csc_matrix(Y), sp.csr_matrix(X))
    np.testing.assert_allclose(sparse, dense, rtol=1e-12)


def test_clone_equality_and_repr(data):
    X, _, _ = data
    kernel = GramInducedKernel(X, normalize=True)
    cloned = clone(kernel)
    assert cloned is not kernel
    assert cloned == kernel
    assert cloned.reference is not X
    np.testing.assert_array_equal(cloned.reference, X)
    assert GramInducedKernel(X.copy()) == GramInducedKernel(X)
    assert GramInducedKernel(X) != GramInducedKernel(X, normalize=True)
    assert GramInducedKernel(X) != GramInducedKernel(X + 1.0)
    assert GramInducedKernel(X) != GramInducedKernel(X[:-1])
    assert GramInducedKernel(X) != "linear"
    assert GramInducedKernel(sp.csr_matrix(X)) == GramInducedKernel(sp.csr_matrix(X))
    assert GramInducedKernel(sp.csr_matrix(X)) != GramInducedKernel(X)
    assert repr(kernel) == "GramInducedKernel(reference=<array of shape (25, 4)>, normalize=True)"
    assert set(kernel.get_params()) == {"reference", "normalize", "memory_budget"}


def test_no_hyperparameters_and_empty_gradient(data):
    X, Y, _ = data
    kernel = GramInducedKernel(X)
    assert kernel.theta.shape == (0,)
    assert kernel.bounds.size == 0
    assert kernel.hyperparameters == []
    assert not kernel.is_stationary()
    K, K_gradient = kernel(Y, eval_gradient=True)
    assert K_gradient.shape == (len(Y), len(Y), 0)
    np.testing.assert_array_equal(K, kernel(Y))
    with pytest.raises(ValueError, match="only be evaluated when Y is None"):
        kernel(Y, X, eval_gradient=True)


def test_kernel_ridge_matches_closed_form(data):
    X, Y, y = data
    alpha = 0.5
    krr = KernelRidge(kernel=GramInducedKernel(X), alpha=alpha).fit(X, y)
    G = X @ X.T
    dual = np.linalg.solve(G @ G @ G + alpha * np.eye(len(X)), y)
    C = X.T @ X
    np.testing.assert_allclose(krr.predict(Y), Y @ C @ C @ X.T @ dual, rtol=1e-9)


def test_gaussian_process_with_white_kernel(data):
    X, Y, y = data
    gpr = GaussianProcessRegressor(kernel=GramInducedKernel(X) + WhiteKernel(), random_state=0)
    gpr.fit(X, y)
    noise = gpr.kernel_.k2.noise_level
    assert gpr.kernel_.k1 == GramInducedKernel(X)
    G = X @ X.T
    C = X.T @ X
    weights = np.linalg.solve(G @ G @ G + (noise + gpr.alpha) * np.eye(len(X)), y)
    mean, std = gpr.predict(Y, return_std=True)
    np.testing.assert_allclose(mean, Y @ C @ C @ X.T @ weights, rtol=1e-7)
    assert std.shape == (len(Y),)
    assert np.all(std > 0)


def test_pipeline_is_the_leak_free_equivalent(data):
    from sklearn_attnkernel.attention.transformers import LinearizedAttention

    X, Y, y = data
    kernel_model = KernelRidge(kernel=GramInducedKernel(X), alpha=0.5).fit(X, y)
    pipeline = make_pipeline(
        LinearizedAttention(normalize=False), KernelRidge(kernel="linear", alpha=0.5)
    ).fit(X, y)
    np.testing.assert_allclose(pipeline.predict(Y), kernel_model.predict(Y), rtol=1e-8)

    # In cross-validation the pipeline re-fits the reference set on each training fold, which is
    # what GramInducedKernel(X[train]) does; GramInducedKernel(X) would see the test fold too.
    cv = KFold(n_splits=5, shuffle=True, random_state=0)
    pipeline_cv = cross_val_predict(pipeline, X, y, cv=cv)
    per_fold = np.empty_like(pipeline_cv)
    for train, test in cv.split(X):
        model = KernelRidge(kernel=GramInducedKernel(X[train]), alpha=0.5).fit(X[train], y[train])
        per_fold[test] = model.predict(X[test])
    np.testing.assert_allclose(pipeline_cv, per_fold, rtol=1e-8)
    leaky = cross_val_predict(KernelRidge(kernel=GramInducedKernel(X), alpha=0.5), X, y, cv=cv)
    assert not np.allclose(leaky, pipeline_cv, rtol=1e-3)


def test_zero_attention_features_give_zero_entries_with_a_warning():
    reference = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    X = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 0.0, 1.0], [0.0, 0.0, -1.0]])
    kernel = GramInducedKernel(reference, normalize=True)
    with pytest.warns(ZeroRowsWarning, match=r"X rows \[1, 3\] are exactly zero"):
        K = kernel(X)
    # independent: cosine of the features, zero rows left zero as sklearn's normalize does
    F = normalize(X @ reference.T @ reference)
    np.testing.assert_allclose(K, F @ F.T, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(K[[1, 3]], 0.0)
    with pytest.warns(ZeroRowsWarning, match=r"Y rows \[0\] are exactly zero"):
        np.testing.assert_array_equal(kernel(X[[0, 2]], X[[1]]), 0.0)
    with pytest.warns(ZeroRowsWarning, match=r"rows \[1, 3\]"):
        np.testing.assert_array_equal(kernel.diag(X), [1.0, 0.0, 1.0, 0.0])
    # without normalisation those rows are simply zero
    np.testing.assert_array_equal(GramInducedKernel(reference)(X)[1], np.zeros(4))


@pytest.mark.parametrize("exponents", [(0, -1000), (-600, 5), (700, -3), (990, 990)])
def test_normalised_kernel_is_bit_invariant_to_power_of_two_scales(data, exponents):
    X, _, _ = data
    Y = X[::-1] + 0.5
    expected = GramInducedKernel(X, normalize=True)(X, Y)
    e_ref, e_x = exponents
    scaled = GramInducedKernel(np.ldexp(X, e_ref), normalize=True)(np.ldexp(X, e_x), Y)
    np.testing.assert_array_equal(scaled, expected)


@pytest.mark.parametrize("factor", [1e-300, 1e-150, 1e200, 1e300])
def test_normalised_kernel_is_invariant_to_any_scale(data, factor):
    X, _, _ = data
    F = normalize(X @ X.T @ X)
    K = GramInducedKernel(X * factor, normalize=True)(X * factor)
    np.testing.assert_allclose(K, F @ F.T, rtol=1e-12, atol=1e-14)
    assert np.abs(K).max() > 0.5  # not the zero matrix of issue #11


def test_unnormalised_kernel_is_right_or_names_the_overflow(data):
    X, _, _ = data
    G = X @ X.T
    expected = G @ G @ G
    # 2^40 · X: C² scales by 2^160 and k by 2^240, all representable: exact power-of-two shift
    K = GramInducedKernel(np.ldexp(X, 40))(np.ldexp(X, 40))
    np.testing.assert_allclose(K, np.ldexp(expected, 240), rtol=1e-11)
    with pytest.raises(ValueError, match=r"overflows float64.*rescale"):
        GramInducedKernel(X * 1e80)(X)
    with pytest.raises(ValueError, match=r"underflows float64.*rescale"):
        GramInducedKernel(X * 1e-80)(X)
    with pytest.raises(ValueError, match="overflows float64"):
        GramInducedKernel(X * 1e80).diag(X)


def test_memory_budget_is_checked_before_allocating(data):
    X, _, _ = data
    with pytest.raises(
        ValueError, match=r"25×25 float64 kernel matrix needs 0\.00 GiB.*row blocks"
    ):
        GramInducedKernel(X, memory_budget=1000)(X)
    assert GramInducedKernel(X, memory_budget=25 * 25 * 8)(X).shape == (25, 25)
    with pytest.raises(ValueError, match="memory_budget must be"):
        GramInducedKernel(X, memory_budget=0)(X)


@pytest.mark.parametrize(
    ("reference", "error", "match"),
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), ValueError, "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), ValueError, "infinity"),
        (np.array([1.0, 2.0]), ValueError, "Expected 2D"),
        (np.array([[1.0 + 1j, 0.0]]), ValueError, "Complex"),
        (np.array([["a", "b"]]), ValueError, "reference"),
        (np.empty((0, 3)), ValueError, "0 sample"),
        (None, TypeError, "needs a reference set"),
    ],
)
def test_invalid_reference_is_rejected(reference, error, match):
    with pytest.raises(error, match=match):
        GramInducedKernel(reference)(np.ones((2, 2)))


def test_feature_mismatch_and_bad_normalize(data):
    X, _, _ = data
    with pytest.raises(ValueError, match="X has 3 features but the reference set has 4"):
        GramInducedKernel(X)(np.ones((2, 3)))
    with pytest.raises(TypeError, match="normalize must be a bool"):
        GramInducedKernel(X, normalize="yes")(X)


@pytest.mark.parametrize(
    ("X", "match"),
    [([[1.0 + 1j, 0.0, 0.0, 0.0]], "Complex"), ([[np.nan, 0.0, 0.0, 0.0]], "NaN")],
)
def test_invalid_input_is_rejected(data, X, match):
    reference, _, _ = data
    with pytest.raises(ValueError, match=f"invalid X.*{match}"):
        GramInducedKernel(reference)(X)


# ------------------------------------------------------------------ mutation-testing gaps (#15)
def test_list_reference_and_its_repr(data):
    X, Y, _ = data
    C = X.T @ X
    kernel = GramInducedKernel(X.tolist())
    np.testing.assert_allclose(kernel(Y), Y @ C @ C @ Y.T, rtol=1e-12)
    assert repr(kernel) == "GramInducedKernel(reference=<array of shape (25, 4)>, normalize=False)"
    # a ragged list has no shape; repr names its type instead of failing
    ragged = GramInducedKernel([[1.0], [1.0, 2.0]])
    assert repr(ragged) == "GramInducedKernel(reference=list, normalize=False)"


def test_single_row_reference_is_a_rank_one_kernel(data):
    _, Y, _ = data
    r = np.array([[1.0, -2.0, 0.5, 3.0]])
    # C = r rᵀ, C² = ‖r‖² r rᵀ: k(x, x') = ‖r‖² ⟨x, r⟩ ⟨x', r⟩
    projections = Y @ r[0]
    expected = (r[0] @ r[0]) * np.outer(projections, projections)
    np.testing.assert_allclose(GramInducedKernel(r)(Y), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, object])
def test_any_input_dtype_is_computed_in_float64(dtype):
    rng = np.random.default_rng(5)
    reference = rng.normal(size=(30, 4)).astype(dtype)
    X = rng.normal(size=(6, 4)).astype(dtype)
    # independent: the same values in float64 (the conversion is exact), products by numpy;
    # arithmetic in float32 or float16 would be off by 1e-7 or 1e-3
    reference64, X64 = reference.astype(np.float64), X.astype(np.float64)
    C = reference64.T @ reference64
    K = GramInducedKernel(reference)(X)
    assert K.dtype == np.float64
    expected = X64 @ C @ C @ X64.T
    np.testing.assert_allclose(K, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


def test_float16_input_with_a_wide_range_is_not_rounded():
    # 0.75048828125 = 0.75 + 2⁻¹¹ is a float16, but divided by 2¹⁶ (the scale of 32768) it
    # would round in float16's subnormal range; in float64 the division is exact
    X = np.array([[32768.0, 0.75048828125]], dtype=np.float16)
    reference = np.array([[0.0, 1.0]])  # C = C² = e₂e₂ᵀ: k(x, x) = x₂²
    K = GramInducedKernel(reference)(X)
    np.testing.assert_array_equal(K, [[0.75048828125**2]])


@pytest.mark.skipif(
    "MUTANT_UNDER_TEST" in os.environ,
    reason="mutmut's trampolines add stack frames, so stacklevel cannot be checked under mutmut",
)
def test_zero_row_warning_points_at_the_callers_line():
    reference = np.array([[1.0, 0.0]])
    X = np.array([[0.0, 1.0], [1.0, 1.0]])
    kernel = GramInducedKernel(reference, normalize=True)
    for evaluate in (kernel, kernel.diag):
        with pytest.warns(ZeroRowsWarning) as record:
            evaluate(X)
        assert record[0].filename == __file__


def test_memory_budget_type_and_diag_needs_no_kernel_matrix(data):
    X, Y, _ = data
    for budget in (True, "4GiB", -1.0):
        with pytest.raises(ValueError, match="memory_budget must be a number of bytes > 0"):
            GramInducedKernel(X, memory_budget=budget)(Y)
    # diag forms no n × n matrix, so a 1-byte budget is enough for it
    C = X.T @ X
    np.testing.assert_allclose(
        GramInducedKernel(X, memory_budget=1).diag(Y),
        np.einsum("ij,ij->i", Y @ C, Y @ C),
        rtol=1e-12,
    )


def test_invalid_values_are_reported_with_the_argument_name(data):
    X, Y, _ = data
    bad = np.array(Y)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input reference contains NaN"):
        GramInducedKernel(bad)(Y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GramInducedKernel(X)(bad)
    with pytest.raises(ValueError, match="Input Y contains NaN"):
        GramInducedKernel(X)(Y, bad)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GramInducedKernel(X).diag(bad)


def test_kernels_on_the_same_reference_object_are_equal_even_with_nan():
    # NaN != NaN, so only the identity check makes a kernel equal to itself here
    reference = np.array([[np.nan, 1.0]])
    assert GramInducedKernel(reference) == GramInducedKernel(reference)
    assert GramInducedKernel(reference) != GramInducedKernel(reference.copy())
