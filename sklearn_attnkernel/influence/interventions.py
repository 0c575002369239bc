"""The paper's three training-set interventions and their test-accuracy effect (arXiv 2603.13085).

:func:`run_intervention` trains a baseline, changes its training set in one of three ways and
retrains a clone:

- **curated**: drop the most helpful training points (the top-k set ``T`` of highest positive
  influence);
- **transformed**: replace the points of ``T`` by their adversarial versions;
- **adversarial**: replace every training point by its adversarial version.

Influence comes from :func:`~sklearn_attnkernel.influence.estimators.influence_scores`, the
adversarial versions from :func:`~sklearn_attnkernel.attack_training_points`.
"""

import logging
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .._utils.input_space import (
    InputSpace,
    check_input_space,
    check_not_empty,
    with_fit_columns,
)
from .._utils.vocabulary import ATTACKS
from .estimators import check_pair, influence_scores
from .metrics import top_positive

logger = logging.getLogger(__name__)

__all__ = ["run_intervention"]


def _network_step(estimator):
    """``(prefix, network)``: our network, alone or as the last step of a pipeline.

    ``prefix`` is ``""`` or ``"<step name>__"``, for ``set_params``.
    """
    from ..networks.base import BaseTwoLayerReLU  # imports torch

    if isinstance(estimator, BaseTwoLayerReLU):
        return "", estimator
    if isinstance(estimator, Pipeline) and isinstance(estimator.steps[-1][1], BaseTwoLayerReLU):
        return f"{estimator.steps[-1][0]}__", estimator.steps[-1][1]
    raise ValueError(
        f"eval_epochs records accuracy during the training of a TwoLayerReLUClassifier, alone or "
        f"as the last step of a pipeline; got {type(estimator).__name__}. Pass such an "
        "estimator, or eval_epochs=None."
    )


def _check_eval_epochs(eval_epochs, estimator):
    """Validated ``eval_epochs`` as a sorted list of distinct ints (None stays None)."""
    if eval_epochs is None:
        return None
    values = np.asarray(eval_epochs).ravel()
    if values.dtype.kind not in "iuf" or not np.all(np.isfinite(values)):
        raise ValueError(f"eval_epochs must hold numbers of epochs; got {eval_epochs!r}.")
    epochs = sorted({int(e) for e in values})
    if np.any(values != np.round(values)) or any(e < 0 for e in epochs):
        raise ValueError(
            f"eval_epochs must hold numbers of epochs >= 0 (integers); got {eval_epochs!r}."
        )
    max_epochs = _network_step(estimator)[1].max_epochs
    if epochs and epochs[-1] > max_epochs:
        raise ValueError(
            f"eval_epochs={eval_epochs!r} asks for epoch {epochs[-1]}, but the network trains "
            f"for max_epochs={max_epochs}. Raise max_epochs or drop the later entries."
        )
    return epochs


def _fit_and_score(estimator, X, y, X_test, y_test, eval_epochs=None):
    """Fit a clone; return it, its test accuracy and its test accuracy by epoch (or None).

    With ``eval_epochs``, a ``RecordOutputs`` callback (:mod:`sklearn_attnkernel.networks`) is
    added to the network's ``callbacks``: it keeps the network's outputs on ``X_test`` (through the
    pipeline's transformers, fitted when the network starts training) at the end of those
    epochs of this one training run, and the fitted classifier's own decision rule turns them
    into labels.
    """
    model = clone(estimator)
    if eval_epochs is not None:
        from ..networks.callbacks import RecordOutputs, SharedReference  # imports torch
        from ..networks.estimators import labels_from_output

        prefix, network = _network_step(model)
        pipeline = SharedReference(model) if prefix else None
        recorder = RecordOutputs(X_test, list(eval_epochs), pipeline=pipeline)
        callbacks = [*(network.callbacks or []), recorder]
        model.set_params(**{f"{prefix}callbacks": callbacks})
    model.fit(X, y)
    accuracy = float(accuracy_score(y_test, model.predict(X_test)))
    if eval_epochs is None:
        return model, accuracy, None
    network = _network_step(model)[1]
    if network.max_epochs == 0:  # no training, no callback: the model is its initialisation
        return model, accuracy, {int(e): accuracy for e in eval_epochs}
    # the clone of our recorder that ran (the last one, should the template hold others)
    recorders = [cb for _, cb in network.net_.callbacks_ if isinstance(cb, RecordOutputs)]
    outputs = recorders[-1].outputs_
    by_epoch = {
        int(e): float(accuracy_score(y_test, labels_from_output(network.classes_, outputs[e])))
        for e in eval_epochs
    }
    return model, accuracy, by_epoch


def _check_data(estimator, X_train, y_train, X_test, y_test, baseline):
    """Validated training and test sets of a classifier, in the same input space.

    Both are held to the column names and count of ``X_train`` (or of the fitted ``baseline``)
    as ``predict`` holds its input to ``fit``'s, then returned as arrays in that column order,
    labelled with the names again when there are names (so that the models fitted here record
    them and their ``predict`` accepts the test set).
    """
    if not is_classifier(estimator):
        raise ValueError(
            f"run_intervention reports test accuracy and needs a classifier; got "
            f"{type(estimator).__name__}. Pass a TwoLayerReLUClassifier or a pipeline ending in "
            "one."
        )
    if baseline is not None:
        check_is_fitted(baseline)
    check_not_empty(X_train, "X_train", "the training set")
    space = InputSpace().fit(X_train) if baseline is None else baseline
    X_train = check_input_space(space, X_train, input_name="X_train", role="the training set")
    if np.ndim(X_test) == 2 and np.shape(X_test)[1] != X_train.shape[1]:
        raise ValueError(
            f"X_train has {X_train.shape[1]} features but X_test has {np.shape(X_test)[1]}; "
            "pass both in the estimator's input space."
        )
    X_test = check_input_space(space, X_test, input_name="X_test", role="the test set")
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    check_pair(X_train, y_train, "X_train", "y_train")
    check_pair(X_test, y_test, "X_test", "y_test")
    return with_fit_columns(space, X_train), y_train, with_fit_columns(space, X_test), y_test


def _changed_training_set(kind, baseline, X_train, y_train, indices, attack_options):
    """The training set after the intervention: rows dropped (curated) or attacked."""
    if kind == "curated":
        keep = np.setdiff1d(np.arange(X_train.shape[0]), indices)
        return _safe_indexing(X_train, keep), y_train[keep]
    from .training_attacks import attack_training_points  # imports torch

    X_new = attack_training_points(baseline, X_train, y_train, indices, **attack_options)
    return with_fit_columns(baseline, X_new), y_train


@validate_params(
    {
        "estimator": "no_validation",
        "X_train": ["array-like", "sparse matrix"],
        "y_train": ["array-like"],
        "X_test": ["array-like", "sparse matrix"],
        "y_test": ["array-like"],
        "kind": [StrOptions({"curated", "transformed", "adversarial"})],
        "top_fraction": [Interval(Real, 0, 1, closed="right")],
        "attack": [StrOptions(set(ATTACKS))],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "steps": [Interval(Integral, 1, None, closed="left")],
        "step_size": [Interval(Real, 0, None, closed="neither")],
        "clip": [tuple, list, None],
        "kernel": [StrOptions({"empirical", "infinite"})],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "eval_epochs": ["array-like", None],
        "baseline": "no_validation",
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def run_intervention(
    estimator,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    kind="curated",
    top_fraction=0.1,
    attack="pgd",
    epsilon=0.3,
    steps=40,
    step_size=0.01,
    clip=None,
    kernel="empirical",
    alpha=1e-3,
    eval_epochs=None,
    baseline=None,
    random_state=None,
    verbose=0,
):
    """Retrain after one of the paper's training-set interventions and report test accuracy.

    A clone of ``estimator`` is trained on ``(X_train, y_train)`` (the baseline); the training
    set is changed according to ``kind``; a fresh clone is trained on the changed set; both are
    scored by accuracy on ``(X_test, y_test)`` (the paper's interventions, arXiv 2603.13085;
    :ref:`theory_influence`).

    Parameters
    ----------
    estimator : classifier
        An (unfitted) template: a :class:`~sklearn_attnkernel.TwoLayerReLUClassifier` or a
        pipeline ending in one (e.g. from :func:`~sklearn_attnkernel.make_mlp_attn`). It is only
        cloned, never fitted itself. Give it an int ``random_state`` so that the baseline and
        the retrained model start from the same weights.
    X_train : array-like of shape (n_train, n_features)
        Training inputs, in the estimator's input space.
    y_train : array-like of shape (n_train,)
        Training labels.
    X_test : array-like of shape (n_test, n_features)
        Test inputs: they score both models and are the test points of the influence. Held to
        the columns of `X_train` (or of ``baseline``'s ``fit``) as ``predict`` holds its input:
        a DataFrame with the same columns in another order is refused. Sparse input is refused
        for both sets (densify it with ``.toarray()``).
    y_test : array-like of shape (n_test,)
        Test labels.
    kind : {"curated", "transformed", "adversarial"}, default="curated"
        - ``"curated"``: drop the set ``T`` of the ``k = ⌈top_fraction · n_train⌉`` training
          points of highest positive influence on ``(X_test, y_test)``, then retrain.
        - ``"transformed"``: replace the points of ``T`` by their adversarial versions
          (attacked jointly against the baseline), then retrain on the same number of points.
        - ``"adversarial"``: replace every training point by its adversarial version, then
          retrain; no influence is computed.
    top_fraction : float, default=0.1
        Fraction of the training points in ``T``, in ``(0, 1]``. If fewer than ``k`` points have
        a positive influence, ``T`` holds only those.
    attack : {"pgd", "fgsm", "mim", "random"}, default="pgd"
        Attack of :func:`~sklearn_attnkernel.attack_training_points`; ``"random"`` is
        the random ``±ε`` sign baseline.
    epsilon : float, default=0.3
        Radius ``ε ≥ 0`` of the ℓ∞ ball, in the input space.
    steps : int, default=40
        Steps of the iterative attacks.
    step_size : float, default=0.01
        Step size of the iterative attacks *(ours)*.
    clip : tuple of (float, float) or None, default=None
        Range the perturbed inputs must stay in, e.g. ``(0, 1)`` for pixels.
    kernel : {"empirical", "infinite"}, default="empirical"
        Kernel of the influence (``"curated"`` and ``"transformed"`` only).
    alpha : float, default=1e-3
        Ridge ``α > 0`` of the influence.
    eval_epochs : array-like of int or None, default=None
        Also record the test accuracy at the end of each of these epochs (e.g.
        ``(1, 10, 100)``; ``0`` is the initialisation), for the baseline and the intervention,
        *during* their training: a callback added to the network's ``callbacks`` keeps the
        network's outputs on ``X_test`` (through the pipeline's fitted transformers) at those
        epochs, and the fitted classifier turns them into labels with the rule of ``predict``.
        No extra model is trained, and the recording does not change the training (no random
        number is drawn, the weights are untouched): the trained models are the same as with
        ``eval_epochs=None``, and each entry equals the accuracy of a clone trained for that
        many epochs with the same int ``random_state``. Entries must be integers in
        ``[0, max_epochs]`` of the network; the entry ``max_epochs`` is the final model's
        accuracy. Needs a :class:`~sklearn_attnkernel.TwoLayerReLUClassifier`, alone or ending
        a pipeline.
    baseline : fitted estimator or None, default=None
        A clone of ``estimator`` already fitted on ``(X_train, y_train)``, reused instead of
        training the baseline again (e.g. ``result["baseline_estimator"]`` of a previous call
        with another ``kind``). Its accuracy-by-epoch is then not recorded.
    random_state : int or None, default=None
        Seed of the attack's randomness (PGD's random start, the random baseline).
    verbose : int, default=0
        When > 0, show a tqdm bar over the stages (trainings, influence, attack).

    Returns
    -------
    result : dict
        - ``"kind"``: the intervention.
        - ``"baseline_accuracy"``, ``"accuracy"``: test accuracy of the baseline and of the
          retrained model, in ``[0, 1]``.
        - ``"indices"``: ndarray of the training rows dropped (curated), replaced
          (transformed) or perturbed (adversarial: all rows).
        - ``"n_train"``: number of training rows of the retrained model.
        - ``"influence"``: the baseline's influence scores (ndarray of shape (n_train,)), or
          None for ``"adversarial"``.
        - ``"baseline_estimator"``, ``"estimator"``: the two fitted models.
        - ``"baseline_accuracy_by_epoch"``, ``"accuracy_by_epoch"``: dicts ``{epoch:
          accuracy}`` (int keys, in increasing order) for ``eval_epochs``, or None.
        - ``"attack"``, ``"epsilon"``, ``"top_fraction"``: the settings used.

    Raises
    ------
    TypeError
        If `X_train` or `X_test` is sparse.
    ValueError
        If the estimator is not a classifier, the shapes disagree, a set is empty, the column
        names of `X_test` differ from those of `X_train` (or their order), ``eval_epochs`` holds
        entries that are not integers in ``[0, max_epochs]`` or is given for an estimator that
        is not our network, or ``baseline`` is not fitted.

    See Also
    --------
    sklearn_attnkernel.influence.estimators.influence_scores : The influence that picks ``T``.
    sklearn_attnkernel.influence.scorer.InfluenceMalleability : How much the same attacks
        change that influence.

    Notes
    -----
    ``T`` is chosen with the test labels, as in the paper: this is an analysis of how much the
    most helpful points matter, not a data-cleaning procedure to select a model with.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_attnkernel import TwoLayerReLUClassifier
    >>> from sklearn_attnkernel.influence.interventions import run_intervention
    >>> X, y = load_iris(return_X_y=True)
    >>> net = TwoLayerReLUClassifier(width=32, max_epochs=2, device="cpu", random_state=0)
    >>> result = run_intervention(net, X[::2], y[::2], X[1::2], y[1::2], kind="curated")
    >>> result["n_train"], len(result["indices"])
    (67, 8)
    """
    X_train, y_train, X_test, y_test = _check_data(
        estimator, X_train, y_train, X_test, y_test, baseline
    )
    eval_epochs = _check_eval_epochs(eval_epochs, estimator)
    n_train = X_train.shape[0]
    data = (X_test, y_test)
    attack_options = {
        "method": attack,
        "epsilon": epsilon,
        "steps": steps,
        "step_size": step_size,
        "clip": None if clip is None else tuple(clip),
        "random_state": random_state,
    }

    n_stages = (1 if baseline is None else 0) + 2 + (1 if kind != "adversarial" else 0)
    bar = tqdm(total=n_stages, desc=f"{kind} intervention", disable=not verbose, leave=False)
    try:
        if baseline is None:
            baseline, baseline_accuracy, baseline_by_epoch = _fit_and_score(
                estimator, X_train, y_train, *data, eval_epochs
            )
            bar.update(1)
        else:
            baseline_accuracy = float(accuracy_score(y_test, baseline.predict(X_test)))
            baseline_by_epoch = None

        influence = None
        if kind == "adversarial":
            indices = np.arange(n_train)
        else:
            influence = influence_scores(
                baseline,
                X_test,
                y_test,
                X_train=X_train,
                y_train=y_train,
                kernel=kernel,
                alpha=alpha,
            )
            indices = np.sort(top_positive(influence, top_fraction))
            bar.update(1)

        X_new, y_new = _changed_training_set(
            kind, baseline, X_train, y_train, indices, attack_options
        )
        bar.update(1)

        model, accuracy, by_epoch = _fit_and_score(estimator, X_new, y_new, *data, eval_epochs)
        bar.update(1)
    finally:
        bar.close()
    logger.info(
        "%s intervention on %d of %d training points: accuracy %.4f -> %.4f",
        kind,
        indices.shape[0],
        n_train,
        baseline_accuracy,
        accuracy,
    )
    return {
        "kind": kind,
        "baseline_accuracy": baseline_accuracy,
        "accuracy": accuracy,
        "indices": indices,
        "n_train": int(X_new.shape[0]),
        "influence": influence,
        "baseline_estimator": baseline,
        "estimator": model,
        "baseline_accuracy_by_epoch": baseline_by_epoch,
        "accuracy_by_epoch": by_epoch,
        "attack": attack,
        "epsilon": float(epsilon),
        "top_fraction": float(top_fraction),
    }
