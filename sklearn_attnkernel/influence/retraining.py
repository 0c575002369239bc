"""Ground truth for influence scores: retrain without the points and measure (arXiv 2603.13085).

An influence score claims how much the test loss would change if a training point were removed.
:func:`retraining_effects` measures it: it retrains a clone of the estimator (same parameters,
so the same seed when ``random_state`` is an int) without each of a set of training points
(``mode="loo"``), or on random halves of the training set (``mode="lds"``), and records the
test loss of each retrained model. :func:`retraining_agreement` then scores any method's
influence against these measurements:

- ``"loo"``: Spearman's ρ between the scores of the removed points and their actual effects
  ``L(θ_{−i}) − L(θ)`` (both positive = helpful);
- ``"lds"``: the linear datamodeling score of Park et al. (TRAK, 2023), Spearman's ρ over the
  subsets ``S`` between the scores' additive prediction ``Σ_{i∈S} I_i`` (the more helpful points a
  subset holds, the lower its loss) and the negated actual test loss ``−L(θ_S)``.

Both come with a percentile-bootstrap confidence interval over the points or subsets
(:func:`scipy.stats.bootstrap`, paired). The retrains run in parallel with :mod:`joblib`. No
library retrains an arbitrary scikit-learn estimator for this, so the loop is written here.

numpy/scipy/sklearn only at import: the networks (and torch) are reached through the estimator.
"""

import logging
from collections import namedtuple
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from scipy import stats
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

logger = logging.getLogger(__name__)

__all__ = ["RetrainingEffects", "network_loss", "retraining_agreement", "retraining_effects"]

#: Result of :func:`retraining_agreement`: the rank correlation and its confidence interval.
Agreement = namedtuple("Agreement", ["statistic", "low", "high"])


def network_loss(estimator, X, y):
    """Mean training criterion of a fitted network (or pipeline ending in one) on ``(X, y)``.

    The loss the network was trained with, evaluated on its float64 outputs: cross-entropy for
    several classes, the squared error on ±1 targets (``binary_loss="mse"``) or the logistic loss
    (``binary_loss="cross_entropy"``) for two, the squared error averaged over the outputs for a
    regressor. The same loss the dattri methods of
    :func:`~sklearn_attnkernel.influence.estimators.influence_scores` attribute.

    Parameters
    ----------
    estimator : estimator instance
        A fitted :class:`~sklearn_attnkernel.TwoLayerReLUClassifier` or
        :class:`~sklearn_attnkernel.TwoLayerReLURegressor`, or a pipeline ending in one.
    X : array-like of shape (n_samples, n_features)
        Inputs, in the estimator's input space.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Labels or targets.

    Returns
    -------
    loss : float
        The mean loss over the rows.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_attnkernel import TwoLayerReLUClassifier
    >>> from sklearn_attnkernel.influence.retraining import network_loss
    >>> X, y = load_iris(return_X_y=True)
    >>> model = TwoLayerReLUClassifier(width=16, max_epochs=1, device="cpu", random_state=0)
    >>> bool(network_loss(model.fit(X, y), X, y) > 0.0)
    True
    """
    network = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    Y = network.encode_targets(y)
    if not hasattr(network, "classes_"):
        out = np.asarray(estimator.predict(X), dtype=np.float64).reshape(Y.shape)
        return float(np.mean((out - Y) ** 2))
    out = np.asarray(estimator.decision_function(X), dtype=np.float64).reshape(Y.shape)
    if Y.shape[1] > 1:
        return float(np.mean(logsumexp(out, axis=1) - out[np.arange(len(Y)), Y.argmax(axis=1)]))
    if network.binary_loss == "cross_entropy":
        return float(np.mean(np.logaddexp(0.0, -Y[:, 0] * out[:, 0])))
    return float(np.mean((out - Y) ** 2))


@dataclass(frozen=True)
class RetrainingEffects:
    """Measured test losses of an estimator retrained on changed training sets.

    Attributes
    ----------
    mode : {"loo", "lds"}
        What was removed: one point per retrain, or half of the training set.
    base_loss : float
        Test loss of the estimator trained on the whole training set.
    indices : ndarray of shape (n_retrains,) or None
        ``"loo"``: the training row removed in each retrain.
    subsets : ndarray of shape (n_retrains, n_train), dtype bool, or None
        ``"lds"``: the training rows kept in each retrain.
    losses : ndarray of shape (n_retrains,)
        Test loss of each retrained estimator.
    effects : ndarray of shape (n_retrains,)
        ``"loo"``: ``losses − base_loss``, the actual effect of removing each point (positive =
        helpful); ``"lds"``: ``base_loss − losses`` (positive = the subset does better than
        the whole set).
    """

    mode: str
    base_loss: float
    indices: np.ndarray | None
    subsets: np.ndarray | None
    losses: np.ndarray
    effects: np.ndarray


def _fit_loss(estimator, X, y, X_test, y_test, loss):
    model = clone(estimator).fit(X, y)
    return float(loss(model, X_test, y_test))


def _retrain_sets(mode, n_train, n_retrains, subset_fraction, rng):
    """``(indices, subsets)``: the rows removed (LOO) or kept (LDS) in each retrain."""
    if mode == "loo":
        size = min(n_retrains, n_train)
        return np.sort(rng.choice(n_train, size=size, replace=False)), None
    keep = max(1, round(subset_fraction * n_train))
    subsets = np.zeros((n_retrains, n_train), dtype=bool)
    for row in subsets:
        row[rng.choice(n_train, size=keep, replace=False)] = True
    return None, subsets


def retraining_effects(
    estimator,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    mode="loo",
    n_retrains=50,
    subset_fraction=0.5,
    loss=None,
    n_jobs=None,
    random_state=None,
):
    """Retrain without training points and measure the change in test loss.

    Parameters
    ----------
    estimator : estimator instance
        The estimator to retrain (fitted or not: clones are trained). With an int
        ``random_state`` every retrain uses the same seed.
    X_train : array-like of shape (n_train, n_features)
        Training inputs.
    y_train : array-like of shape (n_train,) or (n_train, n_outputs)
        Training labels or targets.
    X_test : array-like of shape (n_test, n_features)
        Test inputs.
    y_test : array-like of shape (n_test,) or (n_test, n_outputs)
        Test labels or targets.
    mode : {"loo", "lds"}, default="loo"
        ``"loo"``: remove one training point per retrain (brute-force leave-one-out);
        ``"lds"``: train on a random subset of ``subset_fraction`` of the rows per retrain.
    n_retrains : int, default=50
        Number of retrains: the number of points removed (a random choice of them, all rows
        when there are fewer) or of subsets.
    subset_fraction : float, default=0.5
        Share of the training rows each ``"lds"`` subset keeps, in ``(0, 1)``.
    loss : callable or None, default=None
        ``loss(fitted_estimator, X_test, y_test) -> float``. ``None``: :func:`network_loss`,
        the network's own training criterion (the loss the dattri methods attribute); for the
        exact kernel influence on a kernel ridge model pass the matching squared error.
    n_jobs : int or None, default=None
        Retrains run in parallel with :class:`joblib.Parallel` (``None``: one at a time, or
        the active joblib backend's setting).
    random_state : int, RandomState instance or None, default=None
        Draws the removed points or the subsets.

    Returns
    -------
    effects : RetrainingEffects
        The removed points or kept subsets, and the measured losses and effects.

    See Also
    --------
    retraining_agreement : Rank correlation of influence scores with these effects.

    Notes
    -----
    Cost: ``n_retrains + 1`` trainings. Removing a row also changes how the remaining rows are
    batched and shuffled, so even with the same seed a retrain differs from the base training
    by more than the removed point; that noise is part of what a method is measured against.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.kernel_ridge import KernelRidge
    >>> from sklearn.metrics import mean_squared_error
    >>> from sklearn_attnkernel.influence.retraining import retraining_effects
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5])
    >>> mse = lambda model, X, y: mean_squared_error(y, model.predict(X))
    >>> result = retraining_effects(KernelRidge(alpha=0.1), X[:15], y[:15], X[15:], y[15:],
    ...                             n_retrains=5, loss=mse, random_state=0)
    >>> result.effects.shape
    (5,)
    """
    X_train, X_test = np.asarray(X_train), np.asarray(X_test)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    loss = network_loss if loss is None else loss
    rng = check_random_state(random_state)
    n_train = X_train.shape[0]
    indices, subsets = _retrain_sets(mode, n_train, n_retrains, subset_fraction, rng)
    if mode == "loo":
        keeps = [np.delete(np.arange(n_train), i) for i in indices]
    else:
        keeps = [np.flatnonzero(row) for row in subsets]
    jobs = [(X_train, y_train)] + [
        (_safe_indexing(X_train, keep), _safe_indexing(y_train, keep)) for keep in keeps
    ]
    values = Parallel(n_jobs=n_jobs)(
        delayed(_fit_loss)(estimator, X, y, X_test, y_test, loss) for X, y in jobs
    )
    base, losses = values[0], np.asarray(values[1:], dtype=np.float64)
    effects = losses - base if mode == "loo" else base - losses
    logger.info(
        "retraining_effects: %s, %d retrains of %d training points, base test loss %.4g",
        mode,
        len(losses),
        n_train,
        base,
    )
    return RetrainingEffects(mode, base, indices, subsets, losses, effects)


retraining_effects = validate_params(
    {
        "estimator": "no_validation",
        "X_train": ["array-like"],
        "y_train": ["array-like"],
        "X_test": ["array-like"],
        "y_test": ["array-like"],
        "mode": [StrOptions({"loo", "lds"})],
        "n_retrains": [Interval(Integral, 1, None, closed="left")],
        "subset_fraction": [Interval(Real, 0, 1, closed="neither")],
        "loss": [callable, None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)(retraining_effects)


def retraining_agreement(
    effects, scores, *, confidence_level=0.95, n_resamples=999, random_state=None
):
    """Rank correlation of influence scores with the measured retraining effects, with a CI.

    Parameters
    ----------
    effects : RetrainingEffects
        From :func:`retraining_effects`.
    scores : array-like of shape (n_train,)
        Influence of every training point on the same test set (positive = helpful), e.g.
        :func:`~sklearn_attnkernel.influence.estimators.influence_scores` with any ``method``.
    confidence_level : float, default=0.95
        Level of the percentile-bootstrap interval.
    n_resamples : int, default=999
        Bootstrap resamples (of the removed points or the subsets, paired).
    random_state : int, RandomState instance or None, default=None
        Seeds the bootstrap.

    Returns
    -------
    agreement : Agreement
        ``(statistic, low, high)``: Spearman's ρ (``"loo"``) or the linear datamodeling score
        (``"lds"``), and its interval; 1 means the scores rank the actual effects perfectly.
        NaN where the correlation is undefined (constant scores or effects).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel.influence.retraining import (
    ...     RetrainingEffects, retraining_agreement)
    >>> losses = np.array([1.1, 1.3, 0.9, 1.2])
    >>> measured = RetrainingEffects("loo", 1.0, np.arange(4), None, losses, losses - 1.0)
    >>> retraining_agreement(measured, [0.0, 2.0, -1.0, 1.0], random_state=0).statistic
    1.0
    """
    scores = np.asarray(scores, dtype=np.float64)
    n_train = effects.subsets.shape[1] if effects.mode == "lds" else None
    if scores.ndim != 1 or (n_train is not None and scores.shape[0] != n_train):
        raise ValueError(
            f"scores must hold one influence per training point, shape ({n_train or 'n_train'},)"
            f"; got shape {scores.shape}. Average over the test points (reduce='mean')."
        )
    if effects.mode == "loo":
        predicted = scores[effects.indices]
    else:
        predicted = effects.subsets.astype(np.float64) @ scores
    actual = effects.effects

    def spearman(a, b):  # NaN, without a warning, for a resample with a constant side
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            return float("nan")
        return stats.spearmanr(a, b).statistic

    if np.ptp(predicted) == 0 or np.ptp(actual) == 0:  # no ranking to correlate
        return Agreement(float("nan"), float("nan"), float("nan"))
    rho = float(spearman(predicted, actual))
    if len(actual) < 3:
        return Agreement(rho, float("nan"), float("nan"))
    interval = stats.bootstrap(
        (predicted, actual),
        spearman,
        paired=True,
        vectorized=False,
        confidence_level=confidence_level,
        n_resamples=n_resamples,
        method="percentile",
        random_state=check_random_state(random_state),
    ).confidence_interval
    return Agreement(rho, float(interval.low), float(interval.high))
