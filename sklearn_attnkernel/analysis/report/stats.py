"""Statistics over seeds: mean and Student-t interval, grouped summaries, ratio of means."""

import math
import warnings

import numpy as np
import pandas as pd

__all__ = ["CONFIDENCE", "mean_ci", "ratio_ci", "summarize"]

#: Confidence level of every interval in the report.
CONFIDENCE = 0.95


def mean_ci(values, confidence=CONFIDENCE):
    """Mean and half-width of the two-sided Student-t confidence interval of the mean.

    Parameters
    ----------
    values : array-like of float
        One value per seed; NaNs are dropped.
    confidence : float, default=0.95
        Confidence level.

    Returns
    -------
    mean : float
        NaN when no value is left.
    half_width : float
        ``t_{(1+c)/2, n−1} · s / √n``; NaN with fewer than two values (no interval).
    n : int
        Number of values used.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.report import mean_ci
    >>> mean, half, n = mean_ci([1.0, 2.0, 3.0])
    >>> mean, round(half, 4), n
    (2.0, 2.4841, 3)
    >>> mean_ci([5.0])
    (5.0, nan, 1)
    """
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, 0
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, n
    sem = float(x.std(ddof=1) / math.sqrt(n))
    if sem == 0:
        return mean, 0.0, n
    low, _ = stats.t.interval(confidence, n - 1, loc=mean, scale=sem)
    return mean, float(mean - low), n


def summarize(results, by):
    """Aggregate tidy results over seeds: mean ± 95 % CI per group.

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy results (from :func:`load_results`).
    by : list of str
        Grouping columns (the dimensions to keep); missing values form their own group.

    Returns
    -------
    summary : pandas.DataFrame
        ``by`` columns, then ``mean``, ``ci95`` (half-width; NaN with one seed), ``n`` (seeds),
        ``low`` and ``high``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_attnkernel.analysis.report import summarize
    >>> frame = pd.DataFrame({"arch": ["a", "a", "b"], "value": [1.0, 3.0, 5.0]})
    >>> summarize(frame, ["arch"])[["arch", "mean", "n"]].values.tolist()
    [['a', 2.0, 2], ['b', 5.0, 1]]
    """
    columns = [*by, "mean", "ci95", "n", "low", "high"]
    if results.empty:
        return pd.DataFrame(columns=columns)
    out = []
    for keys, group in results.groupby(list(by), dropna=False, sort=True):
        mean, half, n = mean_ci(group["value"].to_numpy(dtype=np.float64))
        keys = keys if isinstance(keys, tuple) else (keys,)
        out.append([*keys, mean, half, n, mean - half, mean + half])
    return pd.DataFrame(out, columns=columns)


def _ratio_of_means(numerator, denominator, axis=-1):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.mean(numerator, axis=axis) / np.mean(denominator, axis=axis)


def _undefined_ratio(a, b):
    """The ratio and note when it or its interval is undefined; None when it is defined."""
    if a.size == 0:
        return math.nan, math.nan, math.nan, "no complete pair"
    num, den = float(a.mean()), float(b.mean())
    if den == 0 and num == 0:
        return math.nan, math.nan, math.nan, "both means are 0: ratio undefined"
    if den == 0:
        return (
            math.inf,
            math.nan,
            math.nan,
            "denominator is 0 in every pair: ratio unbounded, no interval",
        )
    if a.size < 2:
        return num / den, math.nan, math.nan, "one pair: no interval"
    return None


def ratio_ci(numerator, denominator, *, confidence=CONFIDENCE, n_resamples=9999, random_state=0):
    """Ratio of two means with a paired percentile-bootstrap confidence interval.

    The ratio is ``mean(numerator) / mean(denominator)`` over the pairs (e.g. the MLP-Attn
    and 2L-ReLU flip rates of the same seeds). Its interval comes from
    :func:`scipy.stats.bootstrap` with ``paired=True`` (seeds are resampled together, keeping
    each seed's two values side by side) and the percentile method, which stays defined with
    the handful of seeds a run has; with 3 seeds it is coarse, so read it as indicative.

    Parameters
    ----------
    numerator, denominator : array-like of shape (n_pairs,)
        Paired values; a pair with a NaN on either side is dropped.
    confidence : float, default=0.95
        Confidence level.
    n_resamples : int, default=9999
        Bootstrap resamples.
    random_state : int, default=0
        Seed of the resampling (:func:`numpy.random.default_rng`).

    Returns
    -------
    ratio : float
        ``inf`` when the denominator's mean is 0 and the numerator's is not; NaN when both are
        0 or no pair is left.
    low, high : float
        The interval; NaN with fewer than two pairs or a zero denominator mean. ``high`` is
        ``inf`` when some resamples have a zero denominator mean.
    note : str
        Empty, or why the ratio or its interval is undefined or unbounded.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.report import ratio_ci
    >>> ratio, low, high, note = ratio_ci([0.3, 0.2, 0.25], [0.05, 0.04, 0.03])
    >>> round(ratio, 2), bool(low <= ratio <= high), note
    (6.25, True, '')
    >>> ratio_ci([0.1, 0.2], [0.0, 0.0])[0], ratio_ci([0.1, 0.2], [0.0, 0.0])[3]
    (inf, 'denominator is 0 in every pair: ratio unbounded, no interval')
    """
    from scipy import stats

    a = np.asarray(numerator, dtype=np.float64).ravel()
    b = np.asarray(denominator, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(
            f"numerator and denominator must be paired (same length); got {a.size} and {b.size}."
        )
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    undefined = _undefined_ratio(a, b)
    if undefined is not None:
        return undefined
    ratio = float(a.mean()) / float(b.mean())
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            (a, b),
            _ratio_of_means,
            paired=True,
            vectorized=True,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method="percentile",
            random_state=np.random.default_rng(random_state),
        )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    note = ""
    if (b <= 0).any():
        note = "some denominators are <= 0: resampled means can be 0 and the bounds unbounded"
    return ratio, low, high, note
