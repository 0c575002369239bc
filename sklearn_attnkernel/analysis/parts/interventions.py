"""Part ``interventions``: test accuracy after the curated / transformed / adversarial ones."""

from ..data import cell_data
from .models import attack_seed, epoch_budget, make_model

__all__ = ["run"]


def _accuracy_rows(s, out, baseline_by_epoch):
    """Baseline and intervened accuracy per recorded epoch, the fully trained one included."""
    rows = []
    for name, by_epoch in (
        ("baseline_accuracy", baseline_by_epoch),
        ("accuracy", out["accuracy_by_epoch"]),
    ):
        by_epoch = {int(e): v for e, v in (by_epoch or {}).items()}
        # the fully trained model, at the epoch budget (a network that converged earlier
        # keeps its final outputs for the later epochs, as RecordOutputs records them)
        by_epoch.setdefault(int(epoch_budget(s)), out[name])
        for epoch in sorted(by_epoch):
            rows.append({"metric": name, "epoch": epoch, "value": by_epoch[epoch]})
    return rows


def run(cells, ctx):
    """Every intervention kind of the task, against one baseline network."""
    from ...influence.interventions import run_intervention

    s0 = cells[0]
    data = cell_data(s0, ctx["root"])
    info = {"n_train": int(data["X"].shape[0]), "n_test": int(data["X_test"].shape[0])}
    results, baseline = [], None
    for s in cells:  # one baseline network for every kind of the group
        out = run_intervention(
            make_model(s),
            data["X"],
            data["y"],
            data["X_test"],
            data["y_test"],
            kind=s["kind"],
            top_fraction=s["top_fraction"],
            attack=s["attack"],
            epsilon=s["epsilon"],
            steps=s["steps"],
            step_size=s["step_size"],
            clip=(0.0, 1.0) if s["clip"] else None,
            eval_epochs=s["record_epochs"] or None,
            baseline=baseline,
            random_state=attack_seed(s, s["attack"], s["epsilon"]),
        )
        if baseline is None:
            baseline, baseline_by_epoch = (
                out["baseline_estimator"],
                out["baseline_accuracy_by_epoch"],
            )
        cell_info = {**info, "n_train_after": int(out["n_train"]), "n_changed": len(out["indices"])}
        results.append((s, _accuracy_rows(s, out, baseline_by_epoch), cell_info, []))
    return results
