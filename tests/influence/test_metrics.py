"""Malleability metrics on hand-made vectors with known answers."""

import math

import numpy as np
import pytest
from scipy.stats import ConstantInputWarning
from sklearn.exceptions import UndefinedMetricWarning

from sklearn_attnkernel import influence_flip_rate, influence_rank_correlation, top_k_stability
from sklearn_attnkernel.influence.metrics import _top_k_count


def _read_only(values):
    array = np.array(values, dtype=float)
    array.flags.writeable = False
    return array


# --------------------------------------------------------------------------------------------
# flip rate


def test_flip_rate_hand_made():
    # n = 20, k = ⌈0.1 · 20⌉ = 2: T = {3, 7} (scores 9 and 8)
    before = np.zeros(20)
    before[[3, 7, 11]] = [9.0, 8.0, 7.0]
    after = np.ones(20)
    after[3] = -0.1  # flips
    assert influence_flip_rate(_read_only(before), _read_only(after)) == 0.5
    after[7] = 0.0  # dropping to zero counts as a change
    assert influence_flip_rate(before, after) == 1.0
    after[[3, 7]] = [2.0, 3.0]  # the others do not matter
    after[11] = -5.0
    assert influence_flip_rate(before, after) == 0.0


def test_flip_rate_uses_only_positive_scores():
    before = [3.0, -1.0, -2.0, -3.0]
    after = [-3.0, 1.0, 2.0, 3.0]
    # k = 2, but only one of the top two is positive: T = {0}, which flips
    assert influence_flip_rate(before, after, top_fraction=0.5) == 1.0
    # all negative scores flipping to positive would give 3/4 if they were counted
    assert influence_flip_rate(before, after, top_fraction=1.0) == 1.0


def test_flip_rate_without_positive_scores_is_nan_with_warning():
    with pytest.warns(UndefinedMetricWarning, match="no score of `before` is positive"):
        rate = influence_flip_rate([-1.0, 0.0, -2.0], [1.0, 1.0, 1.0], top_fraction=1.0)
    assert math.isnan(rate)


def test_flip_rate_against_a_brute_force_loop():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        before = rng.normal(size=n)
        after = before + rng.normal(scale=0.8, size=n)
        fraction = float(rng.uniform(0.05, 1.0))
        k = math.ceil(round(fraction * n, 10))
        ranked = sorted(range(n), key=lambda i: before[i], reverse=True)[:k]
        top = [i for i in ranked if before[i] > 0]
        if not top:
            continue
        expected = sum(after[i] <= 0 for i in top) / len(top)
        assert influence_flip_rate(before, after, top_fraction=fraction) == pytest.approx(expected)


# --------------------------------------------------------------------------------------------
# top-k stability


def test_top_k_stability_hand_made():
    before = np.arange(10.0)[::-1]  # top-3 = {0, 1, 2}
    after = before.copy()
    assert top_k_stability(_read_only(before), _read_only(after), top_fraction=0.3) == 1.0
    after[[1, 2]] = -1.0  # new top-3 = {0, 3, 4}
    assert top_k_stability(before, after, top_fraction=0.3) == pytest.approx(1 / 3)
    assert top_k_stability(before, -before, top_fraction=0.3) == 0.0
    # top_fraction = 1 always gives 1
    assert top_k_stability(before, -before, top_fraction=1.0) == 1.0


def test_top_k_stability_breaks_ties_by_index():
    # all scores tie: T = T' = the first k indices
    assert top_k_stability(np.ones(10), np.zeros(10), top_fraction=0.2) == 1.0


def test_top_k_stability_against_sets():
    rng = np.random.default_rng(1)
    before, after = rng.normal(size=(2, 40))
    k = 4
    expected = len(set(np.argsort(before)[-k:]) & set(np.argsort(after)[-k:])) / k
    assert top_k_stability(before, after, top_fraction=0.1) == expected


def test_k_is_a_ceiling_without_round_off():
    assert _top_k_count(0.1, 30) == 3  # 0.1 · 30 = 3.0000000000000004 in floating point
    assert _top_k_count(0.1, 31) == 4
    assert _top_k_count(0.1, 5) == 1
    assert _top_k_count(1e-9, 5) == 1
    assert _top_k_count(1.0, 7) == 7


# --------------------------------------------------------------------------------------------
# Spearman


def test_rank_correlation_hand_made():
    assert influence_rank_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert influence_rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # one adjacent swap among 4: ρ = 1 − 6 · 2 / (4 · 15) = 0.8
    assert influence_rank_correlation([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(0.8)
    # monotone transforms do not matter
    x = np.random.default_rng(2).normal(size=30)
    assert influence_rank_correlation(_read_only(x), _read_only(np.exp(3 * x))) == pytest.approx(
        1.0
    )


def test_rank_correlation_with_ties_uses_average_ranks():
    # ranks (1.5, 1.5, 3, 4) and (1, 2, 3, 4): Pearson correlation of the ranks
    ranks_a = np.array([1.5, 1.5, 3.0, 4.0])
    ranks_b = np.arange(1.0, 5.0)
    expected = np.corrcoef(ranks_a, ranks_b)[0, 1]
    assert influence_rank_correlation([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(expected)


def test_rank_correlation_constant_input_is_nan():
    with pytest.warns(ConstantInputWarning):
        rho = influence_rank_correlation([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])
    assert math.isnan(rho)


# --------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("metric", [influence_flip_rate, top_k_stability])
@pytest.mark.parametrize("top_fraction", [0.0, -0.1, 1.5, np.nan])
def test_top_fraction_outside_unit_interval_is_rejected(metric, top_fraction):
    with pytest.raises(ValueError, match="'top_fraction'"):
        metric([1.0, 2.0], [1.0, 2.0], top_fraction=top_fraction)


@pytest.mark.parametrize(
    "metric", [influence_flip_rate, top_k_stability, influence_rank_correlation]
)
@pytest.mark.parametrize(
    ("before", "after", "match"),
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0], "lengths 3 and 2"),
        ([1.0, np.nan], [1.0, 2.0], "NaN"),
        ([1.0, 2.0], [1.0, np.inf], "infinity"),
        ([[1.0, 2.0]], [[1.0, 2.0]], "1-d vector"),
        ([], [], "0 sample"),
    ],
)
def test_bad_vectors_are_rejected(metric, before, after, match):
    with pytest.raises(ValueError, match=match):
        metric(before, after)


def test_rank_correlation_needs_two_points():
    with pytest.raises(ValueError, match="minimum of 2"):
        influence_rank_correlation([1.0], [1.0])
