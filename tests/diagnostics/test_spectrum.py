"""Singular values, numerical rank, rank resolution and input checks, against brute-force spectra.

They are exercised through :func:`effective_condition_number`, the thinnest caller of
:mod:`sklearn_attnkernel.diagnostics.spectrum`.
"""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_attnkernel.diagnostics import (
    NumericalRankWarning,
    effective_condition_number,
    kappa_report,
)


def _brute_kappa(X, r):
    """λ₁/λ_r from numpy's eigenvalues of the explicit n × n Gram matrix."""
    eigenvalues = np.linalg.eigvalsh(X @ X.T)[::-1]
    return eigenvalues[0] / eigenvalues[r - 1]


@pytest.mark.parametrize("shape", [(40, 7), (7, 40), (12, 12)])
@pytest.mark.parametrize("method", ["exact", "gram"])
def test_kappa_matches_brute_force(shape, method, read_only):
    X = read_only(np.random.default_rng(0).normal(size=shape))
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


def test_energy_fraction_rank_matches_brute_force(read_only):
    X = read_only(np.random.default_rng(1).normal(size=(50, 12)) * np.geomspace(1, 0.01, 12))
    s = np.linalg.svd(X, compute_uv=False)
    energy = s**2
    for fraction in (0.05, 0.3, 0.5, 0.8, 0.95, 0.999):
        r = next(k for k in range(1, 13) if energy[:k].sum() >= fraction * energy.sum())
        assert effective_condition_number(X, rank=fraction) == pytest.approx(
            (s[0] / s[r - 1]) ** 2, rel=1e-10
        )
        assert kappa_report(X, rank=fraction).rank == r


def test_randomized_agrees_with_exact_on_spectral_gap(with_singular_values):
    singular_values = np.concatenate([np.geomspace(10.0, 1.0, 10), np.geomspace(1e-2, 1e-3, 90)])
    X = with_singular_values(400, 100, singular_values, seed=0)
    exact = effective_condition_number(X, rank=10, method="exact")
    assert exact == pytest.approx(100.0, rel=1e-10)
    randomized = effective_condition_number(X, rank=10, method="randomized", random_state=0)
    assert randomized == pytest.approx(exact, rel=1e-3)


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


def test_numerical_rank_warning_points_at_the_caller(X_rank_deficient):
    for call in (effective_condition_number, kappa_report):
        with pytest.warns(NumericalRankWarning) as record:
            call(X_rank_deficient, rank=8)
        assert record[0].filename == __file__


def test_full_rank_at_exact_zero_singular_value_is_inf(read_only):
    X = read_only([[2.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
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
        (np.zeros((4, 3)), "every entry of X is exactly zero"),
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


# σ = (3, 2, 1, 1, 1): energies σ² = (9, 4, 1, 1, 1), cumulative (9, 13, 14, 15, 16) of 16.
# Fractions that are multiples of 1/16 are exact in binary, so the boundaries are exact too.
ENERGY_SIGMA = [3.0, 2.0, 1.0, 1.0, 1.0]
ENERGY_CASES = [
    (0.5, 1),  # 8 ≤ 9
    (0.5625, 1),  # exactly 9/16: the first k whose energy reaches it, not the next one
    (0.5626, 2),
    (0.8125, 2),  # exactly 13/16
    (0.875, 3),  # exactly 14/16
    (0.9, 4),  # 14.4
    (0.95, 5),  # 15.2
    (0.999, 5),
]


@pytest.mark.parametrize("method", ["exact", "gram"])
@pytest.mark.parametrize(("fraction", "expected_rank"), ENERGY_CASES)
def test_energy_fraction_rank_is_smallest_k_reaching_the_fraction(
    permuted_diagonal, method, fraction, expected_rank
):
    X = permuted_diagonal(7, 5, ENERGY_SIGMA, seed=0)
    report = kappa_report(X, rank=fraction, method=method)
    assert report.rank == expected_rank
    sigma_r = ENERGY_SIGMA[expected_rank - 1]
    assert effective_condition_number(X, rank=fraction, method=method) == pytest.approx(
        (3.0 / sigma_r) ** 2, rel=1e-12
    )


# σ₃ lies below the tolerance σ₁·max(n, d)·eps but far above σ₂·max(n, d)·eps: the numerical
# rank is 2, and it would read 3 if the tolerance were scaled by σ₂ instead of σ₁.
def test_numerical_rank_tolerance_scales_with_sigma_1_exact(permuted_diagonal):
    X = permuted_diagonal(4, 3, [1.0, 1e-6, 1e-18], seed=1)  # tol = 4·eps ≈ 8.9e-16
    assert kappa_report(X, method="exact").numerical_rank == 2
    assert effective_condition_number(X, method="exact") == pytest.approx(1e12, rel=1e-12)


def test_numerical_rank_tolerance_scales_with_lambda_1_gram(permuted_diagonal):
    # λ = (1, 1e-12, 1e-20); tolerance λ₁·3·eps ≈ 6.7e-16 (λ₂·3·eps ≈ 6.7e-28 would keep λ₃)
    X = permuted_diagonal(4, 3, [1.0, 1e-6, 1e-10], seed=2)
    assert kappa_report(X, method="gram").numerical_rank == 2
    assert effective_condition_number(X, method="gram") == pytest.approx(1e12, rel=1e-12)


def test_numerical_rank_tolerance_scales_with_sigma_1_randomized(permuted_diagonal):
    X = permuted_diagonal(4, 3, [1.0, 1e-6, 1e-17], seed=3)
    with pytest.warns(NumericalRankWarning, match="numerical rank 2"):
        report = kappa_report(X, rank=3, method="randomized", random_state=0)
    assert report.numerical_rank == 2
    # all computed values above the tolerance: the numerical rank is unknown (None)
    above = permuted_diagonal(4, 3, [1.0, 1e-6, 1e-12], seed=3)
    assert kappa_report(above, rank=3, method="randomized", random_state=0).numerical_rank is None


@pytest.mark.parametrize("shape", [(9, 4), (4, 9)])
@pytest.mark.parametrize("sparse", [False, True])
def test_gram_decomposes_the_smaller_gram_matrix(permuted_diagonal, shape, sparse):
    # singular values exactly (4, 2, 1, 1/2), so κ_k = 4^(k-1), and there are min(n, d) = 4 of
    # them whether X is tall or wide, dense or sparse
    X = permuted_diagonal(*shape, [4.0, 2.0, 1.0, 0.5], seed=11)
    X = sp.csr_matrix(X) if sparse else X
    report = kappa_report(X, method="gram", ranks=[1, 2, 3, 4])
    assert report.numerical_rank == 4
    np.testing.assert_allclose(report.curve_kappa, [1.0, 4.0, 16.0, 64.0], rtol=1e-12)
    with pytest.raises(ValueError, match=r"lie in \[1, 4\]"):
        kappa_report(X, method="gram", ranks=[5])


# A singular value exactly at the tolerance is not counted ("above" the tolerance is strict):
# exact: σ₁ · max(n, d) · eps = 8 · 2⁻⁵² = 2⁻⁴⁹; gram: λ₁ · 4 · eps = 2⁻⁵⁰ = (2⁻²⁵)².
@pytest.mark.parametrize(("method", "sigma_at_tol"), [("exact", 2.0**-49), ("gram", 2.0**-25)])
def test_singular_value_at_the_tolerance_is_not_counted(permuted_diagonal, method, sigma_at_tol):
    X = permuted_diagonal(8, 4, [1.0, 0.5, sigma_at_tol, sigma_at_tol / 2**20], seed=12)
    assert kappa_report(X, method=method).numerical_rank == 2
    above = permuted_diagonal(8, 4, [1.0, 0.5, sigma_at_tol * 2, sigma_at_tol / 2**20], seed=12)
    assert kappa_report(above, method=method).numerical_rank == 3


def test_gram_clips_round_off_below_zero(read_only):
    # rank one: nine eigenvalues of XᵀX are zero and come out as round-off of either sign; κ at
    # those ranks is huge or inf, never NaN
    rng = np.random.default_rng(13)
    X = read_only(np.outer(rng.normal(size=12), rng.normal(size=10)))
    report = kappa_report(X, method="gram", ranks=range(1, 11))
    assert report.numerical_rank == 1
    curve = np.asarray(report.curve_kappa)
    assert not np.isnan(curve).any()
    assert curve[0] == 1.0
    assert (curve[1:] > 1e12).all()  # round-off is at most ~ k·eps·λ₁


@pytest.mark.parametrize(("k", "expected"), [(3, 10), (40, 20), (95, 5), (100, 0)])
def test_randomized_oversampling_is_max_10_half_rank_within_min_n_d(monkeypatch, k, expected):
    # the documented oversampling max(10, rank/2), cut so that rank + oversampling ≤ min(n, d)
    from sklearn.utils.extmath import randomized_svd

    from sklearn_attnkernel.diagnostics import spectrum

    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs["n_oversamples"])
        return randomized_svd(*args, **kwargs)

    monkeypatch.setattr(spectrum, "randomized_svd", spy)
    X = np.random.default_rng(14).normal(size=(120, 100))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumericalRankWarning)
        effective_condition_number(X, rank=k, method="randomized", random_state=0)
    assert seen == [expected]
    assert type(seen[0]) is int


def test_randomized_is_reproducible_with_random_state():
    # a flat spectrum, so that the leading values depend on the random projection
    X = np.random.default_rng(15).normal(size=(60, 40))
    first = kappa_report(X, rank=5, ranks=[2, 5], method="randomized", random_state=0)
    again = kappa_report(X, rank=5, ranks=[2, 5], method="randomized", random_state=0)
    other = kappa_report(X, rank=5, ranks=[2, 5], method="randomized", random_state=1)
    assert first.curve_kappa == again.curve_kappa
    assert first.curve_kappa != other.curve_kappa
    kappas = [
        effective_condition_number(X, rank=5, method="randomized", random_state=seed)
        for seed in (0, 0, 1)
    ]
    assert kappas[0] == kappas[1] != kappas[2]


@pytest.mark.parametrize(("sigma_r", "log10_kappa"), [(0.0, math.inf), (1e-170, 340.0)])
def test_kappa_beyond_float64_is_inf_without_floating_point_errors(
    permuted_diagonal, sigma_r, log10_kappa
):
    # (σ₁/σ_r)² = inf: at σ_r = 0 by division by zero, at 10⁻¹⁷⁰ by overflow; both on purpose
    X = permuted_diagonal(5, 3, [1.0, 0.5, sigma_r], seed=17)
    with np.errstate(divide="raise", over="raise"), pytest.warns(NumericalRankWarning):
        kappa = effective_condition_number(X, rank="full")
    with np.errstate(divide="raise", over="raise"), pytest.warns(NumericalRankWarning):
        report = kappa_report(X, rank="full")
    assert kappa == report.kappa == math.inf
    assert report.log10_kappa == pytest.approx(log10_kappa, rel=1e-12)
