"""Scale invariance of the κ diagnostics and feature collapse over the float64 range (#11)."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_attnkernel import (
    effective_condition_number,
    feature_collapse,
    kappa_report,
    spectral_amplification,
)

# Factors spanning the float64 range; powers of two give bit-identical results by construction.
POW2_EXPONENTS = [-1000, -520, -3, 7, 520, 1000]
FACTORS = [1e-300, 1e-200, 1e-100, 1e100, 1e200, 1e300]


@pytest.fixture
def X():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 5)) + 0.5
    X.flags.writeable = False
    return X


def _brute_force_collapse(F):
    """Mean off-diagonal cosine from the full n × n cosine matrix (the definition)."""
    U = F / np.linalg.norm(F, axis=1, keepdims=True)
    cos = U @ U.T
    n = F.shape[0]
    return (cos.sum() - np.trace(cos)) / (n * (n - 1))


@pytest.mark.parametrize("exponent", POW2_EXPONENTS)
def test_collapse_is_bit_invariant_to_power_of_two_scale(X, exponent):
    assert feature_collapse(np.ldexp(X, exponent)) == feature_collapse(X)


@pytest.mark.parametrize("factor", FACTORS)
def test_collapse_is_invariant_to_any_scale(X, factor):
    expected = _brute_force_collapse(X)
    np.testing.assert_allclose(feature_collapse(X * factor), expected, rtol=1e-13)
    np.testing.assert_allclose(feature_collapse(sp.csr_matrix(X * factor)), expected, rtol=1e-13)


def test_collapse_with_rows_of_very_different_scales(X):
    # rows 1e-300 and 1e300: a global scale would flush the small rows to zero
    F = X * np.where(np.arange(30) % 2, 1e-300, 1e300)[:, np.newaxis]
    np.testing.assert_allclose(feature_collapse(F), _brute_force_collapse(X), rtol=1e-13)


@pytest.mark.parametrize("exponent", POW2_EXPONENTS)
def test_kappa_is_bit_invariant_to_power_of_two_scale(X, exponent):
    scaled = np.ldexp(X, exponent)
    assert effective_condition_number(scaled) == effective_condition_number(X)
    report, expected = kappa_report(scaled), kappa_report(X)
    for field in ("kappa", "log10_width_attention", "collapse_raw", "collapse_attention"):
        assert getattr(report, field) == getattr(expected, field), field
    assert report.curve_kappa == expected.curve_kappa
    amplified, expected_amplified = spectral_amplification(scaled), spectral_amplification(X)
    for key in ("kappa", "kappa_cubed", "kappa_attention", "kappa_layers"):
        assert amplified[key] == expected_amplified[key], key


@pytest.mark.parametrize("factor", FACTORS)
@pytest.mark.parametrize("method", ["exact", "gram"])
def test_kappa_is_invariant_to_any_scale(X, factor, method):
    sigma = np.linalg.svd(X, compute_uv=False)  # independent: numpy's SVD of the unscaled X
    expected = (sigma[0] / sigma[-1]) ** 2
    rtol = 1e-12 if method == "exact" else 1e-9
    kappa = effective_condition_number(X * factor, method=method, rank=5)
    np.testing.assert_allclose(kappa, expected, rtol=rtol)
    report = kappa_report(X * factor, method=method)
    np.testing.assert_allclose(report.kappa, expected, rtol=rtol)
    F = X @ X.T @ X
    np.testing.assert_allclose(report.collapse_attention, _brute_force_collapse(F), rtol=1e-12)


@pytest.mark.parametrize("factor", [1e-300, 1e200, 1e300])
def test_spectral_amplification_kappas_right_and_eigenvalues_saturate(X, factor):
    expected = spectral_amplification(X)
    with np.errstate(over="raise"):  # an overflow is saturated on purpose, never reported
        out = spectral_amplification(X * factor)
    for key in ("kappa", "kappa_cubed", "kappa_attention", "kappa_layers"):
        np.testing.assert_allclose(out[key], expected[key], rtol=1e-11, err_msg=key)
    # λ = σ² leaves the float64 range: inf above it, 0 below it, as documented
    assert out["lambda_max"] == (np.inf if factor > 1 else 0.0)


def test_spectral_amplification_eigenvalues_right_where_representable(X):
    sigma = np.linalg.svd(X, compute_uv=False)
    out = spectral_amplification(X * 1e150, rank="full")
    np.testing.assert_allclose(out["lambda_max"], sigma[0] ** 2 * 1e300, rtol=1e-12)
    np.testing.assert_allclose(out["lambda_min"], sigma[-1] ** 2 * 1e300, rtol=1e-12)
    assert out["softmax_bound"] == np.inf  # exp(2(λ₁ − λ_r)/τ) with λ ~ 1e300
    assert np.isfinite(spectral_amplification(X * 1e-150)["log10_softmax_bound"])


def test_all_zero_is_named_as_zero_not_underflow():
    with pytest.raises(ValueError, match="exactly zero"):
        effective_condition_number(np.zeros((4, 3)))
    # a tiny but nonzero X is not reported as zero
    assert np.isfinite(effective_condition_number(np.eye(3) * 5e-324 + np.eye(3) * 1e-310))
