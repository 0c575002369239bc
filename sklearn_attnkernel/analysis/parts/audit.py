"""Part ``audit``: which influence method can you trust on attention? (arXiv 2603.13085, §6).

The cells of one network differ only in ``epsilon`` (the ε curve) and run as one task, which
trains the network once (the malleability part's :func:`~.malleability.train_and_score`),
recording its weights at the checkpoints the ensembles average over, retrains it without
``n_retrain`` of its training points once (the ground truth every method is scored against,
:func:`~sklearn_attnkernel.influence.retraining.retraining_effects`), then for each influence
method of ``methods`` (``"exact"``: the closed-form NTK influence; the others through dattri,
:func:`~sklearn_attnkernel.influence.estimators.influence_scores`):

- clean scores, averaged over the cell's test points, at the final weights (``T = 1``) and
  averaged over ``T`` checkpoints for each ``T`` of ``checkpoints`` (checkpoint ensembling;
  ``"exact"`` has no ensemble: ``T = 1`` only);
- per cell (ε), the attack on the method's own clean top set (``top_fraction`` of the points,
  ranked at the final weights) and the paired random ±ε baseline on the same points, drawn
  from the same seed for both architectures (:func:`~.models.attack_seed`); each ``T``'s
  scores are recomputed on the attacked training set.

Rows (``method``, ``metric``, ``attack``, ``n_checkpoints``, ``k_fraction``, ``value``):
``agreement`` (Spearman's ρ between the scores of the removed points and their measured
leave-one-out effects) with ``agreement_low``/``agreement_high`` (its percentile-bootstrap 95 %
interval over the removed points, :func:`~sklearn_attnkernel.influence.retraining.
retraining_agreement`; the same in every ε cell of a network); per ``attack`` (the attack's
name, or ``"random"``): ``flip_rate`` (the share of the attacked set whose sign flips, for an
ensemble its scores on that same set), ``spearman``, ``top_k_stability``, and
``flip_rate_at_k``, the flip rate of the top ``k_fraction`` of the clean scores
(:func:`~sklearn_attnkernel.influence.metrics.influence_flip_rate`; fractions above
``top_fraction`` reach points the attack left alone).
Cell-wide: ``test_accuracy`` and the network's training health.

A method that fails numerically (e.g. non-finite scores) gives NaN rows and a cell note, not a
failed cell: in every ε cell when its clean scores fail, in that ε's cell alone when its scores
on the attacked training set fail. Without dattri the dattri methods are skipped with a note naming
``pip install "sklearn-attnkernel[audit]"``; a cell with no method left is skipped whole.
"""

import importlib.util
import math
import time

import numpy as np

from ..store import derive_seed
from .malleability import attack_rows, scored, train_and_score
from .models import epoch_budget, make_model, pixel_epsilon

__all__ = ["checkpoint_epochs", "run"]

_SCORE_METRICS = ("flip_rate", "spearman", "top_k_stability")
_INSTALL = 'pip install "sklearn-attnkernel[audit]"'


def checkpoint_epochs(budget, counts):
    """The epochs to record for ensembles of each size in ``counts``, spaced over ``budget``.

    The ensemble of ``T`` checkpoints takes the weights after epochs ``⌈j · budget / T⌉``,
    ``j = 1 … T``: the last is the final network. Returns ``{T: [epochs]}``.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.parts.audit import checkpoint_epochs
    >>> checkpoint_epochs(10, [1, 3])
    {1: [10], 3: [4, 7, 10]}
    """
    return {T: [math.ceil(j * budget / T) for j in range(1, T + 1)] for T in counts}


def _scores(clean, method, checkpoints=None, train=None):
    """Mean influence over the cell's test points of ``method`` (exact: the cell's kernel)."""
    from ...influence.estimators import influence_scores

    test = (clean.data["X_test"], clean.data["y_test"])
    if method == "exact":
        return scored(clean.model, *test, clean.influence, train)[0]
    extra = {} if train is None else {"X_train": train[0], "y_train": train[1]}
    params = None if checkpoints is None else {"checkpoints": checkpoints}
    return influence_scores(clean.model, *test, **extra, method=method, method_params=params)


def _ensembles(s, method, recorded):
    """``{T: checkpoints}`` of a method: the final weights (None) for ``T = 1``."""
    if method == "exact":
        return {1: None}
    by_epoch = dict(zip(recorded["epochs"], recorded["states"], strict=True))
    out = {}
    for T, epochs in checkpoint_epochs(epoch_budget(s), s["checkpoints"]).items():
        out[T] = None if T == 1 else [by_epoch[e] for e in epochs]
    return out


def _compare(before, after, top, s, attack, T):
    """Flip rate on the attacked set, Spearman, top-k stability and the flip rate by k."""
    from ...influence.metrics import (
        influence_flip_rate,
        influence_rank_correlation,
        top_k_stability,
    )

    flips = np.sign(after[top]) != np.sign(before[top])
    values = {
        "flip_rate": float(flips.mean()) if top.size else float("nan"),
        "spearman": influence_rank_correlation(before, after),
        "top_k_stability": top_k_stability(before, after, s["top_fraction"]),
    }
    rows = [
        {"metric": m, "attack": attack, "n_checkpoints": T, "value": float(v)}
        for m, v in values.items()
    ]
    for k in s["top_fractions"]:
        value = influence_flip_rate(before, after, k) if np.any(before > 0) else float("nan")
        rows.append(
            {
                "metric": "flip_rate_at_k",
                "attack": attack,
                "n_checkpoints": T,
                "k_fraction": float(k),
                "value": float(value),
            }
        )
    return rows


def _agreement_rows(effects, clean_scores):
    """ρ with retraining and its bootstrap interval, per ensemble size T."""
    from ...influence.retraining import retraining_agreement

    rows = []
    for T, scores in clean_scores.items():
        agreement = retraining_agreement(effects, scores, random_state=derive_seed("audit", T))
        names = ("agreement", "agreement_low", "agreement_high")
        for name, value in zip(names, agreement, strict=True):
            rows.append({"metric": name, "n_checkpoints": T, "value": float(value)})
    return rows


def _attack_rows(s, clean, method, ensembles, clean_scores, top):
    """The attack and the random baseline at the ε of ``s``, compared per ensemble size."""
    X, y = clean.data["X"], clean.data["y"]
    epsilon = pixel_epsilon(clean.model, s["epsilon"], s["epsilon_space"])
    rows = []
    for attack in (s["attack"], "random"):
        X_adv = attack_rows({**s, "attack": attack}, clean.model, X, y, top, epsilon)
        for T, cps in ensembles.items():
            after = _scores(clean, method, cps, (X_adv, y))
            rows += _compare(clean_scores[T], after, top, s, attack, T)
    return rows


def _method_rows(cells, clean, method, recorded, effects):
    """Every row of one method per cell (one cell per ε) and its notes.

    The clean scores and the agreement are computed once, for every ε: a failure there is
    raised (every cell of the method fails). A failure on the attacked training set of one ε
    gives that cell NaN flip rates and a note, and leaves the other ε alone.
    """
    from ...influence.metrics import top_positive

    s = cells[0]
    ensembles = _ensembles(s, method, recorded)
    clean_scores = {T: _scores(clean, method, cps) for T, cps in ensembles.items()}
    top = np.sort(top_positive(clean_scores[1], s["top_fraction"]))
    agreement = _agreement_rows(effects, clean_scores)
    if top.size == 0:
        notes = [f"method {method}: no positive influence score, nothing to attack"]
        return [agreement + _failed_rows(s, method, agreement=False)] * len(cells), notes
    by_cell, notes = [], []
    for cell in cells:
        try:
            attacked = _attack_rows(cell, clean, method, ensembles, clean_scores, top)
        except (ValueError, RuntimeError) as exc:
            attacked = _failed_rows(cell, method, agreement=False)
            notes.append(f"method {method} failed at ε = {cell['epsilon']:g}: {exc}")
        by_cell.append(agreement + attacked)
    return by_cell, notes


def _failed_rows(s, method, agreement=True):
    """NaN rows of a method that failed (or has no top set), so the report shows the gap."""
    Ts = [1] if method == "exact" else s["checkpoints"]
    nan = float("nan")
    rows = [{"metric": "agreement", "n_checkpoints": T, "value": nan} for T in Ts] * agreement
    return rows + [
        {"metric": "flip_rate", "attack": attack, "n_checkpoints": T, "value": nan}
        for T in Ts
        for attack in (s["attack"], "random")
    ]


def _runnable(methods):
    """The methods that can run here, and a note for those that cannot (dattri missing)."""
    if importlib.util.find_spec("dattri") is not None:
        return list(methods), []
    skipped = [m for m in methods if m != "exact"]
    notes = [f"dattri is not installed: skipped {', '.join(skipped)}; {_INSTALL}"] * bool(skipped)
    return [m for m in methods if m == "exact"], notes


def _recorded_epochs(s):
    """Every epoch an ensemble of ``s`` takes, sorted (the order the callback records in)."""
    epochs = checkpoint_epochs(epoch_budget(s), s["checkpoints"])
    return sorted({e for group in epochs.values() for e in group})


def run(cells, ctx):
    """Train once, retrain ``n_retrain`` times, then score every method and attack it at each
    cell's ε (the cells of one network differ only in ``epsilon``)."""
    from ...influence.retraining import retraining_effects
    from ...networks.callbacks import RecordCheckpoints, recorded_checkpoints

    s = cells[0]
    methods, notes = _runnable(s["methods"])
    if not methods:
        return [(cell, [], {}, notes) for cell in cells]
    clean = train_and_score(s, ctx, callbacks=[RecordCheckpoints(_recorded_epochs(s))])
    recorded = {"epochs": _recorded_epochs(s), "states": recorded_checkpoints(clean.model)}
    data = clean.data
    start = time.perf_counter()
    effects = retraining_effects(
        make_model(s),
        data["X"],
        data["y"],
        data["X_test"],
        data["y_test"],
        n_retrains=s["n_retrain"],
        random_state=derive_seed("audit-retrain", s["seed"]),
    )
    info = {**clean.info, "retrain_s": time.perf_counter() - start}
    shared = [{"metric": "test_accuracy", "value": clean.info["test_accuracy"]}, *clean.health]
    rows = [list(shared) for _ in cells]
    for method in methods:
        start = time.perf_counter()
        try:  # a method's numerical failure is a finding of the audit, not a failed cell
            by_cell, method_notes = _method_rows(cells, clean, method, recorded, effects)
        except (ValueError, RuntimeError) as exc:
            by_cell = [_failed_rows(cell, method) for cell in cells]
            method_notes = [f"method {method} failed: {exc}"]
        notes += method_notes
        info[f"{method}_s"] = time.perf_counter() - start
        for cell_rows, method_rows in zip(rows, by_cell, strict=True):
            cell_rows += [{"method": method, **row} for row in method_rows]
    return [(cell, cell_rows, info, notes) for cell, cell_rows in zip(cells, rows, strict=True)]
