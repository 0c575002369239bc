"""κ, its amplification by attention and the full report, against closed forms and formulas."""

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_attnkernel._utils.vocabulary import PRACTICAL_WIDTH
from sklearn_attnkernel.diagnostics import (
    KappaReport,
    effective_condition_number,
    feature_collapse,
    kappa_report,
    required_width,
    spectral_amplification,
)

MNIST_TEST_IMAGES = Path("/work/shared/data/mnist/t10k-images-idx3-ubyte.gz")


@settings(max_examples=30, deadline=None)
@given(
    d=st.integers(min_value=2, max_value=8),
    extra_rows=st.integers(min_value=0, max_value=30),
    log10_kappa=st.floats(min_value=0.0, max_value=4.0),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_attention_features_cube_kappa(d, extra_rows, log10_kappa, seed, with_singular_values):
    # σ from 1 down to 10^(-log10_kappa/2): κ(G) = 10^log10_kappa by construction.
    X = with_singular_values(d + extra_rows, d, np.geomspace(1, 10 ** (-log10_kappa / 2), d), seed)
    kappa = effective_condition_number(X, rank=d)
    assert kappa == pytest.approx(10**log10_kappa, rel=1e-8)
    features = X @ (X.T @ X)
    assert effective_condition_number(features, rank=d) == pytest.approx(kappa**3, rel=1e-6)


def test_linearized_attention_transformer_cubes_kappa(with_singular_values):
    from sklearn_attnkernel.attention.transformers import LinearizedAttention

    X = with_singular_values(60, 6, [3.0, 2.0, 1.5, 1.0, 0.5, 0.2], seed=5)
    features = LinearizedAttention(normalize=False).fit_transform(X)
    assert effective_condition_number(features) == pytest.approx(
        effective_condition_number(X) ** 3, rel=1e-9
    )


def test_spectral_amplification_against_direct_formulas(with_singular_values):
    X = with_singular_values(50, 5, [2.0, 1.5, 1.0, 0.7, 0.4], seed=7)
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


def test_spectral_amplification_overflow_stays_finite_in_log10(with_singular_values):
    X = with_singular_values(20, 3, [300.0, 10.0, 1.0], seed=1)
    out = spectral_amplification(X, temperature=0.5)
    assert out["softmax_bound"] == math.inf
    expected = math.log10(9e4) + 2 * (9e4 - 1.0) / 0.5 / math.log(10)
    assert out["log10_softmax_bound"] == pytest.approx(expected, rel=1e-9)


def test_measured_attention_kappa_saturates_but_prediction_does_not(with_singular_values):
    X = with_singular_values(60, 8, np.geomspace(1, 1e-8, 8), seed=2)  # κ = 10¹⁶
    out = spectral_amplification(X, rank=8)
    assert out["log10_kappa_cubed"] == pytest.approx(48.0, abs=1e-4)
    assert out["log10_kappa_attention"] < 40


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


def test_report_default_grid_size_and_custom_ranks(read_only):
    X = read_only(np.random.default_rng(8).normal(size=(300, 120)))
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


def test_report_randomized_uses_leading_values_only(read_only, with_singular_values):
    singular_values = np.concatenate([np.geomspace(10.0, 1.0, 10), np.full(40, 1e-3)])
    X = with_singular_values(200, 50, singular_values, seed=3)
    report = kappa_report(X, rank=10, ranks=[2, 5, 10], method="randomized", random_state=0)
    assert report.method == "randomized"
    assert report.numerical_rank is None
    assert report.kappa == pytest.approx(100.0, rel=1e-3)
    assert report.curve_ranks == (2, 5, 10)


def test_report_practical_width_defaults_to_the_vocabulary(X_rank_deficient):
    report = kappa_report(X_rank_deficient)
    assert report.practical_width == PRACTICAL_WIDTH == 1e5
    assert report.orders_above_practical_attention == pytest.approx(
        report.log10_width_attention - 5, rel=1e-12
    )
    wider = kappa_report(X_rank_deficient, practical_width=1e9)
    assert wider.orders_above_practical_relu == pytest.approx(report.log10_width_relu - 9)


def _load_mnist_test_images(read_only):
    if not MNIST_TEST_IMAGES.is_file():
        pytest.skip(f"MNIST test images not found at {MNIST_TEST_IMAGES}")
    with gzip.open(MNIST_TEST_IMAGES, "rb") as handle:
        raw = handle.read()
    header = np.frombuffer(raw, dtype=">u4", count=4)
    assert header[0] == 2051  # IDX magic number of an unsigned-byte 3-D array
    n, rows, cols = (int(v) for v in header[1:])
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows * cols)
    return read_only(pixels / 255.0)


@pytest.mark.slow
def test_mnist_kappa_depends_on_the_rank(read_only):
    X = _load_mnist_test_images(read_only)  # 10000 × 784, pixels / 255, rows not normalised
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
