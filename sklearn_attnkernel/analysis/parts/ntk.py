"""Part ``ntk``: distance of the network's NTK to the infinite-width one, at one width and one
stopping rule (trained to convergence, or for a fixed number of epochs)."""

import numpy as np

from ..data import cell_data, standardize
from .models import mlp_params, model_seed

__all__ = ["run"]


def _targets(s, y):
    """Task and targets of the sweep: one-hot regression for a multi-class MSE network."""
    if s["loss"] == "mse" and np.unique(y).size > 2:
        classes = np.unique(y)
        y = (y[:, None] == classes[None, :]).astype(np.float64)
        return "regression", y, ["multi-class network trained by MSE on one-hot targets"]
    return "classification", y, []


def _metrics(s, task):
    """The cell's distances, and how well its trained network fits: accuracy on the training
    and test points (classification only; a one-hot MSE regressor's score is R²), the final
    training loss, the epochs used and whether the stop at convergence fired (NaN for fixed
    epochs), so the report can show the ntk networks' fit and convergence beside their NTKs."""
    if "trained" not in s["stages"]:
        return list(s["metrics"])
    fit = ["train_score", "eval_score"] if task == "classification" else []
    return [*s["metrics"], *fit, "train_loss", "epochs_used", "converged"]


def _sweep_without_cosine(sweep, s, Z, y, notes, metrics):
    """Rerun a sweep whose empirical NTK is zero: every metric, cosine stage by stage.

    Every ReLU unit inactive on every point (e.g. width 16 on collapsed softmax features) makes
    Θ_m = 0 and the cosine distance undefined: that stage's cosine becomes NaN, with a note.
    """
    import pandas as pd

    from ...ntk.metrics import ZeroKernelError, ntk_width_sweep

    metrics = [m for m in metrics if m != "cosine"]
    parts = [ntk_width_sweep(s["architecture"], Z, y, metrics=metrics, **sweep)]
    for stage in s["stages"]:
        try:
            parts.append(
                ntk_width_sweep(
                    s["architecture"], Z, y, metrics=["cosine"], **{**sweep, "stages": [stage]}
                )
            )
        except ZeroKernelError:
            parts.append(pd.DataFrame({"stage": [stage], "metric": "cosine", "value": np.nan}))
            notes.append(
                f"{stage}: cosine distance undefined, the empirical NTK is zero (every ReLU "
                "unit is inactive on every training point)"
            )
    return pd.concat(parts, ignore_index=True)


def run(cells, ctx):
    """NTK distances (the cell's metrics and stages) of one architecture at one width."""
    from ...ntk.metrics import ZeroKernelError, ntk_width_sweep

    (s,) = cells
    data = cell_data(s, ctx["root"])
    Z = standardize(s["dataset"], data["X"])
    Z_eval = standardize(s["dataset"], data["X_test"])
    task, y, notes = _targets(s, data["y"])
    metrics = _metrics(s, task)
    sweep = {
        "widths": [s["width"]],
        "seeds": [model_seed(s)],
        "stages": s["stages"],
        "X_eval": Z_eval,
        "y_eval": data["y_test"] if task == "classification" else None,
        "alpha": s["alpha"],
        "task": task,
        **mlp_params(s),
    }
    try:
        table = ntk_width_sweep(s["architecture"], Z, y, metrics=metrics, **sweep)
    except ZeroKernelError:
        if "cosine" not in s["metrics"]:
            raise
        table = _sweep_without_cosine(sweep, s, Z, y, notes, metrics)
    rows = table[["stage", "metric", "value"]].to_dict("records")
    info = {"n_train": int(Z.shape[0]), "n_test": int(Z_eval.shape[0])}
    return [(s, rows, info, notes)]
