"""Malleability metrics comparing influence scores before and after a perturbation (Def 3.4).

numpy/scipy only: this module must not import torch.

All three metrics take two vectors of per-training-point influence scores, ``before`` and
``after`` (e.g. from :func:`~sklearn_attnkernel.loo_influence` on the clean and on the
perturbed training set), and use the top-k set ``T`` with ``k = ⌈top_fraction · n⌉``
(arXiv 2603.13085, Def 3.4).
"""

import logging
import math
import warnings
from numbers import Real

import numpy as np
from scipy.stats import spearmanr
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_array

logger = logging.getLogger(__name__)

__all__ = ["influence_flip_rate", "influence_rank_correlation", "top_k_stability"]


def check_pair(before, after, min_samples=1):
    arrays = []
    for name, value in (("before", before), ("after", after)):
        array = check_array(
            value,
            dtype=np.float64,
            ensure_2d=False,
            allow_nd=True,
            input_name=name,
        )
        if array.ndim != 1:
            raise ValueError(
                f"{name} must be a 1-d vector of influence scores, one per training point; got "
                f"shape {array.shape}. Average over test points first (reduce='mean')."
            )
        if array.shape[0] < min_samples:
            raise ValueError(
                f"{name} has {array.shape[0]} score(s) but a minimum of {min_samples} is required."
            )
        arrays.append(array)
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(
            f"before and after must score the same training points; got lengths "
            f"{arrays[0].shape[0]} and {arrays[1].shape[0]}."
        )
    return arrays


def _top_k_count(top_fraction, n):
    """``k = ⌈top_fraction · n⌉``, at least 1.

    The product is rounded to 10 decimals first so that binary round-off does not add one
    (``0.1 · 30`` is ``3.0000000000000004`` in floating point).
    """
    return max(1, math.ceil(round(top_fraction * n, 10)))


def _top_k(scores, k):
    """Indices of the ``k`` largest scores; ties go to the lower index (stable sort)."""
    return np.argsort(-scores, kind="stable")[:k]


def top_positive(before, top_fraction):
    k = _top_k_count(top_fraction, before.shape[0])
    top = _top_k(before, k)
    positive = top[before[top] > 0]
    if positive.shape[0] < k:
        logger.debug(
            "only %d of the top k=%d influence scores are positive; using those",
            positive.shape[0],
            k,
        )
    return positive


_PAIR_CONSTRAINTS = {"before": ["array-like"], "after": ["array-like"]}
_TOP_FRACTION = {"top_fraction": [Interval(Real, 0, 1, closed="right")]}


@validate_params({**_PAIR_CONSTRAINTS, **_TOP_FRACTION}, prefer_skip_nested_validation=True)
def influence_flip_rate(before, after, top_fraction=0.1):
    """Fraction of the most helpful training points whose influence changes sign.

    ``T`` is the set of the ``k = ⌈top_fraction · n⌉`` highest *positive* scores of ``before``;
    the flip rate is the fraction of ``i ∈ T`` with ``sign(after_i) ≠ sign(before_i)``
    (arXiv 2603.13085, Def 3.4).

    Parameters
    ----------
    before : array-like of shape (n_samples,)
        Influence scores on the clean training set.
    after : array-like of shape (n_samples,)
        Influence scores of the same points after the perturbation.
    top_fraction : float, default=0.1
        Fraction of the points in ``T``, in ``(0, 1]``.

    Returns
    -------
    flip_rate : float
        In ``[0, 1]``; NaN when no score of ``before`` is positive.

    Warns
    -----
    UndefinedMetricWarning
        When no score of ``before`` is positive: ``T`` is empty and the rate undefined (NaN
        is returned rather than 0, which would read as "perfectly stable").

    See Also
    --------
    top_k_stability : Overlap of the top-k sets before and after.
    influence_rank_correlation : Spearman's ρ between all scores.

    Notes
    -----
    Since every ``before_i`` in ``T`` is positive, a flip means ``after_i ≤ 0``: a score that
    drops to exactly zero counts as a change. When fewer than ``k`` of the top-k scores are
    positive, ``T`` holds only the positive ones and the rate is over ``|T| < k`` points.
    Ties at the k-th place go to the lower index.

    Examples
    --------
    >>> from sklearn_attnkernel import influence_flip_rate
    >>> before = [5.0, 4.0, 3.0, 2.0, -1.0]
    >>> after = [1.0, -2.0, 0.5, 7.0, 3.0]
    >>> influence_flip_rate(before, after, top_fraction=0.4)  # T = {0, 1}: one flips
    0.5
    """
    before, after = check_pair(before, after)
    top = top_positive(before, top_fraction)
    if top.shape[0] == 0:
        warnings.warn(
            "influence_flip_rate is undefined when no score of `before` is positive (the top-k "
            "set of helpful points is empty); returning NaN.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return float("nan")
    return float(np.mean(np.sign(after[top]) != np.sign(before[top])))


@validate_params(_PAIR_CONSTRAINTS, prefer_skip_nested_validation=True)
def influence_rank_correlation(before, after):
    """Compute Spearman's rank correlation ρ between influence scores before and after.

    Computed over all training points with :func:`scipy.stats.spearmanr` (average ranks for
    ties).

    Parameters
    ----------
    before : array-like of shape (n_samples,)
        Influence scores on the clean training set, ``n_samples ≥ 2``.
    after : array-like of shape (n_samples,)
        Influence scores of the same points after the perturbation.

    Returns
    -------
    rho : float
        In ``[-1, 1]``; NaN, with scipy's ``ConstantInputWarning``, when either vector is
        constant (the correlation is undefined).

    See Also
    --------
    influence_flip_rate : Sign changes among the most helpful points.

    Examples
    --------
    >>> from sklearn_attnkernel import influence_rank_correlation
    >>> influence_rank_correlation([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 40.0, 30.0])
    0.8
    """
    before, after = check_pair(before, after, min_samples=2)
    return float(spearmanr(before, after).statistic)


@validate_params({**_PAIR_CONSTRAINTS, **_TOP_FRACTION}, prefer_skip_nested_validation=True)
def top_k_stability(before, after, top_fraction=0.1):
    """Overlap of the top-k influence sets before and after, ``|T ∩ T'| / k``.

    ``T`` and ``T'`` are the ``k = ⌈top_fraction · n⌉`` highest scores of ``before`` and of
    ``after``.

    Parameters
    ----------
    before : array-like of shape (n_samples,)
        Influence scores on the clean training set.
    after : array-like of shape (n_samples,)
        Influence scores of the same points after the perturbation.
    top_fraction : float, default=0.1
        Fraction of the points in each set, in ``(0, 1]``.

    Returns
    -------
    stability : float
        In ``[0, 1]``; 1 when the top-k sets coincide.

    See Also
    --------
    influence_flip_rate : Sign changes among the most helpful points.

    Notes
    -----
    Unlike :func:`influence_flip_rate`, ``T`` is not restricted to positive scores, so both
    sets always hold exactly ``k`` points and the ratio is always defined; the two definitions
    agree whenever at least ``k`` scores are positive, the usual case. Ties at the k-th place
    go to the lower index.

    Examples
    --------
    >>> from sklearn_attnkernel import top_k_stability
    >>> before = [5.0, 4.0, 3.0, 2.0, 1.0]
    >>> after = [5.0, 0.0, 0.0, 9.0, 0.0]
    >>> top_k_stability(before, after, top_fraction=0.4)  # T = {0, 1}, T' = {3, 0}
    0.5
    """
    before, after = check_pair(before, after)
    k = _top_k_count(top_fraction, before.shape[0])
    overlap = np.intersect1d(_top_k(before, k), _top_k(after, k)).shape[0]
    return overlap / k
