"""Tests for the κ diagnostics against brute-force spectra, closed forms and direct formulas."""

import gzip
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ortho_group

from sklearn_attnkernel.diagnostics.kappa import (
    KappaReport,
    NumericalRankWarning,
    effective_condition_number,
    feature_collapse,
    kappa_report,
    required_width,
    spectral_amplification,
)

MNIST_TEST_IMAGES = Path("/work/shared/data/mnist/t10k-images-idx3-ubyte.gz")


def _read_only(A):
    A = np.array(A, dtype=np.float64)
    A.flags.writeable = False
    return A


def _with_singular_values(n, d, singular_values, seed):
    """``U diag(s) Vᵀ`` with random orthonormal U (n × d) and V (d × d)."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(n, d)))
    V = ortho_group.rvs(d, random_state=seed) if d > 1 else np.ones((1, 1))
    return _read_only((U * np.asarray(singular_values)) @ V.T)


def _brute_kappa(X, r):
    """λ₁/λ_r from numpy's eigenvalues of the explicit n × n Gram matrix."""
    eigenvalues = np.linalg.eigvalsh(X @ X.T)[::-1]
    return eigenvalues[0] / eigenvalues[r - 1]


@pytest.fixture
def X_rank_deficient():
    """30 × 10 matrix of rank 6."""
    rng = np.random.default_rng(3)
    return _read_only(rng.normal(size=(30, 6)) @ rng.normal(size=(6, 10)))


# ----------------------------------------------------------------- effective_condition_number
@pytest.mark.parametrize("shape", [(40, 7), (7, 40), (12, 12)])
@pytest.mark.parametrize("method", ["exact", "gram"])
def test_kappa_matches_brute_force(shape, method):
    X = _read_only(np.random.default_rng(0).normal(size=shape))
    r_max = min(shape)
    for r in (1, 2, r_max // 2, r_max):
        kappa = effective_condition_number(X, rank=r, method=method)
        assert kappa == pytest.approx(_brute_kappa(X, r), rel=1e-9)
    full = effective_condition_number(X, rank="full", method=method)
    assert full == pytest.approx(_brute_kappa(X, r_max), rel=1e-9)
    s = np.linalg.svd(X, compute_uv=False)
    assert effective_condition_number(X, method=method) == pytest.approx(
        (s[0] / s[-1]) ** 2, rel=1e-9
    )


def test_energy_fraction_rank_matches_brute_force():
    X = _read_only(np.random.default_rng(1).normal(size=(50, 12)) * np.geomspace(1, 0.01, 12))
    s = np.linalg.svd(X, compute_uv=False)
    energy = s**2
    for fraction in (0.05, 0.3, 0.5, 0.8, 0.95, 0.999):
        r = next(k for k in range(1, 13) if energy[:k].sum() >= fraction * energy.sum())
        assert effective_condition_number(X, rank=fraction) == pytest.approx(
            (s[0] / s[r - 1]) ** 2, rel=1e-10
        )
        assert kappa_report(X, rank=fraction).rank == r


def test_randomized_agrees_with_exact_on_spectral_gap():
    singular_values = np.concatenate([np.geomspace(10.0, 1.0, 10), np.geomspace(1e-2, 1e-3, 90)])
    X = _with_singular_values(400, 100, singular_values, seed=0)
    exact = effective_condition_number(X, rank=10, method="exact")
    assert exact == pytest.approx(100.0, rel=1e-10)
    randomized = effective_condition_number(X, rank=10, method="randomized", random_state=0)
    assert randomized == pytest.approx(exact, rel=1e-3)


@settings(max_examples=30, deadline=None)
@given(
    d=st.integers(min_value=2, max_value=8),
    extra_rows=st.integers(min_value=0, max_value=30),
    log10_kappa=st.floats(min_value=0.0, max_value=4.0),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_attention_features_cube_kappa(d, extra_rows, log10_kappa, seed):
    # σ from 1 down to 10^(-log10_kappa/2): κ(G) = 10^log10_kappa by construction.
    X = _with_singular_values(d + extra_rows, d, np.geomspace(1, 10 ** (-log10_kappa / 2), d), seed)
    kappa = effective_condition_number(X, rank=d)
    assert kappa == pytest.approx(10**log10_kappa, rel=1e-8)
    features = X @ (X.T @ X)
    assert effective_condition_number(features, rank=d) == pytest.approx(kappa**3, rel=1e-6)


def test_linearized_attention_transformer_cubes_kappa():
    from sklearn_attnkernel.attention.transformers import LinearizedAttention

    X = _with_singular_values(60, 6, [3.0, 2.0, 1.5, 1.0, 0.5, 0.2], seed=5)
    features = LinearizedAttention(normalize=False).fit_transform(X)
    assert effective_condition_number(features) == pytest.approx(
        effective_condition_number(X) ** 3, rel=1e-9
    )


def test_numerical_rank_and_warning_above_it(X_rank_deficient):
    X = X_rank_deficient
    s = np.linalg.svd(X, compute_uv=False)
    assert effective_condition_number(X) == pytest.approx((s[0] / s[5]) ** 2, rel=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        effective_condition_number(X, rank=6)
    with pytest.warns(NumericalRankWarning, match="numerical rank 6"):
        effective_condition_number(X, rank=8)
    with pytest.warns(NumericalRankWarning, match="numerical rank 6"):
        huge = effective_condition_number(X, rank="full")
    assert huge > 1e20
    with pytest.warns(NumericalRankWarning, match="numerical rank 6"):
        effective_condition_number(X, rank=8, method="gram")
    with pytest.warns(NumericalRankWarning, match="numerical rank 6"):
        effective_condition_number(X, rank=8, method="randomized", random_state=0)
    assert kappa_report(X).numerical_rank == 6
    assert issubclass(NumericalRankWarning, UserWarning)


def test_full_rank_at_exact_zero_singular_value_is_inf():
    X = _read_only([[2.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    with pytest.warns(NumericalRankWarning, match="numerical rank 1"):
        assert effective_condition_number(X, rank="full") == math.inf
    assert effective_condition_number(X) == 1.0


@pytest.mark.parametrize("method", ["auto", "gram", "randomized"])
def test_sparse_input_matches_dense(method):
    X = sp.random(80, 15, density=0.3, random_state=np.random.RandomState(2), format="csr")
    dense = effective_condition_number(X.toarray(), rank=5, method="exact")
    kappa = effective_condition_number(X, rank=5, method=method, random_state=0)
    assert kappa == pytest.approx(dense, rel=1e-3 if method == "randomized" else 1e-9)


def test_sparse_input_refused_by_exact():
    X = sp.random(20, 5, density=0.5, random_state=np.random.RandomState(0), format="csr")
    with pytest.raises(TypeError, match="method='exact' needs a dense X"):
        effective_condition_number(X, method="exact")


@pytest.mark.parametrize(
    ("X", "match"),
    [
        ([[1.0, np.nan], [0.0, 1.0]], "NaN"),
        ([[1.0, np.inf], [0.0, 1.0]], "infinity"),
        (np.empty((0, 3)), "0 sample"),
        ([[1.0, 2.0, 3.0]], "minimum of 2 is required"),
        ([[1.0 + 1j, 0.0], [0.0, 1.0]], "Complex"),
        (np.array([[1.0, 2.0], [3.0, 4.0]], dtype=object), "dtype object"),
        ([["a", "b"], ["c", "d"]], "string"),
        (np.zeros((4, 3)), "all zeros"),
        ([1.0, 2.0, 3.0], "Expected 2D"),
    ],
)
def test_bad_input_raises_value_error(X, match):
    with pytest.raises(ValueError, match=match):
        effective_condition_number(X)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rank": 0}, "'rank' parameter"),
        ({"rank": 1.5}, "'rank' parameter"),
        ({"rank": "all"}, "'rank' parameter"),
        ({"method": "eigh"}, "'method' parameter"),
        ({"rank": 11}, r"rank=11 exceeds min\(n_samples, n_features\)=10"),
        ({"method": "randomized"}, "needs an integer rank"),
    ],
)
def test_bad_parameters(X_rank_deficient, kwargs, match):
    with pytest.raises(ValueError, match=match):
        effective_condition_number(X_rank_deficient, **kwargs)


def test_bool_rank_is_refused(X_rank_deficient):
    with pytest.raises(TypeError, match="bool"):
        effective_condition_number(X_rank_deficient, rank=True)


# ------------------------------------------------------------------- spectral_amplification
def test_spectral_amplification_against_direct_formulas():
    X = _with_singular_values(50, 5, [2.0, 1.5, 1.0, 0.7, 0.4], seed=7)
    eigenvalues = np.linalg.eigvalsh(X @ X.T)[::-1]
    kappa = eigenvalues[0] / eigenvalues[4]
    out = spectral_amplification(X, n_layers=2)
    assert out["rank"] == out["numerical_rank"] == 5
    assert out["kappa"] == pytest.approx(kappa, rel=1e-10)
    assert out["kappa_cubed"] == pytest.approx(kappa**3, rel=1e-10)
    assert out["kappa_attention"] == pytest.approx(kappa**3, rel=1e-8)
    assert out["kappa_layers"] == pytest.approx(kappa**5, rel=1e-10)
    tau = math.sqrt(5)
    bound = kappa * math.exp(2 * (eigenvalues[0] - eigenvalues[4]) / tau)
    assert out["temperature"] == tau
    assert out["softmax_bound"] == pytest.approx(bound, rel=1e-10)
    for name in ("kappa", "kappa_cubed", "kappa_attention", "kappa_layers", "softmax_bound"):
        assert out[f"log10_{name}"] == pytest.approx(math.log10(out[name]), rel=1e-9)
    json.dumps(out, allow_nan=False)


def test_spectral_amplification_overflow_stays_finite_in_log10():
    X = _with_singular_values(20, 3, [300.0, 10.0, 1.0], seed=1)
    out = spectral_amplification(X, temperature=0.5)
    assert out["softmax_bound"] == math.inf
    expected = math.log10(9e4) + 2 * (9e4 - 1.0) / 0.5 / math.log(10)
    assert out["log10_softmax_bound"] == pytest.approx(expected, rel=1e-9)


def test_measured_attention_kappa_saturates_but_prediction_does_not():
    X = _with_singular_values(60, 8, np.geomspace(1, 1e-8, 8), seed=2)  # κ = 10¹⁶
    out = spectral_amplification(X, rank=8)
    assert out["log10_kappa_cubed"] == pytest.approx(48.0, abs=1e-4)
    assert out["log10_kappa_attention"] < 40


# ---------------------------------------------------------------------------- required_width
@pytest.mark.parametrize("kappa", [1.0, 3.7, 1e10, 1e40])
@pytest.mark.parametrize("n", [2, 100, 60_000])
def test_required_width_matches_direct_formula(kappa, n):
    attention = kappa**6 * n * math.log(n)
    relu = kappa**2 * n * math.log(n)
    assert required_width(kappa, n) == pytest.approx(attention, rel=1e-12)
    assert required_width(kappa, n, "relu") == pytest.approx(relu, rel=1e-12)
    assert required_width(kappa, n, log10=True) == pytest.approx(math.log10(attention), rel=1e-12)


def test_required_width_overflow():
    log10_width = 6 * 60 + math.log10(1e4 * math.log(1e4))
    assert required_width(1e60, 10_000) == math.inf
    assert required_width(1e60, 10_000, log10=True) == pytest.approx(log10_width, rel=1e-12)
    assert math.isfinite(required_width(1e60, 10_000, "relu"))
    assert required_width(math.inf, 10) == math.inf
    assert required_width(1e51, 2) < math.inf  # 10³⁰⁶ · 2 ln 2 still fits in float64


@pytest.mark.parametrize(
    ("args", "match"),
    [((0.5, 10), "'kappa' parameter"), ((2.0, 1), "'n' parameter"), ((2.0, 10, "mlp"), "arch")],
)
def test_required_width_validation(args, match):
    with pytest.raises(ValueError, match=match):
        required_width(*args)


# -------------------------------------------------------------------------- feature_collapse
def test_feature_collapse_matches_pairwise_mean():
    F = _read_only(np.random.default_rng(4).normal(size=(30, 6)) + 0.5)
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
    with pytest.raises(ValueError, match=r"rows \[1, 3\] of F are zero"):
        feature_collapse([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])


# ------------------------------------------------------------------------------ kappa_report
def test_report_fields_are_consistent(X_rank_deficient):
    X = X_rank_deficient
    report = kappa_report(X, n_layers=3, temperature=2000.0, practical_width=1e6)
    assert isinstance(report, KappaReport)
    s = np.linalg.svd(X, compute_uv=False)
    assert (report.n_samples, report.n_features) == (30, 10)
    assert report.rank == report.numerical_rank == 6
    assert report.method == "exact"
    kappa = (s[0] / s[5]) ** 2
    assert report.kappa == pytest.approx(kappa, rel=1e-9)
    assert report.kappa_cubed == pytest.approx(kappa**3, rel=1e-9)
    assert report.kappa_layers == pytest.approx(kappa**7, rel=1e-9)
    assert report.softmax_bound == pytest.approx(
        kappa * math.exp(2 * (s[0] ** 2 - s[5] ** 2) / 2000.0), rel=1e-9
    )
    assert report.width_relu == pytest.approx(required_width(kappa, 30, "relu"), rel=1e-9)
    assert report.width_attention == pytest.approx(required_width(kappa, 30), rel=1e-9)
    assert report.orders_above_practical_attention == pytest.approx(
        math.log10(required_width(kappa, 30)) - 6, rel=1e-9
    )
    assert report.collapse_raw == pytest.approx(feature_collapse(X), rel=1e-12)
    assert report.collapse_attention == pytest.approx(
        feature_collapse(X @ X.T @ X), rel=1e-9, abs=1e-12
    )
    # default grid: log-spaced from 1 to the numerical rank, each κ_k from the brute-force SVD
    assert report.curve_ranks[0] == 1
    assert report.curve_ranks[-1] == 6
    assert list(report.curve_ranks) == sorted(set(report.curve_ranks))
    for k, kappa_k in zip(report.curve_ranks, report.curve_kappa, strict=True):
        assert kappa_k == pytest.approx((s[0] / s[k - 1]) ** 2, rel=1e-9)
    assert report.verdict.startswith("attention")


def test_report_default_grid_size_and_custom_ranks():
    X = _read_only(np.random.default_rng(8).normal(size=(300, 120)))
    report = kappa_report(X)
    assert 15 <= len(report.curve_ranks) <= 21
    assert report.curve_ranks[-1] == 120
    custom = kappa_report(X, ranks=[100, 5, 50], rank=50)
    assert custom.curve_ranks == (5, 50, 100)
    assert custom.curve_kappa[1] == pytest.approx(custom.kappa, rel=1e-12)
    with pytest.raises(ValueError, match=r"ranks must lie in \[1, 120\]"):
        kappa_report(X, ranks=[0, 3])
    with pytest.raises(TypeError, match="ranks must contain ints"):
        kappa_report(X, ranks=[1.5])


def test_report_randomized_uses_leading_values_only():
    singular_values = np.concatenate([np.geomspace(10.0, 1.0, 10), np.full(40, 1e-3)])
    X = _with_singular_values(200, 50, singular_values, seed=3)
    report = kappa_report(X, rank=10, ranks=[2, 5, 10], method="randomized", random_state=0)
    assert report.method == "randomized"
    assert report.numerical_rank is None
    assert report.kappa == pytest.approx(100.0, rel=1e-3)
    assert report.curve_ranks == (2, 5, 10)


def test_report_outputs():
    X = _with_singular_values(40, 5, [1.0, 0.8, 0.5, 0.3, 0.1], seed=9)
    report = kappa_report(X)
    quantities = report.to_frame()
    assert list(quantities.columns) == ["quantity", "value", "log10"]
    by_name = quantities.set_index("quantity")
    assert by_name.loc["kappa", "value"] == report.kappa
    assert by_name.loc["width_attention", "log10"] == report.log10_width_attention
    curve = report.to_frame("rank_curve")
    assert isinstance(curve, pd.DataFrame)
    np.testing.assert_array_equal(curve["rank"], report.curve_ranks)
    np.testing.assert_allclose(10 ** curve["log10_kappa"], report.curve_kappa, rtol=1e-12)
    with pytest.raises(ValueError, match="kind must be"):
        report.to_frame("everything")

    as_dict = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert as_dict["kappa"] == report.kappa
    assert as_dict["curve_ranks"] == list(report.curve_ranks)

    text = str(report)
    assert "40 samples × 5 features" in text
    assert f"10^{report.log10_kappa:.1f}" in text
    assert report.verdict in text


def test_report_overflowing_values_become_none_in_dict():
    X = _with_singular_values(30, 4, [1.0, 1e-3, 1e-6, 1e-9], seed=4)  # κ = 10¹⁸
    report = kappa_report(X, practical_width=1e5)
    assert report.width_attention < math.inf  # 10^108 · n ln n still fits
    huge = kappa_report(X, n_layers=20)
    assert huge.kappa_layers == math.inf
    assert huge.log10_kappa_layers == pytest.approx(41 * 18, rel=1e-6)
    assert huge.to_dict()["kappa_layers"] is None
    json.dumps(huge.to_dict(), allow_nan=False)
    assert "cannot reach" in report.verdict


def test_report_well_conditioned_verdict_and_zero_rows():
    X = np.vstack([np.eye(3), np.zeros((1, 3))])
    report = kappa_report(X)
    assert report.kappa == pytest.approx(1.0)
    assert report.collapse_raw == pytest.approx(0.0, abs=1e-15)  # zero row excluded
    assert report.verdict.startswith("attention can reach")


# ----------------------------------------------------------------------------- real MNIST
def _load_mnist_test_images():
    if not MNIST_TEST_IMAGES.is_file():
        pytest.skip(f"MNIST test images not found at {MNIST_TEST_IMAGES}")
    with gzip.open(MNIST_TEST_IMAGES, "rb") as handle:
        raw = handle.read()
    header = np.frombuffer(raw, dtype=">u4", count=4)
    assert header[0] == 2051  # IDX magic number of an unsigned-byte 3-D array
    n, rows, cols = (int(v) for v in header[1:])
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows * cols)
    return _read_only(pixels / 255.0)


@pytest.mark.slow
def test_mnist_kappa_depends_on_the_rank():
    X = _load_mnist_test_images()  # 10000 × 784, pixels / 255, rows not normalised
    report = kappa_report(X, ranks=[200])
    assert report.numerical_rank == 661
    assert 13 <= report.log10_kappa < 14  # κ ≈ 2·10¹³ at the numerical rank
    assert 3 <= math.log10(report.curve_kappa[0]) < 4  # κ ≈ 2.7·10³ at rank 200
    assert report.curve_ranks == (200,)


def test_sparse_report_and_amplification_match_dense():
    X = sp.random(60, 8, density=0.5, random_state=np.random.RandomState(6), format="csr")
    dense = X.toarray()
    report, expected = kappa_report(X), kappa_report(dense)
    assert report.method == "gram"
    assert report.numerical_rank == expected.numerical_rank == 8
    assert report.kappa == pytest.approx(expected.kappa, rel=1e-8)
    assert report.collapse_attention == pytest.approx(expected.collapse_attention, rel=1e-12)
    amplified = spectral_amplification(X)
    assert amplified["kappa_attention"] == pytest.approx(expected.kappa**3, rel=1e-6)
