"""Influence malleability as a scikit-learn scorer (arXiv 2603.13085, Def 3.4).

:class:`InfluenceMalleability` measures, on a fitted model and a held-out set, how much an attack
on the most helpful training points changes their influence: influence before
(:func:`~sklearn_attnkernel.influence.estimators.influence_scores`), attack
(:func:`~sklearn_attnkernel.attack_training_points`), influence after, then one of the
metrics of :mod:`~sklearn_attnkernel.influence.metrics`. It is a plain picklable callable with
the scorer signature ``scorer(estimator, X, y) -> float``, so it runs inside
:func:`~sklearn.model_selection.cross_validate` and
:class:`~sklearn.model_selection.GridSearchCV`.
"""

import inspect
import logging
import os
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted

from .._utils.input_space import check_input_space, with_fit_columns
from .._utils.vocabulary import ATTACKS
from .attribution_params import ATTRIBUTION_METHODS, check_method_params
from .estimators import influence_scores, split_network
from .health import ON_NEAR_CHANCE, check_training_skill
from .metrics import (
    influence_flip_rate,
    influence_rank_correlation,
    top_k_stability,
    top_positive,
)

logger = logging.getLogger(__name__)

__all__ = ["InfluenceMalleability"]


def _training_data(estimator):
    """The raw training data ``(X_fit_, y_fit_)`` recorded by the fitted estimator.

    Our networks record them; a pipeline must record its *raw* input too (the network inside it
    only sees transformed features, which cannot be attacked in the input space).
    """
    X = getattr(estimator, "X_fit_", None)
    y = getattr(estimator, "y_fit_", None)
    if X is None or y is None:
        raise ValueError(
            f"InfluenceMalleability needs the raw training data of the fitted "
            f"{type(estimator).__name__}, read from its X_fit_ and y_fit_ attributes, and they "
            "are missing. A plain sklearn Pipeline does not keep its input: build the model "
            "with make_two_layer_relu/make_mlp_attn, use a TwoLayerReLUClassifier directly, or "
            "call influence_scores and attack_training_points yourself with the training data."
        )
    return X, y


class InfluenceMalleability:
    """Scorer: how much attacking the most helpful training points changes their influence.

    Called as ``scorer(estimator, X, y)`` with a fitted model and a held-out set, it

    1. computes the influence of every training point on ``(X, y)``
       (:func:`~sklearn_attnkernel.influence.estimators.influence_scores`; the training data are
       the model's stored ``X_fit_``/``y_fit_``);
    2. takes the set ``T`` of the ``k = ⌈top_fraction · n⌉`` highest positive scores;
    3. perturbs those points with
       :func:`~sklearn_attnkernel.attack_training_points` (jointly, in the model's input
       space, to increase the trained model's loss on their own labels);
    4. recomputes the influence with the perturbed training set, with the same trained network
       (``refit=False``) or with a clone retrained on it (``refit=True``);
    5. returns the chosen metric between the scores before and after (arXiv 2603.13085, Def 3.4).

    Every metric is oriented so that **greater is better** (more stable influence), as
    scikit-learn expects of a scorer: see ``metric``.

    Parameters
    ----------
    metric : {"flip_rate", "spearman", "top_k"}, default="flip_rate"
        - ``"flip_rate"``: **minus** the flip rate
          (:func:`~sklearn_attnkernel.influence_flip_rate`), in ``[-1, 0]``, following
          scikit-learn's ``neg_*`` scorers: 0 means no point of ``T`` changed sign, ``-0.3``
          that 30 % did. Report ``-score`` as the flip rate.
        - ``"spearman"``: Spearman's ρ between all scores before and after
          (:func:`~sklearn_attnkernel.influence_rank_correlation`), in ``[-1, 1]``.
        - ``"top_k"``: overlap of the top-k sets before and after
          (:func:`~sklearn_attnkernel.top_k_stability`), in ``[0, 1]``.
    attack : {"pgd", "fgsm", "mim", "random"}, default="pgd"
        Attack on the points of ``T``. ``"random"`` applies a seeded random ``±ε`` sign
        perturbation to the same points: the null baseline a flip rate must be read against.
    epsilon : float, default=0.3
        Radius ``ε ≥ 0`` of the ℓ∞ ball, in the model's input space (pixels in ``[0, 1]``).
    steps : int, default=40
        Number of steps of the iterative attacks (``"pgd"``, ``"mim"``).
    step_size : float, default=0.01
        Step size of the iterative attacks *(ours; the paper does not give it)*.
    top_fraction : float, default=0.1
        Fraction of the training points in ``T``, in ``(0, 1]``.
    alpha : float, default=1e-3
        Ridge ``α > 0`` of the kernel ridge regression behind the influence.
    kernel : {"empirical", "infinite"}, default="empirical"
        Kernel of the influence: the trained network's empirical NTK or the infinite-width one;
        see :func:`~sklearn_attnkernel.influence.estimators.influence_scores`. For
        ``method="exact"`` only (like ``alpha``).
    clip : tuple of (float, float) or None, default=None
        Range every input coordinate must stay in during the attack, e.g. ``(0, 1)`` for
        pixels.
    refit : bool, default=False
        ``False``: the influence after the attack uses the same trained network on the
        perturbed training set (transductive steps such as attention re-fitted on it).
        ``True``: a clone of the estimator is retrained on the perturbed training set first
        (costs one training per call).
    n_test : int or None, default=None
        Use a random subset of this many held-out rows as the test set (all rows when ``None``
        or when there are fewer). Influence costs ``O(n_test · n_train)`` beyond the kernel.
    random_state : int, RandomState instance or None, default=None
        Seeds the ``n_test`` subset and the attack's randomness (PGD's random start, the random
        baseline). With an int every call uses the same draws.
    on_near_chance : {"warn", "raise", "ignore"}, default="warn"
        What to do when the fitted estimator is near chance on its own training set: its
        influence scores are then noise and the score means nothing. Near chance means a
        training accuracy at most 10 % of the way from the majority-class share to 1 (e.g.
        ≤ 0.55 for two balanced classes, ≤ 0.19 for ten), or a training R² ≤ 0.1 for a
        regressor (:func:`~sklearn_attnkernel.influence.health.training_skill`). ``"warn"``
        emits a :class:`~sklearn_attnkernel.influence.health.NearChanceWarning` giving the
        measured training score and the chance level and scores anyway; ``"raise"`` raises a
        :class:`~sklearn_attnkernel.influence.health.NearChanceError` (a ``ValueError``; in
        ``cross_validate`` or ``GridSearchCV`` it follows their ``error_score``); ``"ignore"``
        skips the check.
    backend : {"numpy", "dask"}, default="numpy"
        How both influence computations factorise the kernel system: in memory, or in blocks
        on the active Dask scheduler for a training split past one machine's memory; see
        :func:`~sklearn_attnkernel.influence.estimators.influence_scores`.
    chunk_size : int, default=None
        ``backend="dask"`` only: rows per block (``None``: 2048).
    spill_dir : str or path-like, default=None
        ``backend="dask"`` only: folder for the zarr stores of the kernels and their factors.
    method : {"exact", "trak", "ekfac", "datainf", "arnoldi", "tracin", "if-explicit"}, \
            default="exact"
        Influence method, before and after the attack: the exact NTK leave-one-out influence,
        or a practitioners' method run through dattri (the ``[audit]`` extra); see
        :func:`~sklearn_attnkernel.influence.estimators.influence_scores` and :ref:`audit`.
    method_params : dict or None, default=None
        Settings of a dattri ``method`` (projection dimension, damping, …), with the defaults
        listed in :func:`~sklearn_attnkernel.influence.estimators.influence_scores`; checked
        when the scorer is built.

    See Also
    --------
    sklearn_attnkernel.influence.estimators.influence_scores : The influence scores compared.
    sklearn_attnkernel.influence_flip_rate : The flip rate itself.

    Notes
    -----
    **Validation.** Parameters are checked when the scorer is constructed, so that a typo fails
    before a long cross-validation starts, and again at each call (attributes may have been set
    since); both raise :class:`ValueError` naming the parameter, the value and what is allowed.

    **Training data.** The scorer reads the raw training data from the fitted estimator's
    ``X_fit_`` and ``y_fit_``. Our networks record them, and so does the
    :class:`~sklearn_attnkernel.networks.NetworkPipeline` that :func:`make_two_layer_relu` and
    :func:`make_mlp_attn` return (a plain :class:`~sklearn.pipeline.Pipeline` does not: its last
    step only sees transformed features). In cross-validation they are the training fold,
    and ``(X, y)`` the held-out fold, so nothing leaks.

    **Undefined values.** When no training point has a positive influence, ``T`` is empty:
    nothing is attacked and the score is NaN, with an
    :class:`~sklearn.exceptions.UndefinedMetricWarning` (``GridSearchCV`` ranks NaN last).

    **Cost** per call: two influence computations (for ``method="exact"``: two kernels, two
    Cholesky factorisations of the ``n_train × n_train`` system; for the dattri methods see
    :ref:`audit`) and one attack of ``k`` points; plus one training when ``refit=True``. With
    ``ε = 0`` the perturbed set equals the clean one: the flip rate is 0, Spearman's ρ and the
    top-k overlap are 1 (with ``refit=True`` only if the estimator's own training is
    deterministic, i.e. it has an int ``random_state``).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_attnkernel import TwoLayerReLUClassifier
    >>> from sklearn_attnkernel.influence.scorer import InfluenceMalleability
    >>> X, y = load_iris(return_X_y=True)
    >>> model = TwoLayerReLUClassifier(width=32, max_epochs=2, device="cpu", random_state=0)
    >>> model = model.fit(X[::2], y[::2])
    >>> scorer = InfluenceMalleability(metric="top_k", epsilon=0.0, steps=2)
    >>> scorer(model, X[1::2], y[1::2])
    1.0
    """

    _parameter_constraints: ClassVar[dict] = {
        "metric": [StrOptions({"flip_rate", "spearman", "top_k"})],
        "attack": [StrOptions(set(ATTACKS))],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "steps": [Interval(Integral, 1, None, closed="left")],
        "step_size": [Interval(Real, 0, None, closed="neither")],
        "top_fraction": [Interval(Real, 0, 1, closed="right")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "kernel": [StrOptions({"empirical", "infinite"})],
        "clip": [tuple, list, None],
        "refit": ["boolean"],
        "n_test": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "on_near_chance": [StrOptions(set(ON_NEAR_CHANCE))],
        "backend": [StrOptions({"numpy", "dask"})],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
        "spill_dir": [str, os.PathLike, None],
        "method": [StrOptions({"exact", *ATTRIBUTION_METHODS})],
        "method_params": [dict, None],
    }

    def __init__(
        self,
        *,
        metric="flip_rate",
        attack="pgd",
        epsilon=0.3,
        steps=40,
        step_size=0.01,
        top_fraction=0.1,
        alpha=1e-3,
        kernel="empirical",
        clip=None,
        refit=False,
        n_test=None,
        random_state=None,
        on_near_chance="warn",
        backend="numpy",
        chunk_size=None,
        spill_dir=None,
        method="exact",
        method_params=None,
    ):
        self.metric = metric
        self.attack = attack
        self.epsilon = epsilon
        self.steps = steps
        self.step_size = step_size
        self.top_fraction = top_fraction
        self.alpha = alpha
        self.kernel = kernel
        self.clip = clip
        self.refit = refit
        self.n_test = n_test
        self.random_state = random_state
        self.on_near_chance = on_near_chance
        self.backend = backend
        self.chunk_size = chunk_size
        self.spill_dir = spill_dir
        self.method = method
        self.method_params = method_params
        self._validate_params()

    def _params(self):
        return {name: getattr(self, name) for name in self._parameter_constraints}

    def _validate_params(self):
        validate_parameter_constraints(
            self._parameter_constraints, self._params(), caller_name=type(self).__name__
        )
        if self.method != "exact":
            check_method_params(self.method, self.method_params)
            if self.kernel != "empirical":
                raise ValueError(
                    f"kernel={self.kernel!r} applies to method='exact' only; method="
                    f"{self.method!r} attributes the trained network's own training loss. Leave "
                    "kernel at 'empirical'."
                )
        elif self.method_params is not None:
            raise ValueError(
                "method_params is for the dattri methods (e.g. method='trak'); method='exact' "
                f"takes none, got method_params={self.method_params!r}."
            )

    def _influence_options(self):
        if self.method == "exact":
            return {
                "kernel": self.kernel,
                "alpha": self.alpha,
                "on_near_chance": "ignore",
                "backend": self.backend,
                "chunk_size": self.chunk_size,
                "spill_dir": self.spill_dir,
            }
        return {
            "method": self.method,
            "method_params": self.method_params,
            "on_near_chance": "ignore",
        }

    def __repr__(self):
        defaults = inspect.signature(type(self)).parameters
        changed = [
            f"{name}={value!r}"
            for name, value in self._params().items()
            if repr(value) != repr(defaults[name].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __call__(self, estimator, X, y):
        """Score the fitted ``estimator`` on the held-out set ``(X, y)``.

        Parameters
        ----------
        estimator : estimator instance
            A fitted network or pipeline recording its training data as ``X_fit_``/``y_fit_``.
        X : array-like of shape (n_samples, n_features)
            Held-out inputs: the test points of the influence. Checked as ``predict`` checks
            its input: a DataFrame must have the columns of ``fit``, in the same order; sparse
            input is refused (densify it with ``.toarray()``).
        y : array-like of shape (n_samples,)
            Held-out labels.

        Returns
        -------
        score : float
            The metric between the influence before and after the attack, oriented so that
            greater is better (``-flip_rate`` for ``metric="flip_rate"``); NaN when no training
            point has a positive influence.
        """
        # Imported here: the attack code imports torch.
        from .training_attacks import attack_training_points

        self._validate_params()
        check_is_fitted(estimator)
        X_train, y_train = _training_data(estimator)
        X_test, y_test = check_input_space(estimator, X, input_name="X"), np.asarray(y)
        rng = check_random_state(self.random_state)
        if self.n_test is not None and self.n_test < X_test.shape[0]:
            rows = np.sort(rng.choice(X_test.shape[0], size=self.n_test, replace=False))
            X_test, y_test = X_test[rows], y_test[rows]
        attack_seed = int(rng.randint(np.iinfo(np.int32).max))
        _, network = split_network(estimator)
        check_training_skill(network, self.on_near_chance, type(self).__name__)
        options = self._influence_options()
        # validated rows in the fitted column order, labelled as in fit
        X_test, X_train = with_fit_columns(estimator, X_test), with_fit_columns(estimator, X_train)

        before = influence_scores(
            estimator, X_test, y_test, X_train=X_train, y_train=y_train, **options
        )
        top = top_positive(before, self.top_fraction)
        if top.shape[0] == 0:
            warnings.warn(
                "InfluenceMalleability is undefined: no training point has a positive influence "
                "on the held-out set, so there is nothing to attack; returning NaN.",
                UndefinedMetricWarning,
                stacklevel=2,
            )
            return float("nan")

        X_perturbed = attack_training_points(
            estimator,
            X_train,
            y_train,
            top,
            method=self.attack,
            epsilon=self.epsilon,
            steps=self.steps,
            step_size=self.step_size,
            clip=None if self.clip is None else tuple(self.clip),
            random_state=attack_seed,
        )
        X_perturbed = with_fit_columns(estimator, X_perturbed)
        model = clone(estimator).fit(X_perturbed, y_train) if self.refit else estimator
        after = influence_scores(
            model, X_test, y_test, X_train=X_perturbed, y_train=y_train, **options
        )

        if self.metric == "flip_rate":
            score = 0.0 - influence_flip_rate(before, after, top_fraction=self.top_fraction)
        elif self.metric == "spearman":
            score = influence_rank_correlation(before, after)
        else:
            score = top_k_stability(before, after, top_fraction=self.top_fraction)
        logger.info(
            "InfluenceMalleability: %s attack on %d of %d training points, %s = %.4g",
            self.attack,
            top.shape[0],
            before.shape[0],
            self.metric,
            score,
        )
        return float(score)
