"""Tests for the closed-form infinite-width NTK and its scikit-learn kernel."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.kernel_ridge import KernelRidge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer

from sklearn_attnkernel import TwoLayerReLU, TwoLayerReLUNTK, empirical_ntk, infinite_width_ntk


def _readonly(A):
    A = np.array(A, dtype=np.float64)
    A.flags.writeable = False
    return A


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return _readonly(rng.normal(size=(9, 5))), _readonly(rng.normal(size=(4, 5)))


def _brute_force(X, Y, train_readout, sigma_w):
    """Entry-by-entry evaluation of the formula of Thm 4.3 (arXiv 2603.13085), scalar math."""
    K = np.zeros((len(X), len(Y)))
    for i, x in enumerate(X):
        for j, z in enumerate(Y):
            nx, nz = np.linalg.norm(x), np.linalg.norm(z)
            if nx == 0 or nz == 0:
                continue
            theta = np.arccos(min(1.0, max(-1.0, float(x @ z) / (nx * nz))))
            K[i, j] = float(x @ z) * (np.pi - theta) / (2 * np.pi)
            if train_readout:
                K[i, j] += (
                    sigma_w**2
                    * nx
                    * nz
                    * (np.sin(theta) + (np.pi - theta) * np.cos(theta))
                    / (2 * np.pi)
                )
    return K


@pytest.mark.parametrize("train_readout", [False, True])
@pytest.mark.parametrize("sigma_w", [1.0, 2.5])
def test_matches_brute_force_and_properties(data, train_readout, sigma_w):
    X, Y = data
    K = infinite_width_ntk(X, Y, train_readout=train_readout, sigma_w=sigma_w)
    np.testing.assert_allclose(
        K, _brute_force(X, Y, train_readout, sigma_w), rtol=1e-12, atol=1e-14
    )
    K_xx = infinite_width_ntk(X, train_readout=train_readout, sigma_w=sigma_w)
    np.testing.assert_array_equal(K_xx, K_xx.T)  # exact: the Gram matrix is symmetrised
    assert np.linalg.eigvalsh(K_xx).min() > -1e-12
    # positively homogeneous of degree 1 in each argument
    np.testing.assert_allclose(
        infinite_width_ntk(3.0 * X, Y, train_readout=train_readout, sigma_w=sigma_w), 3.0 * K
    )
    # Y=None has the exact diagonal of the kernel's diag
    kernel = TwoLayerReLUNTK(train_readout=train_readout, sigma_w=sigma_w)
    # a 5-term dot product of positive squares (BLAS vs einsum) and ·π/(2π): a few ulps apart
    np.testing.assert_allclose(np.diag(K_xx), kernel.diag(X), rtol=32 * np.finfo(float).eps)


def test_known_values():
    X = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
    # parallel: ‖x‖²/2; orthogonal: 0 (W term); antiparallel: 0
    np.testing.assert_allclose(
        infinite_width_ntk(X), [[0.5, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.5]], atol=1e-15
    )
    # readout term: θ = π/2 gives σ²‖x‖‖x'‖/(2π); θ = π gives 0; θ = 0 gives σ²‖x‖²/2
    K = infinite_width_ntk(X, train_readout=True, sigma_w=2.0)
    np.testing.assert_allclose(K[0, 1], 4.0 * 2.0 / (2 * np.pi))
    np.testing.assert_allclose(K[0, 2], 0.0, atol=1e-15)
    np.testing.assert_allclose(K[1, 1], 2.0 + 4.0 * 4.0 / 2)


def test_zero_rows_give_zero():
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    for train_readout in (False, True):
        K = infinite_width_ntk(X, train_readout=train_readout)
        assert np.isfinite(K).all()
        np.testing.assert_array_equal(K[0], 0.0)
        np.testing.assert_array_equal(K[:, 0], 0.0)


@pytest.mark.parametrize(
    ("train_readout", "sigma_w"), [(False, 1.0), (False, 3.0), (True, 1.0), (True, 0.5)]
)
def test_constants_match_empirical_ntk_at_large_width(train_readout, sigma_w):
    """No hidden factor: Θ_m → Θ∞ with the module's own parameterisation (W ~ N(0, σ_w²))."""
    rng = np.random.default_rng(1)
    X = _readonly(rng.normal(size=(8, 5)))
    K_inf = infinite_width_ntk(X, train_readout=train_readout, sigma_w=sigma_w)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = TwoLayerReLU(5, 2**17, 2, sigma_w=sigma_w, train_readout=train_readout)
    K_m = empirical_ntk(net, X)
    # the Monte-Carlo error at m = 2**17 is ~0.3%; a wrong factor 2 (or σ_w² in the wrong
    # term) would be off by ≥ 50%
    assert np.linalg.norm(K_m - K_inf) / np.linalg.norm(K_inf) < 0.02
    np.testing.assert_allclose(np.diag(K_m), np.diag(K_inf), rtol=0.02)


def test_kernel_api(data):
    X, Y = data
    kernel = TwoLayerReLUNTK(train_readout=True, sigma_w=2.0)
    assert kernel.get_params() == {"train_readout": True, "sigma_w": 2.0}
    copied = clone(kernel)
    assert copied == kernel
    assert copied is not kernel
    assert kernel.hyperparameters == []
    assert kernel.theta.shape == (0,)
    assert kernel.is_stationary() is False
    assert repr(kernel) == "TwoLayerReLUNTK(train_readout=True, sigma_w=2.0)"
    K, grad = kernel(X, eval_gradient=True)
    assert grad.shape == (len(X), len(X), 0)
    np.testing.assert_array_equal(K, infinite_width_ntk(X, train_readout=True, sigma_w=2.0))
    np.testing.assert_array_equal(
        kernel(X, Y), infinite_width_ntk(X, Y, train_readout=True, sigma_w=2.0)
    )
    with pytest.raises(ValueError, match="eval_gradient"):
        kernel(X, Y, eval_gradient=True)
    with pytest.raises(ValueError, match="sigma_w"):
        TwoLayerReLUNTK(sigma_w=-1.0)(X)
    with pytest.raises(TypeError, match="train_readout"):
        TwoLayerReLUNTK(train_readout="yes").diag(X)


def test_kernel_in_krr_and_gp_equals_precomputed(data):
    X, _ = data
    y = _readonly(np.sin(X[:, 0]))
    K = infinite_width_ntk(X)
    pred_kernel = KernelRidge(kernel=TwoLayerReLUNTK(), alpha=1e-2).fit(X, y).predict(X)
    pred_pre = KernelRidge(kernel="precomputed", alpha=1e-2).fit(K, y).predict(K)
    # predict evaluates k(X, X_train) with Y given (no exact diagonal): round-off only
    np.testing.assert_allclose(pred_kernel, pred_pre, rtol=1e-10, atol=1e-12)
    gp = GaussianProcessRegressor(kernel=TwoLayerReLUNTK(), alpha=1e-2, optimizer=None).fit(X, y)
    np.testing.assert_allclose(gp.predict(X), pred_pre, rtol=1e-8, atol=1e-10)


def test_mlp_attn_infinite_width_pipeline():
    from sklearn_attnkernel import LinearizedAttention

    rng = np.random.default_rng(2)
    X_train, X_test = _readonly(rng.random((30, 6))), _readonly(rng.random((7, 6)))
    y = _readonly(rng.normal(size=30))
    model = make_pipeline(
        Normalizer(), LinearizedAttention(), KernelRidge(kernel=TwoLayerReLUNTK())
    )
    pred = model.fit(X_train, y).predict(X_test)

    # independent: attention features by hand (C = Xᵀ X, rows ℓ2-normalised), precomputed Θ∞
    def features(A, ref):
        A = A / np.linalg.norm(A, axis=1, keepdims=True)
        ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
        F = A @ (ref.T @ ref)
        return F / np.linalg.norm(F, axis=1, keepdims=True)

    def krr_precomputed(F_train, F_test):
        krr = KernelRidge(kernel="precomputed", alpha=1.0).fit(infinite_width_ntk(F_train), y)
        return krr.predict(infinite_width_ntk(F_test, F_train))

    # the same features, precomputed kernel: equal up to round-off
    transform = model[:-1].transform
    np.testing.assert_allclose(
        pred, krr_precomputed(transform(X_train), transform(X_test)), rtol=1e-10
    )
    # features built by hand: the collapsed attention features make Θ∞ ill-conditioned, so the
    # round-off of the two feature computations is amplified (measured ~1e-8 relative)
    np.testing.assert_allclose(
        pred, krr_precomputed(features(X_train, X_train), features(X_test, X_train)), rtol=1e-6
    )


def test_bad_input(data):
    X, Y = data
    with pytest.raises(ValueError, match="features"):
        infinite_width_ntk(X, Y[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        infinite_width_ntk(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="sigma_w"):
        infinite_width_ntk(X, sigma_w=0.0)


# ------------------------------------------------------------------------- scale and memory (#11)
@pytest.mark.parametrize(("e_x", "e_y"), [(-500, -500), (-1000, 900), (400, 100), (3, -7)])
@pytest.mark.parametrize("train_readout", [False, True])
def test_power_of_two_scales_shift_the_kernel_exactly(data, e_x, e_y, train_readout):
    X, Y = data
    expected = infinite_width_ntk(X, Y, train_readout=train_readout)
    K = infinite_width_ntk(np.ldexp(X, e_x), np.ldexp(Y, e_y), train_readout=train_readout)
    # degree-1 homogeneous in x and in y: the kernel scales by exactly 2^(e_x + e_y)
    np.testing.assert_array_equal(K, np.ldexp(expected, e_x + e_y))


@pytest.mark.parametrize("factor", [1e-150, 1e-100, 1e100, 1e150])
def test_any_scale_is_right_where_representable(data, factor):
    X, Y = data
    # independent: the scalar formula on the unscaled rows, times factor² (exact homogeneity)
    expected = _brute_force(X, Y, True, 1.0) * factor**2
    K = infinite_width_ntk(X * factor, Y * factor, train_readout=True)
    np.testing.assert_allclose(K, expected, rtol=1e-7, atol=0)  # arccos near θ = 0: see Notes


@pytest.mark.parametrize(("factor", "word"), [(1e200, "overflows"), (1e-200, "underflows")])
def test_overflow_and_underflow_are_named(data, factor, word):
    X, _ = data
    with pytest.raises(ValueError, match=rf"kernel {word} float64.*rescale X"):
        infinite_width_ntk(X * factor)
    with pytest.raises(ValueError, match=rf"diagonal {word} float64"):
        TwoLayerReLUNTK().diag(X * factor)


def test_memory_budget_is_checked_before_allocating(data):
    X, Y = data
    # 6 float64 arrays of 9 × 4 entries: 1728 bytes
    with pytest.raises(ValueError, match=r"9×4 float64 kernel.*row blocks of X"):
        infinite_width_ntk(X, Y, memory_budget=1727)
    assert infinite_width_ntk(X, Y, memory_budget=1728).shape == (9, 4)
    with pytest.raises(ValueError, match=r"200000×200000 float64 kernel.*needs 1788\.14 GiB"):
        infinite_width_ntk(np.broadcast_to(X[:1], (200_000, 5)))


# ------------------------------------------------------------------ mutation-testing gaps (#15)
@pytest.mark.parametrize("train_readout", [False, True])
def test_antiparallel_rows_give_zero_not_nan(train_readout):
    # x against -x: the computed cosine can round below -1 (-1 - 4e-16 for [0.4, 1, -0.1] here),
    # where arccos is NaN; the clip to [-1, 1] keeps θ = π, where every term vanishes
    rng = np.random.default_rng(3)
    X = np.vstack([[0.4, 1.0, -0.1], rng.normal(size=(40, 3)).round(1)])
    K = infinite_width_ntk(X, -X, train_readout=train_readout)
    assert np.isfinite(K).all()
    # θ = π up to the arccos round-off (δθ ≈ √(2 δu) ≈ 3e-8): |k| ≤ 1e-7 ‖x‖²
    norms_sq = np.einsum("ij,ij->i", X, X)
    assert np.all(np.abs(np.diag(K)) <= 1e-7 * norms_sq)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64, object])
def test_any_input_dtype_is_computed_in_float64(data, dtype):
    X, Y = data
    X_in, Y_in = (np.round(4 * A).astype(dtype) for A in (X, Y))
    X64, Y64 = (A.astype(np.float64) for A in (X_in, Y_in))  # the same values, exactly
    K = infinite_width_ntk(X_in, Y_in, train_readout=True)
    assert K.dtype == np.float64
    np.testing.assert_allclose(K, _brute_force(X64, Y64, True, 1.0), rtol=1e-12, atol=1e-14)
    # Y = X: the brute force's diagonal carries the arccos round-off at θ = 0 (1e-8), the
    # kernel's is exact; converting to float64 is exact, so the result is bit-identical
    np.testing.assert_array_equal(infinite_width_ntk(X_in), infinite_width_ntk(X64))
    diag = TwoLayerReLUNTK(train_readout=True).diag(X_in)
    assert diag.dtype == np.float64
    # Θ∞(x, x) = (1 + σ_w²) ‖x‖² / 2 with integer entries: exact
    np.testing.assert_array_equal(diag, (X64**2).sum(axis=1))


def test_invalid_values_are_reported_with_the_argument_name(data):
    X, Y = data
    bad = np.array(X)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        infinite_width_ntk(bad, Y)
    with pytest.raises(ValueError, match="Input Y contains NaN"):
        infinite_width_ntk(X, bad)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        TwoLayerReLUNTK().diag(bad)


def test_default_sigma_w_is_one(data):
    X, Y = data
    kernel = TwoLayerReLUNTK(train_readout=True)
    assert kernel.get_params() == {"train_readout": True, "sigma_w": 1.0}
    np.testing.assert_allclose(kernel(X, Y), _brute_force(X, Y, True, 1.0), rtol=1e-12)


@pytest.mark.parametrize("sigma_w", [0.0, -1.0, np.inf, np.nan, True, "1"])
@pytest.mark.parametrize("method", ["__call__", "diag"])
def test_kernel_rejects_bad_sigma_w_in_every_method(data, sigma_w, method):
    X, _ = data
    kernel = TwoLayerReLUNTK(train_readout=True, sigma_w=sigma_w)
    with pytest.raises(ValueError, match="sigma_w must be a finite number > 0"):
        getattr(kernel, method)(X)
