"""Is the network worth explaining? Its skill on its own training set, against chance.

Influence scores and their malleability describe what a trained network learned from each
training point. A network whose training accuracy is at chance level learned nothing: its scores
are noise, and flip rates computed on them mean nothing (they can even reverse the paper's
conclusions). :func:`check_training_skill` measures the network's skill on its training set and
warns (:class:`NearChanceWarning`), raises (:class:`NearChanceError`) or stays silent.
"""

import warnings

import numpy as np
from sklearn.base import is_classifier

from .._utils.input_space import with_fit_columns

__all__ = [
    "NEAR_CHANCE_SKILL",
    "NearChanceError",
    "NearChanceWarning",
    "check_training_skill",
    "training_skill",
]

#: A network is *near chance* when its skill on its training set is at most this: it closes at
#: most 10 % of the gap between the chance level and a perfect fit.
NEAR_CHANCE_SKILL = 0.1

ON_NEAR_CHANCE = ("warn", "raise", "ignore")


class NearChanceWarning(UserWarning):
    """The network's training accuracy (or R²) is near chance: its influence scores mean nothing.

    Emitted by :func:`~sklearn_attnkernel.influence.estimators.influence_scores` and
    :class:`~sklearn_attnkernel.influence.scorer.InfluenceMalleability` with
    ``on_near_chance="warn"`` (the default); the message gives the measured training score and
    the chance level. See :func:`training_skill` for the definition.
    """


class NearChanceError(ValueError):
    """Raised instead of :class:`NearChanceWarning` with ``on_near_chance="raise"``."""


def training_skill(network):
    """Score of a fitted network on its own training set, the chance level and the skill.

    - Classifier: the score is the training accuracy and the chance level the share of the
      majority class of the training labels (what predicting that class always would score).
    - Regressor: the score is the training R² and the chance level 0 (the R² of predicting the
      mean target).

    The skill is ``(score − chance) / (1 − chance)``: 0 at chance, 1 for a perfect fit of the
    training set (for a regressor it is the R² itself). The network is *near chance* when its
    skill is at most :data:`NEAR_CHANCE_SKILL` (0.1): e.g. a training accuracy of at most 0.55
    for two balanced classes, 0.19 for ten, an R² of at most 0.1.

    Parameters
    ----------
    network : fitted TwoLayerReLUClassifier or TwoLayerReLURegressor
        The network (the last step of a pipeline), with its training data ``X_fit_``/``y_fit_``.

    Returns
    -------
    score : float
        Training accuracy (classifier) or R² (regressor).
    chance : float
        The chance level of that score.
    skill : float
        ``(score − chance) / (1 − chance)``; ``inf`` for a single-class training set (nothing to
        learn, nothing to refuse).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel import TwoLayerReLUClassifier
    >>> from sklearn_attnkernel.influence.health import training_skill
    >>> X, y = np.eye(4), np.array([0, 0, 0, 1])
    >>> net = TwoLayerReLUClassifier(max_epochs=0, device="cpu", random_state=0).fit(X, y)
    >>> score, chance, skill = training_skill(net)
    >>> chance
    0.75
    """
    X, y = with_fit_columns(network, network.X_fit_), network.y_fit_
    score = float(network.score(X, y))
    chance = 0.0
    if is_classifier(network):
        _, counts = np.unique(y, return_counts=True)
        chance = float(counts.max() / counts.sum())
    skill = (score - chance) / (1.0 - chance) if chance < 1.0 else float("inf")
    return score, chance, skill


def check_training_skill(network, on_near_chance, who):
    """Warn, raise or do nothing when ``network`` is near chance on its training set.

    Parameters
    ----------
    network : fitted TwoLayerReLUClassifier or TwoLayerReLURegressor
        The network.
    on_near_chance : {"warn", "raise", "ignore"}
        What to do for a network near chance (see :func:`training_skill`).
    who : str
        The caller, named in the message.

    Returns
    -------
    skill : float or None
        The skill, or None with ``"ignore"`` (nothing is computed).
    """
    if on_near_chance == "ignore":
        return None
    score, chance, skill = training_skill(network)
    if skill <= NEAR_CHANCE_SKILL:
        metric = "accuracy" if is_classifier(network) else "R²"
        baseline = (
            "the share of the majority class" if metric == "accuracy" else "predicting the mean"
        )
        message = (
            f"{who}: the network's training {metric} is {score:.3f}, near the chance level "
            f"{chance:.3f} ({baseline}): it closes {max(skill, 0.0):.0%} of the gap to a perfect "
            f"fit, at most {NEAR_CHANCE_SKILL:.0%} counts as near chance. A network that learned "
            "nothing gives influence scores and flip rates that mean nothing; train it longer "
            "or with another learning rate (max_epochs, lr), or check the labels. Pass "
            "on_near_chance='raise' to refuse it, or 'ignore' to silence this."
        )
        if on_near_chance == "raise":
            raise NearChanceError(message)
        warnings.warn(message, NearChanceWarning, stacklevel=2)
    return skill
