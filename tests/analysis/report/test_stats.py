"""Tests for the report's statistics: the Student-t interval and the grouped summary."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sklearn_attnkernel.analysis.report import mean_ci, summarize


@pytest.mark.parametrize("values", [[0.1, 0.4, 0.25], [1.0, 2.0], [3.0, 3.5, 2.0, 8.0, 1.0]])
def test_mean_ci_is_the_student_t_interval(values):
    mean, half, n = mean_ci(values)
    x = np.asarray(values)
    low, high = stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=stats.sem(x))
    assert n == x.size
    assert mean == pytest.approx(x.mean())
    assert half == pytest.approx((high - low) / 2)
    # by hand: t quantile × s / √n
    t = stats.t.ppf(0.975, x.size - 1)
    assert half == pytest.approx(t * x.std(ddof=1) / math.sqrt(x.size))


def test_mean_ci_edge_cases():
    assert mean_ci([2.0]) == (2.0, pytest.approx(math.nan, nan_ok=True), 1)
    assert math.isnan(mean_ci([2.0])[1])
    assert mean_ci([4.0, 4.0]) == (4.0, 0.0, 2)
    assert mean_ci([1.0, float("nan"), 3.0])[2] == 2
    assert math.isnan(mean_ci([])[0])


def test_summarize_groups_and_keeps_missing_dimensions():
    frame = pd.DataFrame(
        {
            "arch": ["a", "a", "a", "b", None],
            "value": [1.0, 2.0, 3.0, 10.0, 7.0],
        }
    )
    summary = summarize(frame, ["arch"])
    assert summary["n"].tolist() == [3, 1, 1]
    assert summary["mean"].tolist()[:2] == [2.0, 10.0]
    assert math.isnan(summary["ci95"].iloc[1])
    assert summary["low"].iloc[0] < 2.0 < summary["high"].iloc[0]
