"""RKHS complexity by influence group (issue #13, item 1) against direct solves and refits."""

import numpy as np
import pytest

from sklearn_attnkernel import (
    NumericalCheckError,
    complexity_by_group,
    influence_groups,
    rkhs_contributions,
)
from tests.conftest import readonly

EPS = np.finfo(np.float64).eps


def _problem(rng, n=40, d=5, outputs=3):
    X = rng.standard_normal((n, d))
    K = np.exp(-0.5 * np.sum((X[:, None] - X[None]) ** 2, axis=-1) / d)
    Y = rng.standard_normal((n, outputs))
    return readonly(K, Y)


def _norm(K, Y, alpha):
    """‖f‖²_H = tr(βᵀ K β) with β from numpy's general solver (no Cholesky)."""
    beta = np.linalg.solve(K + alpha * np.eye(K.shape[0]), Y)
    return float(np.trace(beta.T @ K @ beta))


def _tolerance(K, alpha):
    """Relative error bound of a backward-stable solve: a few ε · κ(K + αI)."""
    return 64 * EPS * np.linalg.cond(K + alpha * np.eye(K.shape[0]))


@pytest.mark.parametrize("alpha", [1e-3, 0.1])
def test_contributions_sum_to_the_rkhs_norm_of_a_direct_solve(rng, alpha):
    K, Y = _problem(rng)
    contributions, norm = rkhs_contributions(K, Y, alpha=alpha)
    expected = _norm(K, Y, alpha)
    assert norm == pytest.approx(expected, rel=_tolerance(K, alpha))
    assert contributions.sum() == pytest.approx(expected, rel=_tolerance(K, alpha))
    # each contribution against its own definition β_i · (K β)_i
    beta = np.linalg.solve(K + alpha * np.eye(K.shape[0]), Y)
    scale = np.abs(beta).max() * np.abs(K @ beta).max()
    np.testing.assert_allclose(
        contributions, np.sum(beta * (K @ beta), axis=1), atol=_tolerance(K, alpha) * scale
    )


def test_one_output_equals_a_column(rng):
    K, Y = _problem(rng, outputs=1)
    np.testing.assert_array_equal(
        rkhs_contributions(K, Y[:, 0], alpha=0.01)[0], rkhs_contributions(K, Y, alpha=0.01)[0]
    )


@pytest.mark.parametrize(("n", "n_groups"), [(40, 10), (43, 10), (7, 3), (5, 5), (6, 1)])
def test_groups_partition_the_points_in_score_order(rng, n, n_groups):
    scores = rng.standard_normal(n)
    groups = influence_groups(readonly(scores), n_groups=n_groups)
    sizes = np.bincount(groups, minlength=n_groups + 1)[1:]
    assert sizes.sum() == n
    assert sizes.min() >= 1
    assert sizes.max() - sizes.min() <= 1
    assert set(groups) == set(range(1, n_groups + 1))
    # every score of group g is at most every score of group g + 1
    for g in range(1, n_groups):
        assert scores[groups == g].max() <= scores[groups == g + 1].min()


def test_groups_break_ties_by_index():
    assert influence_groups([1.0, 1.0, 1.0, 1.0], n_groups=2).tolist() == [1, 1, 2, 2]


@pytest.mark.parametrize("alpha", [1e-3, 0.1])
def test_leave_group_out_equals_a_brute_force_refit(rng, alpha):
    K, Y = _problem(rng, n=43)
    scores = rng.standard_normal(43)
    result = complexity_by_group(K, Y, scores, alpha=alpha, n_groups=10)
    norm = _norm(K, Y, alpha)
    for g in range(1, 11):
        rest = result.groups != g
        refit = _norm(K[np.ix_(rest, rest)], Y[rest], alpha)
        assert result.leave_out_change[g - 1] == pytest.approx(
            (refit - norm) / norm, rel=_tolerance(K, alpha), abs=_tolerance(K, alpha)
        )
        share = sum(result.contributions[i] for i in np.flatnonzero(~rest)) / norm
        assert result.share[g - 1] == pytest.approx(share, rel=1e-12, abs=1e-12)
        assert result.mean_score[g - 1] == pytest.approx(scores[~rest].mean(), rel=1e-12)
    assert result.share.sum() == pytest.approx(1.0, rel=1e-10)
    assert result.norm == pytest.approx(norm, rel=_tolerance(K, alpha))
    np.testing.assert_array_equal(result.groups, influence_groups(scores, n_groups=10))


def test_a_single_group_leaves_nothing():
    """Leaving every point out leaves f = 0: the relative change is −1."""
    K = np.array([[2.0, 0.5], [0.5, 1.0]])
    result = complexity_by_group(K, [1.0, -1.0], [0.1, 0.2], alpha=0.5, n_groups=1)
    assert result.leave_out_change.tolist() == [-1.0]
    assert result.share == pytest.approx([1.0])


def test_bad_input_is_refused_with_the_parameter_named(rng):
    K, Y = _problem(rng, n=6)
    with pytest.raises(ValueError, match="n_groups=7 exceeds the 6 scores"):
        influence_groups(np.zeros(6), n_groups=7)
    with pytest.raises(ValueError, match="scores must be a 1-d vector"):
        influence_groups(np.zeros((6, 2)))
    with pytest.raises(ValueError, match="scores must hold one score per row of K"):
        complexity_by_group(K, Y, np.zeros(5))
    with pytest.raises(ValueError, match="Y must have shape"):
        rkhs_contributions(K, Y[:5])
    with pytest.raises(ValueError, match="K must be a square"):
        rkhs_contributions(K[:5], Y)
    with pytest.raises(ValueError, match="alpha"):
        rkhs_contributions(K, Y, alpha=0.0)
    with pytest.raises(NumericalCheckError, match="not symmetric") as info:
        rkhs_contributions(K + np.triu(np.ones_like(K)), Y)
    assert info.value.check == "symmetry"
    with pytest.raises(NumericalCheckError, match="not positive definite") as info:
        rkhs_contributions(-np.eye(6), Y, alpha=0.5)
    assert info.value.check == "positive_definite"
