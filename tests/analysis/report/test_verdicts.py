"""Tests for the paired statistics the verdicts rest on."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sklearn_attnkernel.analysis.report.verdicts import (
    NO_INTERVAL,
    difference_verdict,
    per_seed_slopes,
    ratio_verdict,
    slope_verdict,
)


@pytest.mark.parametrize(
    ("ratio", "low", "high", "verdict"),
    [
        (1.71, 1.42, 2.12, "gap"),  # the PGD ε = 0.3 example: CI excludes 1
        (1.05, 0.98, 1.3, "no gap"),
        (0.5, 0.3, 0.9, "opposite"),
        (1.0, 1.0, 1.0, "no gap"),  # a CI touching 1 does not exclude it
        (math.inf, math.nan, math.nan, "unbounded"),
        (math.nan, math.nan, math.nan, "undefined"),
        (3.0, math.nan, math.nan, "gap" + NO_INTERVAL),
        (0.8, math.nan, math.nan, "opposite" + NO_INTERVAL),
    ],
)
def test_ratio_verdict(ratio, low, high, verdict):
    assert ratio_verdict(ratio, low, high) == verdict


@pytest.mark.parametrize(
    ("differences", "verdict"),
    [
        ([0.30, 0.35, 0.32], "raised"),
        ([-0.30, -0.35, -0.32], "lowered"),
        ([0.1, -0.1, 0.05], "no clear change"),
        ([0.2], "raised" + NO_INTERVAL),
        ([], "not measured"),
    ],
)
def test_difference_verdict_uses_the_t_interval_of_the_paired_differences(differences, verdict):
    mean, half, n, found = difference_verdict(differences)
    assert found == verdict
    assert n == len(differences)
    if n >= 2:  # the interval is scipy's t-interval of the differences
        low, high = stats.t.interval(
            0.95, n - 1, loc=np.mean(differences), scale=stats.sem(differences)
        )
        assert mean - half == pytest.approx(low, rel=1e-12)
        assert mean + half == pytest.approx(high, rel=1e-12)


def test_per_seed_slopes_match_scipy_linregress(rng):
    widths = np.array([16, 64, 256, 1024])
    rows, expected = [], []
    for seed in range(3):
        values = 10 ** (-0.4 * np.log10(widths) + rng.normal(0, 0.05, widths.size))
        pairs = zip(widths, values, strict=True)
        rows += [{"seed": seed, "width": w, "value": v} for w, v in pairs]
        expected.append(stats.linregress(np.log10(widths), np.log10(values)).slope)
    frame = pd.DataFrame(rows).sample(frac=1, random_state=0)  # order must not matter
    np.testing.assert_allclose(per_seed_slopes(frame), expected, rtol=1e-10)


def test_per_seed_slopes_skip_seeds_with_one_width_or_nonpositive_values():
    frame = pd.DataFrame(
        {"seed": [0, 0, 1, 1], "width": [16, 64, 16, 16], "value": [1.0, 0.0, 1.0, 2.0]}
    )
    assert per_seed_slopes(frame).size == 0


def test_slope_verdict_words():
    assert slope_verdict([-0.5, -0.45, -0.55])[3] == "falls"
    assert slope_verdict([0.5, 0.45, 0.55])[3] == "rises"
    assert slope_verdict([0.5, -0.45, 0.05])[3] == "no clear trend"
