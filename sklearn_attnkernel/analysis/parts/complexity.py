"""Part ``complexity``: RKHS complexity and malleability by influence group (arXiv 2603.13085,
Fig. 3, A.8).

One task trains one network (as the malleability part does) and attacks every training point
once; each of its cells, one per kernel (the trained network's empirical NTK or the
infinite-width NTK), then splits the training points into ``n_groups`` groups by their clean
influence score (:func:`~sklearn_attnkernel.influence_groups`: 1 = most harmful,
``n_groups`` = most helpful) and records per group (rows ``metric``, ``group``, ``value``):

- ``contribution_share``: the group's share of ``‖f‖²_H = tr(βᵀ K β)`` of the kernel ridge fit
  on the training targets (:func:`~sklearn_attnkernel.complexity_by_group`);
- ``leave_out_change``: the relative change of ``‖f‖²_H`` when the ridge is refitted without
  the group;
- ``flip_rate``: the share of the group's points whose influence changes sign when every
  training point is attacked (the malleability part's attack and influence-after-attack);
- ``mean_score``: the group's mean clean influence score.

Cell-wide rows: ``rkhs_norm`` (``‖f‖²_H``), ``flip_rate_all`` (the share of all points whose
sign changes), ``test_accuracy`` and ``condition_before`` (LAPACK's estimate of the condition
number of ``K + αI``).
"""

import time

import numpy as np

from ..data import cell_data
from .malleability import attack_rows, scored
from .models import make_model, pixel_epsilon

__all__ = ["run"]


def _group_rows(result, flips):
    """One row per (metric, group) of a cell."""
    groups = result.groups
    counts = np.bincount(groups)[1:]
    flip_rate = np.bincount(groups, weights=flips.astype(np.float64))[1:] / counts
    per_group = {
        "contribution_share": result.share,
        "leave_out_change": result.leave_out_change,
        "flip_rate": flip_rate,
        "mean_score": result.mean_score,
    }
    return [
        {"metric": metric, "group": int(g), "value": float(value)}
        for metric, values in per_group.items()
        for g, value in enumerate(values, start=1)
    ]


def _kernel_cell(s, model, data, X_adv, info):
    """One kernel: clean scores, groups, complexity, scores after the attack, flips."""
    from ...influence.complexity import complexity_by_group
    from ...influence.estimators import network_kernel, split_network

    test = (data["X_test"], data["y_test"])
    influence = {"kernel": s["kernel"], "alpha": s["alpha"], "loss": s["loss"]}
    start = time.perf_counter()
    before, condition = scored(model, *test, influence)
    after, _ = scored(model, *test, influence, (X_adv, data["y"]))
    _, final = split_network(model)
    K = network_kernel(final, np.asarray(final.X_fit_, dtype=np.float64), kernel=s["kernel"])
    Y = final.encode_targets(final.y_fit_)
    result = complexity_by_group(K, Y, before, alpha=s["alpha"], n_groups=s["n_groups"])
    flips = np.sign(after) != np.sign(before)
    rows = [
        *_group_rows(result, flips),
        {"metric": "rkhs_norm", "value": result.norm},
        {"metric": "flip_rate_all", "value": float(flips.mean())},
        {"metric": "test_accuracy", "value": info["test_accuracy"]},
        {"metric": "condition_before", "value": condition},
    ]
    return s, rows, {**info, "complexity_s": time.perf_counter() - start}, []


def run(cells, ctx):
    """Train the task's network once, attack all its training points once, then one cell per
    kernel."""
    s0 = cells[0]
    data = cell_data(s0, ctx["root"])
    X, y = data["X"], data["y"]
    model = make_model(s0)
    start = time.perf_counter()
    model.fit(X, y)
    fit_s = time.perf_counter() - start
    epsilon = pixel_epsilon(model, s0["epsilon"], s0["epsilon_space"])
    start = time.perf_counter()
    X_adv = attack_rows(s0, model, X, y, np.arange(X.shape[0]), epsilon)
    info = {
        "n_train": int(X.shape[0]),
        "n_test": int(data["X_test"].shape[0]),
        "test_accuracy": float(model.score(data["X_test"], data["y_test"])),
        "fit_s": fit_s,
        "attack_s": time.perf_counter() - start,
        "epsilon_pixel": epsilon,
    }
    return [_kernel_cell(s, model, data, X_adv, info) for s in cells]
