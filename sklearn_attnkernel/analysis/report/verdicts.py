"""Verdicts from paired statistics: what a ratio, a difference or a slope over seeds says.

Every verdict of the report rests on one of three statistics computed over the seeds of a
run, each pairing the two quantities it compares seed by seed (same data, same seed):

- :func:`ratio_verdict`: a ratio of means with its paired bootstrap CI
  (:func:`~sklearn_attnkernel.analysis.report.ratio_ci`): a *gap* when the CI lies above 1;
- :func:`difference_verdict`: the mean of per-seed differences with its Student-t CI;
- :func:`slope_verdict` on :func:`per_seed_slopes`: the per-seed least-squares slope of a
  log-distance on log-width, with its Student-t CI.

Overlapping unpaired intervals are not a test, so no verdict here compares two intervals. With
one seed there is no interval: the verdict then says so and reads the sign as indicative.
"""

import math

import numpy as np

from .stats import mean_ci

__all__ = [
    "NO_INTERVAL",
    "difference_verdict",
    "per_seed_slopes",
    "ratio_verdict",
    "slope_verdict",
]

#: Appended to a verdict read from one seed: there is no interval to test.
NO_INTERVAL = " (one seed: no CI, indicative)"


def ratio_verdict(ratio, low, high):
    """'gap', 'opposite' or 'no gap' from a ratio and its CI (1 = no difference).

    Parameters
    ----------
    ratio : float
        The ratio of means (``inf`` when the denominator's mean is 0).
    low, high : float
        Its confidence interval; NaN when there is none (one seed).

    Returns
    -------
    verdict : str
        ``"gap"`` (the CI lies above 1), ``"opposite"`` (below 1), ``"no gap"`` (it contains
        1), ``"unbounded"`` (the denominator is 0), ``"undefined"`` (both means 0), or the sign
        of ``ratio − 1`` followed by :data:`NO_INTERVAL` without a CI.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.report.verdicts import ratio_verdict
    >>> ratio_verdict(1.71, 1.42, 2.12), ratio_verdict(1.2, 0.8, 1.9)
    ('gap', 'no gap')
    """
    if math.isnan(ratio):
        return "undefined"
    if math.isinf(ratio):
        return "unbounded"
    if math.isnan(low) or math.isnan(high):
        return ("gap" if ratio > 1 else "opposite" if ratio < 1 else "no gap") + NO_INTERVAL
    if low > 1:
        return "gap"
    if high < 1:
        return "opposite"
    return "no gap"


def difference_verdict(differences, up="raised", down="lowered", flat="no clear change"):
    """The mean of per-seed differences, its Student-t CI and the word for its sign.

    Parameters
    ----------
    differences : array-like of float
        One paired difference per seed (``after − before``); NaNs are dropped.
    up, down, flat : str
        Words for a CI above 0, below 0, and containing 0.

    Returns
    -------
    mean, half_width : float
        As :func:`~sklearn_attnkernel.analysis.report.mean_ci` (NaN half-width with one seed).
    n : int
        Seeds used.
    verdict : str
        ``up``, ``down`` or ``flat``; with one seed the sign's word and :data:`NO_INTERVAL`.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.report.verdicts import difference_verdict
    >>> difference_verdict([0.30, 0.35, 0.32])[3], difference_verdict([0.1, -0.1, 0.05])[3]
    ('raised', 'no clear change')
    """
    mean, half, n = mean_ci(differences)
    if n == 0:
        return mean, half, n, "not measured"
    if n < 2 or math.isnan(half):
        return mean, half, n, (up if mean > 0 else down if mean < 0 else flat) + NO_INTERVAL
    if mean - half > 0:
        return mean, half, n, up
    if mean + half < 0:
        return mean, half, n, down
    return mean, half, n, flat


def per_seed_slopes(frame, x="width", y="value"):
    """Least-squares slope of ``log10 y`` on ``log10 x`` for each seed of ``frame``.

    Written by hand (a two-line :func:`numpy.polyfit` per seed): no library gives per-group
    log-log slopes of a tidy frame. Seeds with fewer than two distinct ``x`` or a
    non-positive ``y`` are left out.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``seed``, ``x`` and ``y``.
    x, y : str
        Columns of the abscissa (e.g. width) and the ordinate (e.g. a distance).

    Returns
    -------
    slopes : numpy.ndarray
        One slope per usable seed, in seed order.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_attnkernel.analysis.report.verdicts import per_seed_slopes
    >>> frame = pd.DataFrame({"seed": [0, 0, 1, 1], "width": [10, 1000, 10, 1000],
    ...                       "value": [1.0, 0.1, 2.0, 0.02]})
    >>> per_seed_slopes(frame).round(6).tolist()
    [-0.5, -1.0]
    """
    slopes = []
    for _, group in frame.groupby("seed", sort=True):
        xs = group[x].to_numpy(dtype=float)
        ys = group[y].to_numpy(dtype=float)
        keep = (xs > 0) & (ys > 0) & np.isfinite(ys)
        if np.unique(xs[keep]).size < 2:
            continue
        slopes.append(np.polyfit(np.log10(xs[keep]), np.log10(ys[keep]), 1)[0])
    return np.asarray(slopes, dtype=float)


def slope_verdict(slopes):
    """'falls', 'rises' or 'no clear trend' from per-seed slopes (:func:`per_seed_slopes`).

    Returns the mean slope, the half-width of its Student-t CI over seeds, the number of seeds
    and the verdict, as :func:`difference_verdict`.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.report.verdicts import slope_verdict
    >>> slope_verdict([-0.5, -0.45, -0.55])[3]
    'falls'
    """
    return difference_verdict(slopes, up="rises", down="falls", flat="no clear trend")
