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


@pytest.mark.parametrize(
    ("X", "log10_entrywise"),
    [
        (np.array([[3.0, 0.0, 0.0], [1.0, 2.0, 0.0], [0.0, 1.0, 1.0]]), 4.748),
        (np.diag([4.0, 2.0, 1.0]), 8.78),
    ],
)
def test_softmax_bound_is_the_matrix_exponential_model_not_entrywise_softmax(X, log10_entrywise):
    """The "softmax bound" is κ of e^{G/τ} G e^{G/τ} with the matrix exponential (the docs' label).

    With the exponential applied entrywise, as attention does, the condition number differs,
    in either direction (the numbers docs/theory.rst quotes).
    """
    import scipy.linalg

    def kappa(K):
        eigenvalues = np.linalg.eigvalsh((K + K.T) / 2)
        return eigenvalues[-1] / eigenvalues[0]

    G = X @ X.T
    tau = math.sqrt(X.shape[1])
    out = spectral_amplification(X, rank="full")
    E = scipy.linalg.expm(G / tau)
    assert out["softmax_bound"] == pytest.approx(kappa(E @ G @ E), rel=1e-6)
    E_entrywise = np.exp(G / tau)
    measured = math.log10(kappa(E_entrywise @ G @ E_entrywise))
    assert measured == pytest.approx(log10_entrywise, abs=5e-3)
    assert abs(measured - out["log10_softmax_bound"]) > 0.04


def test_spectral_amplification_overflow_stays_finite_in_log10(with_singular_values):
    X = with_singular_values(20, 3, [300.0, 10.0, 1.0], seed=1)
    with np.errstate(over="raise"):  # exp(2(λ₁ − λ_r)/τ) overflows on purpose: inf, never reported
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
    assert report.verdict.startswith("MLP-Attn's sufficient width is κ⁴ = 10^")


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


# σ = (4, 2, 1) exactly: λ = (16, 4, 1), κ = 16 at the full rank, 4 at rank 2; F = X XᵀX has
# singular values σ³ = (64, 8, 1). n = 5 ≠ d = 3 so that the default τ = √d is told from √n.
AMPLIFICATION_KEYS = {
    "rank",
    "numerical_rank",
    "n_layers",
    "temperature",
    "lambda_max",
    "lambda_min",
    "kappa",
    "kappa_cubed",
    "kappa_attention",
    "kappa_layers",
    "softmax_bound",
    "log10_kappa",
    "log10_kappa_cubed",
    "log10_kappa_attention",
    "log10_kappa_layers",
    "log10_softmax_bound",
}


@pytest.mark.parametrize(
    ("kwargs", "r", "lam_min", "n_layers", "tau"),
    [
        ({}, 3, 1.0, 1, math.sqrt(3)),
        ({"rank": 2, "n_layers": 2, "temperature": 8.0}, 2, 4.0, 2, 8.0),
        ({"rank": "full", "n_layers": 3, "temperature": 0.5}, 3, 1.0, 3, 0.5),
    ],
)
def test_spectral_amplification_keys_and_closed_forms(
    permuted_diagonal, kwargs, r, lam_min, n_layers, tau
):
    out = spectral_amplification(permuted_diagonal(5, 3, [4.0, 2.0, 1.0], seed=4), **kwargs)
    assert set(out) == AMPLIFICATION_KEYS
    kappa = 16.0 / lam_min
    expected = {
        "rank": r,
        "numerical_rank": 3,
        "n_layers": n_layers,
        "temperature": tau,
        "lambda_max": 16.0,
        "lambda_min": lam_min,
        "kappa": kappa,
        "kappa_cubed": kappa**3,
        "kappa_attention": (64.0 / [64.0, 8.0, 1.0][r - 1]) ** 2,
        "kappa_layers": kappa ** (2 * n_layers + 1),
        "softmax_bound": kappa * math.exp(2 * (16.0 - lam_min) / tau),
    }
    for name in ("kappa", "kappa_cubed", "kappa_attention", "kappa_layers", "softmax_bound"):
        expected[f"log10_{name}"] = math.log10(expected[name])
    for key, value in expected.items():
        assert out[key] == pytest.approx(value, rel=1e-12, abs=1e-13), key
    for key in ("rank", "numerical_rank", "n_layers"):
        assert type(out[key]) is int, key
    json.dumps(out, allow_nan=False)


def test_default_n_layers_is_one(permuted_diagonal):
    X = permuted_diagonal(5, 3, [4.0, 2.0, 1.0], seed=5)  # κ = 16
    default = spectral_amplification(X)
    assert default["n_layers"] == 1
    assert default["kappa_layers"] == pytest.approx(16.0**3, rel=1e-12)  # κ^(2L+1), L = 1
    assert default == spectral_amplification(X, n_layers=1)
    report = kappa_report(X)
    assert report.n_layers == 1
    assert report.kappa_layers == pytest.approx(16.0**3, rel=1e-12)


@pytest.mark.parametrize("practical_width", [1e3, 1e5, 1e12])
def test_orders_above_practical_width_closed_form(permuted_diagonal, practical_width):
    X = permuted_diagonal(5, 3, [4.0, 2.0, 1.0], seed=6)  # κ = 16, n = 5
    report = kappa_report(X, practical_width=practical_width)
    n_ln_n = 5 * math.log(5)
    relu, attention = 16.0**2 * n_ln_n, 16.0**6 * n_ln_n
    assert report.width_relu == pytest.approx(relu, rel=1e-12)
    assert report.width_attention == pytest.approx(attention, rel=1e-12)
    assert report.orders_above_practical_relu == pytest.approx(
        math.log10(relu / practical_width), rel=1e-12
    )
    assert report.orders_above_practical_attention == pytest.approx(
        math.log10(attention / practical_width), rel=1e-12
    )


@pytest.mark.parametrize(
    ("ranks", "expected_kappa"),
    [([1], (1.0,)), ([4], (16.0,)), ([4, 1], (1.0, 16.0)), ([2, 2, 3], (4.0, 9.0))],
)
def test_report_ranks_accepted_at_the_boundaries(permuted_diagonal, ranks, expected_kappa):
    X = permuted_diagonal(6, 4, [4.0, 2.0, 4.0 / 3.0, 1.0], seed=7)  # κ_k = k²
    report = kappa_report(X, ranks=ranks)
    assert report.curve_ranks == tuple(sorted(set(ranks)))
    np.testing.assert_allclose(report.curve_kappa, expected_kappa, rtol=1e-12)


@pytest.mark.parametrize("ranks", [[0], [-1], [5], [0, 2], [1, 5], [0, 5]])
def test_report_ranks_refused_outside_one_to_min_n_d(permuted_diagonal, ranks):
    X = permuted_diagonal(6, 4, [4.0, 2.0, 1.0, 0.5], seed=7)
    with pytest.raises(ValueError, match=r"every entry of ranks must lie in \[1, 4\]"):
        kappa_report(X, ranks=ranks)


@pytest.mark.parametrize("ranks", [[], [[1, 2]], np.array(3)])
def test_report_ranks_refused_unless_a_nonempty_1d_sequence(permuted_diagonal, ranks):
    X = permuted_diagonal(6, 4, [4.0, 2.0, 1.0, 0.5], seed=7)
    with pytest.raises(ValueError, match="ranks must be a non-empty 1-D sequence"):
        kappa_report(X, ranks=ranks)


def test_report_ranks_randomized_bounded_by_min_n_d(permuted_diagonal):
    X = permuted_diagonal(6, 4, [4.0, 2.0, 4.0 / 3.0, 1.0], seed=8)
    report = kappa_report(X, rank=2, ranks=[1, 4], method="randomized", random_state=0)
    np.testing.assert_allclose(report.curve_kappa, (1.0, 16.0), rtol=1e-10)
    with pytest.raises(ValueError, match=r"lie in \[1, 4\]"):
        kappa_report(X, rank=2, ranks=[1, 5], method="randomized", random_state=0)


def test_report_collapse_with_exactly_two_nonzero_rows():
    # x₁ = (1, 0), x₂ = (1, 1) and two zero rows: the mean pairwise cosine of two rows is their
    # cosine, 1/√2. C = XᵀX = [[2, 1], [1, 1]], so x₁C = (2, 1), x₂C = (3, 2): cosine 8/√65.
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    report = kappa_report(X)
    assert report.collapse_raw == pytest.approx(1 / math.sqrt(2), rel=1e-14)
    assert report.collapse_attention == pytest.approx(8 / math.sqrt(65), rel=1e-14)
    one_row = kappa_report(np.array([[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]]))
    assert math.isnan(one_row.collapse_raw)
    assert math.isnan(one_row.collapse_attention)


def test_report_default_grid_of_a_rank_one_matrix_is_rank_one(permuted_diagonal):
    # numerical rank 1: the default curve runs from 1 to 1, nothing above the numerical rank
    report = kappa_report(permuted_diagonal(5, 3, [2.0, 0.0, 0.0], seed=9))
    assert report.numerical_rank == report.rank == 1
    assert report.curve_ranks == (1,)
    assert report.curve_kappa == (1.0,)
