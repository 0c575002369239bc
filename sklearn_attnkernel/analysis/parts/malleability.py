"""Part ``malleability``: how much an attack on the most helpful training points moves influence.

One task trains one network and computes the clean influence once (one factorisation of
``K + αI``), then attacks the clean top-k set ``T`` once per (attack, ε) cell. Each cell
records flip rate, Spearman ρ and top-k stability of the NTK influence scores, and attack
diagnostics on ``T``: ``top_correct_before/after`` (share of ``T`` the network classifies
correctly), ``top_loss_before/after`` (mean cross-entropy on ``T``), ``input_cosine`` (mean
cosine between clean and attacked rows of ``T`` as they enter the network) and
``condition_before/after`` (LAPACK's estimate of the 1-norm condition number of ``K + αI``,
returned by the influence computation from its own factorisation).
"""

import dataclasses
import time

import numpy as np

from ..data import cell_data
from .models import attack_seed, convergence_rows, make_model, pixel_epsilon

__all__ = ["Clean", "attack_rows", "run", "scored", "train_and_score"]


def scored(model, X_test, y_test, influence, train=None):
    """Influence scores and the condition number of the ``K + αI`` they were computed with.

    ``train``: an ``(X_train, y_train)`` pair scored under the same network (e.g. the attacked
    training matrix); None scores the training set the network was fitted on.
    """
    from ...influence.estimators import influence_scores

    extra = {} if train is None else {"X_train": train[0], "y_train": train[1]}
    return influence_scores(model, X_test, y_test, **extra, **influence, return_condition=True)


def _top_set_diagnostics(model, X_reference, y, top):
    """The network's view of the top-k rows of a (clean or attacked) training matrix.

    Returns the network's input features of those rows (attention steps use ``X_reference``
    as their reference set, as in the attack), the share classified correctly and the mean
    cross-entropy (the classifiers' task loss) of the network on them.
    """
    from sklearn.metrics import log_loss

    from ...influence.estimators import network_features, split_network

    steps, final = split_network(model)
    F_top, _ = network_features(steps, X_reference[top], X_reference)
    F_top = np.asarray(F_top, dtype=np.float64)
    proba = final.predict_proba(F_top)
    predicted = final.classes_[np.argmax(proba, axis=1)]
    correct = float(np.mean(predicted == y[top]))
    loss = float(log_loss(y[top], proba, labels=final.classes_))
    return F_top, correct, loss


def _row_cosine(A, B):
    norms = np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1)
    dots = np.einsum("ij,ij->i", A, B)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.nanmean(np.where(norms > 0, dots / norms, np.nan)))


def _training_rows(model, s):
    """How well the network fits its training set, and how its training ended.

    ``train_accuracy`` and ``chance_accuracy`` come from
    :func:`~sklearn_attnkernel.influence.health.training_skill` (the report flags networks near
    chance); ``train_loss``, ``epochs_used`` and ``converged`` from
    :func:`~.models.convergence_rows` on the network's history.
    """
    from ...influence.estimators import split_network
    from ...influence.health import training_skill

    _, final = split_network(model)
    score, chance, _ = training_skill(final)
    return [
        {"metric": "train_accuracy", "value": score},
        {"metric": "chance_accuracy", "value": chance},
        *convergence_rows(final.history_, s),
    ]


@dataclasses.dataclass
class Clean:
    """What every (attack, ε) cell of a task shares: the trained network and its clean view.

    Also what the ``examples`` part starts from (:mod:`.examples`): ``before`` is the mean
    clean influence over the cell's test set and ``top`` the attacked set ``T``.
    """

    model: object
    data: dict
    influence: dict
    before: np.ndarray
    top: np.ndarray
    info: dict
    health: list = dataclasses.field(default_factory=list)
    rows: list = dataclasses.field(default_factory=list)
    F_top: np.ndarray | None = None


def train_and_score(s0, ctx, callbacks=None):
    """Train the task's network once and compute the clean influence and diagnostics of ``T``.

    ``callbacks``: extra callbacks of the network (:func:`~.models.make_model`).
    """
    from ...influence.metrics import top_positive

    data = cell_data(s0, ctx["root"])
    X, y, X_test, y_test = data["X"], data["y"], data["X_test"], data["y_test"]
    adversarial = s0["adversarial"] if s0["adversarial_training"] else None
    model = make_model(s0, adversarial, callbacks)
    start = time.perf_counter()
    model.fit(X, y)
    fit_s = time.perf_counter() - start
    accuracy = float(model.score(X_test, y_test))
    influence = {"kernel": s0["kernel"], "alpha": s0["alpha"], "loss": s0["loss"]}
    influence.update(ctx.get("influence", {}))  # backend and chunk_size: how, not what
    start = time.perf_counter()
    before, condition_before = scored(model, X_test, y_test, influence)
    clean_s = time.perf_counter() - start
    top = np.sort(top_positive(before, s0["top_fraction"]))
    info = {
        "n_train": int(X.shape[0]),
        "n_test": int(X_test.shape[0]),
        "n_top": int(top.size),
        "test_accuracy": accuracy,
        "fit_s": fit_s,
        "clean_influence_s": clean_s,
    }
    clean = Clean(model, data, influence, before, top, info, health=_training_rows(model, s0))
    if top.size:
        clean.F_top, correct_before, loss_before = _top_set_diagnostics(model, X, y, top)
        clean.rows = [
            {"metric": "top_correct_before", "value": correct_before},
            {"metric": "top_loss_before", "value": loss_before},
            {"metric": "condition_before", "value": condition_before},
        ]
    return clean


def attack_rows(s, model, X, y, rows, epsilon):
    """The training matrix ``X`` with ``rows`` attacked as the cell ``s`` says (float64).

    ``s`` names the attack (``attack``, ``steps``, ``step_size``, ``clip``, ``mode``, and
    ``epsilon`` and ``epsilon_space`` for the seed); ``epsilon`` is in pixel units.
    """
    from ...influence.training_attacks import attack_training_points

    X_adv = attack_training_points(
        model,
        X,
        y,
        rows,
        method=s["attack"],
        epsilon=epsilon,
        steps=s["steps"],
        step_size=s["step_size"],
        clip=(0.0, 1.0) if s["clip"] else None,
        mode=s["mode"],
        random_state=attack_seed(s, s["attack"], s["epsilon"], s["epsilon_space"]),
    )
    return np.asarray(X_adv, dtype=np.float64)


def _attacked_cell(s, clean):
    """One (attack, ε) cell: attack ``T``, score again, compare with the clean influence."""
    from ...influence.metrics import (
        influence_flip_rate,
        influence_rank_correlation,
        top_k_stability,
    )

    X, y = clean.data["X"], clean.data["y"]
    epsilon = pixel_epsilon(clean.model, s["epsilon"], s["epsilon_space"])
    if clean.top.size == 0:
        rows = [{"metric": "test_accuracy", "value": clean.info["test_accuracy"]}, *clean.health]
        return s, rows, clean.info, ["no positive influence score: nothing to attack"]
    start = time.perf_counter()
    X_adv = attack_rows(s, clean.model, X, y, clean.top, epsilon)
    attack_s = time.perf_counter() - start
    start = time.perf_counter()
    test = (clean.data["X_test"], clean.data["y_test"])
    after, condition_after = scored(clean.model, *test, clean.influence, (X_adv, y))
    F_adv, correct_after, loss_after = _top_set_diagnostics(clean.model, X_adv, y, clean.top)
    timing = {"attack_s": attack_s, "influence_s": time.perf_counter() - start}
    before, fraction = clean.before, s["top_fraction"]
    rows = [
        {"metric": "flip_rate", "value": influence_flip_rate(before, after, fraction)},
        {"metric": "spearman", "value": influence_rank_correlation(before, after)},
        {"metric": "top_k_stability", "value": top_k_stability(before, after, fraction)},
        {"metric": "test_accuracy", "value": clean.info["test_accuracy"]},
        *clean.health,
        {"metric": "linf_perturbation", "value": float(np.max(np.abs(X_adv - X)))},
        *clean.rows,
        {"metric": "top_correct_after", "value": correct_after},
        {"metric": "top_loss_after", "value": loss_after},
        {"metric": "input_cosine", "value": _row_cosine(clean.F_top, F_adv)},
        {"metric": "condition_after", "value": condition_after},
    ]
    return s, rows, {**clean.info, **timing, "epsilon_pixel": epsilon}, []


def run(cells, ctx):
    """One trained network and one clean influence computation for every attack/ε cell."""
    clean = train_and_score(cells[0], ctx)
    return [_attacked_cell(s, clean) for s in cells]
